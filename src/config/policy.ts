// The policy file: which clusters, which namespaces, who approves, what access levels mean.
// One zod schema; every problem is reported at once with its path and a hint (see load.ts). The schema and
// its cross-field checks (superRefine) stay in one file because each check names paths of the whole
// document; what makes a level privileged lives in privilege.ts.

import { z } from 'zod';
import { ACCESS_POLICY_NAMES, type AccessPolicyName } from '../domain/access-policies.js';
import { identityCenterSessionOf } from '../domain/arn.js';
import { parseDuration } from '../domain/duration.js';
import { principalParts, renderUsername, USERNAME_PLACEHOLDERS, usernamePrefixOf } from '../domain/names.js';
import { ticketSystemProblems } from '../domain/tickets.js';
import { apiSettings } from './api.js';
import { privilegeReasons, requiredApprovalsFor } from './privilege.js';

const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;
const SLACK_GROUP_ID = /^S[A-Z0-9]{2,}$/;
const SLACK_CHANNEL_ID = /^[CGD][A-Z0-9]{2,}$/;
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A namespace entry may be an exact name or a simple pattern with `*` wildcards (`team-*`). */
const NAMESPACE_PATTERN = /^[a-z0-9*]([-a-z0-9*]*[a-z0-9*])?$/;
const IAM_PRINCIPAL_ARN = /^arn:aws[a-z-]*:(iam|sts)::\d{12}:(user|role|assumed-role)\/[\w+=,.@/-]+$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;
const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

/** Verbs the Kubernetes API server understands for RBAC; anything else grants nothing. */
export const KUBERNETES_VERBS = [
  'get',
  'list',
  'watch',
  'create',
  'update',
  'patch',
  'delete',
  'deletecollection',
  'bind',
  'escalate',
  'impersonate',
  'use',
  'approve',
  'sign',
  'proxy',
  '*',
] as const;
const KNOWN_VERBS: ReadonlySet<string> = new Set(KUBERNETES_VERBS);
const VERB_HINTS: Readonly<Record<string, string>> = {
  describe: '"describe" is not a Kubernetes verb: kubectl describe uses get and list. Remove it.',
  read: '"read" is not a Kubernetes verb: use get, list and watch.',
  write: '"write" is not a Kubernetes verb: use create, update, patch and delete.',
  edit: '"edit" is not a Kubernetes verb: kubectl edit uses get and patch/update.',
  exec: '"exec" is not a verb: grant create on the pods/exec resource instead.',
};

const duration = (what: string) =>
  z.string().refine((text) => (parseDuration(text) ?? 0) > 0, {
    message: `${what} must be a positive duration like 30m, 2h or 1d`,
  });

const approvers = z
  .object({
    users: z.array(z.string().regex(SLACK_USER_ID, 'Slack user ids look like U0123ABCD')).default([]),
    groups: z.array(z.string().regex(SLACK_GROUP_ID, 'Slack user-group ids look like S0123ABCD')).default([]),
  })
  .strict()
  .refine((a) => a.users.length + a.groups.length > 0, {
    message: 'name at least one approver (a Slack user id or user-group id)',
  });

const rule = z
  .object({
    apiGroups: z.array(z.string()).min(1, 'list at least one API group ("" is the core group)'),
    resources: z.array(z.string().min(1)).min(1),
    verbs: z.array(z.string().min(1)).min(1),
    resourceNames: z.array(z.string().min(1)).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    r.verbs.forEach((verb, index) => {
      if (!KNOWN_VERBS.has(verb)) {
        ctx.addIssue({
          code: 'custom',
          path: ['verbs', index],
          message:
            VERB_HINTS[verb] ??
            `"${verb}" is not a Kubernetes verb; known verbs: ${KUBERNETES_VERBS.join(', ')}`,
        });
      }
    });
  });
export type PolicyRule = z.infer<typeof rule>;

/** Scheduled windows (`request … from 22:00 for 2h`). */
const WINDOW_DEFAULTS = { maxAhead: '7d', reminder: '10m' };
const windowSettings = z
  .object({
    /** How far ahead a window may start. */
    maxAhead: duration('windows.maxAhead').default(WINDOW_DEFAULTS.maxAhead),
    /**
     * An approval this long after the start still opens the window (late, and ending on time). Unset:
     * a request nobody approved by its start lapses then.
     */
    lateStart: duration('windows.lateStart').optional(),
    /** The requester gets the commands this long before the start. */
    reminder: duration('windows.reminder').default(WINDOW_DEFAULTS.reminder),
  })
  .strict()
  .default(WINDOW_DEFAULTS);

