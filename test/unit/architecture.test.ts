// The boundaries that matter, enforced on the import graph of src/ (test/support/import-rules.ts). A
// violation fails `npm test` with the rule's name, the import (and the chain that reaches it) and why the
// rule exists.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
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

/** What writes to clusters and IAM: only the worker (and the operator's CLI) may reach any of it. */
const ENGINE_WRITERS = [
  'src/bin/runtime.ts',
  'src/adapters/k8s/',
  'src/adapters/aws/iam-roles.ts',
  'src/adapters/aws/access-entries.ts',
  'src/services/activate.ts',
  'src/services/activation-guards.ts',
  'src/services/revoke.ts',
  'src/services/reconcile.ts',
  'src/services/extend-grant.ts',
  'src/services/verify.ts',
  'src/services/forged.ts',
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
    'src/services and src/ports reach the outside world only through the ports, so every client is injected',
    (f) => under('services')(f) || under('ports')(f),
    (e) =>
      isLocal(e.to) ? !e.to.startsWith('src/adapters/') && !e.to.startsWith('src/bin/') : !SDK.test(e.to),
  ),
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
      '@aws-sdk/client-iam': [
        'src/adapters/identity/aws-identity.ts',
        'src/adapters/identity/identity-center.ts',
      ],
      '@aws-sdk/client-identitystore': ['src/adapters/identity/identity-center.ts'],
      // the append-only archive (the audit trail written as it happens; no delete in any IAM statement).
      '@aws-sdk/client-s3': ['src/adapters/aws/s3-archive.ts'],
    },
  ),
];

describe('architecture', () => {
  it('src/ keeps every boundary rule', () => {
    expect(violations(RULES, importGraph(repo))).toEqual([]);
  });

  it('the bot reaches none of the engine and the worker reaches it (the rule sees real edges)', () => {
    const graph = importGraph(repo);
    const uses = (file: string, target: string) => graph.some((e) => e.from === file && e.to === target);
    expect(uses('src/bin/worker.ts', 'src/bin/runtime.ts')).toBe(true);
    expect(uses('src/bin/bot.ts', 'src/bin/shared-runtime.ts')).toBe(true);
  });

  it('fails on a deliberate violation, naming the rule, the import and the chain', () => {
    const root = mkdtempSync(join(tmpdir(), 'arch-'));
    const write = (path: string, text: string) => {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    write('src/domain/grant.ts', "import { KubeConfig } from '@kubernetes/client-node';\n");
    write('src/services/submit.ts', "import { RedisGrantStore } from '../adapters/redis/grant-store.js';\n");
    write('src/adapters/redis/grant-store.ts', 'export const x = 1;\n');
    write('src/bin/bot.ts', "import { go } from './helper.js';\n");
    write('src/bin/helper.ts', "export const go = () => import('../services/revoke.js');\n");
    write(
      'src/services/revoke.ts',
      "import type { X } from '@kubernetes/client-node';\nexport const r = 1;\n",
    );
    const found = violations(RULES, importGraph(root));
    expect(found).toEqual([
      expect.stringMatching(/^\[domain is pure\] src\/domain\/grant\.ts imports @kubernetes\/client-node — /),
      expect.stringMatching(
        /^\[use cases speak ports\] src\/services\/submit\.ts imports src\/adapters\/redis\/grant-store\.ts — /,
      ),
      expect.stringMatching(
        /^\[the bot writes nothing but Redis\] src\/bin\/bot\.ts reaches src\/services\/revoke\.ts \(src\/bin\/bot\.ts → src\/bin\/helper\.ts → src\/services\/revoke\.ts\) — /,
      ),
    ]);
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
