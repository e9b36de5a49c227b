// `eks-access doctor`: is this installation able to work? One line per check, each failure with the fix.
// The probes (Slack, Redis, AWS, Kubernetes) are injected, so this file only decides what to check and
// what a failure means; src/adapters/doctor-probes.ts talks to the real services.
// One file, over the usual size, because it is one ordered list of checks that the operator reads top to
// bottom, each beside the fix it prints.
import type { LoadedPolicy } from '../config/load.js';
import { offersAccessPolicies, type Policy, type PolicyRule, privilegeReasons } from '../config/policy.js';
import { accessEntryHeadroom } from '../domain/access-entry-limit.js';
import { accessPolicyNameOf } from '../domain/access-policies.js';
import { partitionOfRegion } from '../domain/arn.js';
import {
  type AuthenticationMode,
  authenticationModeOf,
  type IdentityMappingMode,
  mappingMismatch,
  resolveMapping,
} from '../domain/auth-mode.js';
import {
  type BotPermissionCheck,
  botPermissionChecks,
  type RbacRoleObject,
  renderWorkerRbac,
  sameRules,
} from '../domain/bot-permissions.js';
import { toAccessError } from '../domain/errors.js';
import { personalRoleArn, personalRolePath } from '../domain/names.js';
import { describeShortfall, quorumShortfalls } from '../domain/quorum.js';
import { type LiveSeal, type SealKeyUse, sealKeyUses } from '../domain/seal-keys-census.js';
import { humanTime } from '../domain/text.js';
import type { PolicyEntry } from '../ports/cluster.js';

export interface CheckResult {
  name: string;
  ok: boolean;
  /** What was found (ok) or what is wrong (not ok). Never contains secrets. */
  detail: string;
  fix?: string;
  /** Passes (doctor still exits 0) but asks the operator to act: shown `!`, with its fix. */
  warning?: boolean;
}

export interface SlackIdentity {
  team: string;
  user: string;
  /** Undefined when the API does not report scopes (x-oauth-scopes header absent). */
  scopes?: string[];
}

/** Whether the bot can see a channel (conversations.info), and whether it is in it. */
export type SlackChannelState =
  | { found: false }
  | { found: true; isMember: boolean; isPrivate: boolean; isArchived?: boolean };

export interface ClusterProbe {
  /** The AWS identity the bot acts as for this cluster (STS GetCallerIdentity), or undefined without AWS. */
  callerIdentity(): Promise<string | undefined>;
  /** The API server's version (proves it is reachable and the bot authenticates). */
  serverVersion(): Promise<string>;
  /** SelfSubjectAccessReview. */
  selfAllowed(check: BotPermissionCheck): Promise<boolean>;
  /**
   * DescribeCluster's accessConfig.authenticationMode (`reported` undefined when absent); undefined
   * for kubeconfig connections, which have no DescribeCluster.
   */
  authenticationMode(): Promise<{ reported: string | undefined } | undefined>;
  /** Parses aws-auth mapRoles; returns the number of entries (throws when unparseable). */
  awsAuthEntries(): Promise<number>;
  /** ListAccessEntries, all pages: how many entries (anyone's) the EKS cluster holds. Absent: not checked. */
  accessEntries?(): Promise<number>;
  /**
   * Access-policy clusters: our access entries, each with its associated policies as EKS reports them
   * (ListAssociatedAccessPolicies). Absent: not checked.
   */
  policyEntries?(): Promise<PolicyEntry[]>;
  /**
   * IAM's policy simulator: which of `roleArns` `principalArn` may not assume by its own policies;
   * undefined for a session, which cannot be simulated. Absent: not checked.
   */
  deniedToAssume?(principalArn: string, roleArns: string[]): Promise<string[] | undefined>;
  /**
   * RoleBindings labelled as ours whose seal does not verify with SEAL_KEYS (`namespace/name`);
   * throws misconfigured without SEAL_KEYS. Absent: not checked.
   */
  forgedBindings?(): Promise<string[]>;
  /**
   * This installation's live RoleBindings whose seal verifies with SEAL_KEYS, each with the key that
   * sealed it; throws misconfigured without SEAL_KEYS. Absent: not checked.
   */
  liveSeals?(): Promise<LiveSeal[]>;
  /** A ClusterRole's rules as the API server has them (aggregated ones filled in); undefined when absent. */
  clusterRoleRules(name: string): Promise<PolicyRule[] | undefined>;
  /** A namespaced Role's rules (the kept Roles the platform team applies); undefined when absent. */
  roleRules(namespace: string, name: string): Promise<PolicyRule[] | undefined>;
}

/**
 * Levels offered on this cluster that bind a ClusterRole without being marked privileged: only the
 * live rules tell whether that is true (a ClusterRole's rules are not in the policy, and aggregation
 * can add to them at any time).
 */