/** The weekly access summary in the audit channel: when (cron, in this time zone), or off. */
const WEEKLY_SUMMARY_DEFAULTS = { enabled: true, cron: '0 9 * * 1', timeZone: 'UTC' };
const weeklySummarySettings = z
  .object({
    enabled: z.boolean().default(true),
    /** Five-field cron: minute hour day-of-month month day-of-week (default Mondays 09:00). */
    cron: z
      .string()
      .regex(/^\S+( \S+){4}$/, 'a five-field cron expression like "0 9 * * 1" (Mondays 09:00)')
      .default(WEEKLY_SUMMARY_DEFAULTS.cron),
    timeZone: z.string().min(1).default(WEEKLY_SUMMARY_DEFAULTS.timeZone),
  })
  .strict()
  .default(WEEKLY_SUMMARY_DEFAULTS);

/** Who writes the kept Roles of levels with inline rules (settings.keptRoles). */
export const KEPT_ROLES_MODES = ['applied-by-admin', 'written-by-worker'] as const;
export type KeptRolesMode = (typeof KEPT_ROLES_MODES)[number];

/** A ticket system whose references a reason may be required to contain (see src/domain/tickets.ts). */
const ticketSystem = z
  .object({
    pattern: z.string().min(1).max(200),
    example: z.string().min(1).max(100),
    url: z
      .string()
      .regex(/^https:\/\/\S+$/, 'an https:// link template with {ref}')
      .optional(),
  })
  .strict();

/** One ticket system's name, or several (a reference from any of them will do). */
const ticketSystemNames = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .transform((names) => (typeof names === 'string' ? [names] : names));

const extendPolicy = z
  .object({
    /** `auto`: extensions are granted without approval until maxTotal; `approval`: approvers decide. */
    mode: z.enum(['auto', 'approval', 'never']).default('approval'),
    /** Cap on the whole life of one grant, extensions included. */
    maxTotal: duration('extend.maxTotal').optional(),
  })
  .strict();

const level = z
  .object({
    description: z.string().max(200).optional(),
    /** Bind an existing ClusterRole (view, edit, admin, …) in the namespace. */
    clusterRole: z.string().min(1).optional(),
    /** Or: rules the bot keeps as a namespaced Role (e.g. the runbook's k8s-test-role). */
    rules: z.array(rule).min(1).optional(),
    /**
     * Or: an EKS managed access policy (AmazonEKSEditPolicy, …), associated with the person's access entry
     * for the grant's namespace; no Kubernetes object is written (domain/access-policies.ts).
     */
    accessPolicy: z
      .string()
      .refine((name): name is AccessPolicyName => (ACCESS_POLICY_NAMES as string[]).includes(name), {
        message: `an EKS managed access policy: ${ACCESS_POLICY_NAMES.join(', ')}`,
      })
      .optional(),
    defaultDuration: duration('defaultDuration'),
    maxDuration: duration('maxDuration'),
    allowSelfApproval: z.boolean().default(false),
    /**
     * Must be true for levels that let a person escalate beyond what the level says: write RBAC,
     * bind/escalate/impersonate, mint service-account tokens, make or change pods (directly or through
     * deployments, jobs, …: they run as any service account in the namespace), read secrets, exec/attach/
     * port-forward into pods, or proxy to kubelets. See privilegeReasons.
     */
    privileged: z.boolean().default(false),
    /**
     * Approvals a request for this level needs. Unset: the namespace's `approvals`, and at least
     * PRIVILEGED_MIN_APPROVALS for a privileged level (set it here to choose otherwise, explicitly).
     */
    approvals: z.number().int().min(1).max(10).optional(),
    extend: extendPolicy.default({ mode: 'approval' }),
    /** Requests for this level must name a ticket of one of these systems in their reason. */
    requireTicket: ticketSystemNames.optional(),
  })
  .strict();

const autoApproveRule = z
  .object({
    levels: z.array(z.string()).min(1),
    /**
     * The requester groups are an on-call rotation (kept in sync by PagerDuty, Opsgenie, …): messages
     * say "is on call" rather than "is in".
     */
    onCall: z.boolean().default(false),
    maxDuration: duration('autoApprove.maxDuration'),
    requesters: z
      .object({
        users: z.array(z.string().regex(SLACK_USER_ID)).default([]),
        groups: z.array(z.string()).default([]),
        /**
         * IAM roles with no person behind them (CI jobs) that this rule grants through the API: such a
         * role is its own requester, and only rules naming it can grant it (domain/robots.ts).
         */
        roles: z.array(z.string().regex(ROLE_ARN, 'an IAM role ARN')).default([]),
      })
      .strict()
      .optional(),
  })
  .strict();

