// The persisted formats' versions (src/domain/formats.ts) against the committed fixture sets: a format
// whose version changes without a new set (scripts/fixtures/capture.ts) fails here, so the upgrade test
// (test/int/upgrade.int.test.ts) always has the newest release's formats to revoke from.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PERSISTED_FORMATS } from '../../src/domain/formats.js';
import {
  parseSealKeys,
  type SealKeys,
  sealBinding,
  sealDecision,
  sealVersion,
} from '../../src/domain/seal.js';
import { compareReleases, fixtureSets } from '../support/persisted-fixtures.js';

const sets = fixtureSets();
const newest = sets.at(-1);

describe('persisted formats', () => {
  it('the newest fixture set was captured with the current format versions', () => {
    expect(newest, 'no fixture set under test/fixtures/persisted').toBeDefined();
    expect(
      newest?.manifest.formats,
      'a format version changed: capture a new set (npx tsx scripts/fixtures/capture.ts) after bumping package.json',
    ).toEqual(PERSISTED_FORMATS);
  });

  it('every committed set is one the current readers accept, with every file its manifest lists', () => {
    for (const set of sets) {
      for (const [format, version] of Object.entries(set.manifest.formats)) {
        const current = PERSISTED_FORMATS[format as keyof typeof PERSISTED_FORMATS];
        expect(current, `${set.manifest.release}: ${format} is no longer read`).toBeDefined();
        expect(version, `${set.manifest.release}: ${format}`).toBeLessThanOrEqual(current);
      }
      for (const file of set.manifest.files)
        expect(existsSync(join(set.dir, file.file)), file.file).toBe(true);
    }
  });

  it('seals name the versions the registry lists', () => {
    const keys = parseSealKeys(`t:${Buffer.alloc(32, 7).toString('base64')}`).keys as SealKeys;
    const binding = sealBinding(keys, {
      grantId: 'ea-abcdefgh',
      cluster: 'c',
      namespace: 'n',
      level: 'view',
      username: 'u',
      principalArn: 'arn:aws:iam::1:user/a',
      roleArn: '',
      expiresAt: 0,
      roleRef: { kind: 'ClusterRole', name: 'view' },
    });
    expect(sealVersion(binding)).toBe(`v${PERSISTED_FORMATS['binding-seal']}`);
    const decision = sealDecision(keys, {
      id: 'ea-abcdefgh',
      cluster: 'c',
      namespace: 'n',
      level: 'view',
      durationSeconds: 60,
      requiredApprovals: 1,
      approvals: [],
      decidedAt: 0,
      activateBy: 1,
      reason: 'r',
      requester: { slackUserId: 'U1', principalArn: 'arn:aws:iam::1:user/a', kubernetesUsername: 'u' },
    });
    expect(sealVersion(decision)).toBe(`v${PERSISTED_FORMATS['decision-seal']}`);
  });

  it('orders releases numerically', () => {
    expect(['0.1.10', '0.2.0', '0.1.9'].sort(compareReleases)).toEqual(['0.1.9', '0.1.10', '0.2.0']);
  });
});