export function liveCheckedLevels(policy: Policy, cluster: string): { level: string; clusterRole: string }[] {
  const offered = new Set(policy.clusters[cluster]?.namespaces.flatMap((ns) => ns.levels) ?? []);
  return [...offered].sort().flatMap((level) => {
    const lvl = policy.levels[level];
    return lvl?.clusterRole && !lvl.privileged ? [{ level, clusterRole: lvl.clusterRole }] : [];
  });
}

export interface DoctorProbes {
  /** Loads env + policy; throws a `misconfigured` AccessError listing every problem. */
  loadConfig(): LoadedPolicy;
  /** auth.test; undefined when no bot token is configured. Throws with Slack's error code otherwise. */
  slackAuthTest(): Promise<SlackIdentity | undefined>;
  /** conversations.info for one channel; throws with Slack's error code for anything but not-found. */
  slackChannel(channelId: string): Promise<SlackChannelState>;
  /**
   * usergroups.users.list; throws `misconfigured` when the workspace's plan has no user groups
   * (plan_upgrade_required), `unavailable` when Slack does not answer. Absent: not checked.
   */
  slackGroupMembers?(groupId: string): Promise<string[]>;
  /** users.info: false when the person was deactivated (`deleted`) or is unknown. Absent: not checked. */
  slackUserActive?(userId: string): Promise<boolean>;
  /** Redis PING + CONFIG GET maxmemory-policy, and the reconciler's last sweeps as workers record them. */
  redis(): Promise<{ maxmemoryPolicy: string | undefined; reconcile?: ReconcileSweeps }>;
  cluster(name: string): ClusterProbe;
  /** The key ids of SEAL_KEYS, the signing key first; throws misconfigured without it. Absent: not checked. */
  sealKeyIds?(): string[];
}

/** When workers last completed a reconcile sweep (epoch ms; undefined: none recorded) and the period. */
export interface ReconcileSweeps {
  lastRunAt?: number;
  lastSuccessAt?: number;
  everyMs: number;
  now: number;
}

/**
 * Overdue after two periods, the point where a worker's own fallback would already have swept. No
 * record at all passes: that is every installation before its first worker, and the worker writes one
 * within a period of starting (a record that vanished with Redis's data is re-written the same way).
 */
export function reconcileCheck(sweeps: ReconcileSweeps): Omit<CheckResult, 'name'> {
  const period = Math.round(sweeps.everyMs / 1000);
  const ago = (at: number) => Math.round((sweeps.now - at) / 1000);
  const overdue = (at: number | undefined) => at !== undefined && sweeps.now - at > 2 * sweeps.everyMs;
  if (sweeps.lastRunAt === undefined) {
    return { ok: true, detail: `no sweep recorded yet (a running worker records one every ${period} s)` };
  }
  if (overdue(sweeps.lastRunAt)) {
    return {
      ok: false,
      detail: `the last reconcile sweep completed ${ago(sweeps.lastRunAt)} s ago (period ${period} s): expired access may outlive its grant`,
      fix: 'Check that a worker runs and is ready (kubectl -n eks-access get pods; its /readyz and log), and that RECONCILE_INTERVAL here matches the worker’s.',
    };
  }
  if (sweeps.lastSuccessAt === undefined || overdue(sweeps.lastSuccessAt)) {
    return {
      ok: false,
      detail: `sweeps run (last ${ago(sweeps.lastRunAt)} s ago) but ${sweeps.lastSuccessAt === undefined ? 'none recorded' : `the last one`} without errors${sweeps.lastSuccessAt === undefined ? '' : ` was ${ago(sweeps.lastSuccessAt)} s ago`}`,
      fix: 'The worker logs "reconcile finished with errors" naming the cluster or grant that fails; fix that cluster’s access first.',
    };
  }
  return {
    ok: true,
    detail: `last sweep ${ago(sweeps.lastRunAt)} s ago, without errors (period ${period} s)`,
  };
}

/**
 * Which key of SEAL_KEYS still seals live RoleBindings, for an operator rotating keys: a key that no
 * longer signs may be removed once it seals none, on every cluster (a binding sealed with a removed key
 * fails the seal: reported as forged, no longer counted as ours). A cluster that could not be counted
 * forbids "safe to remove". Rotation waiting on expiries is no failure: a warning, never a ✗.
 */
