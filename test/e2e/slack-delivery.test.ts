// Slack refusing to deliver: an approval channel the bot was never invited to must not swallow a
// request. The requester is told why and what an admin must do, the audit trail records it, and the
// request stays findable by its approvers.
import { afterEach, describe, expect, it } from 'vitest';
import { blocksText } from '../support/slack/index.js';
import { ALICE, ANA, ephemeralTo, harnessPool, requestedId } from './harness.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

describe('an approval channel without the bot', () => {
  it.each([
    { kind: 'public', spec: { bot: false }, error: 'not_in_channel' },
    { kind: 'private', spec: { bot: false, private: true }, error: 'channel_not_found' },
  ])(
    '($kind) the requester is told to /invite the bot, the audit trail records it',
    async ({ spec, error }) => {
      const h = await pool.use();
      h.slack.addChannel(h.channel, spec);
      const after = h.slack.calls.length;
      const id = await requestedId(h, ALICE, `request ${h.namespace} because INC-10`);

      const refused = await h.slack.waitFor('chat.postMessage', (c) => c.args.channel === h.channel, {
        after,
      });
      expect(refused.response).toEqual({ ok: false, error });
      const dm = await h.slack.waitFor(
        'chat.postMessage',
        (c) => c.args.channel === 'D0ALICE' && blocksText(c.args.blocks).includes(id),
        { after },
      );
      const text = blocksText(dm.args.blocks);
      expect(text).toContain(`could not be posted to <#${h.channel}> (Slack: \`${error}\`)`);
      expect(text).toContain(`run \`/invite @eks-access\` in <#${h.channel}>`);
      expect(text).toContain('/eks-access approvals');

      const events = await h.audit.read({ grantId: id });
      expect(events.find((e) => e.action === 'approval-post-failed')).toMatchObject({
        actor: 'system',
        details: { channel: h.channel, error },
      });
      // Still pending, and its approvers find it.
      expect((await h.store.get(id))?.status).toBe('pending');
      const listed = h.slack.calls.length;
      await h.command(ANA, 'approvals');
      expect(await ephemeralTo(h.slack, ANA, listed, (t) => t.includes(id))).toContain(id);
    },
  );
});
