// The Notifier port on Slack: keeps the approval message in step with the grant, DMs the requester,
// posts to the audit channel and refreshes App Home. Built from a WebClient (no Bolt App), so the
// worker uses the same code. Every step is best-effort: a Slack outage never undoes a grant.
// One file, over the usual size, because it is one class whose delivery steps share its client, locks and
// message references; the messages it sends are built in messages/.

import type { webApi } from '@slack/bolt';
import type { Policy } from '../../config/policy.js';
import type { Clock } from '../../domain/clock.js';
import { namespaceMatches, namespacePolicyOf } from '../../domain/decisions.js';
import { isAccessError } from '../../domain/errors.js';
import { type Grant, setupDueAt, setupOverdue } from '../../domain/grant.js';
import { isRobotRequester } from '../../domain/robots.js';
import { accessCommands } from '../../domain/text.js';
import { windowEnd } from '../../domain/window.js';
import type { AuditLog } from '../../ports/audit-log.js';
import type { Directory } from '../../ports/directory.js';
import type { GrantStore } from '../../ports/grant-store.js';
import type { Locks } from '../../ports/lock.js';
import type { GrantEvent, Notifier } from '../../ports/notifier.js';
import { homeFor } from '../../shared/home.js';
import type { Logger } from '../logger.js';
import {
  type ApprovalMessagePart,
  activatedDm,
  approvalLayout,
  approvalMessage,
  approvalPostFailedDm,
  approverMentions,
  approverReminder,
  approverReminderDm,
  auditLine,
  breakGlassAlertDm,
  breakGlassOverdueMessage,
  cancelledDm,
  deniedDm,
  dmUndeliveredNote,
  endedDm,
  expiringDm,
  extendedDm,
  extensionDeniedDm,
  extensionFailedDm,
  failedDm,
  homeView,
  type Message,
  section,
  setupDeadlineMs,
  setupSlowDm,
  sharedApprovalMessage,
  sharedApproverReminder,
  threadNoteText,
  windowApprovedDm,
  windowOpensSoonDm,
  withApprovalLink,
} from './blocks.js';
import { SlackDirectory } from './directory.js';
import { isRateLimited, slackErrorCode } from './errors.js';

export interface SlackNotifierDeps {
  client: webApi.WebClient;
  policy: Policy;
  store: GrantStore;
  clock: Clock;
  logger: Logger;
  directory?: Directory;
  /** Records Slack failures that leave a grant without its approvers (approval-post-failed). */
  audit?: AuditLog;
  /**
   * Serialises the read-render-update of a message several grants share (the targets of one request
   * in one channel), across processes; without it, within this process only.
   */
  locks?: Locks;
}

/**
 * How the side effects of one notification run. Directly (grantChanged): each once, best-effort. In
 * the outbox (src/adapters/queue/slack-outbox.ts): each step at most once per notification, with
 * transient failures retried later.
 */
export interface DeliverySteps {
  /** Runs one named side effect; undefined when it failed (or already ran). */
  run<T>(step: string, work: () => Promise<T>, options?: StepOptions): Promise<T | undefined>;
  /**
   * Reads what later steps need (not recorded: read again on a retry); undefined when it failed, and
   * a transient failure makes the notification retried, never read as "nothing".
   */
  read<T>(what: string, work: () => Promise<T>): Promise<T | undefined>;
  /** Whether a step (with these options) that failed with `error` will be tried again. */
  willRetry(error: unknown, options?: StepOptions): boolean;
  /** Re-publishes these people's App Home. */
  refreshHomes(userIds: readonly string[]): Promise<void>;
  /**
   * Takes an audit line Slack refused for now (429: the channel is busy) to be posted later together
   * with others, one post for many. Absent where there is no such batch (direct delivery).
   */
  deferAuditLine?(channel: string, line: Message): Promise<void>;
}

/**
 * A step that carries access: the approval message of a new request, the DM with the commands, the
 * notice that access ended. It is retried (after transient failures) for as long as `stillNeeded`
 * says, not just the outbox's usual tries; when it cannot be delivered, `undelivered` tells the people
 * another way and the outbox counts it.
 */