export function sealKeysCheck(
  uses: readonly SealKeyUse[],
  uncounted: readonly string[],
): Omit<CheckResult, 'name'> {
  const partial = uncounted.length > 0;
  const live = (n: number) => `${n} live RoleBinding(s)`;
  const keys = uses.map((u) => {
    if (u.signing) return `${u.key} (signing) seals ${live(u.live)}`;
    if (u.live > 0)
      return `${u.key} still seals ${live(u.live)}: still needed until ${humanTime(u.latestExpiry ?? 0)}`;
    return partial ? `${u.key} seals none on the clusters counted` : `${u.key} seals none: safe to remove`;
  });
  const notCounted = partial ? [`not counted: ${uncounted.join('; ')}`] : [];
  const detail = [...keys, ...notCounted].join('; ');
  const retiring = uses.filter((u) => !u.signing);
  // One key: nothing to rotate out (a cluster not counted has its own ✗ line).
  if (retiring.length === 0) return { ok: true, detail };
  const waiting = retiring.filter((u) => u.live > 0 || partial).map((u) => u.key);
  const removable = retiring.filter((u) => u.live === 0 && !partial).map((u) => u.key);
  const fix = [
    ...(waiting.length > 0
      ? [
          `Keep ${waiting.join(', ')} in SEAL_KEYS until ${partial ? 'every cluster is counted and it seals none' : 'the time above'} (alert EksAccessSealKeyStillInUse); run doctor again then.`,
        ]
      : []),
    ...(removable.length > 0
      ? [
          `Remove ${removable.join(', ')} from SEAL_KEYS of the bot, the worker and the CLI, and roll them out.`,
        ]
      : []),
  ].join(' ');
  return { ok: true, warning: true, detail, fix };
}

/** The Slack scopes the code uses (slack-manifest.yml declares the same). */
export function requiredSlackScopes(policy: Policy): string[] {
  // channels:read and groups:read: doctor's conversations.info on the approval and audit channels.
  const scopes = [
    'channels:read',
    'chat:write',
    'commands',
    'groups:read',
    'im:write',
    'usergroups:read',
    'users:read',
  ];
  if (policy.identities.emailTag?.enabled || policy.identities.identityCenter?.enabled) {
    scopes.push('users:read.email');
  }
  // The weekly summary's chart is a file shared into the audit channel.
  if (policy.settings.auditChannel && policy.settings.weeklySummary.enabled) scopes.push('files:write');
  return scopes;
}

const describeCheck = (c: BotPermissionCheck) =>
  `${c.verb} ${c.group ? `${c.group}/` : ''}${c.resource}${c.name ? `/${c.name}` : ''}${c.namespace ? ` in ${c.namespace}` : ''}`;

/** Runs `work`; a thrown error becomes a failed check with the error's hint as the fix. */
async function attempt(
  name: string,
  work: () => Promise<Omit<CheckResult, 'name'>>,
  fallbackFix: string,
  timeoutMs: number,
): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await Promise.race([
      work(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
      }),
    ]);
    return { name, ...result };
  } catch (error) {
    const e = toAccessError(error);
    return { name, ok: false, detail: e.message.split('\n')[0] ?? e.message, fix: e.hint ?? fallbackFix };
  } finally {
    clearTimeout(timer);
  }
}

/** Every channel the bot must post to: each namespace's approval channel and the audit channel. */
export function policyChannels(policy: Policy): string[] {
  const channels = new Set<string>();
  for (const cluster of Object.values(policy.clusters))
    for (const ns of cluster.namespaces) channels.add(ns.channel);
  if (policy.settings.auditChannel) channels.add(policy.settings.auditChannel);
  return [...channels].sort();
}

const CHANNEL_FIX =
  'Run `/invite @eks-access` in each channel named above (or correct its id in the policy).';

/**
 * The bot posts only where it is a member: the manifest has no chat:write.public, so public and
 * private channels behave the same and an admin decides where the bot may speak (docs/slack.md).
 */
async function checkChannels(probes: DoctorProbes, policy: Policy): Promise<Omit<CheckResult, 'name'>> {
  const channels = policyChannels(policy);
  const problems: string[] = [];
  for (const channel of channels) {
    const state = await probes.slackChannel(channel);
    if (!state.found) problems.push(`${channel} not found (private without the bot, or a wrong id)`);
    else if (state.isArchived) problems.push(`${channel} is archived (nothing can be posted there)`);
    else if (!state.isMember) problems.push(`the bot is not in ${channel}`);
  }
  if (problems.length > 0) {
    const archived = problems.some((p) => p.endsWith('is archived (nothing can be posted there)'));
    return {
      ok: false,
      detail: problems.join('; '),
      fix: archived ? `Unarchive the channel, or name a live one in the policy. ${CHANNEL_FIX}` : CHANNEL_FIX,
    };
  }
  return { ok: true, detail: `the bot can post to ${channels.join(', ')}` };
}

/**
 * Who can approve where, as Slack knows them now: each group's members (a free plan has no user
 * groups: said so), each person still active; every namespace's quorum must be reachable by its
 * active approvers (domain/quorum.ts, the check the sandbox runs too).
 */