/** At most `count` uses in any `per` (e.g. 2 in 24h). */
const useLimit = z.object({ count: z.number().int().min(1).max(100), per: duration('per') }).strict();

/**
 * Break-glass: who may grant themselves access at once, without an approver, where, at which level and
 * for how long, how often; every use is announced loudly and must be reviewed afterwards.
 */
const breakGlassRule = z
  .object({
    name: z.string().regex(DNS1123_LABEL, 'rule names are lower-case DNS labels'),
    /** Slack user groups whose members may use it (the on-call rotation); read at request time. */
    groups: z.array(z.string().regex(SLACK_GROUP_ID, 'Slack user-group ids look like S0123ABCD')).min(1),
    /** Clusters it covers (default: every cluster). */
    clusters: z.array(z.string().regex(CLUSTER_NAME)).optional(),
    /** Namespaces (names or patterns like team-*) it covers; each must also be offered by the policy. */
    namespaces: z.array(z.string().regex(NAMESPACE_PATTERN)).min(1),
    levels: z.array(z.string()).min(1),
    maxDuration: duration('breakGlass.maxDuration'),
    /** Uses per person (default once a day) and, optionally, for everyone together. */
    perPerson: useLimit.default({ count: 1, per: '24h' }),
    perRule: useLimit.optional(),
    /** Approvers must acknowledge or flag each use within this time, or it is re-posted and escalated. */
    reviewWithin: duration('breakGlass.reviewWithin').default('24h'),
    /** Where an overdue review is escalated (besides the namespace's approval channel). */
    escalationChannel: z.string().regex(SLACK_CHANNEL_ID).optional(),
  })
  .strict();
export type BreakGlassRule = z.infer<typeof breakGlassRule>;

const namespaceEntry = z
  .object({
    name: z.string().regex(NAMESPACE_PATTERN, 'a namespace name (DNS-1123 label) or a pattern like team-*'),
    approvers,
    approvals: z.number().int().min(1).max(10).default(1),
    channel: z.string().regex(SLACK_CHANNEL_ID, 'Slack channel ids look like C0123ABCD'),
    levels: z.array(z.string()).min(1),
    allowSelfApproval: z.boolean().default(false),
    requireReason: z.boolean().optional(),
    /** Whether approvers give a reason when they approve (recorded in the audit trail). */
    approvalReason: z.enum(['none', 'optional', 'required']).default('none'),
    /**
     * Requests here must name a ticket of one of these systems in their reason: a name, a list, or
     * `{ systems, levels }` to require it only for some levels.
     */
    requireTicket: z
      .union([
        ticketSystemNames.transform((systems) => ({ systems, levels: undefined })),
        z.object({ systems: ticketSystemNames, levels: z.array(z.string()).min(1).optional() }).strict(),
      ])
      .optional(),
    autoApprove: z.array(autoApproveRule).default([]),
  })
  .strict();

const connection = z.union([
  z
    .object({
      eks: z
        .object({
          /** The EKS cluster name when it differs from the policy's key. */
          name: z.string().regex(CLUSTER_NAME).optional(),
          /** Assume this role (in the cluster's account) before talking to IAM, EKS and the API server. */
          assumeRoleArn: z.string().regex(ROLE_ARN, 'an IAM role ARN').optional(),
        })
        .strict(),
    })
    .strict(),
  z
    .object({
      kubeconfig: z.object({ path: z.string().optional(), context: z.string().optional() }).strict(),
    })
    .strict(),
]);

const cluster = z
  .object({
    region: z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, 'an AWS region like eu-west-1'),
    accountId: z.string().regex(/^\d{12}$/, 'a 12-digit AWS account id'),
    connection,
    /** `auto` (EKS connections only): access entries where the cluster reads them, else aws-auth. */
    identityMapping: z.enum(['aws-auth', 'access-entries', 'none', 'auto']),
    /** For `none`: how people already authenticate (OIDC etc.). Placeholders as for settings.kubernetesUsername. */
    usernameTemplate: z.string().min(1).optional(),
    /**
     * Whether the worker logs in as the person would before it announces a grant active (the login probe,
     * domain/login-probe.ts). Default: on for `connection: { eks }` clusters; a kubeconfig connection says
     * `true` when its API server authenticates EKS tokens for this cluster's name (aws-iam-authenticator).
     */
    loginProbe: z.boolean().optional(),
    namespaces: z.array(namespaceEntry).min(1),
  })
  .strict();

