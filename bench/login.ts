// What "works now" costs on a cluster that proves logins (issue #22 item 7): per grant, the time from the
// approver's click to the grant being active (the DM), and how much of it was spent waiting for AWS's
// propagation — the login probe's first attempt to its last success in a row, as the `activated` audit
// event records it (`loginProvenMs`, also the metric eks_access_login_propagation_seconds). Each grant's
// DM commands are then run verbatim the instant the DM arrives, and whether they got in is counted.
//
// Runs on the platform's login cluster with its AWS-like delays (EKS_ACCESS_PLATFORM_PROPAGATION=off
// turns them off, to see the floor), through the same e2e harness as test/e2e/login-propagation.test.ts:
// the bot, the Slack fake, a BullMQ worker with its probe, the person's `aws` and `kubectl`.
import { parseRecord } from '../src/domain/audit-record.js';
import { type Harness, startHarness } from '../test/e2e/harness.js';
import { requesterShell, tryFreshGrant } from '../test/e2e/login-steps.js';
import { usePlatform } from '../test/platform/context.js';
import type { PlatformInfo } from '../test/platform/info.js';
import { ms, percentile } from './stats.js';

type LoginMode = 'aws-auth' | 'access-entries';

export interface LoginFigures {
  mode: LoginMode;
  grants: number;
  /** Approval (the grant's decidedAt) → usable (its `activated` audit event), per grant. */
  activationMs: number[];
  /** The probe's wait for AWS and the authenticator, per grant. */
  propagationMs: number[];
  /** Probe logins per grant, the successful ones included. */
  attempts: number[];
  /** Grants whose DM commands, run the instant the DM arrived, got in. */
  gotIn: number;
  /** The platform's delays (undefined: off). */
  propagation: PlatformInfo['login']['propagation'];
}

function activatedEvent(h: Harness, grantId: string) {
  return h.auditLines
    .map((line) => parseRecord(line)?.event)
    .find((event) => event?.action === 'activated' && event.grantId === grantId);
}

async function oneMode(info: PlatformInfo, mode: LoginMode, grants: number): Promise<LoginFigures> {
  const h = await startHarness({ login: true, identityMapping: mode, createNamespace: true, worker: true });
  const figures: LoginFigures = {
    mode,
    grants,
    activationMs: [],
    propagationMs: [],
    attempts: [],
    gotIn: 0,
    propagation: info.login.propagation,
  };
  try {
    const shell = await requesterShell(h);
    for (let i = 1; i <= grants; i++) {
      const { id, refused } = await tryFreshGrant(h, shell, `bench login ${i}`);
      if (!refused) figures.gotIn++;
      // Approval to usable: the `activated` audit event is written once everything is proven (the grant's
      // activatedAt is earlier, when its clock started, before the writes).
      const grant = await h.store.get(id);
      const activated = activatedEvent(h, id);
      if (grant?.decidedAt !== undefined && activated)
        figures.activationMs.push(activated.at - grant.decidedAt);
      const details = activated?.details as { loginProvenMs?: number; loginAttempts?: number } | undefined;
      if (details?.loginProvenMs !== undefined) figures.propagationMs.push(details.loginProvenMs);
      if (details?.loginAttempts !== undefined) figures.attempts.push(details.loginAttempts);
    }
  } finally {
    await h.close();
  }
  return figures;
}

export async function loginCost(info: PlatformInfo, grants: number): Promise<LoginFigures[]> {
  usePlatform(info);
  const results: LoginFigures[] = [];
  for (const mode of ['aws-auth', 'access-entries'] as const) results.push(await oneMode(info, mode, grants));
  return results;
}

export function printLoginCost(results: readonly LoginFigures[]): void {
  const delays = results[0]?.propagation;
  console.log(
    `\n## Login proven before the DM (${delays ? `AWS-like delays ${delays.minMs}–${delays.maxMs} ms, seed ${delays.seed}` : 'delays off'})`,
  );
  console.log(
    '| mapping | grants | approval → active p50 / p95 | of which AWS propagation p50 / p95 | share (p50) | probe logins p50 | DM commands got in |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const r of results) {
    const a50 = percentile(r.activationMs, 50);
    const p50 = percentile(r.propagationMs, 50);
    console.log(
      `| ${r.mode} | ${r.grants} | ${ms(a50)} / ${ms(percentile(r.activationMs, 95))} | ${ms(p50)} / ${ms(percentile(r.propagationMs, 95))} | ${((p50 / a50) * 100).toFixed(0)} % | ${percentile(r.attempts, 50)} | ${r.gotIn} of ${r.grants} |`,
    );
  }
}
