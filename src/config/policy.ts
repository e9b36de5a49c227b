// The policy file: which clusters, which namespaces, who approves, what access levels mean.
// One zod schema; every problem is reported at once with its path and a hint (see load.ts).
import { z } from 'zod';
import { parseDuration } from '../domain/duration.js';
import { usernamePrefixOf } from '../domain/names.js';

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
    defaultDuration: duration('defaultDuration'),
    maxDuration: duration('maxDuration'),
    allowSelfApproval: z.boolean().default(false),
    /**
     * Must be true for levels that let a person write RBAC, bind/escalate/impersonate, or mint
     * service-account tokens: such a level is as strong as whatever it can grant itself.
     */
    privileged: z.boolean().default(false),
    approvals: z.number().int().min(1).max(10).optional(),
    extend: extendPolicy.default({ mode: 'approval' }),
  })
  .strict();

const autoApproveRule = z
  .object({
    levels: z.array(z.string()).min(1),
    maxDuration: duration('autoApprove.maxDuration'),
    requesters: z
      .object({
        users: z.array(z.string().regex(SLACK_USER_ID)).default([]),
        groups: z.array(z.string()).default([]),
      })
      .strict()
      .optional(),
  })
  .strict();

const namespaceEntry = z
  .object({
    name: z.string().regex(NAMESPACE_PATTERN, 'a namespace name (DNS-1123 label) or a pattern like team-*'),
    approvers,
    approvals: z.number().int().min(1).max(10).default(1),
    channel: z.string().regex(SLACK_CHANNEL_ID, 'Slack channel ids look like C0123ABCD'),
    levels: z.array(z.string()).min(1),
    allowSelfApproval: z.boolean().default(false),
    requireReason: z.boolean().optional(),
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
    identityMapping: z.enum(['aws-auth', 'access-entries', 'none']),
    /** For `none`: how people already authenticate (OIDC etc.). Placeholders: {slackUserId} {email} {iamName}. */
    usernameTemplate: z.string().min(1).optional(),
    namespaces: z.array(namespaceEntry).min(1),
  })
  .strict();

const identities = z
  .object({
    /** Slack user id → IAM user or role ARN. */
    map: z
      .record(z.string().regex(SLACK_USER_ID), z.string().regex(IAM_PRINCIPAL_ARN, 'an IAM user/role ARN'))
      .default({}),
    /** Opt-in: find the IAM user whose tag `tagKey` equals the Slack profile email. */
    emailTag: z
      .object({ enabled: z.boolean().default(false), tagKey: z.string().min(1).default('slack-email') })
      .strict()
      .optional(),
  })
  .strict();

const basePolicy = z
  .object({
    version: z.literal(1).default(1),
    settings: z
      .object({
        /** Kubernetes username each person gets; placeholders {iamName} {slackUserId}. */
        kubernetesUsername: z.string().min(1).default('eks-access:{iamName}'),
        /** IAM path under which every role of ours lives; a cluster's roles live under path + cluster/. */
        iamPath: z
          .string()
          .regex(/^\/([\w+=,.@-]+\/)*$/, 'an IAM path like /eks-access/')
          .default('/eks-access/'),
        pendingTimeout: duration('pendingTimeout').default('24h'),
        expiryWarning: duration('expiryWarning').default('15m'),
        requireReason: z.boolean().default(true),
        auditChannel: z.string().regex(SLACK_CHANNEL_ID).optional(),
      })
      .strict()
      .default({
        kubernetesUsername: 'eks-access:{iamName}',
        iamPath: '/eks-access/',
        pendingTimeout: '24h',
        expiryWarning: '15m',
        requireReason: true,
      }),
    identities: identities.default({ map: {} }),
    levels: z.record(z.string().regex(DNS1123_LABEL, 'level names are lower-case DNS labels'), level),
    clusters: z.record(z.string().regex(CLUSTER_NAME), cluster),
  })
  .strict();