/** AWS's forms of an identity store id: `d-` and ten hex digits, or a UUID. */
const IDENTITY_STORE_ID = /^(d-[0-9a-f]{10}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
/** Permission set names as Identity Center allows them (they become part of an IAM role name). */
const PERMISSION_SET_NAME = /^[\w+=,.@-]{1,32}$/;

/**
 * Slack email → Identity Center user → that user's session of a permission-set role in the cluster's
 * account. `permissionSets` are the ways in eks-access accepts, in order of preference (the first one
 * provisioned in the cluster's account is used); `cliProfile` names the person's AWS CLI profile in
 * the DM's commands ({permissionSet}, {account}; the default is what `aws configure sso` suggests).
 */
const identityCenter = z
  .object({
    enabled: z.boolean().default(false),
    region: z.string().regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, 'the Identity Center region, like eu-west-1'),
    identityStoreId: z
      .string()
      .regex(IDENTITY_STORE_ID, 'the identity store id, like d-1234567890 (IAM Identity Center → Settings)'),
    permissionSets: z
      .array(z.string().regex(PERMISSION_SET_NAME, 'a permission set name, like EKSAccess'))
      .min(1, 'name at least one permission set people sign in with to reach the clusters'),
    /**
     * How the Slack email finds the user: `email` (any of the user's emails, every user read) or
     * `userName` (the user name is the email, as with most external identity providers).
     */
    lookup: z.enum(['email', 'userName']).default('email'),
    cliProfile: z.string().min(1).default('{permissionSet}-{account}'),
  })
  .strict();

const identities = z
  .object({
    /** Slack user id → IAM user or role ARN. */
    map: z
      .record(z.string().regex(SLACK_USER_ID), z.string().regex(IAM_PRINCIPAL_ARN, 'an IAM user/role ARN'))
      .default({}),
    /**
     * Accept `arn:aws:sts::…:assumed-role/<role>/<session>` principals in the map. Off by default: the
     * session name is chosen by whoever assumes the role, so everyone who may assume that role can
     * present the same principal. Turn on only when the role's trust pins the session name to the
     * person (for example `sts:RoleSessionName` = `${aws:username}`). Identity Center sessions need
     * not this: identityCenter accepts its permission sets' sessions, and only those.
     */
    allowAssumedRoles: z.boolean().default(false),
    /** Opt-in: find the IAM user whose tag `tagKey` equals the Slack profile email. */
    emailTag: z
      .object({ enabled: z.boolean().default(false), tagKey: z.string().min(1).default('slack-email') })
      .strict()
      .optional(),
    /** Opt-in: people who sign in through IAM Identity Center (docs/engine.md, "Who a person is on AWS"). */
    identityCenter: identityCenter.optional(),
  })
  .strict();

/**
 * Account, kind and name together identify an IAM principal (user and role names are unique per
 * account and kind), so no two principals can share this username, and it still reads well in the
 * audit log: `eks-access:111122223333:user:alice`.
 */
export const DEFAULT_KUBERNETES_USERNAME = 'eks-access:{account}:{kind}:{iamName}';

