import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config/load.js';
import { assertApprovalsHold } from '../../src/domain/decisions.js';
import type { Grant } from '../../src/domain/grant.js';
import {
  type BindingFacts,
  parseSealKeys,
  SealKeys,
  sealBinding,
  sealDecision,
  sealDecisionV1,
  sealExtension,
  sealingKeyOf,
  verifyBindingSeal,
  verifyDecisionSeal,
  verifyExtensionSeal,
  verifyFoundBinding,
} from '../../src/domain/seal.js';

const secret = (byte: number) => Buffer.alloc(32, byte).toString('base64');
const keysOf = (text: string) => {
  const parsed = parseSealKeys(text);
  if (!parsed.keys) throw new Error(parsed.problems.join('; '));
  return parsed.keys;
};

const facts: BindingFacts = {
  grantId: 'ea-abcdefgh',
  cluster: 'prod',
  namespace: 'test',
  level: 'view',
  username: 'eks-access:alice',
  principalArn: 'arn:aws:iam::111122223333:user/alice',
  roleArn: 'arn:aws:iam::111122223333:role/eks-access/prod/eksa-alice-1',
  expiresAt: Date.parse('2026-01-01T12:00:00.000Z'),
  roleRef: { kind: 'ClusterRole', name: 'view' },
};

describe('SEAL_KEYS', () => {
  it('takes id:base64 pairs, the first sealing, and names every problem without echoing a secret', () => {
    const keys = keysOf(`k2:${secret(2)},k1:${secret(1)}`);
    expect(keys.currentId).toBe('k2');
    expect(keys.ids).toEqual(['k2', 'k1']);
    const short = Buffer.alloc(16, 7).toString('base64');
    const bad = parseSealKeys(`K1:${secret(1)},k2:${short},k3:not base64!,k4:${secret(4)},k4:${secret(5)}`);
    expect(bad.keys).toBeUndefined();
    expect(bad.problems).toHaveLength(4);
    expect(bad.problems.join('\n')).toContain('16 bytes; at least 32');
    expect(bad.problems.join('\n')).not.toContain(short);
    expect(parseSealKeys('').problems).toEqual(['no key given']);
  });

  it('never shows a secret when logged or printed', () => {
    const keys = keysOf(`k1:${secret(9)}`);
    const printed = `${JSON.stringify({ keys })} ${String(keys)} ${inspect(keys)}`;
    expect(printed).toContain('k1');
    expect(printed).not.toContain(secret(9));
    expect(printed).not.toContain(Buffer.alloc(32, 9).toString('hex'));
  });
});