/** Verbs and resources that let a holder grant themselves more than the level itself says. */
const ESCALATING_VERBS = new Set(['bind', 'escalate', 'impersonate', '*']);
const RBAC_RESOURCES = new Set(['roles', 'rolebindings', 'clusterroles', 'clusterrolebindings', '*']);
const WRITE_VERBS = new Set(['create', 'update', 'patch', '*']);
/** Built-in ClusterRoles known to allow writing RBAC, impersonating service accounts or minting tokens. */
const PRIVILEGED_CLUSTER_ROLES = new Set(['cluster-admin', 'admin', 'edit']);

/** Why a level is privileged (empty when it is not). Pure; also used by `doctor` and the plan. */
export function privilegeReasons(level: Pick<LevelPolicy, 'clusterRole' | 'rules'>): string[] {
  const reasons: string[] = [];
  if (level.clusterRole && PRIVILEGED_CLUSTER_ROLES.has(level.clusterRole)) {
    reasons.push(
      `ClusterRole ${level.clusterRole} can write RBAC, impersonate service accounts or mint their tokens`,
    );
  }
  for (const r of level.rules ?? []) {
    for (const verb of r.verbs) if (ESCALATING_VERBS.has(verb)) reasons.push(`verb "${verb}"`);
    const writes = r.verbs.some((verb) => WRITE_VERBS.has(verb));
    for (const resource of r.resources) {
      if (RBAC_RESOURCES.has(resource) && writes) reasons.push(`writes ${resource}`);
      if (
        (resource === 'serviceaccounts/token' || resource === 'serviceaccounts/*') &&
        r.verbs.some((v) => v === 'create' || v === '*')
      ) {
        reasons.push('mints service-account tokens');
      }
    }
  }
  return [...new Set(reasons)];
}

/** Resources worth a warning even in an unprivileged level: they reveal secrets or run code in pods. */
const SENSITIVE_RESOURCES = ['secrets', 'pods/exec', 'pods/attach', 'pods/portforward'];

export function levelWarnings(name: string, level: Pick<LevelPolicy, 'rules'>): string[] {
  const resources = new Set((level.rules ?? []).flatMap((r) => r.resources));
  const sensitive = SENSITIVE_RESOURCES.filter((resource) => resources.has(resource) || resources.has('*'));
  return sensitive.length === 0
    ? []
    : [
        `level "${name}" grants ${sensitive.join(', ')}: holders can read secrets or run commands inside pods`,
      ];
}

export const policySchema = basePolicy.superRefine((policy, ctx) => {
  const seconds = (text: string) => parseDuration(text) ?? 0;
  for (const [name, lvl] of Object.entries(policy.levels)) {
    const path = ['levels', name];
    if (Boolean(lvl.clusterRole) === Boolean(lvl.rules)) {
      ctx.addIssue({
        code: 'custom',
        path,
        message: 'give exactly one of clusterRole (an existing ClusterRole) or rules (a Role the bot keeps)',
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
    const reasons = privilegeReasons(lvl);
    if (reasons.length > 0 && !lvl.privileged) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'privileged'],
        message: `this level lets its holder escalate (${reasons.join('; ')}); set privileged: true if that is intended`,
      });
    }
  }
  for (const [clusterName, c] of Object.entries(policy.clusters)) {
    if (c.identityMapping === 'aws-auth' && !usernamePrefixOf(policy.settings.kubernetesUsername)) {
      ctx.addIssue({
        code: 'custom',
        path: ['settings', 'kubernetesUsername'],
        message: `cluster ${clusterName} uses aws-auth, whose entries eks-access recognises by their username prefix: start kubernetesUsername with fixed text (e.g. "eks-access:{iamName}")`,
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
    c.namespaces.forEach((ns, index) => {
      const nsPath = ['clusters', clusterName, 'namespaces', index];
      ns.levels.forEach((levelName, levelIndex) => {
        if (!policy.levels[levelName]) {
          ctx.addIssue({
            code: 'custom',
            path: [...nsPath, 'levels', levelIndex],
            message: `unknown level "${levelName}"; defined levels: ${Object.keys(policy.levels).join(', ')}`,
          });
        }
      });
      ns.autoApprove.forEach((rule, ruleIndex) => {
        for (const levelName of rule.levels) {
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
