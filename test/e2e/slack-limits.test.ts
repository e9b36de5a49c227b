// Slack under its real limits (rate limits on, as the fake has them by default): a burst of
// activations gives every requester exactly one DM with the commands; a refused reminder DM is retried
// alone; deactivated approvers are neither counted nor DMed.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Grant, newGrantId } from '../../src/domain/grant.js';
import { platform } from '../platform/context.js';
import { dmBurst, type OutboxRig, outboxRig } from '../support/dm-burst.js';
import { pollUntil } from '../support/poll.js';
import { blocksText, FakeSlack } from '../support/slack/index.js';

describe('Slack delivery under rate limits', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(platform().redisUrl);
  });
  afterAll(() => redis.quit());

  it('activates 80 grants at once: every requester gets exactly one DM with the commands', async () => {
    // 80 > conversations.open's burst (Tier 3): some DMs meet 429 + Retry-After and are retried.
    const result = await dmBurst({
      redis,
      redisUrl: platform().redisUrl,
      grants: 80,
      speedup: 5,
      timeoutMs: 60_000,
    });
    expect(result.refused['conversations.open'] ?? 0).toBeGreaterThan(0);
    // Audit lines that met the audit channel's limit went out together: every one, in fewer posts.
    expect({ lines: result.auditLines, grants: result.auditedGrants }).toEqual({ lines: 80, grants: 80 });
    expect(result.auditPosts).toBeLessThan(40);
    expect({
      missing: result.missing,
      duplicated: result.duplicated,
      exactlyOnce: result.exactlyOnce,
    }).toEqual({
      missing: 0,
      duplicated: 0,
      exactlyOnce: 80,
    });
  }, 120_000);
});

