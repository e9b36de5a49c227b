// A second request for what one already holds (issue #19 §9): the same level is refused with the grant
// held, its end as a Slack date and `extend`, and nothing is stored; another level goes to the approvers,
// and the requester and the approvers both see what is already held.
import { afterEach, describe, expect, it } from 'vitest';
import { slackTime } from '../../src/adapters/slack/blocks.js';
import { blocksText } from '../support/slack/index.js';
import { ALICE, ANA, clickOn, ephemeralTo, harnessPool, requestedId, untilActive } from './harness.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

describe('a request for access one already holds', () => {
  it('same level: refused, pointing at extend; another level: asked, with what is held shown to all', async () => {
    const h = await pool.use({ createNamespace: true, worker: true });
    const held = await requestedId(h, ALICE, `request ${h.namespace} for 30m because INC-41`);
    const message = await h.approvalMessage(held);
    await clickOn(h, ANA, 'approve', message);
    await untilActive(h, message);
    const expiresAt = (await h.store.get(held))?.expiresAt as number;

    // The same level again: refused where it was typed; no second grant.
    const before = (await h.grants()).length;
    let after = h.slack.calls.length;
    await h.command(ALICE, `request ${h.namespace} for 1h because INC-41 more time`);
    const refusal = await ephemeralTo(h.slack, ALICE, after, (t) => t.includes('already have'));
    expect(refusal).toContain(`You already have \`debug\` in ${h.namespace} on dev: \`${held}\` lasts until`);
    // Its end as a Slack date, each reader in their own time zone (minute precision, as humanTime).
    expect(refusal).toContain(slackTime(Math.floor(expiresAt / 60_000) * 60_000));
    expect(refusal).toContain(`/eks-access extend ${held} for 1h`);
    expect((await h.grants()).length).toBe(before);

    // Another level: asked; the reply and the new approval message say what is already held.
    after = h.slack.calls.length;
    const second = await requestedId(h, ALICE, `request ${h.namespace} as view because INC-41 read logs`);
    const reply = await ephemeralTo(h.slack, ALICE, after, (t) => t.includes(second));
    const heldLine = `\`debug\` here until ${slackTime(expiresAt)} (\`${held}\`)`;
    expect(reply).toContain(`You already have ${heldLine}`);
    const secondMessage = await h.approvalMessage(second);
    expect(blocksText(h.slack.message(secondMessage.channel, secondMessage.ts)?.blocks)).toContain(
      `<@${ALICE}> already has ${heldLine}`,
    );
    expect((await h.store.get(second))?.alreadyHolds).toMatchObject({ grantId: held, level: 'debug' });
  });
});
