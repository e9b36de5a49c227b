// The admin CLI (`eks-access …`, or `node dist/bin/entrypoint.js cli …` in the image): doctor, break-glass
// revocation, reconcile, audit export and the renderers of the bot's own permissions. Plain argv parsing;
// every command returns an exit code, and nothing secret is printed.
import { userInfo } from 'node:os';
import { pathToFileURL } from 'node:url';
import type { Env } from '../config/env.js';
import { type LoadedPolicy, loadPolicyFile, parseEnv, resolvePolicyPath } from '../config/load.js';
import type { BotSubject } from '../domain/bot-permissions.js';
import { systemClock } from '../domain/clock.js';
import { parseDuration } from '../domain/duration.js';
import { badInput, headlineOf, toAccessError } from '../domain/errors.js';
import { GRANT_STATUSES, type Grant, type GrantStatus, LIVE_STATUSES } from '../domain/grant.js';
import { REPORT_FORMATS, type ReportFormat } from '../domain/report.js';
import type { ForgedBinding } from '../engine/forged.js';
import { type DoctorProbes, doctor, formatCheck } from '../operator/doctor.js';
import { plan } from '../operator/plan.js';
import {
  permissionRoleOf,
  renderIamPolicyJson,
  renderKeptRolesYaml,
  renderRbacYaml,
} from '../operator/render-permissions.js';
import type { DurableArchive } from '../ports/archive.js';
import type { AuditLog } from '../ports/audit-log.js';
import type { GrantStore } from '../ports/grant-store.js';
import { AUDIT_VERIFY_LIMIT, auditHistory, verifyAuditTrail } from '../shared/audit-history.js';
import { accessReview } from '../shared/report.js';

export const HELP = `eks-access — just-in-time namespace access on Amazon EKS, approved in Slack

Usage: eks-access <command> [options]

  doctor                          check config, Slack, Redis and every cluster; exit 1 if anything fails
  grants list [--status S,…]      grants (default: approved,active,revoking), one JSON object per line
  grants revoke <id> [--yes]      break-glass: end a grant now (works without Slack)
  grants forged [--delete]        RoleBindings labelled as ours whose seal does not verify (ignored by
                                  the bot), one JSON object per line; --delete removes exactly those
  reconcile [--dry-run]           find and remove expired or orphaned access on every cluster
  audit export --since <time> [--until <time>]
                                  audit events as JSON lines; <time> is ISO 8601 or a duration (24h, 7d);
                                  complete from the archive whatever Redis lost
  audit verify --since <time> [--until <time>]
                                  checks every writer's hash chain in the archive over the window: an
                                  edited or removed record is named; exit 1 if any chain is broken
  report --since <time> [--until <time>] [--cluster C] [--format csv|json|md]
                                  access review: every grant whose life overlaps the window, with
                                  requester, approvers, level, requested and actual time, extensions,
                                  tickets and how it ended (from the audit trail; default format md)
  report --post-summary           post the last 7 days' summary and chart to the audit channel now
                                  (the worker does it weekly: settings.weeklySummary)
  plan <namespace> --principal ARN [--cluster C] [--level L] [--for 2h]
                                  dry run, offline: exactly what a grant would create (trust policy,
                                  identity mapping, Role, RoleBinding), without touching anything
  rbac render [--for worker|bot] [--cluster NAME] [--subject user:NAME|sa:NS/NAME|group:NAME]
                                  a process's least-privilege Kubernetes RBAC for the policy, as YAML
                                  (the worker's; the bot needs none), with the levels' kept Roles and
                                  the admission policy that bounds the worker's RoleBindings
  rbac render --kept-roles-in NAMESPACE [--cluster NAME]
                                  the kept Roles to apply in one namespace a pattern (team-*) offers
  iam-policy render [--for worker|bot] [--role ARN]
                                  a process's IAM policy (or a cross-account role's) for the policy, as JSON
  --help                          this text

Configuration comes from the environment (POLICY_FILE, REDIS_URL, SLACK_BOT_TOKEN, …; see docs/operations.md).
`;

export interface CliIo {
  env: Record<string, string | undefined>;
  out: (text: string) => void;
  err: (text: string) => void;
  cwd?: string;
}

