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
export async function proveLogin(
  deps: EngineDeps,
  probe: LoginProbe,
  expected: { roleArn: string; username: string; checks: readonly PermissionCheck[] },
): Promise<LoginProof> {
  const started = deps.clock.now();
  const deadline = started + PROBE_DEADLINE_MS;
  let streak = 0;
  let attempts = 0;
  let last = '';
  for (;;) {
    attempts += 1;
    const problem = probeProblem(await probe.attempt(expected.roleArn, expected.checks), expected.username);
    if (problem === undefined) {
      streak += 1;
      if (streak >= PROBE_SUCCESSES) return { attempts, ms: deps.clock.now() - started };
    } else {
      streak = 0;
      last = problem;
    }
    if (deps.clock.now() > deadline) {
      throw new AccessError(
        'unavailable',
        `A login as ${expected.username} through ${expected.roleArn} did not work within ${PROBE_DEADLINE_MS / 1000} s: ${last}`,
        {
          hint: 'IAM or EKS has not applied the change yet, or something refuses it; the activation is tried again.',
          details: { attempts, last },
        },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
  }
}