async function checkApprovers(
  probes: Required<Pick<DoctorProbes, 'slackGroupMembers' | 'slackUserActive'>>,
  policy: Policy,
): Promise<Omit<CheckResult, 'name'>> {
  const namespaces = Object.values(policy.clusters).flatMap((c) => c.namespaces);
  const groups = [...new Set(namespaces.flatMap((ns) => ns.approvers.groups))].sort();
  const members = new Map<string, string[]>();
  for (const group of groups) members.set(group, await probes.slackGroupMembers(group));
  const people = [
    ...new Set(
      namespaces.flatMap((ns) => [
        ...ns.approvers.users,
        ...ns.approvers.groups.flatMap((g) => members.get(g) ?? []),
      ]),
    ),
  ].sort();
  const active = new Set<string>();
  const deactivated: string[] = [];
  for (const id of people) {
    if (await probes.slackUserActive(id)) active.add(id);
    else deactivated.push(id);
  }
  const shortfalls = quorumShortfalls(policy, (ns) =>
    [...ns.approvers.users, ...ns.approvers.groups.flatMap((g) => members.get(g) ?? [])].filter((id) =>
      active.has(id),
    ),
  );
  const gone = deactivated.length > 0 ? `deactivated or unknown in Slack: ${deactivated.join(', ')}` : '';
  if (shortfalls.length > 0)
    return {
      ok: false,
      detail: [...shortfalls.map(describeShortfall), ...(gone ? [gone] : [])].join('; '),
      fix: 'Name more approvers (or a group with enough active members), or lower the approvals of that level, in the policy.',
    };
  return {
    ok: true,
    detail: `${active.size} active approver(s) in ${groups.length} group(s) and the policy's names; every quorum can be met${gone ? `; ${gone} (not counted)` : ''}`,
  };
}

export interface DoctorOptions {
  timeoutMs?: number;
  /** Called as each check finishes, so the CLI prints progressively. */
  onResult?: (result: CheckResult) => void;
}

