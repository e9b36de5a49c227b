// Break-glass (issue #12 §2) as the on-call engineer lives it: the grant made by the rule at once is proven
// the way a person uses it — the activation DM's commands, run unchanged in her own shell with the aws CLI
// and kubectl, get in through the real aws-iam-authenticator (aws-auth) — and an approver's Flag takes it
// away: the same kubeconfig is then refused as Unauthorized — also after the flagged use is set back to
// approved in Redis (the spent ledger refuses the replay).
import { afterEach, describe, expect, it } from 'vitest';
import type { Grant } from '../../src/domain/grant.js';
import { pollUntil } from '../support/poll.js';
import { LOGIN_REFUSED, succeeded } from '../support/requester-shell.js';
import { ALICE, BEN, clickOn, ephemeralTo, harnessPool } from './harness.js';
import {
  activationDmCommands,
  kubectlOf,
  requesterShell,
  runDmCommands,
  untilLoginRefused,
} from './login-steps.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

const ONCALL = 'S0ONCALL';

describe('break-glass, logged in for real (aws-auth)', () => {
  it('the on-call engineer gets in with the DM at once; a Flag revokes it and the same kubeconfig is refused', async () => {
    const h = await pool.use({
      login: true,
      identityMapping: 'aws-auth',
      createNamespace: true,
      worker: true,
      usergroups: { [ONCALL]: [ALICE] },
      policyExtra: `breakGlass:
  - name: oncall
    groups: [${ONCALL}]
    namespaces: ["{namespace}"]
    levels: [view]
    maxDuration: 1h
    reviewWithin: 1h
`,
    });
    const shell = await requesterShell(h);
    const after = h.slack.calls.length;
    await h.command(ALICE, `breakglass ${h.namespace} as view for 30m because INC-91 pods crash-looping`);
    const reply = await ephemeralTo(h.slack, ALICE, after, (t) => /ea-[a-z2-9]{8}/.test(t));
    const id = /`(ea-[a-z2-9]{8})`/.exec(reply)?.[1] as string;

    // Nobody approved: the rule did. Her own aws and kubectl, as the DM says, get in.
    const commands = await activationDmCommands(h);
    expect(commands[0]).toMatch(/^aws eks update-kubeconfig /);
    await runDmCommands(shell, commands);
    const kubectl = kubectlOf(shell, commands);
    succeeded(await kubectl(`get pods -n ${h.namespace}`), `kubectl get pods -n ${h.namespace}`);
    expect((await h.store.get(id))?.approvals[0]?.slackUserId).toBe('breakglass:oncall');

    // BEN flags it: revoked at once, and from then on her kubeconfig is refused by the authenticator.
    const message = await h.approvalMessage(id);
    const before = h.slack.calls.length;
    await clickOn(h, BEN, 'breakglass_flag', message);
    const modal = await h.slack.waitFor(
      'views.open',
      (c) => c.args.view.callback_id === 'breakglass_flag_modal',
      { after: before },
    );
    await h.interact(
      h.slack.viewSubmission({
        user_id: BEN,
        view_id: String((modal.response['view'] as { id: string }).id),
        values: { reason: { value: { type: 'plain_text_input', value: 'INC-91 is not ours' } } },
      }),
    );
    await pollUntil(
      'the flagged grant to be revoked',
      () => h.store.get(id),
      (g) => g?.status === 'revoked',
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    await untilLoginRefused(kubectl, h.namespace, 'her kubeconfig to be refused after the Flag');

    // Someone with Redis write sets the flagged use back to approved and queues its activation again
    // (issue #18): the worker refuses it from the ledger, and her kubeconfig stays refused.
    const flagged = (await h.store.get(id)) as Grant;
    const {
      endedAt: _d,
      endReason: _r,
      endedBy: _b,
      activatedAt: _a,
      expiresAt: _e,
      ...asApproved
    } = flagged;
    expect(await h.store.replace({ ...asApproved, status: 'approved', version: flagged.version + 1 })).toBe(
      true,
    );
    await h.scheduler.enqueueActivation(id);
    const replayed = await pollUntil(
      'the replayed decision to be settled',
      () => h.store.get(id),
      (g) => g?.status === 'failed' || g?.status === 'active',
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    expect(replayed?.status).toBe('failed');
    const again = await kubectl(`get pods -n ${h.namespace}`);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(LOGIN_REFUSED);
  }, 240_000);
});