/** The engine pieces the CLI needs for commands that change things (built from bin/engine-runtime.ts). */
export interface CliRuntime {
  store: GrantStore;
  audit: AuditLog;
  /** The durable archive: the audit trail beyond Redis (reports, export, verify). */
  archive: DurableArchive;
  endGrant(grantId: string, actor: string): Promise<Grant>;
  reconcile(dryRun: boolean): Promise<unknown>;
  /** Look-alike RoleBindings on every cluster; with `deleteAs`, deleted in that admin's name. */
  forged(deleteAs?: string): Promise<{ forged: ForgedBinding[]; deleted: boolean; errors: unknown[] }>;
  close(): Promise<void>;
}

export interface CliDeps {
  /** Builds the runtime (Redis, queue, clusters) only for commands that need it. */
  runtime?: (env: Env, loaded: LoadedPolicy) => Promise<CliRuntime>;
  /** Doctor's probes; the real services when omitted. */
  probes?: (env: Env, loadConfig: () => LoadedPolicy) => DoctorProbes;
}

interface Args {
  positional: string[];
  flags: Map<string, string | true>;
}

function parseArgs(argv: readonly string[]): Args {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [key, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    const next = argv[i + 1];
    if (inline !== undefined) flags.set(key, inline);
    else if (next !== undefined && !next.startsWith('--') && VALUE_FLAGS.has(key)) {
      flags.set(key, next);
      i++;
    } else flags.set(key, true);
  }
  return { positional, flags };
}
const VALUE_FLAGS = new Set([
  'status',
  'since',
  'cluster',
  'subject',
  'role',
  'limit',
  'principal',
  'level',
  'for',
  'until',
  'format',
  'kept-roles-in',
]);

const flag = (args: Args, name: string): string | undefined => {
  const value = args.flags.get(name);
  if (value === true) throw badInput(`--${name} needs a value`);
  return value;
};

export function parseSubject(text: string): BotSubject {
  const [kind, rest = ''] = text.split(':', 2) as [string, string | undefined];
  if (kind === 'user' && rest) return { kind: 'User', name: rest };
  if (kind === 'group' && rest) return { kind: 'Group', name: rest };
  const [namespace, name] = rest.split('/');
  if (kind === 'sa' && namespace && name) return { kind: 'ServiceAccount', namespace, name };
  throw badInput(`--subject ${text} is not user:NAME, group:NAME or sa:NAMESPACE/NAME`);
}

/** ISO time or a duration back from now (`24h`). */
export function parseSince(text: string, now: number): number {
  const seconds = parseDuration(text);
  if (seconds !== undefined && seconds > 0) return now - seconds * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) throw badInput(`--since ${text} is neither an ISO time nor a duration like 24h`);
  return at;
}

const operator = () => {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli:unknown';
  }
};

