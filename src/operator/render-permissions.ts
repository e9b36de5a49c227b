// `eks-access rbac render` and `eks-access iam-policy render`: the permissions of each eks-access process
// (`--for bot|worker`) as files an admin applies (YAML for kubectl, JSON for `aws iam put-role-policy`).
// The shipped manifests are this output for policy.example.yaml; a unit test fails when they drift.
import { stringify } from 'yaml';
import type { Policy } from '../config/policy.js';
import { renderWorkerAdmission } from '../domain/admission.js';
import { sameRole } from '../domain/arn.js';
import {
  type ArchiveLocation,
  type BotRbacOptions,
  keptRolesIn,
  PERMISSION_ROLES,
  type PermissionRole,
  renderIamPolicies,
  renderWorkerRbac,
} from '../domain/bot-permissions.js';
import { namespaceMatches } from '../domain/decisions.js';
import { badInput, notFound } from '../domain/errors.js';

export interface RenderedText {
  text: string;
  warnings: string[];
}

/** `--for`: which process; the worker when omitted (it is the one that needs cluster rights). */
export function permissionRoleOf(value: string | undefined): PermissionRole {
  if (value === undefined) return 'worker';
  if ((PERMISSION_ROLES as readonly string[]).includes(value)) return value as PermissionRole;
  throw badInput(`--for ${value} is not a process`, `Use --for ${PERMISSION_ROLES.join(' or --for ')}.`);
}

/**
 * Multi-document YAML of one process's RBAC for one cluster (or every cluster in the policy). The bot
 * gets none: it holds no Kubernetes credentials (its ServiceAccount mounts no token).
 */
export function renderRbacYaml(
  policy: Policy,
  cluster?: string,
  options: BotRbacOptions = {},
  role: PermissionRole = 'worker',
): RenderedText {
  const names = cluster ? [cluster] : Object.keys(policy.clusters).sort();
  if (cluster && !policy.clusters[cluster]) {
    throw notFound(
      `cluster "${cluster}" is not in the policy`,
      `clusters: ${Object.keys(policy.clusters).join(', ')}`,
    );
  }
  if (role === 'bot') {
    return {
      text:
        '# eks-access bot: no Kubernetes RBAC on any cluster — rendered by `eks-access rbac render --for bot`.\n' +
        "# The Slack-facing bot never talks to a cluster; every write is the worker's (`--for worker`).\n",
      warnings: [],
    };
  }
  const docs: string[] = [];
  const warnings: string[] = [];
  const yaml = (objects: readonly object[]) =>
    objects.map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');
  for (const name of names) {
    const rendered = renderWorkerRbac(policy, name, options);
    const admission = renderWorkerAdmission(policy, name, options);
    warnings.push(...rendered.warnings, ...admission.warnings);
    docs.push(
      `# eks-access worker RBAC for cluster ${name} — rendered by \`eks-access rbac render --for worker --cluster ${name}\`; do not edit.\n` +
        yaml(rendered.objects),
    );
    if (rendered.keptRoles.length > 0) {
      docs.push(
        "# The levels' kept Roles (settings.keptRoles: applied-by-admin): the worker only binds them, and refuses\n" +
          '# to grant a level whose Role is missing or differs. Apply again whenever the policy changes.\n' +
          yaml(rendered.keptRoles),
      );
    }
    docs.push(
      '# What the worker may bind, enforced by the API server (admission): an offered role, one person.\n' +
        yaml(admission.objects),
    );
  }
  return { text: docs.join('---\n'), warnings };
}

/**
 * The kept Roles for one namespace (`rbac render --kept-roles-in <namespace>`): for namespaces matched
 * by a pattern (`team-*`), which the full render cannot list ahead.
 */
export function renderKeptRolesYaml(
  policy: Policy,
  cluster: string | undefined,
  namespace: string,
): RenderedText {
  const name =
    cluster ?? (Object.keys(policy.clusters).length === 1 ? Object.keys(policy.clusters)[0] : undefined);
  const found = name === undefined ? undefined : policy.clusters[name];
  if (!found) {
    throw badInput('--kept-roles-in needs --cluster', `clusters: ${Object.keys(policy.clusters).join(', ')}`);
  }
  const levels = found.namespaces
    .filter((ns) => namespaceMatches(ns.name, namespace))
    .flatMap((ns) => ns.levels);
  if (levels.length === 0) {
    throw notFound(
      `cluster ${name} offers nothing in namespace ${namespace}`,
      'Check the name, or the policy.',
    );
  }
  const roles = keptRolesIn(policy, namespace, levels);
  return {
    text: roles.map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n'),
    warnings:
      roles.length === 0 ? [`no level offered in ${namespace} has inline rules: nothing to apply`] : [],
  };
}

/**
 * One process's IAM policy as JSON, or (with `roleArn`) the policy of one cross-account role the worker
 * assumes.
 */
export function renderIamPolicyJson(
  policy: Policy,
  roleArn?: string,
  role: PermissionRole = 'worker',
  archive?: ArchiveLocation,
): string {
  const rendered = renderIamPolicies(policy, archive);
  if (!roleArn) return `${JSON.stringify(rendered[role], null, 2)}\n`;
  if (role === 'bot') throw badInput('--role is for the worker', 'The bot assumes no cross-account role.');
  const found = rendered.crossAccount.find((r) => sameRole(r.roleArn, roleArn));
  if (!found) {
    throw notFound(
      `no cluster in the policy assumes ${roleArn}`,
      `cross-account roles: ${rendered.crossAccount.map((r) => r.roleArn).join(', ') || '(none)'}`,
    );
  }
  return `${JSON.stringify(found.policy, null, 2)}\n`;
}
