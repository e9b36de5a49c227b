// A request on several targets (issue #14 §2) through the real Bolt App, the fake Slack, real Redis, the
// worker and the real kube-apiserver: one request on two clusters, approved on one and denied on the
// other, gives access on exactly one; the requester saw one grouped status; `done all` ends the rest.
import { AuthorizationV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { adminKubeConfig } from '../platform/context.js';
import { pollUntil } from '../support/poll.js';
import { blocksText } from '../support/slack/index.js';
import { ALICE, ANA, clickOn, ephemeralTo, type Harness, harnessPool, refusalTo } from './harness.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

/** May this Kubernetes user list pods in the namespace (the apiserver's own RBAC answer)? */
async function mayListPods(username: string, namespace: string): Promise<boolean> {
  const review = await adminKubeConfig()
    .makeApiClient(AuthorizationV1Api)
    .createSubjectAccessReview({
      body: { spec: { user: username, resourceAttributes: { verb: 'list', resource: 'pods', namespace } } },
    });
  return review.status?.allowed === true;
}

async function deny(h: Harness, message: { channel: string; ts: string }, reason: string): Promise<void> {
  await clickOn(h, ANA, 'deny', message);
  const modal = await h.slack.waitFor('views.open', (c) => c.args.view.callback_id === 'deny_modal');
  await h.interact(
    h.slack.viewSubmission({
      user_id: ANA,
      view_id: String((modal.response['view'] as { id: string }).id),
      values: { reason: { value: { type: 'plain_text_input', value: reason } } },
    }),
  );
}

describe('a request on several targets', () => {
  it('on dev,staging: approved on one and denied on the other gives access on exactly one', async () => {
    const h = await pool.use({
      worker: true,
      createNamespace: true,
      secondCluster: true,
      sameNamespaceOnStaging: true,
    });
    const after = h.slack.calls.length;
    await h.command(ALICE, `request ${h.namespace} as view on dev,staging for 30m because INC-9 both`);
    const reply = await ephemeralTo(h.slack, ALICE, after, (t) => t.includes('Requested 2 targets'));
    const ids = [...new Set([...reply.matchAll(/`(ea-[a-z2-9]{8})`/g)].map((m) => m[1] as string))];
    expect(ids).toHaveLength(2);
    expect(reply).toContain('Give one back with `done <id>`, all of them with `done all`.');
    const grants = await Promise.all(ids.map((id) => h.store.get(id)));
    const byCluster = Object.fromEntries(grants.map((g) => [g?.cluster, g]));
    const dev = byCluster['dev'];
    const staging = byCluster['staging'];
    expect(dev?.group).toEqual({ id: ids[0], size: 2 });
    expect(staging?.group).toEqual({ id: ids[0], size: 2 });

    // One message per target, each saying it is one of two; each decided on its own.
    const devMessage = await h.approvalMessage(dev?.id as string);
    const stagingMessage = await h.approvalMessage(staging?.id as string);
    expect(blocksText(h.slack.message(devMessage.channel, devMessage.ts)?.blocks)).toContain(
      `One of 2 targets of request \`${ids[0]}\``,
    );
    await clickOn(h, ANA, 'approve', devMessage);
    await deny(h, stagingMessage, 'staging is frozen');

    const active = await pollUntil(
      'the dev target to be active',
      () => h.store.get(dev?.id as string),
      (g) => g?.status === 'active',
      { timeoutMs: 30_000 },
    );
    // ANA's denial is acknowledged before it is handled: wait for it rather than assume it came first.
    await pollUntil(
      'the staging target to be denied',
      () => h.store.get(staging?.id as string),
      (g) => g?.status === 'denied',
    );
    // Access exists for the dev grant's username only: the staging target wrote nothing.
    expect(await mayListPods(active?.requester.kubernetesUsername as string, h.namespace)).toBe(true);
    expect((await h.grants()).filter((g) => g.status === 'active').map((g) => g.cluster)).toEqual(['dev']);
    // The requester is told each outcome, by target.
    const denied = await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel === `D${ALICE.slice(1)}` && blocksText(c.args.blocks).includes('denied'),
    );
    expect(blocksText(denied.args.blocks)).toContain('on `staging`');

    // `done all` ends what is left.
    const before = h.slack.calls.length;
    await h.command(ALICE, 'done all');
    expect(await ephemeralTo(h.slack, ALICE, before)).toContain(`Ending \`${dev?.id}\``);
    await pollUntil(
      'the dev target to end',
      () => h.store.get(dev?.id as string),
      (g) => g?.status === 'relinquished',
      {
        timeoutMs: 30_000,
      },
    );
    expect(await mayListPods(active?.requester.kubernetesUsername as string, h.namespace)).toBe(false);
  });

  it('one target the policy does not offer refuses the whole request; nothing is stored', async () => {
    const h = await pool.use({ secondCluster: true });
    const before = await h.snapshot();
    const after = h.slack.calls.length;
    // staging offers only its own namespace: the dev namespace there is refused, and so is the request.
    await h.command(ALICE, `request ${h.namespace} as view on dev,staging for 30m because INC-9`);
    expect(await refusalTo(h, ALICE, after, 'cannot be requested on staging')).toContain(h.namespace);
    expect(await h.snapshot()).toEqual(before);
  });
});