export async function runCli(argv: readonly string[], io: CliIo, deps: CliDeps = {}): Promise<number> {
  const args = parseArgs(argv);
  const [command, sub, third] = args.positional;
  if (!command || args.flags.has('help') || command === 'help') {
    io.out(HELP);
    return command || args.flags.has('help') || command === 'help' ? 0 : 2;
  }
  try {
    const env = parseEnv(io.env);
    const policyPath = resolvePolicyPath(env, io.cwd);
    const loadConfig = () => loadPolicyFile(policyPath);

    if (command === 'doctor') {
      const probes = deps.probes ?? (await defaultProbes());
      const results = await doctor(probes(env, loadConfig), {
        onResult: (r) => io.out(`${formatCheck(r)}\n`),
      });
      const failed = results.filter((r) => !r.ok).length;
      io.out(failed === 0 ? 'all checks passed\n' : `${failed} check(s) failed\n`);
      return failed === 0 ? 0 : 1;
    }
    if (command === 'rbac' && sub === 'render') {
      const subject = flag(args, 'subject');
      const keptRolesIn = flag(args, 'kept-roles-in');
      const rendered = keptRolesIn
        ? renderKeptRolesYaml(loadConfig().policy, flag(args, 'cluster'), keptRolesIn)
        : renderRbacYaml(
            loadConfig().policy,
            flag(args, 'cluster'),
            { ...(subject ? { subject: parseSubject(subject) } : {}) },
            permissionRoleOf(flag(args, 'for')),
          );
      for (const warning of rendered.warnings) io.err(`warning: ${warning}\n`);
      io.out(rendered.text);
      return 0;
    }
    if (command === 'plan') {
      const principalArn = flag(args, 'principal');
      if (!sub || !principalArn)
        throw badInput('plan needs a namespace and --principal <IAM user or role ARN>');
      const planned = await plan(
        { policy: loadConfig().policy, clock: systemClock },
        {
          namespace: sub,
          cluster: flag(args, 'cluster'),
          level: flag(args, 'level'),
          duration: flag(args, 'for'),
          reason: 'dry run (eks-access plan)',
          requester: { slackUserId: 'U0DRYRUN', principalArn },
        },
        { readCluster: false },
      );
      const { text } = planned;
      for (const warning of planned.plan.warnings) io.out(`# WARNING: ${warning}\n\n`);
      const sections: [string, string | undefined][] = [
        [`personal IAM role ${planned.plan.personalRole?.arn ?? ''} — trust policy`, text.trustPolicy],
        [`identity mapping (${planned.plan.mapping.mode})`, text.mapping],
        ['kept Role', text.role],
        ['RoleBinding', text.roleBinding],
        ['EKS access policy association (AssociateAccessPolicy)', text.accessPolicy],
      ];
      for (const [title, body] of sections) if (body) io.out(`# ${title}\n${body.trimEnd()}\n\n`);
      return 0;
    }
    if (command === 'iam-policy' && sub === 'render') {
      io.out(
        renderIamPolicyJson(loadConfig().policy, flag(args, 'role'), permissionRoleOf(flag(args, 'for')), {
          // Unset here (rendering needs no AWS): the placeholder shows where the bucket's name goes.
          bucket: env.ARCHIVE_BUCKET ?? 'ARCHIVE_BUCKET',
          prefix: env.ARCHIVE_PREFIX,
        }),
      );
      return 0;
    }

    const needsRuntime =
      (command === 'grants' && (sub === 'list' || sub === 'revoke' || sub === 'forged')) ||
      command === 'reconcile' ||
      command === 'report' ||
      (command === 'audit' && (sub === 'export' || sub === 'verify'));
    if (!needsRuntime) {
      io.err(`unknown command: ${args.positional.join(' ')}\n\n${HELP}`);
      return 2;
    }
    if (!deps.runtime) throw new Error('this command needs the engine runtime (bin/engine-runtime.ts)');
    const runtime = await deps.runtime(env, loadConfig());
    try {
      if (command === 'grants' && sub === 'list') {
        const statusText = flag(args, 'status');
        const statuses = statusText ? statusText.split(',').map((s) => s.trim()) : [...LIVE_STATUSES];
        const unknown = statuses.filter((s) => !(GRANT_STATUSES as readonly string[]).includes(s));
        if (unknown.length > 0)
          throw badInput(`unknown status ${unknown.join(', ')}; statuses: ${GRANT_STATUSES.join(', ')}`);
        for (const grant of await runtime.store.listByStatus(statuses as GrantStatus[])) {
          io.out(`${JSON.stringify(summarise(grant))}\n`);
        }
        return 0;
      }
      if (command === 'grants' && sub === 'revoke') {
        if (!third) throw badInput('grants revoke needs a grant id (see: eks-access grants list)');
        const ended = await runtime.endGrant(third, operator());
        io.out(
          `${ended.id}: ${ended.status} (the worker removes the access; see: eks-access grants list --status ${ended.status})\n`,
        );
        return 0;
      }
      if (command === 'grants' && sub === 'forged') {
        const result = await runtime.forged(args.flags.has('delete') ? operator() : undefined);
        for (const finding of result.forged)
          io.out(`${JSON.stringify({ ...finding, ...(result.deleted ? { deleted: true } : {}) })}\n`);
        for (const error of result.errors) io.err(`${JSON.stringify(error)}\n`);
        return result.errors.length > 0 ? 1 : 0;
      }
      if (command === 'reconcile') {
        const report = await runtime.reconcile(args.flags.has('dry-run'));
        io.out(`${JSON.stringify(report, null, 2)}\n`);
        return 0;
      }
      if (command === 'report' && args.flags.has('post-summary')) {
        if (!env.SLACK_BOT_TOKEN) throw badInput('report --post-summary posts to Slack: set SLACK_BOT_TOKEN');
        const [{ slackClient }, { SlackSummaryPublisher }, { renderBarChart }, { postWeeklySummary }] =
          await Promise.all([
            import('../adapters/slack/client.js'),
            import('../adapters/slack/summary-publisher.js'),
            import('../adapters/chart/bar-chart.js'),
            import('../shared/weekly-summary.js'),
          ]);
        const policy = loadConfig().policy;
        const summary = await postWeeklySummary({
          audit: runtime.audit,
          archive: runtime.archive,
          policy,
          clock: systemClock,
          publisher: new SlackSummaryPublisher(slackClient(env, { waitOnRateLimits: true })),
          renderChart: renderBarChart,
        });
        io.out(
          summary
            ? `posted the weekly summary to ${policy.settings.auditChannel}: ${summary.grants} grant(s), ${summary.breakGlass.uses} break-glass\n`
            : 'no audit channel in the policy (settings.auditChannel): nothing posted\n',
        );
        return 0;
      }
      if (command === 'report') {
        const since = flag(args, 'since');
        if (!since) throw badInput('report needs --since <ISO time or duration like 30d>');
        const format = flag(args, 'format') ?? 'md';
        if (!(REPORT_FORMATS as readonly string[]).includes(format)) {
          throw badInput(`--format ${format} is not one of ${REPORT_FORMATS.join(', ')}`);
        }
        const now = systemClock.now();
        const until = flag(args, 'until');
        const report = await accessReview(
          { audit: runtime.audit, archive: runtime.archive, policy: loadConfig().policy },
          {
            since: parseSince(since, now),
            until: until ? parseSince(until, now) : now,
            cluster: flag(args, 'cluster'),
          },
          format as ReportFormat,
        );
        io.out(report.text);
        if (report.truncated)
          io.err('warning: the audit trail was longer than one report reads; rows may be missing\n');
        return 0;
      }
      const since = flag(args, 'since');
      if (!since) throw badInput(`audit ${sub} needs --since <ISO time or duration like 24h>`);
      const now = systemClock.now();
      const until = flag(args, 'until');
      const window = { since: parseSince(since, now), until: until ? parseSince(until, now) : now };
      if (sub === 'verify') {
        const verdict = await verifyAuditTrail({ archive: runtime.archive }, window, AUDIT_VERIFY_LIMIT);
        io.out(`${JSON.stringify(verdict)}\n`);
        return verdict.problems.length > 0 || verdict.truncated ? 1 : 0;
      }
      const history = await auditHistory(
        { audit: runtime.audit, archive: runtime.archive },
        window,
        1_000_000,
      );
      for (const event of history.events)
        io.out(`${JSON.stringify({ ...event, at: new Date(event.at).toISOString() })}\n`);
      if (history.truncated)
        io.err('warning: the window holds more than 1 000 000 events; the newest are missing\n');
      return 0;
    } finally {
      await runtime.close();
    }
  } catch (error) {
    const e = toAccessError(error);
    io.err(`${headlineOf(e)}: ${e.message}\n${e.hint ? `hint: ${e.hint}\n` : ''}`);
    return e.kind === 'bad_input' ? 2 : 1;
  }
}