describe('approver reminders and deactivated approvers', () => {
  let redis: Redis;
  let slack: FakeSlack;
  let rig: OutboxRig;
  const APPROVERS = ['U0AP1', 'U0AP2', 'U0AP3', 'U0AP4', 'U0AP5'];
  const dmOf = (user: string) => `D${user.slice(1)}`;
  const reminders = (user: string) =>
    slack.messages(dmOf(user)).filter((m) => (m.text ?? '').startsWith(':bell:'));

  beforeEach(async () => {
    redis = new Redis(platform().redisUrl);
    slack = await FakeSlack.start({
      users: [{ id: 'U0REQ' }, ...APPROVERS.map((id) => ({ id }))],
      // The approval message could not be posted (the bot was never invited): reminders go by DM.
      channels: { CAPPROVALS: { bot: false }, CAUDIT: {} },
    });
    rig = await outboxRig({
      redis,
      redisUrl: platform().redisUrl,
      slack,
      prefix: `{limits-${Math.random().toString(36).slice(2, 10)}}:`,
      approvers: APPROVERS,
      pacing: { retryBaseMs: 200, homeDebounceMs: 200 },
    });
  });
  afterEach(async () => {
    await rig.close();
    await slack.close();
    redis.disconnect();
  });

  const pendingGrant = async (): Promise<Grant> => {
    const now = Date.now();
    const grant: Grant = {
      id: newGrantId((n) => randomBytes(n)),
      version: 1,
      status: 'pending',
      requester: {
        slackUserId: 'U0REQ',
        principalArn: 'arn:aws:iam::123456789012:user/req',
        kubernetesUsername: 'eks-access:req',
      },
      cluster: 'dev',
      namespace: 'burst',
      level: 'view',
      durationSeconds: 3600,
      reason: 'INC-7 checking the queue',
      requiredApprovals: 1,
      approvals: [],
      createdAt: now,
      pendingUntil: now + 3_600_000,
      extensions: [],
    };
    await rig.store.create(grant);
    return grant;
  };
  const drained = () =>
    pollUntil(
      'the outbox to drain',
      () => rig.outboxes[0]?.pending() ?? Promise.resolve(0),
      (n) => n === 0,
      {
        timeoutMs: 30_000,
        intervalMs: 50,
      },
    );

  it('a 429 on the third of five reminder DMs leaves each approver with exactly one reminder', async () => {
    const grant = await pendingGrant();
    slack.failNext('chat.postMessage', 'ratelimited', {
      retryAfterSeconds: 1,
      when: (args) => args['channel'] === dmOf('U0AP3'),
    });
    await rig.outboxes[0]?.grantChanged(grant, { kind: 'approvers-reminded' });
    await pollUntil(
      'every approver to be reminded',
      async () => APPROVERS.filter((a) => reminders(a).length === 0),
      (left) => left.length === 0,
      { timeoutMs: 30_000 },
    );
    await drained();
    // The refusal really happened, and was retried for that approver alone.
    expect(
      slack
        .callsTo('chat.postMessage')
        .filter((c) => c.args.channel === dmOf('U0AP3') && c.response['error'] === 'ratelimited'),
    ).toHaveLength(1);
    expect(Object.fromEntries(APPROVERS.map((a) => [a, reminders(a).length]))).toEqual(
      Object.fromEntries(APPROVERS.map((a) => [a, 1])),
    );
  });

  it('a deactivated approver is not DMed (no conversations.open either), and is not mentioned', async () => {
    slack.deactivateUser('U0AP2');
    const grant = await pendingGrant();
    await rig.outboxes[0]?.grantChanged(grant, { kind: 'approvers-reminded' });
    await pollUntil(
      'the active approvers to be reminded',
      async () => APPROVERS.filter((a) => a !== 'U0AP2' && reminders(a).length === 0),
      (left) => left.length === 0,
      { timeoutMs: 30_000 },
    );
    await drained();
    expect(slack.callsTo('conversations.open').filter((c) => c.args.users === 'U0AP2')).toEqual([]);
    expect(reminders('U0AP2')).toEqual([]);

    // Once the bot is invited, the approval message mentions the approvers still in the workspace.
    slack.addChannel('CAPPROVALS', {});
    const second = await pendingGrant();
    await rig.outboxes[0]?.grantChanged(second, { kind: 'requested' });
    const posted = await slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel === 'CAPPROVALS' && JSON.stringify(c.args.blocks).includes(second.id),
    );
    const text = blocksText(posted.args.blocks);
    expect(text).toContain('<@U0AP1>');
    expect(text).not.toContain('<@U0AP2>');
  });

  it('a DM with the commands Slack refuses for good is told in the approval thread, counted, and shown on App Home', async () => {
    slack.addChannel('CAPPROVALS', {});
    const counted: string[] = [];
    rig.outboxes[0]?.trackUndelivered((step) => counted.push(step));
    const now = Date.now();
    const grant: Grant = {
      ...(await pendingGrant()),
      version: 2,
      status: 'active',
      approvals: [{ slackUserId: 'U0AP1', at: now }],
      decidedAt: now,
      activatedAt: now,
      expiresAt: now + 3_600_000,
      approvalMessage: slack.seedMessage('CAPPROVALS', 'the request'),
    };
    await rig.store.replace(grant);
    // A workspace preference forbids the app to write to this person: Slack will not change its mind.
    slack.failNext('conversations.open', 'restricted_action', { when: (args) => args['users'] === 'U0REQ' });
    await rig.outboxes[0]?.grantChanged(grant, { kind: 'activated' });
    const note = await slack.waitFor(
      'chat.postMessage',
      (c) =>
        c.args.thread_ts === grant.approvalMessage?.ts && (c.args.text ?? '').includes('did not deliver'),
    );
    expect(note.args.text).toContain(
      '<@U0REQ>, Slack did not deliver my direct message to you (`restricted_action`)',
    );
    expect(note.args.text).not.toContain('update-kubeconfig');
    expect(counted).toEqual(['requester DM']);
    await pollUntil(
      'App Home to show the commands',
      async () => blocksText(slack.homeOf('U0REQ')?.blocks),
      (home) => home.includes('aws eks update-kubeconfig'),
      { timeoutMs: 30_000 },
    );
  });
});
