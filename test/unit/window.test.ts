import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/adapters/slack/grammar.js';
import { pendingUntilFor } from '../../src/bot/submit.js';
import { parsePolicy } from '../../src/config/load.js';
import { resolveRequest } from '../../src/domain/decisions.js';
import { AccessError } from '../../src/domain/errors.js';
import { sealDecision, verifyDecisionSeal } from '../../src/domain/seal.js';
import { accessEnd, parseStart, zonedTime } from '../../src/domain/window.js';
import { approvedGrant } from '../support/grants.js';
import { refusal } from '../support/refusal.js';
import { testSealKeys } from '../support/seal.js';

// Monday 2026-11-30 20:15 in Berlin (UTC+1), 19:15 UTC.
const NOW = Date.parse('2026-11-30T19:15:00Z');
const iso = (at: number) => new Date(at).toISOString();

describe('a window start as people type it', () => {
  it('reads clock times in the requester’s time zone, today or else tomorrow', () => {
    expect(iso(parseStart('22:00', NOW, 'Europe/Berlin'))).toBe('2026-11-30T21:00:00.000Z');
    expect(iso(parseStart('22:00', NOW, 'America/New_York'))).toBe('2026-12-01T03:00:00.000Z');
    // 20:00 in Berlin has passed: tomorrow's.
    expect(iso(parseStart('20:00', NOW, 'Europe/Berlin'))).toBe('2026-12-01T19:00:00.000Z');
    expect(iso(parseStart('tomorrow 9:30', NOW, 'Europe/Berlin'))).toBe('2026-12-01T08:30:00.000Z');
    expect(iso(parseStart('today 23.00', NOW, 'Europe/Berlin'))).toBe('2026-11-30T22:00:00.000Z');
    expect(iso(parseStart('2026-12-24 18:00', NOW, 'Asia/Kolkata'))).toBe('2026-12-24T12:30:00.000Z');
    expect(iso(parseStart('2026-12-24T18:00:00Z', NOW, 'Asia/Kolkata'))).toBe('2026-12-24T18:00:00.000Z');
    expect(iso(parseStart('2026-12-24T18:00+02:00', NOW, 'UTC'))).toBe('2026-12-24T16:00:00.000Z');
    expect(parseStart('+90m', NOW)).toBe(NOW + 90 * 60_000);
    // An unknown zone is read as UTC rather than guessed.
    expect(iso(parseStart('22:00', NOW, 'Mars/Olympus'))).toBe('2026-11-30T22:00:00.000Z');
  });

  it('finds the right instant across a daylight-saving change', () => {
    // Europe/Berlin leaves summer time on 2026-10-25 at 03:00 (back to 02:00).
    expect(iso(zonedTime('Europe/Berlin', { year: 2026, month: 10, day: 24, hour: 12, minute: 0 }))).toBe(
      '2026-10-24T10:00:00.000Z',
    );
    expect(iso(zonedTime('Europe/Berlin', { year: 2026, month: 10, day: 26, hour: 12, minute: 0 }))).toBe(
      '2026-10-26T11:00:00.000Z',
    );
  });

  it('refuses what is not a time, with examples', () => {
    for (const text of ['soon', '25:00', '2026-02-30 10:00', '+0m', 'next week', 'tomorrow']) {
      const error = refusal(() => parseStart(text, NOW, 'UTC'));
      expect(error.kind).toBe('bad_input');
      expect(error.hint).toContain('from 22:00');
    }
  });

  it('is part of the request grammar, one or two words after `from`', () => {
    expect(parseCommand('request test on prod from 22:00 for 2h because CHG-1')).toMatchObject({
      kind: 'request',
      start: '22:00',
      duration: '2h',
      cluster: 'prod',
    });
    expect(parseCommand('request test from tomorrow 9:00 for 1h because x')).toMatchObject({
      start: 'tomorrow 9:00',
      duration: '1h',
    });
    expect(parseCommand('request test for 1h from 2026-12-01 22:00 because x')).toMatchObject({
      start: '2026-12-01 22:00',
    });
  });
});