describe('binding seals', () => {
  const keys = keysOf(`k1:${secret(1)}`);

  it('verifies what the worker sealed and nothing that differs in any field', () => {
    const seal = sealBinding(keys, facts);
    expect(seal).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{43}$/);
    expect(verifyBindingSeal(keys, facts, seal)).toBe('valid');
    const changes: Partial<BindingFacts>[] = [
      { grantId: 'ea-zzzzzzzz' },
      { cluster: 'dev' },
      { namespace: 'other' },
      { level: 'admin' },
      { username: 'ops-admin' },
      { principalArn: 'arn:aws:iam::999999999999:user/outsider' },
      { roleArn: '' },
      { expiresAt: facts.expiresAt + 1000 },
      { roleRef: { kind: 'ClusterRole', name: 'admin' } },
    ];
    for (const change of changes) {
      expect(verifyBindingSeal(keys, { ...facts, ...change }, seal), JSON.stringify(change)).toBe('mismatch');
    }
    expect(verifyBindingSeal(keys, facts, undefined)).toBe('missing');
    expect(verifyBindingSeal(keys, facts, 'v1.k1')).toBe('malformed');
    expect(verifyBindingSeal(keys, facts, seal.replace('v1.k1.', 'v1.k9.'))).toBe('unknown-key');
    expect(verifyBindingSeal(keys, { ...facts, expiresAt: Number.NaN }, seal)).toBe('mismatch');
  });

  it('rotates: a seal made with the previous key verifies while that key is listed, not after', () => {
    const old = sealBinding(keysOf(`k1:${secret(1)}`), facts);
    expect(verifyBindingSeal(keysOf(`k2:${secret(2)},k1:${secret(1)}`), facts, old)).toBe('valid');
    expect(verifyBindingSeal(keysOf(`k2:${secret(2)}`), facts, old)).toBe('unknown-key');
    // Same id, another secret (a key replaced instead of rotated): refused.
    expect(verifyBindingSeal(keysOf(`k1:${secret(3)}`), facts, old)).toBe('mismatch');
  });

  it('refuses a sealed binding found under another name or on another cluster', () => {
    const seal = sealBinding(keys, facts);
    const found = { ...facts, name: 'eks-access-ea-abcdefgh', seal };
    expect(verifyFoundBinding(keys, 'prod', found)).toBe('valid');
    expect(verifyFoundBinding(keys, 'dev', found)).toBe('mismatch');
    expect(verifyFoundBinding(keys, 'prod', { ...found, name: 'copy-of-it' })).toBe('mismatch');
  });

  it('names the key that verified a found binding: the one a rotation must keep until it expires', () => {
    const found = (ring: string) => ({
      ...facts,
      name: 'eks-access-ea-abcdefgh',
      seal: sealBinding(keysOf(ring), facts),
    });
    const ring = keysOf(`k2:${secret(2)},k1:${secret(1)}`);
    expect(sealingKeyOf(ring, 'prod', found(`k1:${secret(1)}`))).toBe('k1');
    expect(sealingKeyOf(ring, 'prod', found(`k2:${secret(2)}`))).toBe('k2');
    // Named but not verified: a seal claiming k1 with another secret, or one for another cluster.
    expect(sealingKeyOf(ring, 'prod', found(`k1:${secret(3)}`))).toBeUndefined();
    expect(sealingKeyOf(ring, 'dev', found(`k1:${secret(1)}`))).toBeUndefined();
    const { seal: _none, ...unsealed } = found(`k1:${secret(1)}`);
    expect(sealingKeyOf(ring, 'prod', unsealed)).toBeUndefined();
  });
});

const { policy } = parsePolicy(`
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h, approvals: 2 }
  debug: { clusterRole: view, defaultDuration: 1h, maxDuration: 2h }
clusters:
  prod:
    region: eu-west-1
    accountId: "111122223333"
    connection: { kubeconfig: {} }
    identityMapping: aws-auth
    namespaces:
      - name: test
        approvers: { users: [U0ANA, U0BEN], groups: [S0SRE] }
        channel: C0APPROVAL
        levels: [view, debug]
        autoApprove: [{ levels: [debug], maxDuration: 30m }]
`);

const grant = (changes: Partial<Grant> = {}): Grant => ({
  id: 'ea-abcdefgh',
  version: 3,
  status: 'approved',
  requester: {
    slackUserId: 'U0ALICE',
    principalArn: 'arn:aws:iam::111122223333:user/alice',
    kubernetesUsername: 'eks-access:alice',
  },
  cluster: 'prod',
  namespace: 'test',
  level: 'view',
  durationSeconds: 3600,
  reason: 'INC-1',
  requiredApprovals: 2,
  approvals: [
    { slackUserId: 'U0ANA', at: 1 },
    { slackUserId: 'U0CARL', at: 2, viaGroups: ['S0SRE'] },
  ],
  createdAt: 0,
  pendingUntil: 10,
  decidedAt: 2,
  activateBy: 2 + 3_600_000,
  extensions: [],
  ...changes,
});