export async function doctor(probes: DoctorProbes, options: DoctorOptions = {}): Promise<CheckResult[]> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const results: CheckResult[] = [];
  const record = (result: CheckResult) => {
    results.push(result);
    options.onResult?.(result);
  };

  let loaded: LoadedPolicy;
  try {
    loaded = probes.loadConfig();
    record({
      name: 'config',
      ok: true,
      detail: `${loaded.source}: ${Object.keys(loaded.policy.clusters).length} cluster(s), ${Object.keys(loaded.policy.levels).length} level(s)${loaded.warnings.length ? `; warnings: ${loaded.warnings.join('; ')}` : ''}`,
    });
  } catch (error) {
    const e = toAccessError(error);
    record({ name: 'config', ok: false, detail: e.message, fix: e.hint ?? 'Fix the fields named above.' });
    return results; // Nothing else can be checked without a policy.
  }
  const { policy } = loaded;

  const slack = await attempt(
    'slack',
    async () => {
      const who = await probes.slackAuthTest();
      if (!who)
        return {
          ok: false,
          detail: 'SLACK_BOT_TOKEN is not set',
          fix: 'Set SLACK_BOT_TOKEN (xoxb-…) from "OAuth & Permissions".',
        };
      const missing = who.scopes ? requiredSlackScopes(policy).filter((s) => !who.scopes?.includes(s)) : [];
      if (missing.length > 0) {
        return {
          ok: false,
          detail: `token of ${who.user} in ${who.team} lacks scopes: ${missing.join(', ')}`,
          fix: 'Add the scopes in "OAuth & Permissions" (or re-create the app from slack-manifest.yml) and reinstall the app.',
        };
      }
      return {
        ok: true,
        detail: `${who.user} in ${who.team}${who.scopes ? '' : ' (scopes not reported)'}`,
      };
    },
    'Check SLACK_BOT_TOKEN: copy the Bot User OAuth Token (xoxb-…) of the installed app.',
    timeoutMs,
  );
  record(slack);
  // Without a working token every channel would fail for the same reason, already reported above.
  if (slack.ok)
    record(await attempt('slack channels', () => checkChannels(probes, policy), CHANNEL_FIX, timeoutMs));
  if (slack.ok && probes.slackGroupMembers && probes.slackUserActive) {
    const directory = {
      slackGroupMembers: probes.slackGroupMembers.bind(probes),
      slackUserActive: probes.slackUserActive.bind(probes),
    };
    record(
      await attempt(
        'slack approvers',
        () => checkApprovers(directory, policy),
        'Check the approvers and groups the policy names.',
        timeoutMs,
      ),
    );
  }

  let redisResult: Awaited<ReturnType<DoctorProbes['redis']>> | undefined;
  record(
    await attempt(
      'redis',
      async () => {
        redisResult = await probes.redis();
        const { maxmemoryPolicy } = redisResult;
        if (maxmemoryPolicy !== undefined && maxmemoryPolicy !== 'noeviction') {
          return {
            ok: false,
            detail: `maxmemory-policy is ${maxmemoryPolicy}: Redis may silently drop queued revocations`,
            fix: 'Set maxmemory-policy noeviction (redis.conf, or the parameter group of a managed Redis).',
          };
        }
        return {
          ok: true,
          detail: `reachable, maxmemory-policy ${maxmemoryPolicy ?? 'unknown (CONFIG not allowed)'}`,
        };
      },
      'Check REDIS_URL and that Redis accepts connections from here (NetworkPolicy, security groups).',
      timeoutMs,
    ),
  );

  if (redisResult?.reconcile) record({ name: 'reconciler', ...reconcileCheck(redisResult.reconcile) });
  const groups = slackGroupsNotice(policy);
  if (groups) record(groups);

  // Live seals per key, gathered cluster by cluster; a cluster not counted is named, never skipped.
  const seals: LiveSeal[] = [];
  const uncounted: string[] = [];
  for (const name of Object.keys(policy.clusters).sort()) {
    const cluster = policy.clusters[name];
    if (!cluster) continue;
    const probe = probes.cluster(name);
    const prefix = `cluster ${name}:`;
    // AWS is needed to reach an EKS cluster and to keep personal roles (every mapping but `none`).
    if ('eks' in cluster.connection || cluster.identityMapping !== 'none') {
      record(
        await attempt(
          `${prefix} aws identity`,
          async () => ({ ok: true, detail: (await probe.callerIdentity()) ?? 'no AWS needed' }),
          'Give the pod AWS credentials (IRSA annotation or Pod Identity association); see manifests/iam/.',
          timeoutMs,
        ),
      );
    }
    let mapping: IdentityMappingMode =
      cluster.identityMapping === 'auto' ? 'aws-auth' : cluster.identityMapping;
    let seenMode: AuthenticationMode | undefined;
    // An AWS question (DescribeCluster), asked whether or not the API server answers.
    if ('eks' in cluster.connection) {
      const eksName = cluster.connection.eks.name ?? name;
      const choice = cluster.identityMapping;
      record(
        await attempt(
          `${prefix} authentication mode`,
          async () => {
            const reported = (await probe.authenticationMode())?.reported;
            const mode = authenticationModeOf(reported);
            mapping = resolveMapping(choice, mode ?? 'CONFIG_MAP');
            const mismatch = mappingMismatch(mapping, mode, eksName);
            const shown = reported ?? 'CONFIG_MAP (not reported: the EKS default)';
            seenMode = mode;
            return mismatch
              ? { ok: false, detail: mismatch.problem, fix: mismatch.fix }
              : { ok: true, detail: `${shown}: reads ${mapping}${choice === 'auto' ? ' (auto)' : ''}` };
          },
          'Give the bot eks:DescribeCluster on the cluster (eks-access iam render).',
          timeoutMs,
        ),
      );
      const advice = seenMode && migrationAdvice(seenMode, eksName);
      if (advice) record({ name: `${prefix} migration`, ok: true, detail: advice });
      // An EKS question too: asked whether or not the API server answers.
      const { accessEntries } = probe;
      if (mapping === 'access-entries' && accessEntries) {
        record(
          await attempt(
            `${prefix} access entries`,
            async () => accessEntryHeadroom(await accessEntries(), eksName),
            'Give the bot eks:ListAccessEntries on the cluster (eks-access iam render).',
            timeoutMs,
          ),
        );
      }
    }
    const { deniedToAssume } = probe;
    if (cluster.identityMapping !== 'none' && deniedToAssume) {
      record(
        await attempt(
          `${prefix} people's own sts:AssumeRole`,
          () => checkPeopleMayAssume(policy, name, deniedToAssume),
          'Give the bot iam:SimulatePrincipalPolicy (read-only), or skip: the worker cannot prove this half of a login.',
          timeoutMs,
        ),
      );
    }
    if (offersAccessPolicies(policy, name)) {
      // Nothing of ours lives in this cluster, and the worker may not ask it anything as itself.
      record({
        name: `${prefix} access policies`,
        ok: true,
        detail: `its levels are EKS access policies (${accessPolicyLevels(policy, name).join(', ')}): the worker holds no Kubernetes access here; grants are access entries with namespace-scoped associations (eks-access grants list shows them)`,
      });
      const { policyEntries } = probe;
      if (policyEntries)
        record(
          await attempt(
            `${prefix} associations`,
            async () => associationsCheck(policy, name, await policyEntries()),
            'Give the bot eks:ListAccessEntries, eks:ListAssociatedAccessPolicies and eks:ListTagsForResource on this cluster (read-only).',
            timeoutMs,
          ),
        );
      continue;
    }
    const reachable = await attempt(
      `${prefix} api server`,
      async () => ({ ok: true, detail: `reachable, Kubernetes ${await probe.serverVersion()}` }),
      'Check the cluster endpoint is reachable from the bot (NetworkPolicy egress, EKS endpoint access) and its credentials.',
      timeoutMs,
    );
    record(reachable);
    if (!reachable.ok) {
      uncounted.push(`${name} (api server unreachable)`);
      continue; // Permission and aws-auth checks would only repeat the same failure.
    }

    const checks = botPermissionChecks(renderWorkerRbac(policy, name));
    record(
      await attempt(
        `${prefix} worker permissions`,
        async () => {
          const answers = await Promise.all(checks.map(async (c) => ({ c, ok: await probe.selfAllowed(c) })));
          const denied = answers.filter((a) => !a.ok).map((a) => describeCheck(a.c));
          return denied.length === 0
            ? { ok: true, detail: `all ${checks.length} permissions granted` }
            : {
                ok: false,
                detail: `missing ${denied.length} of ${checks.length}: ${denied.slice(0, 5).join('; ')}${denied.length > 5 ? '; …' : ''}`,
                fix: `Apply the worker RBAC: eks-access rbac render --for worker --cluster ${name} | kubectl apply -f - (and map the worker to its subject).`,
              };
        },
        'The API server refused SelfSubjectAccessReview; apply the worker RBAC (eks-access rbac render --for worker).',
        timeoutMs,
      ),
    );
    const { forgedBindings } = probe;
    if (forgedBindings) {
      record(
        await attempt(
          `${prefix} forged bindings`,
          async () => {
            const forged = await forgedBindings();
            return forged.length === 0
              ? { ok: true, detail: 'every RoleBinding labelled as ours carries a valid seal' }
              : {
                  ok: false,
                  detail: `${forged.length} RoleBinding(s) look like ours but fail the seal (ignored): ${forged.slice(0, 5).join(', ')}${forged.length > 5 ? ', …' : ''}`,
                  fix: 'Find who wrote them (audit event forged-binding, the API server audit log); eks-access grants forged lists them, grants forged --delete removes them.',
                };
          },
          'Set SEAL_KEYS to the keys the worker uses.',
          timeoutMs,
        ),
      );
    }
    const { liveSeals } = probe;
    if (liveSeals) {
      // Its own line comes after every cluster (a key is removed from all at once); this only counts.
      const counted = await attempt(
        `${prefix} live seals`,
        async () => {
          seals.push(...(await liveSeals()));
          return { ok: true, detail: '' };
        },
        '',
        timeoutMs,
      );
      if (!counted.ok) uncounted.push(`${name} (${counted.detail})`);
    }
    const levels = liveCheckedLevels(policy, name);
    if (levels.length > 0) {
      record(
        await attempt(
          `${prefix} levels`,
          async () => {
            const problems: string[] = [];
            for (const { level, clusterRole } of levels) {
              const rules = await probe.clusterRoleRules(clusterRole);
              if (!rules) {
                problems.push(`level ${level}: ClusterRole ${clusterRole} does not exist`);
                continue;
              }
              const reasons = privilegeReasons({ clusterRole, rules });
              if (reasons.length > 0) {
                problems.push(
                  `level ${level} binds ClusterRole ${clusterRole}, which is privileged: ${reasons.join('; ')}`,
                );
              }
            }
            return problems.length === 0
              ? {
                  ok: true,
                  detail: `not privileged: ${levels.map((l) => `${l.level} (ClusterRole ${l.clusterRole})`).join(', ')}`,
                }
              : {
                  ok: false,
                  detail: problems.join('; '),
                  fix: 'Grants of these levels are refused until fixed: mark the level privileged: true in the policy (it then needs more approvals), create the missing ClusterRole, or take the privileged rules out of the ClusterRole and every ClusterRole aggregated into it.',
                };
          },
          'The bot could not read the ClusterRoles its levels bind; apply the bot RBAC (eks-access rbac render).',
          timeoutMs,
        ),
      );
    }
    const kept = expectedKeptRoles(policy, name);
    if (kept.length > 0) {
      record(
        await attempt(
          `${prefix} kept roles`,
          () => checkKeptRoles(probe, name, kept),
          `The worker could not read its levels' Roles; apply the worker RBAC (eks-access rbac render --cluster ${name}).`,
          timeoutMs,
        ),
      );
    }
    if (mapping === 'aws-auth') {
      record(
        await attempt(
          `${prefix} aws-auth`,
          async () => ({ ok: true, detail: `parseable, ${await probe.awsAuthEntries()} mapRoles entries` }),
          'Fix kube-system/aws-auth by hand (kubectl -n kube-system edit configmap aws-auth).',
          timeoutMs,
        ),
      );
      // Said on every run, not only when something fails: it is what this mode costs.
      record({
        name: `${prefix} worker reach`,
        ok: true,
        detail:
          'the worker may write aws-auth, and whoever can write aws-auth is cluster-admin (one mapRoles entry maps any role to system:masters; admission cannot check YAML inside a ConfigMap). ' +
          'identityMapping: access-entries is the mode that bounds the worker (IAM conditions on its CreateAccessEntry).',
      });
    }
  }
  const { sealKeyIds } = probes;
  if (sealKeyIds)
    record(
      await attempt(
        'seal keys',
        async () => sealKeysCheck(sealKeyUses(sealKeyIds(), seals), uncounted),
        'Set SEAL_KEYS to the keys the worker uses.',
        timeoutMs,
      ),
    );
  return results;
}

