// A policy file made runnable on one machine, and the people and places it implies. The sandbox runs the
// policy the way it is written except where it names the real world: every cluster becomes the local
// kube-apiserver (reached with the platform's admin kubeconfig), in the emulators' account and region, and
// every IAM ARN moves into that account. Everything else (levels, approvals, durations, channels, auto-
// approval) is the file's own, so a platform team sees their policy behave before they deploy it.
import { parseDocument } from 'yaml';
import { parsePolicy } from '../src/config/load.js';
import type { Policy } from '../src/config/policy.js';
import { describeShortfall, quorumShortfalls } from '../src/domain/quorum.js';

export type Role = 'requester' | 'approver' | 'bystander';

export interface Person {
  /** Slack user id. */
  id: string;
  name: string;
  role: Role;
  /** The IAM user the policy maps the person to (requesters), in the emulators' account. */
  iamUser?: string;
}

export interface SandboxWorld {
  /** The rewritten policy, as the bot and the worker read it (POLICY_FILE). */
  policyText: string;
  policy: Policy;
  /** The cluster whose tokens the platform's aws-iam-authenticator accepts: the policy's first. */
  loginCluster: string;
  /** Namespaces to create (patterns such as team-* name none). */
  namespaces: string[];
  /** Approval channels and the audit channel, with the bot invited. */
  channels: string[];
  /** Slack user groups the policy names, each given the sandbox's approvers as members. */
  usergroups: Record<string, string[]>;
  /** A handle for each user group (the sandbox invents them as it invents the members), without `@`. */
  groupHandles: Record<string, string>;
  people: Person[];
  /** What was changed, in words, printed at start-up. */
  notes: string[];
}

export interface Emulators {
  accountId: string;
  region: string;
  adminKubeconfig: string;
}

/** Invented approvers for the policy's user groups (two: a privileged level needs two by default). */
const GROUP_APPROVERS: readonly Person[] = [
  { id: 'U0SBANA', name: 'ana', role: 'approver' },
  { id: 'U0SBBEN', name: 'ben', role: 'approver' },
];
/** Someone who may neither approve nor reach AWS: what a refusal looks like. */
const BYSTANDER: Person = { id: 'U0SBEVE', name: 'eve', role: 'bystander' };

const ARN_ACCOUNT = /^arn:aws:iam::\d{12}:/;

/** A readable name for a Slack id the policy names without one (U0000BOB → bob). */
function nameOf(slackId: string): string {
  return slackId.replace(/^[UW]0*/, '').toLowerCase() || slackId.toLowerCase();
}

export function sandboxPolicy(text: string, source: string, emulators: Emulators): SandboxWorld {
  // The file as written must be valid first: its problems are reported against its own lines.
  parsePolicy(text, source);
  const doc = parseDocument(text);
  const notes: string[] = [];
  const clusters = doc.get('clusters') as { items: Array<{ key: { value: string } }> } | undefined;
  const clusterNames = (clusters?.items ?? []).map((item) => String(item.key.value));
  for (const name of clusterNames) {
    doc.setIn(['clusters', name, 'region'], emulators.region);
    doc.setIn(['clusters', name, 'accountId'], emulators.accountId);
    doc.setIn(['clusters', name, 'connection'], { kubeconfig: { path: emulators.adminKubeconfig } });
    // `auto` asks EKS for the cluster's authentication mode, which needs an `eks` connection.
    if (doc.getIn(['clusters', name, 'identityMapping']) === 'auto') {
      doc.setIn(['clusters', name, 'identityMapping'], 'aws-auth');
      notes.push(`clusters.${name}.identityMapping: auto → aws-auth (auto needs a real EKS connection)`);
    }
  }
  notes.push(
    `clusters (${clusterNames.join(', ')}): region ${emulators.region}, account ${emulators.accountId}, ` +
      'connection: the local kube-apiserver (one API server serves every cluster of the policy)',
  );
  const map = (doc.getIn(['identities', 'map']) as { items?: Array<{ key: unknown; value: unknown }> })
    ?.items;
  for (const item of map ?? []) {
    const scalar = item.value as { value: unknown };
    if (typeof scalar.value === 'string')
      scalar.value = scalar.value.replace(ARN_ACCOUNT, `arn:aws:iam::${emulators.accountId}:`);
  }
  if ((map ?? []).length > 0) notes.push(`identities.map: ARNs moved into account ${emulators.accountId}`);
  const probed = clusterNames[0];
  if (probed) {
    // AWS's delays are on in the sandbox (docs/test-platform.md): the worker proves the login before the DM.
    doc.setIn(['clusters', probed, 'loginProbe'], true);
    notes.push(`clusters.${probed}.loginProbe: on (the worker logs in as the person before the DM)`);
  }
  const policyText = `# The sandbox's copy of ${source} (see docs/sandbox.md).\n${doc.toString()}`;
  const { policy } = parsePolicy(policyText, `${source} (sandbox copy)`);

  const loginCluster = clusterNames[0] ?? '';
  if (clusterNames.length > 1)
    notes.push(`the requester's own kubectl login works for cluster ${loginCluster} only (the first)`);

  const people = new Map<string, Person>();
  for (const [id, arn] of Object.entries(policy.identities.map)) {
    const iamName = arn.split('/').pop() ?? nameOf(id);
    const user = arn.includes(':user/') ? { iamUser: iamName } : {};
    people.set(id, { id, name: iamName, role: 'requester', ...user });
  }
  const usergroups: Record<string, string[]> = {};
  const namespaces = new Set<string>();
  const channels = new Set<string>();
  for (const cluster of Object.values(policy.clusters)) {
    for (const ns of cluster.namespaces) {
      if (!ns.name.includes('*')) namespaces.add(ns.name);
      channels.add(ns.channel);
      for (const id of ns.approvers.users) {
        const known = people.get(id);
        people.set(id, { ...(known ?? { id, name: nameOf(id) }), role: 'approver' });
      }
      for (const group of ns.approvers.groups) {
        usergroups[group] = GROUP_APPROVERS.map((p) => p.id);
        for (const p of GROUP_APPROVERS) people.set(p.id, p);
      }
    }
  }
  if (policy.settings.auditChannel) channels.add(policy.settings.auditChannel);
  // The check doctor runs against Slack, against the sandbox's own people (all of them active).
  for (const shortfall of quorumShortfalls(policy, (ns) => [
    ...ns.approvers.users,
    ...ns.approvers.groups.flatMap((g) => usergroups[g] ?? []),
  ]))
    notes.push(`${describeShortfall(shortfall)}: no request there can be approved`);
  people.set(BYSTANDER.id, BYSTANDER);
  const order: Record<Role, number> = { requester: 0, approver: 1, bystander: 2 };
  return {
    policyText,
    policy,
    loginCluster,
    namespaces: [...namespaces],
    channels: [...channels],
    usergroups,
    groupHandles: Object.fromEntries(Object.keys(usergroups).map((id) => [id, groupHandle(id)])),
    people: [...people.values()].sort((a, b) => order[a.role] - order[b.role]),
    notes,
  };
}

/** A user group's handle made from its id, as a workspace would name it: S0PLATFORM → platform. */
export function groupHandle(id: string): string {
  return id.replace(/^S0*/, '').toLowerCase() || id.toLowerCase();
}