describe('decision seals', () => {
  const keys = keysOf(`k1:${secret(1)}`);

  it('cover who approved, through which group, and everything the grant will write', () => {
    const g = grant();
    const seal = sealDecision(keys, g);
    expect(verifyDecisionSeal(keys, g, seal)).toBe('valid');
    // Unrelated fields (status, version, message ts) may change; the decision may not.
    const later: Grant = { ...g, version: 9, status: 'active' };
    expect(verifyDecisionSeal(keys, later, seal)).toBe('valid');
    const forged: Partial<Grant>[] = [
      { level: 'debug' },
      { namespace: 'prod' },
      { durationSeconds: 14_400 },
      { requester: { ...g.requester, principalArn: 'arn:aws:iam::999999999999:user/outsider' } },
      { requester: { ...g.requester, kubernetesUsername: 'ops-admin' } },
      {
        approvals: [
          { slackUserId: 'U0ANA', at: 1 },
          { slackUserId: 'U0FAKE', at: 2 },
        ],
      },
      {
        approvals: [
          { slackUserId: 'U0ANA', at: 1 },
          { slackUserId: 'U0CARL', at: 2, viaGroups: ['S0X'] },
        ],
      },
    ];
    for (const change of forged) {
      expect(verifyDecisionSeal(keys, grant(change), seal), JSON.stringify(change)).toBe('mismatch');
    }
    expect(verifyDecisionSeal(keys, g, undefined)).toBe('missing');
    // A binding seal over the same key never passes as a decision seal.
    expect(verifyDecisionSeal(keys, g, sealBinding(keys, facts))).toBe('mismatch');
    expect(new SealKeys([{ id: 'x', secret: Buffer.alloc(32) }]).currentId).toBe('x');
  });

  it('v2 also covers when it was decided, its use-by time, the break-glass use, reason and tickets', () => {
    const breakGlass = { rule: 'oncall', incident: 'INC-9 db down', reviewDue: 86_400_000 };
    const g = grant({ breakGlass, tickets: ['INC-9'] });
    const seal = sealDecision(keys, g);
    expect(seal).toMatch(/^v2\.k1\./);
    expect(verifyDecisionSeal(keys, g, seal)).toBe('valid');
    // The review and its escalation come after the decision: they may change.
    const reviewed = {
      ...g,
      breakGlass: {
        ...breakGlass,
        review: { verdict: 'acknowledged' as const, by: 'U0ANA', at: 5 },
        escalatedAt: 4,
      },
    };
    expect(verifyDecisionSeal(keys, reviewed, seal)).toBe('valid');
    const { breakGlass: _removed, ...withoutBreakGlass } = g;
    const forged: Grant[] = [
      withoutBreakGlass,
      { ...g, breakGlass: { ...breakGlass, rule: 'other' } },
      { ...g, breakGlass: { ...breakGlass, reviewDue: 10 * 86_400_000 } },
      { ...g, decidedAt: Date.now() },
      { ...g, activateBy: Date.now() + 3_600_000 },
      { ...g, reason: 'nothing to see' },
      { ...g, tickets: [] },
    ];
    for (const changed of forged) {
      expect(verifyDecisionSeal(keys, changed, seal), JSON.stringify(changed)).toBe('mismatch');
    }
    // Every decision sealed from now on has a use-by time.
    const { activateBy: _none, ...unbounded } = g;
    expect(() => sealDecision(keys, unbounded)).toThrow(/activateBy/);
  });

  it('v1 decision seals (made before the upgrade) still verify, over v1 fields only, and never as v2', () => {
    const g = grant();
    const v1 = sealDecisionV1(keys, g);
    expect(v1).toMatch(/^v1\.k1\./);
    expect(verifyDecisionSeal(keys, g, v1)).toBe('valid');
    expect(verifyDecisionSeal(keys, { ...g, level: 'debug' }, v1)).toBe('mismatch');
    // The same MAC relabelled as v2 fails: the version is inside what is signed.
    expect(verifyDecisionSeal(keys, g, v1.replace(/^v1/, 'v2'))).toBe('mismatch');
    expect(verifyDecisionSeal(keys, g, sealDecision(keys, g).replace(/^v2/, 'v1'))).toBe('mismatch');
  });
});