const basePolicy = z
  .object({
    version: z.literal(1).default(1),
    settings: z
      .object({
        /**
         * Kubernetes username each person gets; placeholders {account} {kind} {iamName} {slackUserId}
         * {email}. Two principals must never share one: see usernameTemplateProblems.
         */
        kubernetesUsername: z.string().min(1).default(DEFAULT_KUBERNETES_USERNAME),
        /** IAM path under which every role of ours lives; a cluster's roles live under path + cluster/. */
        iamPath: z
          .string()
          .regex(/^\/([\w+=,.@-]+\/)*$/, 'an IAM path like /eks-access/')
          .default('/eks-access/'),
        /**
         * This installation's name, a label value on every RoleBinding it writes. Installations that share
         * a cluster (a staging and a production bot) need different names, different seal keys and
         * different iamPaths: each then leaves the other's grants alone.
         */
        installation: z
          .string()
          .max(63)
          .regex(
            /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/,
            'a Kubernetes label value like eks-access or staging',
          )
          .default('eks-access'),
        pendingTimeout: duration('pendingTimeout').default('24h'),
        expiryWarning: duration('expiryWarning').default('15m'),
        /**
         * An approved grant still not set up after this long is shown as taking longer than expected,
         * to its requester and approvers. Longer than any wait for AWS to propagate (a minute or two).
         */
        setupDeadline: duration('setupDeadline').default('5m'),
        requireReason: z.boolean().default(true),
        /**
         * Who writes the kept Role `eks-access-<level>` of a level with `rules`: `applied-by-admin` (the
         * platform team applies what `eks-access rbac render` prints; the worker may only bind it, and
         * refuses to activate when it is missing or differs) or `written-by-worker` (the worker writes
         * it, and so holds `escalate` on Roles in those namespaces: the wider mode).
         */
        keptRoles: z.enum(KEPT_ROLES_MODES).default('applied-by-admin'),
        auditChannel: z.string().regex(SLACK_CHANNEL_ID).optional(),
        windows: windowSettings,
        weeklySummary: weeklySummarySettings,
      })
      .strict()
      .default({
        kubernetesUsername: DEFAULT_KUBERNETES_USERNAME,
        iamPath: '/eks-access/',
        installation: 'eks-access',
        pendingTimeout: '24h',
        expiryWarning: '15m',
        setupDeadline: '5m',
        requireReason: true,
        keptRoles: 'applied-by-admin',
        windows: WINDOW_DEFAULTS,
        weeklySummary: WEEKLY_SUMMARY_DEFAULTS,
      }),
    identities: identities.default({ map: {}, allowAssumedRoles: false }),
    /** Ticket systems by name: what a reference looks like and where it links. */
    tickets: z
      .record(z.string().regex(DNS1123_LABEL, 'ticket system names are lower-case DNS labels'), ticketSystem)
      .default({}),
    levels: z.record(z.string().regex(DNS1123_LABEL, 'level names are lower-case DNS labels'), level),
    clusters: z.record(z.string().regex(CLUSTER_NAME), cluster),
    breakGlass: z.array(breakGlassRule).default([]),
    /** The HTTPS API for `kubectl eks-access` and CI jobs (config/api.ts, docs/api.md). */
    api: apiSettings.optional(),
  })
  .strict();

const IDENTIFYING_PLACEHOLDERS = ['{iamName}', '{slackUserId}', '{email}'];

/**
 * Whether a username template can give two different principals the same Kubernetes username: it
 * names every part that makes a principal unique (account, kind, name), or the Slack user (the map
 * links each Slack user to exactly one principal).
 */
export const uniqueByConstruction = (template: string): boolean =>
  template.includes('{slackUserId}') ||
  ['{account}', '{kind}', '{iamName}'].every((p) => template.includes(p));

/**
 * What is wrong with a username template for the principals this policy can produce, as messages.
 * `inferred`: settings.kubernetesUsername (people get a new identity), as opposed to a `none`
 * cluster's usernameTemplate (the identity people already have from elsewhere).
 */
export function usernameTemplateProblems(
  template: string,
  identities: Pick<Policy['identities'], 'map' | 'emailTag' | 'identityCenter'>,
  inferred: boolean,
): string[] {
  const problems: string[] = [];
  const unknown = [...template.matchAll(/\{[^}]*\}/g)]
    .map((m) => m[0])
    .filter((p) => !(USERNAME_PLACEHOLDERS as readonly string[]).includes(p));
  if (unknown.length > 0) {
    problems.push(`unknown placeholder(s) ${unknown.join(', ')}; use ${USERNAME_PLACEHOLDERS.join(' ')}`);
  }
  if (!IDENTIFYING_PLACEHOLDERS.some((p) => template.includes(p))) {
    problems.push('the template names nobody: everyone would share one Kubernetes user; use {iamName}');
  }
  if (template.startsWith('system:')) {
    problems.push('"system:" usernames are reserved by Kubernetes');
  }
  if (uniqueByConstruction(template)) return problems;
  if (inferred && identities.emailTag?.enabled) {
    problems.push(
      "with the email lookup on, any IAM user of the account can be a principal, and its name may equal another principal's: include {account}, {kind} and {iamName}",
    );
  }
  if (inferred && identities.identityCenter?.enabled) {
    problems.push(
      'with identities.identityCenter on, a principal is a session "<permission-set role>/<user name>" in any account the clusters live in, and its user name may equal an IAM name of another principal: include {account}, {kind} and {iamName}',
    );
  }
  // {email} is unknown until a request is made; a collision through it is caught then (submit, activation).
  if (template.includes('{email}')) return problems;
  const byUsername = new Map<string, { slackUserId: string; arn: string }>();
  for (const [slackUserId, arn] of Object.entries(identities.map)) {
    const username = renderUsername(template, { principalArn: arn, slackUserId });
    const other = byUsername.get(username);
    if (other && other.arn !== arn) {
      problems.push(
        `${other.slackUserId} (${other.arn}) and ${slackUserId} (${arn}) would both be Kubernetes user "${username}": include {account}, {kind} and {iamName} (the default is "${DEFAULT_KUBERNETES_USERNAME}")`,
      );
    }
    byUsername.set(username, { slackUserId, arn });
  }
  return problems;
}

