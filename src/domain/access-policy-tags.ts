// What an access-policy grant leaves on EKS, sealed: one tag per grant on the person's access entry
// (there is no Kubernetes object to carry labels). The tag says which namespace, level and policy the
// grant was given, until when and for whom, with the same HMAC seal as our RoleBindings (roleRef
// `AccessPolicy/<policy>`), so anyone who may tag the entry still cannot make a grant of it. As with
// bindings, a tag may only take access away: the association's namespaces are narrowed to those of the
// person's sealed, unexpired grant tags, never widened from them.
//
// Tag key `eks-access:grant:<grant id>`, value `<namespace>/<level>/<policy>/<expires ms>/<requester>/<seal>`
// (EKS allows letters, digits, spaces and `+ - = . _ : / @` in tag values, 256 characters; a resource
// holds 50 tags, so one person holds at most 48 live access-policy grants on one cluster).
import { type AccessPolicyName, isAccessPolicyName } from './access-policies.js';
import { type SealKeys, sealBinding, verifyBindingSeal } from './seal.js';

export const GRANT_TAG_PREFIX = 'eks-access:grant:';
/** The person's principal (sealed into every grant tag): the entry itself names only the personal role. */
export const PRINCIPAL_TAG = 'eks-access:principal';
export const MANAGED_BY_TAG = 'eks-access:managed-by';
/** 50 per resource, less the two above. */
export const MAX_GRANT_TAGS = 48;

export interface PolicyGrantFacts {
  grantId: string;
  cluster: string;
  namespace: string;
  level: string;
  policy: AccessPolicyName;
  username: string;
  principalArn: string;
  /** The personal role (the entry's principal). */
  roleArn: string;
  expiresAt: number;
  requester: string;
}

const facts = (f: PolicyGrantFacts) => ({
  grantId: f.grantId,
  cluster: f.cluster,
  namespace: f.namespace,
  level: f.level,
  username: f.username,
  principalArn: f.principalArn,
  roleArn: f.roleArn,
  expiresAt: f.expiresAt,
  roleRef: { kind: 'AccessPolicy', name: f.policy },
  requester: f.requester,
});

/** The tag that records `f` on the entry. */
export function grantTag(keys: SealKeys, f: PolicyGrantFacts): { key: string; value: string } {
  const seal = sealBinding(keys, facts(f));
  return {
    key: `${GRANT_TAG_PREFIX}${f.grantId}`,
    value: [f.namespace, f.level, f.policy, String(f.expiresAt), f.requester, seal].join('/'),
  };
}

export interface FoundPolicyGrants {
  /** Grant tags whose seal verifies for this entry, cluster and principal. */
  sealed: PolicyGrantFacts[];
  /** Tag keys that look like grants but do not verify (reported, never used). */
  unsealed: string[];
}

/** Reads the grant tags of an entry; only sealed ones count. */
export function readGrantTags(
  keys: SealKeys,
  cluster: string,
  entry: { roleArn: string; username: string; tags: Record<string, string> },
): FoundPolicyGrants {
  const principalArn = entry.tags[PRINCIPAL_TAG] ?? '';
  const sealed: PolicyGrantFacts[] = [];
  const unsealed: string[] = [];
  for (const [key, value] of Object.entries(entry.tags)) {
    if (!key.startsWith(GRANT_TAG_PREFIX)) continue;
    const [namespace = '', level = '', policy = '', expires = '', requester = '', seal, ...rest] =
      value.split('/');
    const expiresAt = Number(expires);
    const found =
      isAccessPolicyName(policy) && rest.length === 0 && Number.isFinite(expiresAt)
        ? {
            grantId: key.slice(GRANT_TAG_PREFIX.length),
            cluster,
            namespace,
            level,
            policy,
            username: entry.username,
            principalArn,
            roleArn: entry.roleArn,
            expiresAt,
            requester,
          }
        : undefined;
    if (found && verifyBindingSeal(keys, facts(found), seal) === 'valid') sealed.push(found);
    else unsealed.push(key);
  }
  return { sealed, unsealed };
}

/**
 * The namespaces an association of `policy` may keep: those of the sealed grants of that policy still
 * live at `now`, within what it has (`current`): taking away never adds a namespace.
 */
export function namespacesToKeep(
  grants: readonly PolicyGrantFacts[],
  policy: AccessPolicyName,
  now: number,
  current: readonly string[],
): string[] {
  const wanted = new Set(
    grants.filter((g) => g.policy === policy && g.expiresAt > now).map((g) => g.namespace),
  );
  return current.filter((ns) => wanted.has(ns)).sort();
}
