// Fixtures of every format that outlives a process, as one release wrote them
// (test/fixtures/persisted/<release>/): captured from the real code paths by scripts/fixtures/capture.ts,
// read by test/int/upgrade.int.test.ts (a newer worker revokes the fixture's grant on time) and
// test/unit/persisted-formats.test.ts (a format version changed without a new fixture set fails).
//
// A fixture set is one live grant in its own world: a fixed clock, fixed ids and names, and a test-only
// seal key written in the manifest (never a real secret: it seals nothing outside these tests). The
// upgrade test keeps every name and shifts only its injected clock, so nothing sealed needs re-sealing.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PersistedFormat } from '../../src/domain/formats.js';

export const FIXTURES_ROOT = join(import.meta.dirname, '../fixtures/persisted');

export interface FixtureFile {
  file: string;
  format: PersistedFormat | 'policy';
  version: number;
  what: string;
}

export interface FixtureManifest {
  /** package.json's version when the set was captured. */
  release: string;
  capturedBy: string;
  /** The fixed clock the set was written at (ISO). */
  clock: string;
  /** SEAL_KEYS of the capture: a test-only key, public on purpose. */
  sealKeys: string;
  names: {
    cluster: string;
    namespace: string;
    installation: string;
    grantId: string;
    principalArn: string;
    iamUser: string;
    slackUserId: string;
    kubernetesUsername: string;
    roleName: string;
    rolePath: string;
    awsAuth: { namespace: string; name: string };
    accountId: string;
  };
  /** The grant's expiry (epoch ms), as sealed on its RoleBinding. */
  expiresAt: number;
  formats: Record<string, number>;
  files: FixtureFile[];
}

/** A Redis key as written, relative to REDIS_PREFIX. */
export type RedisEntry =
  | { key: string; type: 'string'; value: string }
  | { key: string; type: 'set'; members: string[] }
  | { key: string; type: 'zset'; members: { member: string; score: number }[] }
  | { key: string; type: 'hash'; fields: Record<string, string> }
  | { key: string; type: 'list'; items: string[] };

/** A BullMQ job as the scheduler or the outbox queued it (BullMQ's own storage is BullMQ's format). */
export interface FixtureJob {
  queue: string;
  name: string;
  id: string;
  data: Record<string, unknown>;
  opts: Record<string, unknown>;
  /** When it is due, on the fixture's clock (epoch ms). */
  at: number;
  /** Still queued while the grant is live (an activation job has been consumed by then). */
  live: boolean;
}

export interface FixtureSet {
  dir: string;
  manifest: FixtureManifest;
  json<T>(file: string): T;
  text(file: string): string;
}

/** Every captured release, oldest first (a future release's set is picked up without a change here). */
export function fixtureSets(root = FIXTURES_ROOT): FixtureSet[] {
  let releases: string[];
  try {
    releases = readdirSync(root, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
  return releases.sort(compareReleases).map((release) => fixtureSet(join(root, release)));
}

export function fixtureSet(dir: string): FixtureSet {
  const text = (file: string) => readFileSync(join(dir, file), 'utf8');
  return {
    dir,
    manifest: JSON.parse(text('manifest.json')) as FixtureManifest,
    json: <T>(file: string) => JSON.parse(text(file)) as T,
    text,
  };
}

/** `0.2.0` after `0.1.10` after `0.1.9`. */
export function compareReleases(a: string, b: string): number {
  const parts = (v: string) => v.split(/[.-]/).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const [pa, pb] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const [x, y] = [pa[i] ?? 0, pb[i] ?? 0];
    if (x === y) continue;
    return typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
  }
  return 0;
}

/** The policy file of a fixture set, pointed at this platform's cluster. */
export const fixturePolicy = (set: FixtureSet, kubeconfig: string): string =>
  set.text('policy.yaml').replaceAll('"${KUBECONFIG}"', JSON.stringify(kubeconfig));
