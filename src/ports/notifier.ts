// How the workflow tells people what happened. The Slack adapter implements it; the domain never
// knows about Block Kit. Every method is best-effort: a chat outage must not undo a grant.
//
// One port, one name (`notifier`) wherever a use case takes it; what stands behind it per process:
// - SlackNotifier (adapters/slack/notifier.ts) renders and delivers, step by step. The bot's listeners also
//   hold it directly as `slackNotifier`, for their own replies and App Home.
// - SlackOutbox (adapters/queue/slack-outbox.ts) is the Notifier the bot and the worker give their use
//   cases: it queues the event durably and a SlackNotifier delivers it (in whichever process is alive).
// - instrumentNotifier (adapters/metrics.ts) wraps either to count events; logNotifier (bin/engine-runtime.ts)
//   is the CLI's and a worker's without Slack settings.

import type { Grant } from '../domain/grant.js';
import type { AccessPlan } from '../domain/plan.js';

export type GrantEvent =
  | { kind: 'requested'; plan?: AccessPlan }
  | { kind: 'approval-progress'; by: string }
  | { kind: 'approved'; by: string }
  | { kind: 'denied'; by: string; reason: string }
  | { kind: 'cancelled'; by: string; why: string }
  /**
   * `usableAt`: when everything was written and verified (the grant's `activatedAt` is earlier: when its
   * clock started, before the writes). `loginProvenMs`: from the login probe's first attempt to its last
   * success in a row — the part of the activation spent waiting for IAM, EKS and the authenticator to
   * agree (absent where no login is probed). Both optional: events queued by an older version lack them.
   */
  | { kind: 'activated'; usableAt?: number; loginProvenMs?: number }
  | { kind: 'extended'; by: string; seconds: number }
  | { kind: 'extension-requested'; by: string; seconds: number }
  | { kind: 'extension-denied'; by: string; seconds: number; reason: string }
  | { kind: 'extension-approval-progress'; by: string; approvals: number; required: number }
  /** A claimed extension that could not be applied: the expiry did not move. */
  | { kind: 'extension-failed'; seconds: number; reason: string }
  | { kind: 'expiring-soon' }
  /** Someone used break-glass: every approver of the namespace is told directly. */
  | { kind: 'break-glass-used'; by: string }
  | { kind: 'break-glass-reviewed'; by: string; verdict: 'acknowledged' | 'flagged' }
  /** Nobody reviewed a break-glass use in time: re-posted and escalated. */
  | { kind: 'break-glass-overdue' }
  /** An approved window opens soon: the requester gets the commands ahead of time. */
  | { kind: 'window-opens-soon' }
  /** Nobody has decided yet and the request will lapse: the approvers are asked again. */
  | { kind: 'approvers-reminded' }
  /** Approved but still not set up past the policy's setupDeadline: requester and approvers are told. */
  | { kind: 'setup-overdue' }
  | { kind: 'ended' }
  | { kind: 'failed'; reason: string };

export interface Notifier {
  /** Reflect a change of `grant` to the people concerned (approval message, requester DM, audit channel). */
  grantChanged(grant: Grant, event: GrantEvent): Promise<void>;
  /**
   * Deliver `event` at `at` (epoch ms), not now, rendering the grant as it is then; for a check that
   * must run even when the worker does not (the bot consumes the same outbox). Idempotent per grant,
   * event and version.
   */
  grantCheckLater?(grant: Grant, event: GrantEvent, at: number): Promise<void>;
}
