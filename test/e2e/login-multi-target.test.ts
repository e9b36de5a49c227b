// A request on several targets (issue #14 §2), proven the way a person uses it: two namespaces on one
// cluster in one request, one shared approval message, approved for one target and denied for the other.
// The activation DM's commands, run unchanged in the requester's own shell, get her into exactly the
// approved namespace through the real aws-iam-authenticator (aws-auth); the denied one is Forbidden;
// `done all` ends it and the same kubeconfig is Unauthorized.
import { CoreV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { adminKubeConfig } from '../platform/context.js';
import { pollUntil } from '../support/poll.js';
import { succeeded } from '../support/requester-shell.js';
import { ALICE, ANA, clickOn, denyFrom, ephemeralTo, harnessPool } from './harness.js';
import {
  activationDmCommands,
  kubectlOf,
  requesterShell,
  runDmCommands,
  untilLoginRefused,
} from './login-steps.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

describe('a request on two namespaces, logged in for real (aws-auth)', () => {
  it('approved for one and denied for the other: the DM gets her into exactly one; done all ends it', async () => {
    const h = await pool.use({
      login: true,
      identityMapping: 'aws-auth',
      createNamespace: true,
      worker: true,
      extraNamespaces: 1,
    });
    const other = `${h.namespace}-n000`;
    await adminKubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: other } } });
    try {
      const shell = await requesterShell(h);
      let after = h.slack.calls.length;
      await h.command(ALICE, `request ${h.namespace},${other} as view for 10m because INC-93 both`);
      const reply = await ephemeralTo(h.slack, ALICE, after, (t) => t.includes('Requested 2 targets'));
      const ids = [...new Set([...reply.matchAll(/`(ea-[a-z2-9]{8})`/g)].map((m) => m[1] as string))];
      const grants = await Promise.all(ids.map((id) => h.store.get(id)));
      const mine = grants.find((g) => g?.namespace === h.namespace)?.id as string;
      const denied = grants.find((g) => g?.namespace === other)?.id as string;
      expect([mine, denied].every(Boolean)).toBe(true);

      // One message in the shared channel carries both targets' buttons.
      const shared = await h.approvalMessage(mine);
      const recorded = await pollUntil(
        'the shared message recorded on the other target',
        () => h.store.get(denied),
        (g) => g?.approvalMessage !== undefined,
      );
      expect(recorded?.approvalMessage).toEqual(shared);
      await clickOn(h, ANA, 'approve', shared, mine);
      await denyFrom(h, ANA, shared, denied, 'only the first one');

      const commands = await activationDmCommands(h);
      await runDmCommands(shell, commands);
      const kubectl = kubectlOf(shell, commands);
      succeeded(await kubectl(`get pods -n ${h.namespace}`), `kubectl get pods -n ${h.namespace}`);
      await pollUntil(
        'the other target to be denied',
        () => h.store.get(denied),
        (g) => g?.status === 'denied',
      );
      const refused = await kubectl(`get pods -n ${other}`);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/Forbidden/);

      // done all: what is live ends, and her kubeconfig is refused by the authenticator.
      after = h.slack.calls.length;
      await h.command(ALICE, 'done all');
      await pollUntil(
        'the approved target to end',
        () => h.store.get(mine),
        (g) => g?.status === 'relinquished',
        { timeoutMs: 60_000, intervalMs: 100 },
      );
      await untilLoginRefused(kubectl, h.namespace, 'her kubeconfig to be refused after done all');
    } finally {
      await adminKubeConfig()
        .makeApiClient(CoreV1Api)
        .deleteNamespace({ name: other })
        .catch(() => undefined);
    }
  }, 240_000);
});