describe('assertApprovalsHold (the worker re-check)', () => {
  const kind = (g: Grant, p = policy) => {
    try {
      assertApprovalsHold(p, g);
      return 'holds';
    } catch (error) {
      return `${(error as { kind: string }).kind}: ${(error as Error).message}`;
    }
  };

  it('holds for approvers valid under the current policy, with the quorum', () => {
    expect(kind(grant())).toBe('holds');
  });

  it('fails for a fake approver, a missing quorum, self-approval and a repeated approver', () => {
    expect(
      kind(
        grant({
          approvals: [
            { slackUserId: 'U0ANA', at: 1 },
            { slackUserId: 'U0FAKE', at: 2 },
          ],
        }),
      ),
    ).toMatch(/^forbidden: .*U0FAKE.*not an approver/);
    expect(kind(grant({ approvals: [{ slackUserId: 'U0ANA', at: 1 }] }))).toMatch(/^forbidden: .*needs 2/);
    expect(
      kind(
        grant({
          approvals: [
            { slackUserId: 'U0ANA', at: 1 },
            { slackUserId: 'U0ANA', at: 2 },
          ],
        }),
      ),
    ).toMatch(/already approved/);
    const self = grant({ requester: { ...grant().requester, slackUserId: 'U0BEN' } });
    expect(
      kind({
        ...self,
        approvals: [
          { slackUserId: 'U0ANA', at: 1 },
          { slackUserId: 'U0BEN', at: 2 },
        ],
      }),
    ).toMatch(/own request/);
  });

  it('fails when the namespace, level or duration left the policy, or the rule no longer covers it', () => {
    expect(kind(grant({ namespace: 'gone' }))).toMatch(/^not_found/);
    expect(kind(grant({ level: 'admin' }))).toMatch(/^not_found/);
    expect(kind(grant({ durationSeconds: 5 * 3600 }))).toMatch(/^bad_input/);
    const auto = grant({
      level: 'debug',
      durationSeconds: 1800,
      requiredApprovals: 1,
      approvals: [{ slackUserId: 'auto:test#0', autoRule: 'auto:test#0', at: 1 }],
    });
    expect(kind(auto)).toBe('holds');
    expect(kind({ ...auto, durationSeconds: 3600 })).toMatch(/no longer covers/);
  });
});

describe('extension seals', () => {
  const keys = keysOf(`k1:${secret(1)}`);
  const claim = {
    id: 'xabcdef',
    by: 'U0BEN',
    seconds: 1800,
    auto: false,
    approvals: [{ slackUserId: 'U0BEN', at: 5, viaGroups: ['S0SRE'] }],
  };

  it('cover the grant, the claim and who approved it', () => {
    const seal = sealExtension(keys, 'ea-abcdefgh', claim);
    expect(verifyExtensionSeal(keys, 'ea-abcdefgh', claim, seal)).toBe('valid');
    expect(verifyExtensionSeal(keys, 'ea-zzzzzzzz', claim, seal)).toBe('mismatch');
    expect(verifyExtensionSeal(keys, 'ea-abcdefgh', { ...claim, seconds: 7 * 86_400 }, seal)).toBe(
      'mismatch',
    );
    expect(verifyExtensionSeal(keys, 'ea-abcdefgh', { ...claim, auto: true }, seal)).toBe('mismatch');
    expect(verifyExtensionSeal(keys, 'ea-abcdefgh', { ...claim, approvals: [] }, seal)).toBe('mismatch');
    expect(verifyExtensionSeal(keys, 'ea-abcdefgh', claim, undefined)).toBe('missing');
    // A decision seal never passes as an extension seal (a v1 one fails the MAC, a v2 one its version).
    expect(verifyExtensionSeal(keys, 'ea-abcdefgh', claim, sealDecisionV1(keys, grant()))).toBe('mismatch');
    expect(verifyExtensionSeal(keys, 'ea-abcdefgh', claim, sealDecision(keys, grant()))).toBe('malformed');
  });
});
