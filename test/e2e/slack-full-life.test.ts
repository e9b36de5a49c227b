// The whole life of a grant as people see it, with the engine's worker running in-process against the
// real kube-apiserver: request → approval message → approve → access verified by a SubjectAccessReview →
// DM with commands → expiry warning → expiry → messages updated and access gone. Both transports.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthorizationV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { adminKubeConfig } from '../platform/context.js';
import { blocksText, type SlackCall } from '../support/slack/index.js';
import { ALICE, ANA, ephemeralTo, harnessPool } from './harness.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

async function canCreateJobs(user: string, namespace: string): Promise<boolean> {
  const review = await adminKubeConfig()
    .makeApiClient(AuthorizationV1Api)
    .createSubjectAccessReview({
      body: {
        spec: {
          user,
          groups: ['system:authenticated'],
          resourceAttributes: { namespace, group: 'batch', resource: 'jobs', verb: 'create' },
        },
      },
    });
  return review.status?.allowed === true;
}

/** What the fake recorded, one line per call: the transcript a reviewer reads. */
function transcript(calls: SlackCall[]): string {
  return calls
    .filter(
      (c) =>
        !['auth.test', 'apps.connections.open', 'users.info', 'usergroups.users.list'].includes(c.method),
    )
    .map((c) => {
      const args = c.args as Record<string, unknown>;
      const where = String(args['channel'] ?? args['user_id'] ?? args['users'] ?? '');
      const blocks = (args['blocks'] ?? (args['view'] as { blocks?: unknown } | undefined)?.blocks) as never;
      const text = (blocks ? blocksText(blocks) : String(args['text'] ?? '')).replace(/\s+/g, ' ');
      const short = text.length > 360 ? `${text.slice(0, 170)} … ${text.slice(-170)}` : text;
      return `${c.at.toISOString().slice(11, 23)} ${c.method.padEnd(18)} ${where.padEnd(12)} ${short}`;
    })
    .join('\n');
}

describe.each(['socket', 'http'] as const)('the full life of a grant (%s mode)', (transport) => {
  it('request → approve → access on the apiserver → DM with commands → warning → expiry → messages updated', async () => {
    const h = await pool.use({
      createNamespace: true,
      transport,
      worker: true,
      levelDuration: { default: '20s', max: '1m' },
      expiryWarning: '10s',
    });
    const username = `eks-access:${ALICE}`;
    expect(await canCreateJobs(username, h.namespace)).toBe(false);

    // Request.
    let after = h.slack.calls.length;
    await h.command(ALICE, `request ${h.namespace} for 20s because INC-42 payments stuck`);
    const reply = await ephemeralTo(h.slack, ALICE, after, (t) => t.includes('Requested'));
    const id = /`(ea-[a-z2-9]{8})`/.exec(reply)?.[1] as string;
    const message = await h.approvalMessage(id);
    expect(blocksText(h.slack.message(message.channel, message.ts)?.blocks)).toContain(
      'Waiting for approval',
    );

    // Approve: the worker activates; the message and a DM say so.
    await h.interact(
      h.slack.blockActions({
        user_id: ANA,
        action_id: 'approve',
        channel: message.channel,
        message_ts: message.ts,
      }),
    );
    const activeUpdate = await h.slack.waitFor(
      'chat.update',
      (c) => c.args.ts === message.ts && blocksText(c.args.blocks).includes('Active* until'),
      { timeoutMs: 30_000 },
    );
    expect(blocksText(activeUpdate.args.blocks)).toContain('approved by <@U0ANA>');
    const dm = await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel.startsWith('D') && blocksText(c.args.blocks).includes('Use it'),
    );
    expect(blocksText(dm.args.blocks)).toMatch(
      new RegExp(`kubectl auth can-i create jobs(\\.batch)? -n ${h.namespace}`),
    );
    expect(await canCreateJobs(username, h.namespace)).toBe(true);
    expect((await h.store.get(id))?.status).toBe('active');

    // Warning, with Extend and I'm done.
    const warning = await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel.startsWith('D') && blocksText(c.args.blocks).includes('ends at'),
      { timeoutMs: 30_000 },
    );
    expect(JSON.stringify(warning.args.blocks)).toContain('"action_id":"extend"');
    expect(JSON.stringify(warning.args.blocks)).toContain('"action_id":"done"');

    // Expiry: the message and a DM say so, and the apiserver no longer allows it.
    await h.slack.waitFor(
      'chat.update',
      (c) => c.args.ts === message.ts && blocksText(c.args.blocks).includes('Expired* at'),
      {
        timeoutMs: 40_000,
      },
    );
    await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel.startsWith('D') && blocksText(c.args.blocks).includes('Expired'),
      {
        timeoutMs: 30_000,
      },
    );
    expect(await canCreateJobs(username, h.namespace)).toBe(false);
    expect((await h.store.get(id))?.status).toBe('expired');
    const actions = (await h.audit.read({ grantId: id })).map((e) => e.action);
    expect(actions).toContain('requested');
    expect(actions).toContain('approved');
    expect(h.slack.callsTo('chat.postMessage').some((c) => c.args.channel.startsWith('CAUDIT'))).toBe(true);
    after = 0;
    // Kept outside the run directory (removed at teardown) so the last run's transcript can be read.
    writeFileSync(
      join(tmpdir(), `eks-access-slack-transcript-${transport}.txt`),
      transcript(h.slack.calls.slice(after)),
    );
  }, 120_000);
});
