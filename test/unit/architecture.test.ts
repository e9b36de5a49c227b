// The boundaries that matter, enforced on the import graph of src/ (test/support/import-rules.ts). A
// violation fails `npm test` with the rule's name, the import (and the chain that reaches it) and why the
// rule exists. The folders say which process runs a use case (README, "Layout of the code"): src/bot/ the
// bot, src/engine/ the worker (and the CLI), src/operator/ the CLI, src/shared/ more than one of them.
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  type ImportEdge,
  type ImportRule,
  importGraph,
  neverReaches,
  onlyImports,
  violations,
} from '../support/import-rules.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Clients of outside systems; only adapters (and composition roots) may hold them. */
const SDK =
  /^(@slack\/|bullmq$|@aws-sdk\/|@smithy\/|@aws-crypto\/|@kubernetes\/|ioredis$|pino$|prom-client$|undici$)/;
const isLocal = (to: string) => to.endsWith('.ts');
const under = (folder: string) => (path: string) => path.startsWith(`src/${folder}/`);

type UseCaseFolder = 'bot' | 'engine' | 'operator' | 'shared';

/**
 * The use cases, by the process that runs them: which other use-case folders each may import (values;
 * type-only imports vanish at build time), and why.
 */
const PROCESS_FOLDERS: Readonly<Record<UseCaseFolder, { mayImport: readonly UseCaseFolder[]; why: string }>> =
  {
    bot: {
      mayImport: ['shared'],
      why: "the bot's use cases decide and record, in Redis only; applying a decision is the worker's, so the Slack-facing process holds no code that writes to a cluster or IAM",
    },
    engine: {
      mayImport: ['shared'],
      why: 'the engine applies what the bot decided and sealed, re-checking it; a path into a bot or CLI use case would let the writer decide',
    },
    operator: {
      mayImport: ['engine', 'shared'],
      why: "the CLI runs the engine (plans, forged clean-up) and reads the audit trail; it takes no one's Slack decisions",
    },
    shared: {
      mayImport: [],
      why: 'the bot runs shared/ too, so shared/ stays Redis-only like the bot and depends on no single process',
    },
  };
const USE_CASE_FOLDERS = Object.keys(PROCESS_FOLDERS) as UseCaseFolder[];
const useCaseFolderOf = (path: string) => USE_CASE_FOLDERS.find((f) => under(f)(path));

/** The top-level folders of src/: a file anywhere else does not say who runs it or what it is. */
const SRC_FOLDERS = ['config', 'domain', 'ports', ...USE_CASE_FOLDERS, 'adapters', 'bin'];

/** What writes to clusters and IAM: only the worker (and the operator's CLI) may reach any of it. */
const ENGINE_WRITERS = [
  'src/engine/',
  'src/bin/engine-runtime.ts',
  'src/adapters/k8s/',
  'src/adapters/aws/iam-roles.ts',
  'src/adapters/aws/access-entries.ts',
];
const CLUSTER_AND_IAM_CLIENTS = ['@kubernetes/client-node', '@aws-sdk/client-eks', '@aws-sdk/client-sts'];

const RULES: ImportRule[] = [
  onlyImports(
    'domain is pure',
    'src/domain holds the rules, and the rules must not depend on any outside system, clock or adapter',
    under('domain'),
    (e) => e.to.startsWith('src/domain/') || e.to === 'src/config/policy.ts' || e.to === 'node:crypto',
  ),
  onlyImports(
    'use cases speak ports',
    'src/bot, src/engine, src/operator, src/shared and src/ports reach the outside world only through the ports, so every client is injected',
    (f) => useCaseFolderOf(f) !== undefined || under('ports')(f),
    (e) =>
      isLocal(e.to) ? !e.to.startsWith('src/adapters/') && !e.to.startsWith('src/bin/') : !SDK.test(e.to),
  ),
  ...USE_CASE_FOLDERS.map((folder) => {
    const { mayImport, why } = PROCESS_FOLDERS[folder];
    const others = mayImport.length > 0 ? `only ${mayImport.map((f) => `${f}/`).join(' and ')}` : 'none';
    return onlyImports(`${folder}/ imports, of the other use cases, ${others}`, why, under(folder), (e) => {
      const to = useCaseFolderOf(e.to);
      return to === undefined || to === folder || mayImport.includes(to);
    });
  }),
  neverReaches(
    'the bot writes nothing but Redis',
    'the Slack-facing process must hold no client or code that writes to a cluster or IAM, even if compromised',
    'src/bin/bot.ts',
    (to) =>
      CLUSTER_AND_IAM_CLIENTS.includes(to) ||
      ENGINE_WRITERS.some((w) => (w.endsWith('/') ? to.startsWith(w) : to === w)) ||
      to.startsWith('@aws-sdk/'),
    {
      // Named exceptions, each a narrow outside call held by named files only:
      // who a person is: read-only IAM lookups (ListUsers/ListUserTags for the email tag, ListRoles for
      // Identity Center's permission-set roles) and the identity store's ListUsers;
      // and the API's caller check: GetUser/GetRole for a principal's current unique id;
      '@aws-sdk/client-iam': [
        'src/adapters/identity/aws-identity.ts',
        'src/adapters/identity/identity-center.ts',
        'src/adapters/identity/unique-id.ts',
      ],
      '@aws-sdk/client-identitystore': ['src/adapters/identity/identity-center.ts'],
      // the append-only archive (the audit trail written as it happens; no delete in any IAM statement).
      '@aws-sdk/client-s3': ['src/adapters/aws/s3-archive.ts'],
    },
  ),
];

