// A record rebuilt from a sealed RoleBinding after Redis lost its data: the binding seal covers the
// requester (older seals still verify without it, and then the requester is not trusted), and the
// rebuilt record can only end.
import { describe, expect, it } from 'vitest';
import { grantStatusText } from '../../src/adapters/slack/blocks.js';
import { transition } from '../../src/domain/grant.js';
import { REBUILT_REASON, rebuiltGrant } from '../../src/domain/rebuilt-grant.js';
import {
  type FoundBinding,
  parseSealKeys,
  sealBinding,
  sealedRequesterOf,
  verifyFoundBinding,
} from '../../src/domain/seal.js';

const keys = (() => {
  const parsed = parseSealKeys(`k1:${Buffer.alloc(32, 1).toString('base64')}`);
  if (!parsed.keys) throw new Error('keys');
  return parsed.keys;
})();

const facts = {
  grantId: 'ea-abcdefgh',
  cluster: 'prod',
  namespace: 'test',
  level: 'view',
  username: 'eks-access:alice',
  principalArn: 'arn:aws:iam::111122223333:user/alice',
  roleArn: '',
  expiresAt: Date.parse('2026-01-01T12:00:00.000Z'),
  roleRef: { kind: 'ClusterRole', name: 'view' },
};
const found = (seal: string, requester?: string): FoundBinding => ({
  ...facts,
  name: `eks-access-${facts.grantId}`,
  seal,
  ...(requester ? { requester } : {}),
});

describe('the binding seal and the requester', () => {
  it('covers the requester on bindings sealed with one: another name in the annotation fails', () => {
    const seal = sealBinding(keys, { ...facts, requester: 'U0ALICE' });
    expect(verifyFoundBinding(keys, 'prod', found(seal, 'U0ALICE'))).toBe('valid');
    expect(sealedRequesterOf(keys, 'prod', found(seal, 'U0ALICE'))).toBe('U0ALICE');
    expect(verifyFoundBinding(keys, 'prod', found(seal, 'U0MALLORY'))).toBe('mismatch');
    expect(sealedRequesterOf(keys, 'prod', found(seal, 'U0MALLORY'))).toBeUndefined();
  });

  it('still verifies a binding sealed before the requester was covered, without trusting its annotation', () => {
    const old = sealBinding(keys, facts);
    expect(verifyFoundBinding(keys, 'prod', found(old, 'U0ANYONE'))).toBe('valid');
    expect(verifyFoundBinding(keys, 'prod', found(old))).toBe('valid');
    expect(sealedRequesterOf(keys, 'prod', found(old, 'U0ANYONE'))).toBeUndefined();
  });
});

describe('a rebuilt grant', () => {
  const now = Date.parse('2026-01-01T11:00:00.000Z');
  const grant = rebuiltGrant({ ...facts, requester: 'U0ALICE' }, now);

  it('holds the sealed facts and says what it does not know', () => {
    expect(grant).toMatchObject({
      id: facts.grantId,
      status: 'active',
      expiresAt: facts.expiresAt,
      requester: {
        slackUserId: 'U0ALICE',
        principalArn: facts.principalArn,
        kubernetesUsername: facts.username,
      },
      reason: REBUILT_REASON,
      approvals: [],
      rebuilt: { at: now, from: 'role-binding' },
    });
    expect(grant.decisionSeal).toBeUndefined();
  });

  it('reads in Slack as active until its sealed expiry, approved by nobody known', () => {
    const text = grantStatusText(grant, now);
    expect(text).toContain('*Active* until');
    expect(text).toContain('1h left');
    expect(text).toContain('approved by unknown (rebuilt after Redis lost its data)');
  });

  it('can end, and record a warning, but never gain time, an extension or another status', () => {
    expect(transition(grant, 'active', { warnedForExpiry: facts.expiresAt }).warnedForExpiry).toBe(
      facts.expiresAt,
    );
    const ending = transition(grant, 'revoking', { endReason: 'relinquished', endedBy: 'U0ALICE' });
    expect(transition(ending, 'relinquished', { endedAt: now }).status).toBe('relinquished');
    for (const changes of [
      { expiresAt: facts.expiresAt + 1 },
      { extensions: [{ by: 'U0ALICE', seconds: 60, at: now, auto: true }] },
      { extensionsApplying: [{ id: 'xabcdef', by: 'U0ALICE', seconds: 60, at: now, auto: true }] },
      { extensionRequest: { by: 'U0ALICE', seconds: 60, at: now } },
      { durationSeconds: 99_999 },
    ]) {
      expect(() => transition(grant, 'active', changes), JSON.stringify(changes)).toThrow(/can only end/);
    }
    expect(() => transition({ ...grant, status: 'approved' }, 'active')).toThrow(/can only end/);
  });
});
