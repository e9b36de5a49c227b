// A request on several targets (issue #14 §2) through the real Bolt App, the fake Slack, real Redis, the
// worker and the real kube-apiserver: the targets that share an approval channel share one message, each
// with its own buttons; approved on one and denied on the other gives access on exactly one; targets in
// different channels get a message each; two approvers deciding at once leave no stale state; `done all`
// ends the rest.
import { AuthorizationV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import type { Grant } from '../../src/domain/grant.js';
import { adminKubeConfig } from '../platform/context.js';
import { pollUntil } from '../support/poll.js';
import { blocksText } from '../support/slack/index.js';
import {
  ALICE,
  ANA,
  BEN,
  clickOn,
  denyFrom,
  ephemeralTo,
  type Harness,
  harnessPool,
  refusalTo,
  untilSlackDelivered,
} from './harness.js';

const pool = harnessPool();
/** The main namespace offered on dev and on staging (one request on both); with the worker and the namespace, access can be activated. */
const BOTH = { secondCluster: true, sameNamespaceOnStaging: true } as const;
const BOTH_ACTIVE = { ...BOTH, worker: true, createNamespace: true } as const;
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

type Where = { channel: string; ts: string };

/** ALICE asks for `view` on dev and staging; the two grants, dev's first. */
async function requestBoth(h: Harness): Promise<{ dev: Grant; staging: Grant; ids: string[] }> {
  const after = h.slack.calls.length;
  await h.command(ALICE, `request ${h.namespace} as view on dev,staging for 30m because INC-9 both`);
  const reply = await ephemeralTo(h.slack, ALICE, after, (t) => t.includes('Requested 2 targets'));
  const ids = [...new Set([...reply.matchAll(/`(ea-[a-z2-9]{8})`/g)].map((m) => m[1] as string))];
  expect(ids).toHaveLength(2);
  expect(reply).toContain('Give one back with `done <id>`, all of them with `done all`.');
  const grants = await Promise.all(ids.map((id) => h.store.get(id)));
  const byCluster = Object.fromEntries(grants.map((g) => [g?.cluster, g]));
  const dev = byCluster['dev'] as Grant;
  const staging = byCluster['staging'] as Grant;
  expect(dev.group).toEqual({ id: ids[0], size: 2, targets: ids });
  expect(staging.group).toEqual({ id: ids[0], size: 2, targets: ids });
  return { dev, staging, ids };
}

/** The approval messages the bot posted to a channel (thread replies left out). */
const approvalPosts = (h: Harness, channel: string) =>
  h.slack
    .callsTo('chat.postMessage')
    .filter(
      (c) =>
        c.args.channel === channel &&
        !c.args.thread_ts &&
        blocksText(c.args.blocks).includes('Access request'),
    );

/** `action_id:value` of every button of a message. */
const buttonsOf = (blocks: readonly Record<string, unknown>[] | undefined) =>
  (blocks ?? [])
    .filter((b) => b['type'] === 'actions')
    .flatMap((b) =>
      (b['elements'] as { action_id: string; value: string }[]).map((e) => `${e.action_id}:${e.value}`),
    );

/** The message as it stands in the fake, once it says `words` (each as often as given). */
const messageSaying = (h: Harness, message: Where, what: string, ...words: string[]) =>
  pollUntil(
    what,
    async () => blocksText(h.slack.message(message.channel, message.ts)?.blocks),
    (text) => words.every((w) => text.split(w).length - 1 >= words.filter((x) => x === w).length),
    { timeoutMs: 30_000 },
  );

describe('a request on several targets', () => {
  it('on dev,staging in one channel: one message with both targets; approved on one, denied on the other', async () => {
    const h = await pool.use(BOTH_ACTIVE);
    const { dev, staging, ids } = await requestBoth(h);

    // One approval message in the shared channel, with each target's own Approve and Deny.
    const shared = await h.approvalMessage(dev.id);
    await untilSlackDelivered(h);
    expect(approvalPosts(h, h.channel)).toHaveLength(1);
    const posted = h.slack.message(shared.channel, shared.ts);
    expect(buttonsOf(posted?.blocks)).toEqual([
      `approve:${dev.id}`,
      `deny:${dev.id}`,
      `approve:${staging.id}`,
      `deny:${staging.id}`,
    ]);
    expect(blocksText(posted?.blocks)).toContain(`2 of the 2 targets of request \`${ids[0]}\``);
    // Both grants point at it: thread notes, reminders and DM links of each go there.
    expect((await h.store.get(dev.id))?.approvalMessage).toEqual(shared);
    expect((await h.store.get(staging.id))?.approvalMessage).toEqual(shared);

    await clickOn(h, ANA, 'approve', shared, dev.id);
    await denyFrom(h, ANA, shared, staging.id, 'staging is frozen');

    const active = await pollUntil(
      'the dev target to be active',
      () => h.store.get(dev.id),
      (g) => g?.status === 'active',
      { timeoutMs: 30_000 },
    );
    // ANA's denial is acknowledged before it is handled: wait for it rather than assume it came first.
    await pollUntil(
      'the staging target to be denied',
      () => h.store.get(staging.id),
      (g) => g?.status === 'denied',
    );
    // Access exists for the dev grant only: the staging target wrote nothing.
    expect(await mayListPods(active?.requester.kubernetesUsername as string, h.namespace)).toBe(true);
    expect((await h.grants()).filter((g) => g.status === 'active').map((g) => g.cluster)).toEqual(['dev']);
    // The one message ends showing both outcomes, and no second message was posted for either.
    const final = await messageSaying(
      h,
      shared,
      'the shared message to show both outcomes',
      'Active* until',
      '*Denied* by',
    );
    expect(final).toContain('staging is frozen');
    expect(approvalPosts(h, h.channel)).toHaveLength(1);
    // Its thread says which target each line is about.
    const denialNote = await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.thread_ts === shared.ts && blocksText(c.args.blocks).includes('Denied by'),
    );
    expect(blocksText(denialNote.args.blocks)).toContain(`on \`staging\` (\`${staging.id}\`)`);
    // The requester is told each outcome, by target, with a link to the shared message.
    const denied = await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel === `D${ALICE.slice(1)}` && blocksText(c.args.blocks).includes('denied'),
    );
    expect(blocksText(denied.args.blocks)).toContain('on `staging`');
    expect(blocksText(denied.args.blocks)).toContain(
      `/archives/${shared.channel}/p${shared.ts.replace('.', '')}|The request in its approval channel`,
    );

    // `done all` ends what is left.
    const before = h.slack.calls.length;
    await h.command(ALICE, 'done all');
    expect(await ephemeralTo(h.slack, ALICE, before)).toContain(`Ending \`${dev.id}\``);
    await pollUntil(
      'the dev target to end',
      () => h.store.get(dev.id),
      (g) => g?.status === 'relinquished',
      { timeoutMs: 30_000 },
    );
    expect(await mayListPods(active?.requester.kubernetesUsername as string, h.namespace)).toBe(false);
    await messageSaying(h, shared, 'the shared message to show the end', '*Given back*', '*Denied* by');
  });

  it('two targets changing at once: the shared message ends showing the newest state of both', async () => {
    const h = await pool.use(BOTH_ACTIVE);
    const { dev, staging } = await requestBoth(h);
    const shared = await h.approvalMessage(dev.id);
    await untilSlackDelivered(h);
    // dev's activation renders the message (dev active, staging waiting); that update is held up on its
    // way to Slack, as a slow request can be. While it is, ANA approves staging, which activates and
    // renders the message twice more. Were the renders of one message not one at a time, those would
    // land first and the held one last: staging shown waiting for good.
    const actives = (blocks: unknown) => blocksText(blocks as never).split('*Active* until').length - 1;
    const held = h.slack.slowNext('chat.update', 2_000, {
      when: (args) =>
        args['ts'] === shared.ts &&
        actives(args['blocks']) === 1 &&
        blocksText(args['blocks'] as never).includes('Waiting for approval'),
    });
    await clickOn(h, BEN, 'approve', shared, dev.id);
    await held;
    await clickOn(h, ANA, 'approve', shared, staging.id);
    for (const id of [dev.id, staging.id]) {
      await pollUntil(
        `${id} to be active`,
        () => h.store.get(id),
        (g) => g?.status === 'active',
        {
          timeoutMs: 30_000,
        },
      );
    }
    // Active in the store comes before the activation's render is queued: let the activation jobs
    // finish (and every delivery they queued) before reading the message.
    await h.settled();
    await untilSlackDelivered(h);
    const text = blocksText(h.slack.message(shared.channel, shared.ts)?.blocks);
    expect(actives(h.slack.message(shared.channel, shared.ts)?.blocks)).toBe(2);
    expect(text).not.toContain('Waiting for approval');
    expect(text).not.toContain('setting up access');
    expect(approvalPosts(h, h.channel)).toHaveLength(1);
  });

  it('reminders and the lapse of one target go to the shared message, naming that target only', async () => {
    // Reminders at 4 s and 6 s, the lapse at 8 s: dev is decided well before its first reminder is due,
    // and each of staging's reminders is delivered before the lapse, on a loaded machine too.
    const h = await pool.use({ ...BOTH_ACTIVE, pendingTimeout: '8s' });
    const { dev, staging } = await requestBoth(h);
    const shared = await h.approvalMessage(dev.id);
    await clickOn(h, ANA, 'approve', shared, dev.id);
    await messageSaying(h, shared, 'dev active and staging lapsed', 'Active* until', '*Lapsed*');
    await untilSlackDelivered(h);
    const thread = h.slack
      .callsTo('chat.postMessage')
      .filter((c) => c.args.thread_ts === shared.ts)
      .map((c) => String(c.args.text));
    const reminders = thread.filter((t) => t.includes(':bell:'));
    // Halfway and with a quarter left, for staging only (dev was decided at once), its approver mentioned.
    expect(reminders).toHaveLength(2);
    for (const reminder of reminders) {
      expect(reminder).toContain(`\`${h.namespace}\` on \`staging\``);
      expect(reminder).toContain(`<@${ANA}>`);
    }
    expect(thread.some((t) => t.includes(`on \`staging\` (\`${staging.id}\`): :zzz: Lapsed`))).toBe(true);
    expect(
      thread.some((t) => t.includes(`on \`dev\` (\`${dev.id}\`): :large_green_circle: Access is active`)),
    ).toBe(true);
    expect(approvalPosts(h, h.channel)).toHaveLength(1);
  });

  it('two targets waiting in one shared message get one reminder at a time, naming both, their approvers once', async () => {
    // Reminders at 4 s and 6 s, the lapse at 8 s: room for a loaded machine to run each job in its slot.
    const h = await pool.use({ ...BOTH_ACTIVE, pendingTimeout: '8s' });
    const { dev, staging } = await requestBoth(h);
    const shared = await h.approvalMessage(dev.id);
    await pollUntil(
      'both targets to lapse',
      () => Promise.all([h.store.get(dev.id), h.store.get(staging.id)]),
      (gs) => gs.every((g) => g?.status === 'cancelled'),
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    await untilSlackDelivered(h);
    const reminders = h.slack
      .callsTo('chat.postMessage')
      .filter((c) => c.args.thread_ts === shared.ts && String(c.args.text).includes(':bell:'))
      .map((c) => String(c.args.text));
    // Halfway and with a quarter left: one reply each time, not one per target.
    expect(reminders).toHaveLength(2);
    for (const reminder of reminders) {
      expect(reminder).toContain('still waits for 2 targets');
      expect(reminder).toContain(`(\`${dev.id}\`)`);
      expect(reminder).toContain(`(\`${staging.id}\`)`);
      expect(reminder.split(`<@${ANA}>`)).toHaveLength(2);
    }
  });

  it('targets in different approval channels get one message in each', async () => {
    const h = await pool.use({ ...BOTH, separateStagingChannel: true });
    const { dev, staging } = await requestBoth(h);
    const devPost = await h.slack.waitFor(
      'chat.postMessage',
      (c) =>
        c.args.channel === h.channel && !c.args.thread_ts && JSON.stringify(c.args.blocks).includes(dev.id),
    );
    const stagingPost = await h.slack.waitFor(
      'chat.postMessage',
      (c) =>
        c.args.channel === h.stagingChannel &&
        !c.args.thread_ts &&
        JSON.stringify(c.args.blocks).includes(staging.id),
    );
    await untilSlackDelivered(h);
    expect(approvalPosts(h, h.channel)).toHaveLength(1);
    expect(approvalPosts(h, h.stagingChannel)).toHaveLength(1);
    // Each is that target's own message (its buttons only), saying it is one of two.
    expect(buttonsOf(devPost.args.blocks)).toEqual([`approve:${dev.id}`, `deny:${dev.id}`]);
    expect(buttonsOf(stagingPost.args.blocks)).toEqual([`approve:${staging.id}`, `deny:${staging.id}`]);
    expect(blocksText(stagingPost.args.blocks)).toContain(`One of 2 targets of request \`${dev.id}\``);
    expect((await h.store.get(staging.id))?.approvalMessage).toEqual({
      channel: h.stagingChannel,
      ts: String(stagingPost.response['ts']),
    });
  });

  it('a shared channel without the bot: the requester is told once, each target is audited and still waits', async () => {
    const h = await pool.use(BOTH);
    h.slack.addChannel(h.channel, { bot: false });
    const { dev, staging, ids } = await requestBoth(h);
    await untilSlackDelivered(h);
    const toAlice = h.slack
      .callsTo('chat.postMessage')
      .filter(
        (c) => c.args.channel === 'D0ALICE' && blocksText(c.args.blocks).includes('could not be posted'),
      );
    expect(toAlice).toHaveLength(1);
    const text = blocksText(toAlice[0]?.args.blocks);
    expect(text).toContain(`The 2 targets of your request \`${ids[0]}\``);
    expect(text).toContain(`could not be posted to <#${h.channel}> (Slack: \`not_in_channel\`)`);
    for (const grant of [dev, staging]) {
      const events = await h.audit.read({ grantId: grant.id });
      expect(events.filter((e) => e.action === 'approval-post-failed')).toHaveLength(1);
      expect((await h.store.get(grant.id))?.status).toBe('pending');
    }
  });

  it('a rate-limited first post is retried, and the channel still gets exactly one message', async () => {
    const h = await pool.use(BOTH);
    h.slack.failNext('chat.postMessage', 'ratelimited', { times: 2, retryAfterSeconds: 1 });
    const { dev, staging } = await requestBoth(h);
    await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel === h.channel && c.response['ok'] === true,
    );
    await untilSlackDelivered(h);
    // The first approval post was refused (the other refusal may have met a DM or an audit line).
    const posted = approvalPosts(h, h.channel);
    expect(posted[0]?.response['error']).toBe('ratelimited');
    const ok = posted.filter((c) => c.response['ok'] === true);
    expect(ok).toHaveLength(1);
    const shared = { channel: h.channel, ts: String(ok[0]?.response['ts']) };
    expect((await h.store.get(dev.id))?.approvalMessage).toEqual(shared);
    expect((await h.store.get(staging.id))?.approvalMessage).toEqual(shared);
    expect(buttonsOf(h.slack.message(shared.channel, shared.ts)?.blocks)).toEqual([
      `approve:${dev.id}`,
      `deny:${dev.id}`,
      `approve:${staging.id}`,
      `deny:${staging.id}`,
    ]);
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
