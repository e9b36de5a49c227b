// Activation's proof that the person gets in (domain/login-probe.ts): the worker's probe logs in through
// STS and the cluster's authenticator until enough logins in a row succeed, or fails the activation after
// PROBE_DEADLINE_MS saying what did not propagate. The trust lets the probe in only for this window.
import { AccessError } from '../domain/errors.js';
import {
  PROBE_DEADLINE_MS,
  PROBE_INTERVAL_MS,
  PROBE_SUCCESSES,
  PROBE_TRUST_MS,
  type ProbeCaller,
  probeProblem,
  REFUSAL_DEADLINE_MS,
} from '../domain/login-probe.js';
import type { PermissionCheck } from '../domain/plan.js';
import type { LoginProbe } from '../ports/cluster.js';
import type { EngineDeps } from './deps.js';

/** The probe's trust window from now, or undefined where the cluster proves no login. */
export async function probeWindow(
  deps: EngineDeps,
  probe: LoginProbe | undefined,
): Promise<{ caller: ProbeCaller; until: number } | undefined> {
  if (!probe) return undefined;
  return { caller: await probe.caller(), until: deps.clock.now() + PROBE_TRUST_MS };
}

export interface LoginProof {
  /** Attempts made, the successful ones included. */
  attempts: number;
  /** From the first attempt to the last success: how long AWS and the cluster took to agree. */
  ms: number;
}

/**
 * Logs in as a session of `roleArn` until PROBE_SUCCESSES logins in a row are `username` and pass every
 * check. Throws `unavailable` (the activation is retried; its ledger keeps the expiry) naming the last
 * problem when the deadline passes first.
 */
export function proveLogin(
  deps: EngineDeps,
  probe: LoginProbe,
  expected: { roleArn: string; username: string; checks: readonly PermissionCheck[] },
  intervalMs = PROBE_INTERVAL_MS,
): Promise<LoginProof> {
  return inARow(
    deps,
    intervalMs,
    PROBE_DEADLINE_MS,
    async () => probeProblem(await probe.attempt(expected.roleArn, expected.checks), expected.username),
    (last, attempts) =>
      new AccessError(
        'unavailable',
        `A login as ${expected.username} through ${expected.roleArn} did not work within ${PROBE_DEADLINE_MS / 1000} s: ${last}`,
        {
          hint: 'IAM or EKS has not applied the change yet, or something refuses it; the activation is tried again.',
          details: { attempts, last },
        },
      ),
  );
}

/**
 * Revocation's proof: with the mapping removed, new sessions of `roleArn` (the person's statement closed,
 * the probe's open) must be refused by the cluster PROBE_SUCCESSES times in a row. A refusal by STS proves
 * nothing (the probe's statement may not have propagated yet). Throws `unavailable` naming what still got
 * in when REFUSAL_DEADLINE_MS passes first.
 */
export function proveRefused(
  deps: EngineDeps,
  probe: LoginProbe,
  roleArn: string,
  intervalMs = PROBE_INTERVAL_MS,
): Promise<LoginProof> {
  return inARow(
    deps,
    intervalMs,
    REFUSAL_DEADLINE_MS,
    async () => {
      const attempt = await probe.attempt(roleArn, []);
      if (attempt.kind === 'refused') return attempt.at === 'cluster' ? undefined : attempt.reason;
      return `a session of ${roleArn} still logs in as "${attempt.username}"`;
    },
    (last, attempts) =>
      new AccessError(
        'unavailable',
        `The cluster did not refuse ${roleArn} within ${REFUSAL_DEADLINE_MS / 1000} s of its mapping's removal: ${last}`,
        {
          hint: 'The revocation is tried again until the cluster refuses the role; the platform team should check its identity mapping.',
          details: { attempts, last },
        },
      ),
  );
}

/**
 * Asks `problem` (undefined: the attempt proved it) every `intervalMs` until PROBE_SUCCESSES proofs
 * in a row, or throws `failure` with the last problem after `deadlineMs`.
 */
async function inARow(
  deps: EngineDeps,
  intervalMs: number,
  deadlineMs: number,
  problem: () => Promise<string | undefined>,
  failure: (last: string, attempts: number) => AccessError,
): Promise<LoginProof> {
  const started = deps.clock.now();
  const deadline = started + deadlineMs;
  let streak = 0;
  let attempts = 0;
  let last = '';
  for (;;) {
    attempts += 1;
    const found = await problem();
    if (found === undefined) {
      streak += 1;
      if (streak >= PROBE_SUCCESSES) return { attempts, ms: deps.clock.now() - started };
    } else {
      streak = 0;
      last = found;
    }
    if (deps.clock.now() > deadline) throw failure(last, attempts);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