export interface StepOptions {
  carriesAccess?: {
    stillNeeded(): boolean;
    undelivered(error: unknown): Promise<void>;
  };
}

/** DM channel ids remembered per process (a few hundred bytes each; cleared when full). */
const DM_CHANNELS_KEPT = 10_000;

/** How long a notice about ended access is worth retrying: after a day it is news to nobody. */
const ENDED_NOTICE_MS = 86_400_000;

export class SlackNotifier implements Notifier {
  readonly #deps: SlackNotifierDeps;
  readonly #directory: Directory;
  readonly #direct: DeliverySteps = {
    run: async (step, work, options) => {
      try {
        return await work();
      } catch (error) {
        this.#deps.logger.warn({ err: error, step }, `Slack notification step failed: ${step}`);
        const access = options?.carriesAccess;
        if (access) await this.#step(`${step}: told another way`, () => access.undelivered(error));
        return undefined;
      }
    },
    read: (what, work) => this.#step(what, work),
    willRetry: () => false,
    refreshHomes: async (userIds) => {
      await Promise.all(userIds.map((id) => this.publishHome(id)));
    },
  };

  readonly #locks: Locks;
  readonly #dmChannels = new Map<string, string>();

  constructor(deps: SlackNotifierDeps) {
    this.#deps = deps;
    this.#directory = deps.directory ?? new SlackDirectory(deps.client, deps.clock);
    this.#locks = deps.locks ?? new ProcessLocks();
  }

  async grantChanged(grant: Grant, event: GrantEvent): Promise<void> {
    await this.deliver(grant, event, this.#direct);
  }

  /** Every Slack side effect of one change of a grant, each a named step of `steps`. */
  async deliver(grant: Grant, event: GrantEvent, steps: DeliverySteps): Promise<void> {
    // Render the newest state we can see: an older event must never overwrite a newer message.
    const stored = await this.#step('read grant', () => this.#deps.store.get(grant.id));
    let latest = stored && stored.version >= grant.version ? stored : grant;
    const now = this.#deps.clock.now();
    // A new request's message is what asks the approvers: retried while the request waits.
    const asking: StepOptions =
      event.kind === 'requested'
        ? {
            carriesAccess: {
              stillNeeded: () => latest.status === 'pending' && this.#deps.clock.now() < latest.pendingUntil,
              // The requester is told by #approvalPostFailed (once, with what an admin must do).
              undelivered: async () => undefined,
            },
          }
        : {};
    // Who is mentioned as an approver: not people who have left the workspace.
    const shown =
      (await steps.read('active approvers', () => this.#mentionablePolicy(latest.namespace))) ??
      this.#deps.policy;
    const deadline = setupDeadlineMs(this.#deps.policy);
    if (event.kind === 'setup-overdue') {
      // Checked when it falls due: a grant set up (or ended) meanwhile has nothing to report.
      if (!setupOverdue(latest, now, deadline)) return;
      await steps.run('setup-overdue audit', async () =>
        this.#deps.audit?.append({
          action: 'setup-overdue',
          actor: 'system',
          grantId: latest.id,
          at: now,
          details: {
            cluster: latest.cluster,
            namespace: latest.namespace,
            dueAt: new Date(setupDueAt(latest, deadline) ?? now).toISOString(),
          },
        }),
      );
    }
    await steps.run(
      'approval message',
      () => this.#upsertApprovalMessage(latest, event, now, steps, asking, shown),
      asking,
    );
    // A target sharing its message may have had it recorded just now (by itself or a sibling): thread
    // notes and DM links go to it.
    if (!latest.approvalMessage && latest.group?.targets) {
      const placed = (await this.#step('read message', () => this.#deps.store.get(latest.id)))
        ?.approvalMessage;
      if (placed) latest = { ...latest, approvalMessage: placed };
    }
    await steps.run('thread note', () => this.#threadNote(latest, event, now));
    if (event.kind === 'approvers-reminded') await this.#remindApprovers(latest, now, steps, shown);
    if (event.kind === 'break-glass-used') {
      // Every approver of the namespace, directly: the channel alone is too easy to miss at 3 a.m.
      for (const approver of (await steps.read('approvers', () => this.#approversOf(latest))) ?? []) {
        if (approver === latest.requester.slackUserId) continue;
        await steps.run(`break-glass DM ${approver}`, () =>
          this.dm(approver, breakGlassAlertDm(latest, now)),
        );
      }
    }
    if (event.kind === 'break-glass-overdue') {
      await steps.run('break-glass escalation', () => this.#escalateBreakGlass(latest, now));
    }
    const dm = this.#dmFor(latest, event, now);
    if (dm)
      await steps.run(
        'requester DM',
        async () => this.dm(latest.requester.slackUserId, await this.#linked(latest, dm)),
        this.#requesterDmOptions(latest, event, now),
      );
    const channel = this.#deps.policy.settings.auditChannel;
    // A reminder changes nothing about the request: the audit trail has no line for it.
    if (channel && event.kind !== 'approvers-reminded') {
      const actor =
        'by' in event ? event.by : event.kind === 'requested' ? latest.requester.slackUserId : 'system';
      const line = auditLine(
        latest,
        event.kind,
        actor,
        now,
        this.#deps.policy.levels[latest.level]?.privileged,
      );
      await steps.run('audit channel', async () => {
        try {
          await this.#deps.client.chat.postMessage({ channel, ...line });
        } catch (error) {
          // Under load, fewer posts: a refused line joins the others waiting, posted together.
          if (!steps.deferAuditLine || !isRateLimited(error)) throw error;
          await steps.deferAuditLine(channel, line);
        }
      });
    }
    await steps.run('app home', async () => steps.refreshHomes(await this.homeAudience(latest)));
  }

  /**
   * An unreviewed break-glass use past its deadline: a fresh copy of the message (with the review
   * buttons) in the approval channel, where it is seen again, and in the rule's escalation channel.
   */
  async #escalateBreakGlass(grant: Grant, now: number): Promise<void> {
    const channel = namespacePolicyOf(this.#deps.policy, grant)?.channel;
    const rule = this.#deps.policy.breakGlass.find((r) => r.name === grant.breakGlass?.rule);
    const overdue = breakGlassOverdueMessage(this.#deps.policy, grant, now);
    for (const target of [channel, rule?.escalationChannel]) {
      if (target) await this.#deps.client.chat.postMessage({ channel: target, ...overdue });
    }
  }

  /**
   * The requester's DMs that carry access: the commands (activated, window-opens-soon), retried while
   * the grant can still be used; the notice that access ended, for a day. Undeliverable (their DMs
   * refuse the app, or the grant ended first), they are told in the approval message's thread, which
   * mentions them, and App Home shows their access as it stands.
   */
  #requesterDmOptions(grant: Grant, event: GrantEvent, now: number): StepOptions {
    const usable = () =>
      (grant.status === 'active' || grant.status === 'approved') &&
      this.#deps.clock.now() < (grant.expiresAt ?? windowEnd(grant) ?? now);
    const stillNeeded =
      event.kind === 'activated' || event.kind === 'window-opens-soon'
        ? usable
        : event.kind === 'ended'
          ? () => this.#deps.clock.now() < (grant.endedAt ?? now) + ENDED_NOTICE_MS
          : undefined;
    if (!stillNeeded) return {};
    return {
      carriesAccess: {
        stillNeeded,
        undelivered: async (error) => {
          const where = grant.approvalMessage;
          if (!where) return;
          await this.#deps.client.chat.postMessage({
            channel: where.channel,
            thread_ts: where.ts,
            ...dmUndeliveredNote(grant, event.kind, slackErrorCode(error)),
          });
        },
      },
    };
  }

  /**
   * A direct message: conversations.open, then chat.postMessage into that DM. A person's DM channel
   * never changes, so it is opened once per process: in a burst, conversations.open (Tier 3, about 50
   * a minute) is not spent again on someone already written to.
   */
  async dm(slackUserId: string, message: Message): Promise<void> {
    // A CI role asking through the API has nobody to write to: it reads its status from the API.
    if (isRobotRequester(slackUserId)) return;
    let channel = this.#dmChannels.get(slackUserId);
    if (!channel) {
      const opened = await this.#deps.client.conversations.open({ users: slackUserId });
      channel = opened.channel?.id;
      if (!channel) throw new Error('conversations.open returned no channel');
      if (this.#dmChannels.size >= DM_CHANNELS_KEPT) this.#dmChannels.clear();
      this.#dmChannels.set(slackUserId, channel);
    }
    await this.#deps.client.chat.postMessage({ channel, ...message });
  }

  /** Audit lines that waited (a burst met the channel's limit), as one post: one line per block. */
  async postAuditLines(channel: string, lines: readonly Message[]): Promise<void> {
    await this.#deps.client.chat.postMessage({
      channel,
      text: lines.map((l) => l.text).join('\n'),
      blocks: lines.flatMap((l) => l.blocks) as never,
    });
  }

  /** Re-publishes App Home for the requester and, while a decision is open, the approvers. */
  async refreshHomes(grant: Grant): Promise<void> {
    await this.#direct.refreshHomes(await this.homeAudience(grant));
  }

  /** Whose App Home shows this grant now: the requester and, while a decision is open, the approvers. */
  async homeAudience(grant: Grant): Promise<string[]> {
    const people = new Set([grant.requester.slackUserId]);
    if (
      grant.status === 'pending' ||
      grant.status === 'approved' ||
      grant.status === 'denied' ||
      grant.status === 'cancelled'
    ) {
      for (const id of await this.#approversOf(grant)) people.add(id);
    } else if (
      grant.status === 'active' &&
      (grant.extensionRequest || grant.extensionDenial || grant.extensions.some((e) => !e.auto))
    ) {
      // An extension waits for the approvers, or was just decided: their Home lists or drops it.
      for (const id of await this.#approversOf(grant)) people.add(id);
    }
    return [...people];
  }

  async publishHome(slackUserId: string): Promise<void> {
    const model = await homeFor({ ...this.#deps, directory: this.#directory }, slackUserId);
    await this.#deps.client.views.publish({
      user_id: slackUserId,
      view: homeView(
        model,
        (level) => this.#deps.policy.levels[level]?.privileged ?? false,
        (grant) => accessCommands(this.#deps.policy, grant),
      ) as never,
    });
  }

  /**
   * Who may approve this grant and is still in the workspace: the named people and the groups'
   * members, deactivated people left out (never DMed, never counted). A group Slack will never list
   * (a plan without user groups) is reported and the others still reached; a lookup that failed for
   * now throws, so the step is retried rather than sent to nobody.
   */
  async #approversOf(grant: Grant): Promise<string[]> {
    const ns = namespacePolicyOf(this.#deps.policy, grant);
    if (!ns) return [];
    const fromGroups = await Promise.all(
      ns.approvers.groups.map((g) =>
        this.#directory.membersOf(g).catch((error: unknown) => {
          if (!isAccessError(error) || error.kind !== 'misconfigured') throw error;
          this.#deps.logger.warn({ err: error, group: g }, error.message);
          return [];
        }),
      ),
    );
    return this.#directory.active([...new Set([...ns.approvers.users, ...fromGroups.flat()])]);
  }

  /**
   * The policy as approval messages and reminders about `namespace` show it: named approvers who
   * have left the workspace are not mentioned (groups are mentioned as groups; Slack resolves them).
   * Only that namespace's entries (on every cluster: the targets of one request) are looked up, so a
   * large policy does not spend users.info on people this message does not name.
   */
  async #mentionablePolicy(namespace: string): Promise<Policy> {
    const policy = this.#deps.policy;
    const concerned = (ns: { name: string }) => namespaceMatches(ns.name, namespace);
    const named = [
      ...new Set(
        Object.values(policy.clusters).flatMap((c) =>
          c.namespaces.filter(concerned).flatMap((ns) => ns.approvers.users),
        ),
      ),
    ];
    const active = new Set(await this.#directory.active(named));
    if (active.size === named.length) return policy;
    const clusters = Object.fromEntries(
      Object.entries(policy.clusters).map(([name, c]) => [
        name,
        {
          ...c,
          namespaces: c.namespaces.map((ns) =>
            concerned(ns)
              ? {
                  ...ns,
                  approvers: { ...ns.approvers, users: ns.approvers.users.filter((u) => active.has(u)) },
                }
              : ns,
          ),
        },
      ]),
    );
    return { ...policy, clusters };
  }

  async #upsertApprovalMessage(
    grant: Grant,
    event: GrantEvent,
    now: number,
    steps: DeliverySteps,
    options: StepOptions,
    shown: Policy,
  ): Promise<void> {
    if ((grant.group?.targets?.length ?? 0) > 1) {
      await this.#upsertSharedMessage(grant, event, now, steps, options, shown);
      return;
    }
    const message = approvalMessage(shown, grant, now);
    if (grant.approvalMessage) {
      await this.#deps.client.chat.update({ ...grant.approvalMessage, ...message });
      return;
    }
    const channel = namespacePolicyOf(this.#deps.policy, grant)?.channel;
    if (!channel) return;
    let posted: Awaited<ReturnType<webApi.WebClient['chat']['postMessage']>>;
    try {
      posted = await this.#deps.client.chat.postMessage({ channel, ...message });
    } catch (error) {
      // Reported once, when no retry will follow; later events try the post again (an admin may have
      // invited the bot since).
      if (event.kind === 'requested' && !steps.willRetry(error, options))
        await this.#approvalPostFailed([grant], channel, error);
      throw error;
    }
    if (!posted.ts) return;
    await this.#remember(grant.id, { channel: posted.channel ?? channel, ts: posted.ts });
  }

  /**
   * The message shared by the targets of one request in one channel (approvalLayout): re-rendered
   * whole from the store on every change of any of them, under one lock per message, so two targets
   * changing at once (two workers) never leave either shown in an older state — each render reads every
   * target after the change that asked for it. Whichever target's notification finds no message posts
   * it (the first, as all targets are stored before any is announced) and records it on every target
   * of that message; the others update it.
   */
  async #upsertSharedMessage(
    grant: Grant,
    event: GrantEvent,
    now: number,
    steps: DeliverySteps,
    options: StepOptions,
    shown: Policy,
  ): Promise<void> {
    const placed = await this.#placeInLayout(grant);
    const first = placed?.part.grants[0];
    if (!first) return; // no approval channel for this target
    await this.#locks.withLock(
      `approval-message-${first.id}`,
      async () => {
        // Read again under the lock: the newest version of every target of this message.
        const fresh = await this.#placeInLayout(grant);
        if (!fresh) return;
        const { part, layout } = fresh;
        const only = part.grants.length === 1 ? part.grants[0] : undefined;
        const message = only
          ? approvalMessage(shown, only, now)
          : sharedApprovalMessage(shown, part.grants, now, part);
        const where =
          part.grants.find((g) => g.id === grant.id)?.approvalMessage ??
          part.grants.find((g) => g.approvalMessage)?.approvalMessage;
        if (where) {
          await this.#deps.client.chat.update({ ...where, ...message });
          for (const g of part.grants) if (!g.approvalMessage) await this.#remember(g.id, where);
          return;
        }
        let posted: Awaited<ReturnType<webApi.WebClient['chat']['postMessage']>>;
        try {
          posted = await this.#deps.client.chat.postMessage({ channel: part.channel, ...message });
        } catch (error) {
          // Once per channel: only the channel's first target still waiting for people reports it
          // (every target tries to post while there is no message; the others fail quietly).
          const inChannel = layout.filter((p) => p.channel === part.channel).flatMap((p) => p.grants);
          const reporter = inChannel.find((g) => !g.approvals.some((a) => a.autoRule));
          if (event.kind === 'requested' && reporter?.id === grant.id && !steps.willRetry(error, options))
            await this.#approvalPostFailed(inChannel, part.channel, error);
          throw error;
        }
        if (!posted.ts) return;
        const at = { channel: posted.channel ?? part.channel, ts: posted.ts };
        for (const g of part.grants) await this.#remember(g.id, at);
      },
      { waitMs: 30_000 },
    );
  }

  /**
   * Every target of a grant's request, newest versions in the request's order (one purged since is
   * left out), laid out in messages; the part holding this grant. Undefined when it has no channel.
   */
  async #placeInLayout(
    grant: Grant,
  ): Promise<{ part: ApprovalMessagePart; layout: ApprovalMessagePart[] } | undefined> {
    const ids = grant.group?.targets ?? [grant.id];
    const stored = await Promise.all(ids.map((id) => this.#deps.store.get(id)));
    const targets = stored.flatMap((g, i) => {
      const newest = ids[i] === grant.id && (!g || g.version < grant.version) ? grant : g;
      return newest ? [newest] : [];
    });
    const layout = approvalLayout(this.#deps.policy, targets);
    const part = layout.find((p) => p.grants.some((g) => g.id === grant.id));
    return part ? { part, layout } : undefined;
  }

  /**
   * Nobody was asked: the requester learns why and what an admin must do, and the audit trail says so
   * for each grant concerned (a grant's own record stays as it is: no state change, it still waits for
   * a decision). `grants`: the targets of one request whose message this channel refused.
   */
  async #approvalPostFailed(all: readonly Grant[], channel: string, error: unknown): Promise<void> {
    const first = all[0];
    if (!first) return;
    const code = slackErrorCode(error);
    for (const grant of all) {
      await this.#step('approval-post-failed audit', async () =>
        this.#deps.audit?.append({
          action: 'approval-post-failed',
          actor: 'system',
          grantId: grant.id,
          at: this.#deps.clock.now(),
          details: { channel, error: code ?? 'unknown' },
        }),
      );
    }
    await this.#step('approval-post-failed DM', () =>
      this.dm(first.requester.slackUserId, approvalPostFailedDm(all, channel, code)),
    );
  }

  /** Stores where the message lives (not a state change: same status, version bumped for CAS). */
  async #remember(grantId: string, where: { channel: string; ts: string }): Promise<void> {
    for (let i = 0; i < 20; i++) {
      const current = await this.#deps.store.get(grantId);
      if (!current || current.approvalMessage) return;
      if (
        await this.#deps.store.replace({ ...current, approvalMessage: where, version: current.version + 1 })
      )
        return;
    }
  }

  /**
   * Every change of a request is also a reply in its approval message's thread, so the channel shows
   * the story (the message itself only shows the latest state).
   */
  async #threadNote(grant: Grant, event: GrantEvent, now: number): Promise<void> {
    if (!grant.approvalMessage) return;
    const text = threadNoteText(grant, event, now);
    if (!text) return;
    const note: Message = { text, blocks: [section(text)] };
    await this.#deps.client.chat.postMessage({
      channel: grant.approvalMessage.channel,
      thread_ts: grant.approvalMessage.ts,
      ...note,
    });
  }

  /**
   * Asks the approvers again: a reply in the approval message's thread that mentions them and is also
   * shown in the channel; by DM to each approver when there is no approval message to reply to.
   */
  async #remindApprovers(grant: Grant, now: number, steps: DeliverySteps, shown: Policy): Promise<void> {
    if (grant.status !== 'pending') return;
    const ns = namespacePolicyOf(shown, grant);
    if (!ns) return;
    if (!grant.approvalMessage) {
      // One step per approver: a refusal (429) for one retries that DM only, never the ones sent.
      const people = await steps.read('approvers to remind', () => this.#approversToAsk(grant));
      for (const id of people ?? [])
        await steps.run(`approver reminder DM ${id}`, () => this.dm(id, approverReminderDm(grant, now)));
      return;
    }
    const where = grant.approvalMessage;
    await steps.run('approver reminder', async () => {
      const reminder =
        (grant.group?.targets?.length ?? 0) > 1
          ? await this.#sharedReminder(grant, now, shown)
          : approverReminder(grant, approverMentions(ns.approvers), now);
      if (!reminder) return;
      await this.#deps.client.chat.postMessage({
        channel: where.channel,
        thread_ts: where.ts,
        reply_broadcast: true,
        ...reminder,
      });
    });
  }

  /** The approvers still to decide (not the requester, not who already approved), each once. */
  async #approversToAsk(grant: Grant): Promise<string[]> {
    const decided = new Set(grant.approvals.map((a) => a.slackUserId));
    const people = (await this.#approversOf(grant)).filter(
      (id) => id !== grant.requester.slackUserId && !decided.has(id),
    );
    return [...new Set(people)];
  }

  /**
   * The targets of one request sharing a message were asked together, so their reminders fall due
   * together: the first target still waiting speaks for all of them (one reply, every approver
   * mentioned once); the others have nothing to add (undefined).
   */
  async #sharedReminder(grant: Grant, now: number, shown: Policy): Promise<Message | undefined> {
    const placed = await this.#placeInLayout(grant);
    const waiting = (placed?.part.grants ?? [grant]).filter((g) => g.status === 'pending');
    if (waiting[0]?.id !== grant.id) return undefined;
    // Each approver (person or group) once, however many of the targets they decide.
    const approvers = waiting.flatMap((g) => namespacePolicyOf(shown, g)?.approvers ?? []);
    const mentions = approverMentions({
      users: [...new Set(approvers.flatMap((a) => a.users))],
      groups: [...new Set(approvers.flatMap((a) => a.groups))],
    });
    return sharedApproverReminder(waiting, mentions, now);
  }

  /** A DM about a request links to its approval message, when there is one (best-effort). */
  async #linked(grant: Grant, dm: Message): Promise<Message> {
    if (!grant.approvalMessage) return dm;
    const link = await this.#step('approval permalink', () =>
      this.#deps.client.chat.getPermalink({
        channel: grant.approvalMessage?.channel ?? '',
        message_ts: grant.approvalMessage?.ts ?? '',
      }),
    );
    return link?.permalink ? withApprovalLink(dm, link.permalink) : dm;
  }

  #dmFor(grant: Grant, event: GrantEvent, now: number): Message | undefined {
    switch (event.kind) {
      case 'activated':
        return activatedDm(this.#deps.policy, grant, now, event.loginProvenMs);
      case 'denied':
        return deniedDm(grant);
      case 'failed':
        return failedDm(grant);
      case 'expiring-soon':
        return expiringDm(grant, now);
      case 'window-opens-soon':
        return windowOpensSoonDm(this.#deps.policy, grant);
      case 'approved':
        return grant.startsAt !== undefined && grant.startsAt > now ? windowApprovedDm(grant) : undefined;
      case 'ended':
        return endedDm(grant, now);
      case 'extended':
        return extendedDm(grant, event.by, event.seconds, now);
      case 'extension-denied':
        return extensionDeniedDm(grant, now);
      case 'extension-failed':
        return extensionFailedDm(grant, event.seconds, event.reason, now);
      case 'setup-overdue':
        return setupSlowDm(grant, now, setupDeadlineMs(this.#deps.policy));
      case 'cancelled':
        return event.by === 'system' ? cancelledDm(grant, now) : undefined;
      default:
        return undefined;
    }
  }

  async #step<T>(what: string, work: () => Promise<T>): Promise<T | undefined> {
    try {
      return await work();
    } catch (error) {
      this.#deps.logger.warn({ err: error, step: what }, `Slack notification step failed: ${what}`);
      return undefined;
    }
  }
}

/**
 * Locks within this process only: what the notifier uses when it is given none (the bot without Redis,
 * tests). Keys queue their holders; nothing is leased, as nothing outlives the process.
 */
class ProcessLocks implements Locks {
  readonly #tails = new Map<string, Promise<unknown>>();

  async withLock<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(key) ?? Promise.resolve();
    const run = before.then(() => work());
    const tail = run.catch(() => undefined);
    this.#tails.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}
