// `/eks-access <subcommand>`: one handler per subcommand of the grammar. The table is typed by the
// grammar's union, so a new subcommand without a handler does not compile.
import type { App } from '@slack/bolt';
import { breakGlass } from '../../../bot/break-glass.js';
import { cancelRequest } from '../../../bot/cancel.js';
import { decide } from '../../../bot/decide.js';
import { endAccess } from '../../../bot/end-access.js';
import { requestExtension } from '../../../bot/request-extension.js';
import { submitRequests } from '../../../bot/submit.js';
import { requestableNamespaces } from '../../../domain/decisions.js';
import { formatDuration, requireDuration } from '../../../domain/duration.js';
import { toAccessError } from '../../../domain/errors.js';
import { extensionsWaitingFor, homeFor, waitingFor } from '../../../shared/home.js';
import {
  approvalsMessage,
  extensionOutcomeText,
  groupRequestedText,
  helpMessage,
  listMessage,
  requestedText,
  slackTime,
  whoamiMessage,
  windowWords,
} from '../blocks.js';
import { type Command, parseCommand } from '../grammar.js';
import { asSlackMessage, guarded, type ListenerDeps, type Reply, textMessage } from './context.js';
import { openRequestForm } from './request-form.js';

export const SLASH_COMMAND = '/eks-access';

/** What one subcommand's handler gets: the parsed command, who typed it, and how to answer. */
interface Invocation<C> {
  command: C;
  user: string;
  reply: Reply;
  openForm: () => Promise<void>;
}

type CommandHandlers = {
  [K in Command['kind']]: (
    deps: ListenerDeps,
    call: Invocation<Extract<Command, { kind: K }>>,
  ) => Promise<void>;
};

const HANDLERS: CommandHandlers = {
  help: async (deps, { reply }) => {
    await reply(helpMessage(deps.policy));
  },
  'request-modal': async (_deps, { openForm }) => {
    await openForm();
  },
  request: async (deps, { command, user, reply }) => {
    const { kind: _, ...input } = command;
    const results = await submitRequests(deps, user, input);
    if (results.length > 1) {
      await reply(textMessage(groupRequestedText(results)));
      return;
    }
    const result = results[0] as (typeof results)[number];
    await reply(textMessage(requestedText(result.grant, result.need)));
  },
  list: async (deps, { user, reply }) => {
    await reply(listMessage(await homeFor(deps, user)));
  },
  approvals: async (deps, { user, reply }) => {
    await reply(
      approvalsMessage(
        await waitingFor(deps, user),
        deps.clock.now(),
        await extensionsWaitingFor(deps, user),
        (level) => deps.policy.levels[level]?.privileged ?? false,
      ),
    );
  },
  whoami: async (deps, { user, reply }) => {
    const profile = await deps.directory.profile(user);
    const choices = requestableNamespaces(deps.policy).map(({ cluster, namespace }) => {
      const ns = deps.policy.clusters[cluster]?.namespaces.find((n) => n.name === namespace);
      return `\`${namespace}\` on \`${cluster}\` as ${ns?.levels.map((l) => `\`${l}\``).join(', ')}`;
    });
    try {
      await reply(whoamiMessage(user, await deps.identity.principalFor(profile), undefined, choices));
    } catch (error) {
      const e = toAccessError(error);
      await reply(whoamiMessage(user, undefined, `${e.message}. ${e.hint ?? ''}`, choices));
    }
  },
  cancel: async (deps, { command, user, reply }) => {
    await cancelRequest(deps, command.id, user);
    await reply(textMessage(`Cancelled \`${command.id}\`.`));
  },
  done: async (deps, call) => endNow(deps, call),
  breakglass: async (deps, { command, user, reply }) => {
    const { kind: _, ...input } = command;
    const { grant } = await breakGlass(deps, user, input);
    await reply(
      textMessage(
        `:rotating_light: Break-glass: \`${grant.id}\` gives you \`${grant.level}\` in \`${grant.namespace}\` on \`${grant.cluster}\` now (rule \`${grant.breakGlass?.rule}\`); the DM with the commands follows. Every approver was told, and one of them will review it.`,
      ),
    );
  },
  approve: async (deps, { command, user, reply }) => {
    const shortenTo = command.duration === undefined ? undefined : requireDuration(command.duration);
    const result = await decide(deps, command.id, user, {
      kind: 'approve',
      reason: command.reason,
      shortenTo,
    });
    await reply(
      textMessage(
        result.decisive
          ? `Approved \`${result.grant.id}\`${shortenTo !== undefined ? ` for ${formatDuration(result.grant.durationSeconds)}` : ''}.`
          : `Your approval of \`${result.grant.id}\` is recorded: ${result.grant.approvals.length} of ${result.grant.requiredApprovals}.`,
      ),
    );
  },
  'done-all': async (deps, { user, reply }) => {
    const mine = (await deps.store.listByStatus(['approved', 'active'])).filter(
      (g) => g.requester.slackUserId === user,
    );
    if (mine.length === 0) {
      await reply(textMessage('You have no access to give back.'));
      return;
    }
    for (const grant of mine) await endAccess(deps, grant.id, user, 'done');
    await reply(
      textMessage(
        `Ending ${mine.map((g) => `\`${g.id}\` (\`${g.namespace}\` on \`${g.cluster}\`)`).join(', ')}; access is being removed now.`,
      ),
    );
  },
  revoke: async (deps, call) => endNow(deps, call),
  extend: async (deps, { command, user, reply }) => {
    const outcome = await requestExtension(deps, command.id, user, command.duration);
    await reply(textMessage(extensionOutcomeText(outcome)));
  },
};

async function endNow(
  deps: ListenerDeps,
  { command, user, reply }: Invocation<{ kind: 'done' | 'revoke'; id: string; reason?: string }>,
): Promise<void> {
  await endAccess(deps, command.id, user, command.kind, command.reason);
  await reply(textMessage(`Ending \`${command.id}\`; access is being removed now.`));
}

/** Looks the handler up under the command's own kind, keeping the pairing typed. */
function dispatch<K extends Command['kind']>(
  deps: ListenerDeps,
  call: Invocation<Extract<Command, { kind: K }>>,
): Promise<void> {
  const handler = HANDLERS[call.command.kind as K];
  return handler(deps, call);
}

export function registerCommands(app: App, deps: ListenerDeps): void {
  app.command(SLASH_COMMAND, async ({ command, ack, respond, client }) => {
    await ack();
    const user = command.user_id;
    const reply: Reply = (m) => respond({ response_type: 'ephemeral', ...asSlackMessage(m) });
    await guarded(deps, reply, async () => {
      await dispatch(deps, {
        command: parseCommand(command.text ?? ''),
        user,
        reply,
        openForm: () => openRequestForm(deps, client, command.trigger_id, user),
      });
    });
  });
}