/**
 * The half of a login the worker's probe cannot prove (it assumes the role as itself): may each person of
 * the identity map, by their own IAM policies, call sts:AssumeRole on their personal role on `cluster`?
 * Only principals in the cluster's account (the simulator answers for its own account), only users and
 * roles (a session cannot be simulated). A refusal is a warning: the grant works for everyone else, and the
 * person learns it from AccessDenied on sts:AssumeRole the first time they use the DM's commands.
 */
export async function checkPeopleMayAssume(
  policy: Policy,
  cluster: string,
  deniedToAssume: NonNullable<ClusterProbe['deniedToAssume']>,
): Promise<Omit<CheckResult, 'name'>> {
  const c = policy.clusters[cluster];
  if (!c) return { ok: true, detail: 'no such cluster' };
  const partition = partitionOfRegion(c.region);
  const people = Object.values(policy.identities.map).filter((arn) => arn.split(':')[4] === c.accountId);
  if (people.length === 0)
    return {
      ok: true,
      detail: `the identity map names no one in account ${c.accountId}: nothing to simulate`,
    };
  const denied: string[] = [];
  let checked = 0;
  for (const principalArn of people) {
    const role = personalRoleArn(c.accountId, policy.settings.iamPath, cluster, principalArn, partition);
    let refused: string[] | undefined;
    try {
      refused = await deniedToAssume(principalArn, [role]);
    } catch (error) {
      // Advisory: a bot without iam:SimulatePrincipalPolicy (or an IAM without the simulator) is no failure.
      return {
        ok: true,
        warning: true,
        detail: `could not ask IAM's policy simulator: ${error instanceof Error ? error.message : String(error)}`,
        fix: 'Give the bot iam:SimulatePrincipalPolicy (read-only) to have doctor check that people may assume their personal roles.',
      };
    }
    if (refused === undefined) continue;
    checked += 1;
    if (refused.length > 0) denied.push(principalArn);
  }
  const unchecked = people.length - checked;
  const tail = unchecked > 0 ? `; ${unchecked} session(s) not checkable` : '';
  if (denied.length === 0)
    return {
      ok: true,
      detail: `${checked} of the identity map's people in account ${c.accountId} may assume their personal role here${tail}`,
    };
  return {
    ok: true,
    warning: true,
    detail: `by their own IAM policies, ${denied.join(', ')} may not call sts:AssumeRole on their personal role here${tail}`,
    fix: `Allow them sts:AssumeRole on arn:${partition}:iam::${c.accountId}:role${personalRolePath(policy.settings.iamPath, cluster)}* (their IAM policy, group or permission set); their grants would otherwise end in AccessDenied on sts:AssumeRole.`,
  };
}