describe('a window request against the policy', () => {
  const policyText = (windows = '') => `
settings:
  pendingTimeout: 24h
${windows}
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
clusters:
  prod:
    region: eu-west-1
    accountId: "111122223333"
    connection: { kubeconfig: {} }
    identityMapping: aws-auth
    namespaces:
      - name: test
        approvers: { users: [U0APPROVER] }
        channel: C0APPROVAL
        levels: [view]
`;
  const { policy } = parsePolicy(policyText());

  it('resolves the start and refuses one in the past or beyond maxAhead', () => {
    const resolved = resolveRequest(
      policy,
      { namespace: 'test', start: '22:00', timeZone: 'Europe/Berlin', duration: '2h', reason: 'x' },
      NOW,
    );
    expect(iso(resolved.startsAt as number)).toBe('2026-11-30T21:00:00.000Z');
    expect(resolveRequest(policy, { namespace: 'test', reason: 'x' }, NOW).startsAt).toBeUndefined();
    const past = refusal(() =>
      resolveRequest(policy, { namespace: 'test', start: '2026-11-30T10:00Z', reason: 'x' }, NOW),
    );
    expect(past.message).toBe('2026-11-30 10:00 UTC is in the past');
    expect(past.details['field']).toBe('start');
    const far = refusal(() =>
      resolveRequest(policy, { namespace: 'test', start: '2026-12-24 10:00', reason: 'x' }, NOW),
    );
    expect(far.message).toBe('2026-12-24 10:00 UTC is more than 7d ahead');
    // The window's length is the level's duration limit like any request.
    expect(
      refusal(() =>
        resolveRequest(policy, { namespace: 'test', start: '+1h', duration: '5h', reason: 'x' }, NOW),
      ).message,
    ).toBe('You asked for 5h; view allows at most 4h');
  });

  it('lapses an undecided window at its start, or lateStart after it but never past its end', () => {
    const startsAt = NOW + 3_600_000;
    expect(pendingUntilFor(policy, NOW, { startsAt, durationSeconds: 7200 })).toBe(startsAt);
    const late = parsePolicy(policyText('  windows: { lateStart: 15m, maxAhead: 2d }')).policy;
    expect(pendingUntilFor(late, NOW, { startsAt, durationSeconds: 7200 })).toBe(startsAt + 15 * 60_000);
    expect(pendingUntilFor(late, NOW, { startsAt, durationSeconds: 600 })).toBe(startsAt + 600_000);
    expect(pendingUntilFor(policy, NOW, { durationSeconds: 7200 })).toBe(NOW + 86_400_000);
  });

  it('ends a window at its end however late it opened; access now ends duration after activation', () => {
    const startsAt = NOW + 3_600_000;
    expect(accessEnd({ startsAt, durationSeconds: 7200 }, startsAt + 600_000)).toBe(startsAt + 7_200_000);
    expect(accessEnd({ durationSeconds: 7200 }, NOW)).toBe(NOW + 7_200_000);
  });

  it('seals the start with the decision: a start moved or removed in Redis no longer verifies', () => {
    const keys = testSealKeys();
    const grant = {
      ...approvedGrant({
        requester: {
          slackUserId: 'U0ALICE',
          principalArn: 'arn:aws:iam::111122223333:user/alice',
          kubernetesUsername: 'eks-access:alice',
        },
        cluster: 'prod',
        namespace: 'test',
        level: 'view',
        durationSeconds: 7200,
        reason: 'x',
        now: NOW,
      }),
      startsAt: NOW + 3_600_000,
    };
    const seal = sealDecision(keys, grant);
    expect(verifyDecisionSeal(keys, grant, seal)).toBe('valid');
    expect(verifyDecisionSeal(keys, { ...grant, startsAt: NOW }, seal)).toBe('mismatch');
    const { startsAt: _removed, ...now } = grant;
    expect(verifyDecisionSeal(keys, now, seal)).toBe('mismatch');
  });
});