/** .ts files of src/ outside the folders that say what they are (repository-relative). */
function strayFiles(root: string): string[] {
  return readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' })
    .map((path) => path.split('\\').join('/'))
    .filter((path) => path.endsWith('.ts') && !SRC_FOLDERS.includes(path.split('/')[0] as string))
    .map((path) => `src/${path}`)
    .sort();
}

describe('architecture', () => {
  it('src/ keeps every boundary rule', () => {
    expect(violations(RULES, importGraph(repo))).toEqual([]);
  });

  it('every file in src/ sits in a folder that says what it is and which process runs it', () => {
    expect(strayFiles(repo)).toEqual([]);
  });

  it('the rules see real edges: each process reaches its own folder, each use-case folder holds code', () => {
    const graph = importGraph(repo);
    const uses = (file: string, target: string) => graph.some((e) => e.from === file && e.to === target);
    expect(uses('src/bin/worker.ts', 'src/bin/engine-runtime.ts')).toBe(true);
    expect(uses('src/bin/bot.ts', 'src/bin/shared-runtime.ts')).toBe(true);
    expect(uses('src/adapters/queue/workers.ts', 'src/engine/activate.ts')).toBe(true);
    expect(uses('src/adapters/slack/handlers/commands.ts', 'src/bot/submit.ts')).toBe(true);
    expect(uses('src/bin/cli.ts', 'src/operator/doctor.ts')).toBe(true);
    for (const folder of USE_CASE_FOLDERS) {
      expect(graph.filter((e) => under(folder)(e.from)).length, folder).toBeGreaterThan(0);
    }
  });

  it('fails on a deliberate violation, naming the rule, the import and the chain', () => {
    const root = mkdtempSync(join(tmpdir(), 'arch-'));
    const write = (path: string, text: string) => {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    write('src/domain/grant.ts', "import { KubeConfig } from '@kubernetes/client-node';\n");
    write('src/bot/submit.ts', "import { RedisGrantStore } from '../adapters/redis/grant-store.js';\n");
    write('src/adapters/redis/grant-store.ts', 'export const x = 1;\n');
    write('src/bot/decide.ts', "import { activateGrant } from '../engine/activate.js';\n");
    write('src/engine/activate.ts', "import { decide } from '../bot/decide.js';\n");
    write('src/operator/plan.ts', "import { submit } from '../bot/submit.js';\n");
    write('src/shared/end-grant.ts', "import { revokeGrant } from '../engine/revoke.js';\n");
    write('src/bin/bot.ts', "import { go } from './helper.js';\n");
    write('src/bin/helper.ts', "export const go = () => import('../engine/revoke.js');\n");
    write('src/engine/revoke.ts', "import type { X } from '@kubernetes/client-node';\nexport const r = 1;\n");
    write('src/utils/stray.ts', 'export const s = 1;\n');
    const found = violations(RULES, importGraph(root));
    expect(found).toEqual([
      expect.stringMatching(/^\[domain is pure\] src\/domain\/grant\.ts imports @kubernetes\/client-node — /),
      expect.stringMatching(
        /^\[use cases speak ports\] src\/bot\/submit\.ts imports src\/adapters\/redis\/grant-store\.ts — /,
      ),
      expect.stringMatching(
        /^\[bot\/ imports, of the other use cases, only shared\/\] src\/bot\/decide\.ts imports src\/engine\/activate\.ts — the bot's use cases decide and record/,
      ),
      expect.stringMatching(
        /^\[engine\/ imports, of the other use cases, only shared\/\] src\/engine\/activate\.ts imports src\/bot\/decide\.ts — /,
      ),
      expect.stringMatching(
        /^\[operator\/ imports, of the other use cases, only engine\/ and shared\/\] src\/operator\/plan\.ts imports src\/bot\/submit\.ts — /,
      ),
      expect.stringMatching(
        /^\[shared\/ imports, of the other use cases, none\] src\/shared\/end-grant\.ts imports src\/engine\/revoke\.ts — /,
      ),
      expect.stringMatching(
        /^\[the bot writes nothing but Redis\] src\/bin\/bot\.ts reaches src\/engine\/revoke\.ts \(src\/bin\/bot\.ts → src\/bin\/helper\.ts → src\/engine\/revoke\.ts\) — /,
      ),
    ]);
    expect(strayFiles(root)).toEqual(['src/utils/stray.ts']);
  });

  it('lets a named exception through only from its own file', () => {
    const edges: ImportEdge[] = [
      { from: 'src/bin/bot.ts', to: 'src/adapters/aws/s3-archive.ts' },
      { from: 'src/adapters/aws/s3-archive.ts', to: '@aws-sdk/client-s3' },
    ];
    expect(violations(RULES, edges)).toEqual([]);
    edges.push({ from: 'src/bin/bot.ts', to: '@aws-sdk/client-s3' });
    expect(violations(RULES, edges)).toEqual([
      expect.stringContaining('[the bot writes nothing but Redis] src/bin/bot.ts reaches @aws-sdk/client-s3'),
    ]);
  });
});