/** What `grants list` prints: ids, who, where, when — never tokens, and no free-text reason. */
function summarise(grant: Grant) {
  const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());
  return {
    id: grant.id,
    status: grant.status,
    requester: grant.requester.slackUserId,
    username: grant.requester.kubernetesUsername,
    cluster: grant.cluster,
    namespace: grant.namespace,
    level: grant.level,
    activatedAt: iso(grant.activatedAt),
    expiresAt: iso(grant.expiresAt),
    endedAt: iso(grant.endedAt),
    endReason: grant.endReason,
  };
}

async function defaultProbes(): Promise<NonNullable<CliDeps['probes']>> {
  // Loaded lazily: `rbac render` and `--help` must work without the SDKs initialising anything.
  const { doctorProbes } = await import('../adapters/doctor-probes.js');
  return (env, loadConfig) => doctorProbes({ env, loadConfig, clock: systemClock });
}

export async function main(argv: readonly string[]): Promise<number> {
  return runCli(
    argv,
    { env: process.env, out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) },
    { runtime: cliRuntime },
  );
}

/** Builds the CLI's runtime from the engine's shared composition (bin/engine-runtime.ts). */
async function cliRuntime(env: Env, loaded: LoadedPolicy): Promise<CliRuntime> {
  const { buildCliRuntime } = await import('./cli-runtime.js');
  return buildCliRuntime(env, loaded);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
