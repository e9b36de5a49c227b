"""ministack, with IAM evaluating EKS's access-entry actions as AWS does.

ministack 1.5 authorizes every EKS request against the cluster's ARN and gives the IAM evaluator none of
EKS's condition keys, so a policy written for AWS (ours: docs/engine.md, "The worker's IAM policy") is
judged wrongly: its access-entry resources never match, and every condition on eks:accessScope,
eks:namespaces, eks:policyArn, eks:principalArn, eks:username, eks:kubernetesGroups or
eks:accessEntryType is missing. This starts ministack with two corrections, as the EKS service
authorization reference describes the actions:

- the resource of a request on an access entry (/clusters/{c}/access-entries/{principalArn}[/...]) is the
  entry's ARN in AWS's form, arn:aws:eks:{region}:{account}:access-entry/{c}/{role|user}/{account}/{name}/{id}
  (the id is ministack's record's, or "ministack" before there is one), while CreateAccessEntry and
  ListAccessEntries stay on the cluster;
- CreateAccessEntry carries eks:principalArn, eks:username, eks:kubernetesGroups and eks:accessEntryType
  from its body, AssociateAccessPolicy eks:policyArn, eks:accessScope and eks:namespaces.

Everything else is ministack's own. Written down with the other divergences in docs/test-platform.md.
"""

import json
import re
import sys
from urllib.parse import unquote

import ministack.core.iam_actions as iam_actions

_ENTRY_PATH = re.compile(r"^/clusters/([^/]+)/access-entries/(.+?)(/access-policies(/.*)?)?$")
_PRINCIPAL = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):(role|user)/(?:.*/)?([^/]+)$")

_original_resource = iam_actions.extract_resource_arn
_original_context = iam_actions.request_tag_context


def _entry_arn(region, account_id, cluster, principal_arn):
    match = _PRINCIPAL.match(principal_arn)
    if not match:
        return None
    partition, principal_account, kind, name = match.groups()
    entry_id = "ministack"
    try:
        from ministack.services import eks

        record = eks._access_entries.get(eks._ae_key(cluster, principal_arn))
        if isinstance(record, dict) and record.get("accessEntryArn"):
            entry_id = str(record["accessEntryArn"]).rsplit("/", 1)[-1]
    except Exception:  # the id only names the entry; the resource's shape is what matters
        pass
    return f"arn:{partition}:eks:{region}:{account_id}:access-entry/{cluster}/{kind}/{principal_account}/{name}/{entry_id}"


def extract_resource_arn(service, method, path, headers, body, query_params, region, account_id):
    if service == "eks":
        match = _ENTRY_PATH.match(unquote(path.split("?", 1)[0]))
        if match:
            arn = _entry_arn(region, account_id, unquote(match.group(1)), unquote(match.group(2)))
            if arn:
                return arn
    return _original_resource(service, method, path, headers, body, query_params, region, account_id)


def _body(body):
    try:
        data = json.loads(body) if body[:1] == b"{" else {}
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def request_tag_context(service, iam_action, body, params):
    context = dict(_original_context(service, iam_action, body, params))
    if service != "eks":
        return context
    data = _body(body)
    if iam_action == "eks:CreateAccessEntry":
        if "principalArn" in data:
            context["eks:principalarn"] = str(data["principalArn"])
        if "username" in data:
            context["eks:username"] = str(data["username"])
        groups = data.get("kubernetesGroups")
        if isinstance(groups, list) and groups:
            context["eks:kubernetesgroups"] = [str(g) for g in groups]
        context["eks:accessentrytype"] = str(data.get("type") or "STANDARD")
    elif iam_action == "eks:AssociateAccessPolicy":
        if "policyArn" in data:
            context["eks:policyarn"] = str(data["policyArn"])
        scope = data.get("accessScope")
        if isinstance(scope, dict):
            if "type" in scope:
                context["eks:accessscope"] = str(scope["type"])
            namespaces = scope.get("namespaces")
            if isinstance(namespaces, list) and namespaces:
                context["eks:namespaces"] = [str(n) for n in namespaces]
    return context


iam_actions.extract_resource_arn = extract_resource_arn
iam_actions.request_tag_context = request_tag_context

from ministack.app import main  # noqa: E402  (after the corrections, which it reads per request)

if __name__ == "__main__":
    sys.argv[0] = "ministack"
    sys.exit(main())
