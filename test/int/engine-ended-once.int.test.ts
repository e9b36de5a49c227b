// The revoke job and the reconciler (on one or several workers) ending the same grant at the same
// moment: the requester hears "ended" once and the audit stream holds one terminal entry, written by
// whoever won the compare-and-set into the terminal state. Real concurrency on the real platform:
// every path runs at once, in several rounds.
import { afterEach, describe, expect, it } from 'vitest';
import type { Grant } from '../../src/domain/grant.js';
import { activateGrant } from '../../src/engine/activate.js';
import { reconcile } from '../../src/engine/reconcile.js';
import { revokeGrant } from '../../src/engine/revoke.js';
import { pollUntil } from '../support/poll.js';
import { engineHarness, type Harness } from './engine-harness.js';

const TERMINAL = new Set(['expired', 'revoked', 'relinquished']);
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('a grant ended by two paths at once', () => {
  it('is announced and audited exactly once', async () => {
    h = await engineHarness('none');
    const harness = h;
    const ended: Grant[] = [];
    for (let round = 0; round < 3; round++) {
      // No worker runs: the test itself plays the revoke jobs and two workers' reconcilers.
      const grants = await Promise.all(
        Array.from({ length: 4 }, async () => {
          const approved = await harness.approve(await harness.person(), { durationSeconds: 1 });
          return activateGrant(harness.deps, approved.id);
        }),
      );
      const expiresAt = Math.max(...grants.map((g) => g.expiresAt as number));
      await pollUntil(
        'the grants to expire',
        async () => Date.now(),
        (now) => now > expiresAt,
        {
          timeoutMs: 5_000,
        },
      );
      await Promise.all([
        ...grants.map((g) => revokeGrant(harness.deps, g.id)),
        reconcile(harness.deps),
        reconcile(harness.deps),
        ...grants.map((g) => revokeGrant(harness.deps, g.id)),
      ]);
      for (const g of grants) ended.push(await harness.waitFor(g.id, ['expired'], 10_000));
    }
    for (const grant of ended) {
      expect(harness.notifier.kinds(grant.id).filter((k) => k === 'ended')).toHaveLength(1);
      const entries = await harness.runtime.audit.read({ grantId: grant.id, limit: 100 });
      expect(entries.filter((e) => TERMINAL.has(e.action)).map((e) => e.action)).toEqual(['expired']);
    }
  });
});
