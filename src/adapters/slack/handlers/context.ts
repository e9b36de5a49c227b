// What every Slack handler shares: its dependencies, how it answers the clicker, how a use case's
// failure becomes words, and how button values are read (ids only; anything else is refused).
import type { webApi } from '@slack/bolt';
import type { FlowDeps } from '../../../bot/deps.js';
import type { ExtensionAsk } from '../../../domain/decisions.js';
import { badInput, toAccessError } from '../../../domain/errors.js';
import { EXTENSION_ID, GRANT_ID } from '../../../domain/grant.js';
import type { Logger } from '../../logger.js';
import { errorMessage, type Message, section } from '../blocks.js';
import { slackAccessError, slackRefusalForPerson } from '../errors.js';
import type { SlackNotifier } from '../notifier.js';

export interface ListenerDeps extends FlowDeps {
  /**
   * The Slack notifier itself, delivering at once: a listener's own DMs and App Home. State changes go
   * through `notifier` (FlowDeps): the durable outbox, with metrics (ports/notifier.ts says who wires what).
   */
  slackNotifier: SlackNotifier;
  logger: Logger;
}

/** Sends one message to whoever the handler answers. */
export type Reply = (message: Message) => Promise<unknown>;

export const textMessage = (text: string): Message => ({ text, blocks: [section(text)] });

/**
 * Our Block Kit builders return plain records (pure, checked by test/unit/slack-blocks.test.ts against
 * the limits the fake Slack enforces); the SDK wants its own block and view types. One place converts.
 */
export const asView = (view: Record<string, unknown>) => view as unknown as SlackView;

type SlackView = webApi.ViewsOpenArguments['view'];
type SlackBlocks = Extract<webApi.ChatPostMessageArguments, { blocks: unknown }>['blocks'];

/** A message in the SDK's types (see asView), e.g. for Bolt's respond(). */
export const asSlackMessage = (m: Message) => ({ text: m.text, blocks: m.blocks as unknown as SlackBlocks });

/** Runs a use case after the ack; any failure becomes an ephemeral refusal in the user's words. */
export async function guarded(deps: ListenerDeps, reply: Reply, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    const accessError = slackRefusalForPerson(error) ?? slackAccessError(error) ?? toAccessError(error);
    if (accessError.kind === 'internal' || accessError.kind === 'unavailable') {
      deps.logger.error({ err: error }, 'slack listener failed');
    }
    await reply(errorMessage(accessError)).catch((e: unknown) =>
      deps.logger.warn({ err: e }, 'could not reply'),
    );
  }
}

/**
 * Answers through the clicked message's response_url: it reaches the clicker in any channel, also
 * under an ephemeral list, where chat.postEphemeral needs the bot in the channel. A DM otherwise
 * (App Home and modals have no response_url).
 */
export function responseUrlOrDm(deps: ListenerDeps, responseUrl: string | undefined, user: string): Reply {
  const dm: Reply = (m) => deps.slackNotifier.dm(user, m);
  if (!responseUrl) return dm;
  return async (m) => {
    const answered = await fetch(responseUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, ...m }),
      signal: AbortSignal.timeout(5_000),
    }).then(
      (response) => response.ok,
      () => false,
    );
    // Expired (30 min) or used up (5 posts): the answer still arrives, by DM.
    if (!answered) await dm(m);
  };
}

/** A button's value as a grant id; tampered values are refused before anything is read. */
export function grantIdOf(value: string | undefined): string {
  if (!value || !GRANT_ID.test(value))
    throw badInput('That button does not name a request', 'Use the buttons eks-access posted.');
  return value;
}

/**
 * Extension buttons carry `<grant id>/<extension id>` (or, for asks recorded before ids, the time it
 * was asked): the click decides the ask its approver saw, never a newer one.
 */
export function extensionClickOf(value: string | undefined): { grantId: string; asked: ExtensionAsk } {
  const [grant, ref] = (value ?? '').split('/', 2);
  const grantId = grantIdOf(grant);
  if (ref && EXTENSION_ID.test(ref)) return { grantId, asked: { id: ref } };
  if (ref && /^\d{1,15}$/.test(ref)) return { grantId, asked: { at: Number(ref) } };
  return { grantId, asked: {} };
}