/**
 * What moving the cluster on (CONFIG_MAP → API_AND_CONFIG_MAP → API, one way) changes for eks-access;
 * undefined on API, the end of the road. AWS deprecates aws-auth.
 */
export function migrationAdvice(mode: AuthenticationMode, eksName: string): string | undefined {
  if (mode === 'CONFIG_MAP')
    return (
      `aws-auth is deprecated by AWS. Next: aws eks update-cluster-config --name ${eksName} --access-config authenticationMode=API_AND_CONFIG_MAP. ` +
      'With identityMapping auto (or access-entries) new grants are then access entries, which bound the worker by IAM conditions instead of aws-auth write (cluster-admin), and access-policy levels become possible; ' +
      'grants made before keep their aws-auth entry until their end, and with identityMapping auto their revocation removes it (keep auto through the move: an explicit access-entries gives the worker no aws-auth rights). The switch cannot be undone.'
    );
  if (mode === 'API_AND_CONFIG_MAP')
    return (
      `Both mappings are read. When aws-auth holds nothing you need (no eks-access entries, roles named eksa-…; no nodes or admins mapped only there), ` +
      `aws eks update-cluster-config --name ${eksName} --access-config authenticationMode=API: aws-auth stops being read; eks-access needs identityMapping auto or access-entries. The switch cannot be undone.`
    );
  return undefined;
}

/**
 * What our access entries hold on an access-policy cluster, as EKS reports it: each policy with the
 * namespaces it is associated in and how many people hold it. An association wider than any grant could
 * be (cluster-wide, a policy no level offers here, a namespace that does not offer it) fails: eks-access
 * never writes one, so someone else did. The reconciler cuts it back at its next sweep; until then it is
 * live access.
 */
