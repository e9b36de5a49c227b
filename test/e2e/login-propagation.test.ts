// What the login probe is for (issue #22): on AWS, IAM (a new role, a rewritten trust), EKS access entries
// and the authenticator's aws-auth watch all apply changes seconds late, and the test platform does the same
// (docs/test-platform.md). With the probe on, the DM's commands work the instant the DM arrives, every time
// (test/e2e/login.test.ts runs them verbatim, with no retry). Here the probe is off: the worker announces as
// soon as it wrote everything, and the same commands, run the same way, are refused — shown by trying until
// one is (each try a fresh grant, so a fresh personal role), at most six times. A run where all six got in
// would mean the platform no longer behaves like AWS, and fails. With the probe on, the same tries all get in.
import { afterEach, describe, expect, it } from 'vitest';
import { platform } from '../platform/context.js';
import { type Harness, harnessPool } from './harness.js';
import { requesterShell, tryFreshGrant } from './login-steps.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

const ATTEMPTS = 6;

/**
 * Grants ALICE up to `times` fresh grants in turn (each ended before the next, so each has a new personal
 * role) and runs each DM's commands verbatim the instant it arrives, with no retry; what each try met.
 * `stopAtRefusal`: stop at the first refused try.
 */
async function tryDmCommands(
  h: Harness,
  times: number,
  stopAtRefusal: boolean,
): Promise<{ refused: boolean; worksNow: boolean; said: string }[]> {
  const shell = await requesterShell(h);
  const tries: { refused: boolean; worksNow: boolean; said: string }[] = [];
  for (let attempt = 1; attempt <= times; attempt++) {
    const { dmText: text, refused } = await tryFreshGrant(h, shell, `INC-22 try ${attempt}`);
    tries.push({
      refused: refused !== undefined,
      // The DM claims a proven login only where one was.
      worksNow: /Works now: eks-access logged in as you through this role \d+ times in a row/.test(text),
      said: `try ${attempt}: ${refused ? `refused (${refused})` : 'got in'}`,
    });
    if (refused && stopAtRefusal) break;
  }
  return tries;
}

describe.each(['aws-auth', 'access-entries'] as const)('AWS’s delays and the login probe (%s)', (mapping) => {
  it('without the probe, the DM’s commands run the instant the DM arrives are refused while AWS’s changes propagate', async () => {
    expect(platform().login.propagation, 'the platform’s AWS delays are on').toBeDefined();
    const h = await pool.use({
      login: true,
      loginProbe: false,
      identityMapping: mapping,
      createNamespace: true,
      worker: true,
    });
    const tries = await tryDmCommands(h, ATTEMPTS, true);
    console.log(`[${mapping}, probe off] ${tries.map((t) => t.said).join('; ')}`);
    expect(
      tries.some((t) => t.refused),
      tries.map((t) => t.said).join('\n'),
    ).toBe(true);
    expect(tries.filter((t) => t.worksNow)).toEqual([]);
  }, 600_000);

  it('with the probe, they work every time: four fresh grants in a row, each run the instant its DM arrives', async () => {
    const h = await pool.use({ login: true, identityMapping: mapping, createNamespace: true, worker: true });
    const tries = await tryDmCommands(h, 4, false);
    console.log(`[${mapping}, probe on] ${tries.map((t) => t.said).join('; ')}`);
    expect(tries.filter((t) => t.refused).map((t) => t.said)).toEqual([]);
    expect(tries.filter((t) => !t.worksNow).map((t) => t.said)).toEqual([]);
  }, 600_000);
});
