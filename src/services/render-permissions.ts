// `eks-access rbac render` and `eks-access iam-policy render`: the bot's own permissions as files an
// admin applies (YAML for kubectl, JSON for `aws iam put-role-policy`). The shipped manifests are this
// output for policy.example.yaml; a unit test fails when they drift.

import { stringify } from 'yaml';
import type { Policy } from '../config/policy.js';
import { sameRole } from '../domain/arn.js';
import { type BotRbacOptions, renderBotRbac, renderIamPolicies } from '../domain/bot-permissions.js';
import { notFound } from '../domain/errors.js';

export interface RenderedText {
  text: string;
  warnings: string[];
}

/** Multi-document YAML of the bot's RBAC for one cluster (or every cluster in the policy). */
export function renderRbacYaml(policy: Policy, cluster?: string, options: BotRbacOptions = {}): RenderedText {
  const names = cluster ? [cluster] : Object.keys(policy.clusters).sort();
  if (cluster && !policy.clusters[cluster]) {
    throw notFound(
      `cluster "${cluster}" is not in the policy`,
      `clusters: ${Object.keys(policy.clusters).join(', ')}`,
    );
  }
  const docs: string[] = [];
  const warnings: string[] = [];
  for (const name of names) {
    const rendered = renderBotRbac(policy, name, options);
    warnings.push(...rendered.warnings);
    docs.push(
      `# eks-access bot RBAC for cluster ${name} — rendered by \`eks-access rbac render --cluster ${name}\`; do not edit.\n` +
        rendered.objects
          .map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false }))
          .join('---\n'),
    );
  }
  return { text: docs.join('---\n'), warnings };
}

/** The bot role's IAM policy, or (with `roleArn`) the policy for one cross-account role, as JSON. */
export function renderIamPolicyJson(policy: Policy, roleArn?: string): string {
  const rendered = renderIamPolicies(policy);
  if (!roleArn) return `${JSON.stringify(rendered.bot, null, 2)}\n`;
  const role = rendered.crossAccount.find((r) => sameRole(r.roleArn, roleArn));
  if (!role) {
    throw notFound(
      `no cluster in the policy assumes ${roleArn}`,
      `cross-account roles: ${rendered.crossAccount.map((r) => r.roleArn).join(', ') || '(none)'}`,
    );
  }
  return `${JSON.stringify(role.policy, null, 2)}\n`;
}