export function associationsCheck(
  policy: Policy,
  cluster: string,
  entries: readonly PolicyEntry[],
): Omit<CheckResult, 'name'> {
  const offeredIn = new Map<string, Set<string>>();
  for (const ns of policy.clusters[cluster]?.namespaces ?? []) {
    for (const level of ns.levels) {
      const accessPolicy = policy.levels[level]?.accessPolicy;
      if (accessPolicy) offeredIn.set(accessPolicy, (offeredIn.get(accessPolicy) ?? new Set()).add(ns.name));
    }
  }
  const held = new Map<string, { namespaces: Set<string>; people: number }>();
  const wider: string[] = [];
  for (const entry of entries) {
    for (const association of entry.associations) {
      const name = accessPolicyNameOf(association.policyArn) ?? association.policyArn;
      const offered = offeredIn.get(name);
      const outside = association.namespaces.filter((ns) => !offered?.has(ns));
      if (association.scope === 'cluster' || !offered || outside.length > 0) {
        const where =
          association.scope === 'cluster'
            ? 'cluster-wide'
            : `in ${(outside.length ? outside : association.namespaces).join(', ')}`;
        wider.push(`${entry.username}: ${name} ${where}`);
        continue;
      }
      const seen = held.get(name) ?? { namespaces: new Set<string>(), people: 0 };
      for (const ns of association.namespaces) seen.namespaces.add(ns);
      seen.people += 1;
      held.set(name, seen);
    }
  }
  const holding = [...held]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([name, h]) =>
        `${name} in ${[...h.namespaces].sort().join(', ')} (${h.people} ${h.people === 1 ? 'person' : 'people'})`,
    );
  const summary = `${entries.length} access ${entries.length === 1 ? 'entry' : 'entries'} of ours${holding.length ? `: ${holding.join('; ')}` : ''}`;
  if (wider.length === 0) return { ok: true, detail: summary };
  return {
    ok: false,
    detail: `${summary}; wider than any grant here: ${wider.join('; ')}`,
    fix: 'eks-access never associates these: someone else did (CloudTrail: AssociateAccessPolicy on the entry). The reconciler cuts them back at its next sweep (or now: aws eks disassociate-access-policy); find who wrote them.',
  };
}

/** The cluster's offered levels that are EKS access policies, as `level (policy)`. */
function accessPolicyLevels(policy: Policy, cluster: string): string[] {
  const names = new Set((policy.clusters[cluster]?.namespaces ?? []).flatMap((ns) => ns.levels));
  return [...names].flatMap((level) => {
    const accessPolicy = policy.levels[level]?.accessPolicy;
    return accessPolicy ? [`${level} (${accessPolicy})`] : [];
  });
}

/** The kept Roles the platform team applies on this cluster (settings.keptRoles: applied-by-admin). */
function expectedKeptRoles(policy: Policy, cluster: string): RbacRoleObject[] {
  return policy.settings.keptRoles === 'applied-by-admin' ? renderWorkerRbac(policy, cluster).keptRoles : [];
}

async function checkKeptRoles(
  probe: ClusterProbe,
  cluster: string,
  expected: readonly RbacRoleObject[],
): Promise<Omit<CheckResult, 'name'>> {
  const problems: string[] = [];
  for (const role of expected) {
    const where = `${role.metadata.namespace}/${role.metadata.name}`;
    const live = await probe.roleRules(role.metadata.namespace ?? '', role.metadata.name);
    if (!live) problems.push(`${where} is missing`);
    else if (!sameRules(live, role.rules)) problems.push(`${where} differs from the policy`);
  }
  return problems.length === 0
    ? { ok: true, detail: `${expected.length} applied as the policy says` }
    : {
        ok: false,
        detail: `${problems.join('; ')}: grants of those levels are refused`,
        fix: `Apply them: eks-access rbac render --cluster ${cluster} | kubectl apply -f - (again after every policy change).`,
      };
}

/**
 * Slack user groups decide who approves, who may break the glass and who is on call; anyone who may
 * edit a group can add themselves. Nothing here can check the workspace's setting, so doctor names it.
 */
export function slackGroupsNotice(policy: Policy): CheckResult | undefined {
  const uses: string[] = [];
  const approvers = new Set(
    Object.values(policy.clusters).flatMap((c) => c.namespaces.flatMap((ns) => ns.approvers.groups)),
  );
  const breakGlass = new Set(policy.breakGlass.flatMap((rule) => rule.groups));
  const onCall = new Set(
    Object.values(policy.clusters).flatMap((c) =>
      c.namespaces.flatMap((ns) => ns.autoApprove.flatMap((a) => a.requesters?.groups ?? [])),
    ),
  );
  if (approvers.size > 0) uses.push(`approvers ${[...approvers].sort().join(', ')}`);
  if (breakGlass.size > 0) uses.push(`break-glass ${[...breakGlass].sort().join(', ')}`);
  if (onCall.size > 0) uses.push(`auto-approved requesters ${[...onCall].sort().join(', ')}`);
  if (uses.length === 0) return undefined;
  return {
    name: 'slack user groups',
    ok: true,
    detail:
      `${uses.join('; ')}: each is only as safe as who may edit it. Check who may (Slack admin: Workspace settings → Roles & permissions → ` +
      '"Create and edit user groups"; on Enterprise the organisation policy of the same name), and who feeds an on-call group (PagerDuty, Opsgenie)',
  };
}

/** `✓ name  detail` / `✗ name  detail\n    fix: …` / `! name  detail\n    fix: …` (passes, asks for action) */
export function formatCheck(result: CheckResult): string {
  const mark = !result.ok ? '✗' : result.warning ? '!' : '✓';
  const line = `${mark} ${result.name}  ${result.detail}`;
  return (result.ok && !result.warning) || !result.fix ? line : `${line}\n    fix: ${result.fix}`;
}