/**
 * Whether `arn` is a session of a permission-set role the policy's identityCenter settings accept.
 * Such a session's name is set by Identity Center, not by its caller, so it names one person where any
 * other assumed-role session does not (see identities.allowAssumedRoles).
 */
export function isAcceptedIdentityCenterSession(
  identities: Pick<Policy['identities'], 'identityCenter'>,
  arn: string,
): boolean {
  const settings = identities.identityCenter;
  const session = identityCenterSessionOf(arn);
  return Boolean(settings?.enabled && session && settings.permissionSets.includes(session.permissionSet));
}

function identityCenterProblems(
  identities: Policy['identities'],
): { path: (string | number)[]; message: string }[] {
  const settings = identities.identityCenter;
  if (!settings?.enabled) return [];
  const problems: { path: (string | number)[]; message: string }[] = [];
  if (identities.emailTag?.enabled) {
    problems.push({
      path: ['enabled'],
      message:
        'identities.emailTag and identities.identityCenter are both enabled: one Slack email could then name an IAM user and an Identity Center user; enable one of them (map the exceptions under identities.map)',
    });
  }
  const unknown = [...settings.cliProfile.matchAll(/\{[^}]*\}/g)]
    .map((m) => m[0])
    .filter((p) => p !== '{permissionSet}' && p !== '{account}');
  if (unknown.length > 0 || !/^[\w+=,.@{}-]+$/.test(settings.cliProfile)) {
    problems.push({
      path: ['cliProfile'],
      message: `"${settings.cliProfile}" is not a usable AWS CLI profile name: use letters, digits, "-_.@=,+" and the placeholders {permissionSet} {account} (default "{permissionSet}-{account}")`,
    });
  }
  const seen = new Set<string>();
  settings.permissionSets.forEach((name, index) => {
    if (seen.has(name))
      problems.push({ path: ['permissionSets', index], message: `${name} is listed twice` });
    seen.add(name);
  });
  return problems;
}

/** Whether `level` is backed by an EKS access policy (no Kubernetes object, no RBAC). */
export const isAccessPolicyLevel = (
  level: { accessPolicy?: AccessPolicyName | undefined } | undefined,
): level is { accessPolicy: AccessPolicyName } => Boolean(level?.accessPolicy);

/**
 * A cluster offering access-policy levels: the worker needs no Kubernetes access there at all. Until the
 * engine counts access-entry grants and RoleBindings together for one person's role (docs/engine.md),
 * such a cluster offers only access-policy levels.
 */
export function offersAccessPolicies(policy: Pick<Policy, 'levels' | 'clusters'>, cluster: string): boolean {
  return (policy.clusters[cluster]?.namespaces ?? []).some((ns) =>
    ns.levels.some((name) => isAccessPolicyLevel(policy.levels[name])),
  );
}

function accessPolicyClusterProblems(
  policy: z.infer<typeof basePolicy>,
  clusterName: string,
): { path: (string | number)[]; message: string }[] {
  if (!offersAccessPolicies(policy, clusterName)) return [];
  const c = policy.clusters[clusterName];
  if (!c) return [];
  const problems: { path: (string | number)[]; message: string }[] = [];
  if (c.identityMapping === 'aws-auth' || c.identityMapping === 'none') {
    problems.push({
      path: ['identityMapping'],
      message:
        c.identityMapping === 'aws-auth'
          ? 'this cluster offers access-policy levels, which EKS applies only through access entries: a CONFIG_MAP (aws-auth) cluster cannot hold them; switch it to API_AND_CONFIG_MAP and set identityMapping: access-entries (or auto), or offer a clusterRole/rules level instead'
          : 'access-policy levels are associated with an access entry eks-access creates: identityMapping none has none; set access-entries (or auto)',
    });
  }
  c.namespaces.forEach((ns, index) => {
    ns.levels.forEach((name, levelIndex) => {
      const lvl = policy.levels[name];
      if (lvl && !isAccessPolicyLevel(lvl)) {
        problems.push({
          path: ['namespaces', index, 'levels', levelIndex],
          message: `level "${name}" writes RBAC, but this cluster offers access-policy levels, for which the worker holds no Kubernetes access: offer only access-policy levels here (one kind per cluster)`,
        });
      }
    });
  });
  return problems;
}

export const policySchema = basePolicy.superRefine((policy, ctx) => {
  const seconds = (text: string) => parseDuration(text) ?? 0;
  for (const [name, system] of Object.entries(policy.tickets)) {
    for (const problem of ticketSystemProblems(system)) {
      ctx.addIssue({ code: 'custom', path: ['tickets', name], message: problem });
    }
  }
  const checkTicketSystems = (systems: readonly string[], path: (string | number)[]) => {
    for (const system of systems) {
      if (!policy.tickets[system]) {
        ctx.addIssue({
          code: 'custom',
          path,
          message: `unknown ticket system "${system}"; declare it under tickets (known: ${Object.keys(policy.tickets).join(', ') || 'none'})`,
        });
      }
    }
  };
  for (const [name, lvl] of Object.entries(policy.levels)) {
    const path = ['levels', name];
    if ([lvl.clusterRole, lvl.rules, lvl.accessPolicy].filter(Boolean).length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path,
        message:
          'give exactly one of clusterRole (an existing ClusterRole), rules (a Role the bot keeps) or accessPolicy (an EKS access policy)',
      });
    }
    if (seconds(lvl.maxDuration) < seconds(lvl.defaultDuration)) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'maxDuration'],
        message: `maxDuration (${lvl.maxDuration}) must be at least defaultDuration (${lvl.defaultDuration})`,
      });
    }
    if (lvl.extend.maxTotal && seconds(lvl.extend.maxTotal) < seconds(lvl.maxDuration)) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'extend', 'maxTotal'],
        message: `extend.maxTotal must be at least maxDuration (${lvl.maxDuration})`,
      });
    }
    if (lvl.requireTicket) checkTicketSystems(lvl.requireTicket, [...path, 'requireTicket']);
    const reasons = privilegeReasons(lvl);
    if (reasons.length > 0 && !lvl.privileged) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'privileged'],
        message: `this level lets its holder escalate (${reasons.join('; ')}); set privileged: true if that is intended`,
      });
    }
  }
  for (const problem of usernameTemplateProblems(
    policy.settings.kubernetesUsername,
    policy.identities,
    true,
  )) {
    ctx.addIssue({ code: 'custom', path: ['settings', 'kubernetesUsername'], message: problem });
  }
  for (const [slackUserId, arn] of Object.entries(policy.identities.map)) {
    if (
      principalParts(arn).kind === 'assumed-role' &&
      !policy.identities.allowAssumedRoles &&
      !isAcceptedIdentityCenterSession(policy.identities, arn)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['identities', 'map', slackUserId],
        message: `${arn} is an assumed-role session, whose name its caller chooses: map the person's IAM user or role, or set identities.allowAssumedRoles: true if the role's trust pins the session name to the person`,
      });
    }
  }
  for (const problem of identityCenterProblems(policy.identities)) {
    ctx.addIssue({
      code: 'custom',
      path: ['identities', 'identityCenter', ...problem.path],
      message: problem.message,
    });
  }
  const ruleNames = new Set<string>();
  policy.breakGlass.forEach((rule, index) => {
    const path = ['breakGlass', index];
    if (ruleNames.has(rule.name)) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'name'],
        message: `two break-glass rules are called "${rule.name}"`,
      });
    }
    ruleNames.add(rule.name);
    rule.levels.forEach((levelName, levelIndex) => {
      const lvl = policy.levels[levelName];
      if (!lvl) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'levels', levelIndex],
          message: `unknown level "${levelName}"`,
        });
      } else if (seconds(rule.maxDuration) > seconds(lvl.maxDuration)) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'maxDuration'],
          message: `maxDuration (${rule.maxDuration}) is longer than level ${levelName} allows (${lvl.maxDuration})`,
        });
      }
    });
    for (const clusterName of rule.clusters ?? []) {
      if (!policy.clusters[clusterName]) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'clusters'],
          message: `unknown cluster "${clusterName}"`,
        });
      }
    }
    if (!policy.settings.auditChannel) {
      ctx.addIssue({
        code: 'custom',
        path: ['settings', 'auditChannel'],
        message: 'break-glass rules announce every use in the audit channel: set settings.auditChannel',
      });
    }
  });
  let auditChannelAsked = false;
  for (const [clusterName, c] of Object.entries(policy.clusters)) {
    if (
      (c.identityMapping === 'aws-auth' || c.identityMapping === 'auto') &&
      !usernamePrefixOf(policy.settings.kubernetesUsername)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['settings', 'kubernetesUsername'],
        message: `cluster ${clusterName} uses aws-auth, whose entries eks-access recognises by their username prefix: start kubernetesUsername with fixed text (e.g. "eks-access:{iamName}")`,
      });
    }
    if (c.identityMapping === 'auto' && !('eks' in c.connection)) {
      ctx.addIssue({
        code: 'custom',
        path: ['clusters', clusterName, 'identityMapping'],
        message:
          'identityMapping auto reads the EKS authentication mode (DescribeCluster), so it needs connection: { eks: … }; for a kubeconfig connection say aws-auth or access-entries',
      });
    }
    for (const problem of accessPolicyClusterProblems(policy, clusterName)) {
      ctx.addIssue({
        code: 'custom',
        path: ['clusters', clusterName, ...problem.path],
        message: problem.message,
      });
    }
    if (c.identityMapping === 'none' && !c.usernameTemplate) {
      ctx.addIssue({
        code: 'custom',
        path: ['clusters', clusterName, 'usernameTemplate'],
        message:
          'identityMapping none needs usernameTemplate: the Kubernetes username people already have (e.g. "{email}")',
      });
    }
    if (c.usernameTemplate) {
      for (const problem of usernameTemplateProblems(c.usernameTemplate, policy.identities, false)) {
        ctx.addIssue({
          code: 'custom',
          path: ['clusters', clusterName, 'usernameTemplate'],
          message: problem,
        });
      }
    }
    c.namespaces.forEach((ns, index) => {
      const nsPath = ['clusters', clusterName, 'namespaces', index];
      for (const levelName of ns.levels) {
        const lvl = policy.levels[levelName];
        if (!lvl?.privileged) continue;
        const needed = requiredApprovalsFor(lvl, ns);
        // Self-approval does not count towards a quorum of distinct people; groups may hold anyone.
        if (ns.approvers.groups.length === 0 && ns.approvers.users.length < needed) {
          ctx.addIssue({
            code: 'custom',
            path: [...nsPath, 'approvers'],
            message: `privileged level "${levelName}" needs ${needed} approvals but only ${ns.approvers.users.length} approver(s) are named: add approvers, or set levels.${levelName}.approvals explicitly`,
          });
        }
        if (!policy.settings.auditChannel && !auditChannelAsked) {
          auditChannelAsked = true;
          ctx.addIssue({
            code: 'custom',
            path: ['settings', 'auditChannel'],
            message: `privileged level "${levelName}" is offered in ${ns.name} on ${clusterName}: its grants are posted to the audit channel, so set settings.auditChannel`,
          });
        }
      }
      ns.levels.forEach((levelName, levelIndex) => {
        if (!policy.levels[levelName]) {
          ctx.addIssue({
            code: 'custom',
            path: [...nsPath, 'levels', levelIndex],
            message: `unknown level "${levelName}"; defined levels: ${Object.keys(policy.levels).join(', ')}`,
          });
        }
      });
      if (ns.requireTicket) {
        checkTicketSystems(ns.requireTicket.systems, [...nsPath, 'requireTicket']);
        for (const levelName of ns.requireTicket.levels ?? []) {
          if (!ns.levels.includes(levelName)) {
            ctx.addIssue({
              code: 'custom',
              path: [...nsPath, 'requireTicket', 'levels'],
              message: `requireTicket names level "${levelName}", which this namespace does not offer`,
            });
          }
        }
      }
      ns.autoApprove.forEach((rule, ruleIndex) => {
        for (const levelName of rule.levels) {
          if (policy.levels[levelName]?.privileged) {
            ctx.addIssue({
              code: 'custom',
              path: [...nsPath, 'autoApprove', ruleIndex, 'levels'],
              message: `level "${levelName}" is privileged: it needs approvers, so it cannot be auto-approved`,
            });
          }
          if (!ns.levels.includes(levelName)) {
            ctx.addIssue({
              code: 'custom',
              path: [...nsPath, 'autoApprove', ruleIndex, 'levels'],
              message: `auto-approve names level "${levelName}", which this namespace does not offer`,
            });
          }
        }
      });
    });
  }
});

export type PolicyInput = z.input<typeof policySchema>;
export type Policy = z.infer<typeof policySchema>;
export type LevelPolicy = z.infer<typeof level>;
export type ClusterPolicy = z.infer<typeof cluster>;
export type NamespacePolicy = z.infer<typeof namespaceEntry>;
export type AutoApproveRule = z.infer<typeof autoApproveRule>;
export type TicketSystemPolicy = z.infer<typeof ticketSystem>;

// The privilege rules are part of the policy's vocabulary: importers (the domain may import only this file)
// keep reaching them here.
export * from './privilege.js';
