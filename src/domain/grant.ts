// A request for access and the grant it becomes: one record, one closed state machine.
//
//   pending ──approve(quorum)──▶ approved ──activate──▶ active ──end──▶ revoking ──▶ expired
//      │                            │                     │  ▲                    ├─▶ revoked
//      ├──deny──▶ denied            └──fail──▶ failed     └──┘ extend              └─▶ relinquished
//      ├──cancel / lapse──▶ cancelled
//
// `revoking` carries why the grant ends (`endReason`), so the terminal state is known before the
// clean-up finishes and a retried clean-up lands in the same place.
import { conflict } from './errors.js';

export const GRANT_STATUSES = [
  'pending',
  'approved',
  'active',
  'revoking',
  'expired',
  'revoked',
  'relinquished',
  'denied',
  'cancelled',
  'failed',
] as const;
export type GrantStatus = (typeof GRANT_STATUSES)[number];

export const END_REASONS = ['expired', 'revoked', 'relinquished'] as const;
export type EndReason = (typeof END_REASONS)[number];

export const TERMINAL_STATUSES: ReadonlySet<GrantStatus> = new Set([
  'expired',
  'revoked',
  'relinquished',
  'denied',
  'cancelled',
  'failed',
]);
/** Statuses in which something may exist on a cluster for this grant. */
export const LIVE_STATUSES: ReadonlySet<GrantStatus> = new Set(['approved', 'active', 'revoking']);

const ALLOWED: Readonly<Record<GrantStatus, readonly GrantStatus[]>> = {
  pending: ['pending', 'approved', 'denied', 'cancelled'],
  approved: ['active', 'failed', 'revoking'],
  active: ['active', 'revoking'],
  revoking: ['expired', 'revoked', 'relinquished'],
  expired: [],
  revoked: [],
  relinquished: [],
  denied: [],
  cancelled: [],
  failed: [],
};

export function canTransition(from: GrantStatus, to: GrantStatus): boolean {
  return ALLOWED[from].includes(to);
}

export interface Approval {
  slackUserId: string;
  at: number;
  /** Set when a policy rule approved instead of a person. */
  autoRule?: string;
  /**
   * The policy's Slack groups through which this approver (or, for a rule, the requester) qualified,
   * as the bot saw them: the worker re-checks the approval against the current policy without Slack.
   */
  viaGroups?: string[];
  /** A rule whose groups are an on-call rotation (display only; the seal covers rule and groups). */
  onCall?: boolean;
  /** The approver's reason, where the namespace asks for one (audit only). */
  reason?: string;
}

/** The review every break-glass use needs: acknowledged, or flagged (which revokes at once). */
export interface BreakGlassReview {
  verdict: 'acknowledged' | 'flagged';
  by: string;
  at: number;
  why?: string;
}

export interface BreakGlassUse {
  rule: string;
  incident: string;
  /** Approvers must review by then, or it is re-posted and escalated. */
  reviewDue: number;
  review?: BreakGlassReview;
  /** When an overdue review was escalated (once). */
  escalatedAt?: number;
}

export interface Extension {
  /** The ask (or automatic extension) this was; absent on records written before ids existed. */
  id?: string;
  by: string;
  seconds: number;
  at: number;
  auto: boolean;
}

export interface ExtensionRequest {
  /**
   * Names this ask; approval buttons carry it, so a click approves exactly the amount its approver saw.
   * Absent only on records written before ids existed.
   */
  id?: string;
  by: string;
  seconds: number;
  at: number;
  /** Approvers so far (an extension needs the same quorum as the request). */
  approvals?: Approval[];
}

/** An extension claimed under compare-and-set, waiting for the worker to apply it. */
export interface ClaimedExtension {
  id: string;
  /** Who decided: the requester for an automatic extension, else the approver who completed the quorum. */
  by: string;
  seconds: number;
  at: number;
  auto: boolean;
  approvals?: Approval[];
  /** The bot's seal over this claim (src/domain/seal.ts); the worker applies only a claim it verifies. */
  seal?: string;
}

/** Where a request was made besides Slack (Grant.origin). */
export type GrantOrigin = 'terminal';

export interface Requester {
  slackUserId: string;
  /** The IAM user or role the person signs in to AWS as; the only principal their role trusts. */
  principalArn: string;
  /** Kubernetes username this person maps to (personal; derived from the policy template). */
  kubernetesUsername: string;
  displayName?: string;
  email?: string;
}

/** A live grant of the same person in the same namespace, as a new request's approvers see it. */
export interface HeldAccess {
  grantId: string;
  level: string;
  status: 'approved' | 'active';
  /** When it ends (epoch ms); absent while it is still being set up. */
  expiresAt?: number;
}

export interface Grant {
  /**
   * The record format's version (domain/formats.ts GRANT_RECORD_VERSION), stamped by the store on every
   * write; absent on records written before it was (read as 1). Not the compare-and-set `version`.
   */
  v?: number;
  id: string;
  /** Incremented on every write; the compare-and-set token. */
  version: number;
  status: GrantStatus;
  requester: Requester;
  cluster: string;
  namespace: string;
  level: string;
  /**
   * The requested duration; the clock starts at activation. For a scheduled window, its length: access
   * begins at `startsAt` and ends at `startsAt + durationSeconds`, however late it began.
   */
  durationSeconds: number;
  /** A break-glass grant: the rule that granted it, the incident, and its review afterwards. */
  breakGlass?: BreakGlassUse;
  /**
   * One target of a request on several (`on dev,staging`): the group's id (its first grant's), size and
   * every target's grant id in the request's order (`targets`; absent on grants stored before it
   * existed, which keep one approval message each). Display, the shared approval message and
   * `done <group id>` only; each target is decided, activated and ended on its own.
   */
  group?: { id: string; size: number; targets?: string[] };
  /** A scheduled window's start (epoch ms); absent for access wanted now. Sealed with the decision. */
  startsAt?: number;
  /**
   * Where the request was made, when not in Slack: `terminal` (the API, `kubectl eks-access`). Shown
   * on the approval message; not part of any seal, grants nothing.
   */
  origin?: GrantOrigin;
  reason: string;
  /** Ticket references the reason names (policy `tickets`), for reports and links. */
  tickets?: string[];
  requiredApprovals: number;
  approvals: Approval[];
  createdAt: number;
  /** A pending request lapses at this time. */
  pendingUntil: number;
  decidedAt?: number;
  /**
   * The approval's use-by time (epoch ms, sealed with the decision): the worker refuses a first activation
   * after it. See activationDeadline. Absent on grants approved before it existed (v1 decision seals).
   */
  activateBy?: number;
  activatedAt?: number;
  /** activatedAt + durationSeconds + every extension. */
  expiresAt?: number;
  endedAt?: number;
  endReason?: EndReason;
  /** Who ended it (Slack user id, 'system' for expiry, 'cli:<user>' for break-glass). */
  endedBy?: string;
  /** Why an approver ended it (the Revoke form's reason): told to the person who lost access. */
  endNote?: string;
  /**
   * Access the requester already held in this namespace when they asked (another level, or one that
   * could not be extended): shown to the approvers. Informational, not part of any seal.
   */
  alreadyHolds?: HeldAccess;
  denial?: { by: string; reason: string; at: number };
  failure?: { reason: string; at: number };
  extensions: Extension[];
  /** An extension waiting for approvers (levels whose extend mode is `approval`). */
  extensionRequest?: ExtensionRequest;
  /**
   * Extensions decided (by the policy or a quorum) but not yet applied on the cluster: the worker's
   * `extend` job moves each into `extensions` once the RoleBinding and trust carry the new expiry.
   * They count against the level's cap from the moment they are claimed.
   */
  extensionsApplying?: ClaimedExtension[];
  /** The last extension an approver denied (shown on the approval message until another is asked). */
  extensionDenial?: { id?: string; by: string; seconds: number; reason: string; at: number };
  /** How many of the approval reminders (shared/reminders.ts) went out while the request waited. */
  approverReminders?: number;
  /** Set when a warning DM has been sent for the current expiresAt. */
  warnedForExpiry?: number;
  /**
   * The bot's seal over the approved decision (src/domain/seal.ts): without it, or when it does not
   * match the record, the worker refuses to activate. A record written straight into Redis has none.
   */
  decisionSeal?: string;
  /** Where the approval message lives, so every state change can update it. */
  approvalMessage?: { channel: string; ts: string };
  /**
   * Set on a record the reconciler rebuilt from a sealed RoleBinding after Redis lost the original
   * (domain/rebuilt-grant.ts): it carries only what the binding's seal covers, and it can only end
   * (see `transition`): never activated, extended or given a later expiry.
   */
  rebuilt?: { at: number; from: 'role-binding' | 'access-entry-tag' };
}

/**
 * How long an approval stays usable: an activation normally starts within seconds, and retries plus the
 * reconciler's re-queue take minutes. An approval the worker has not used by then is refused (request
 * again), so a record set back to `approved` later cannot be activated with it.
 */
export const ACTIVATION_WINDOW_MS = 60 * 60_000;

/** The `activateBy` of a decision made at `decidedAt`: a window's is counted from its start. */
export function activationDeadline(decidedAt: number, startsAt?: number): number {
  return Math.max(decidedAt, startsAt ?? decidedAt) + ACTIVATION_WINDOW_MS;
}

/** Ids are short enough to type (`/eks-access done ea-7k2m9x`) and carry no meaning. */
const ID_ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';
export const GRANT_ID = /^ea-[a-z2-9]{8}$/;

export function newGrantId(randomBytes: (n: number) => Uint8Array): string {
  const bytes = randomBytes(8);
  let out = 'ea-';
  for (const byte of bytes) out += ID_ALPHABET[byte % ID_ALPHABET.length];
  return out;
}

/** Applies a transition, returning the new record; throws `conflict` when the move is illegal. */
export function transition(grant: Grant, to: GrantStatus, changes: Partial<Grant> = {}): Grant {
  if (grant.rebuilt && !onlyTowardsEnd(grant, to, changes)) {
    throw conflict(
      `${grant.id} was rebuilt from the cluster after Redis lost its data: it can only end`,
      'Ask for new access with `request` when you need more time.',
      { grantId: grant.id, from: grant.status, to },
    );
  }
  if (!canTransition(grant.status, to)) {
    throw conflict(`Request ${grant.id} is ${grant.status}; it cannot become ${to}`, undefined, {
      grantId: grant.id,
      from: grant.status,
      to,
    });
  }
  return { ...grant, ...changes, status: to, version: grant.version + 1 };
}

export const isTerminal = (grant: Pick<Grant, 'status'>) => TERMINAL_STATUSES.has(grant.status);

export function endStatusFor(reason: EndReason): GrantStatus {
  return reason;
}

export function totalGrantedSeconds(grant: Pick<Grant, 'durationSeconds' | 'extensions'>): number {
  return grant.durationSeconds + grant.extensions.reduce((sum, e) => sum + e.seconds, 0);
}

/** What counts against the level's cap: granted time plus extensions claimed but not yet applied. */
export function committedSeconds(
  grant: Pick<Grant, 'durationSeconds' | 'extensions' | 'extensionsApplying'>,
): number {
  return totalGrantedSeconds(grant) + (grant.extensionsApplying ?? []).reduce((sum, e) => sum + e.seconds, 0);
}

/** A new extension id: short, random, and never a grant id. */
export function newExtensionId(randomBytes: (n: number) => Uint8Array): string {
  let out = 'x';
  for (const byte of randomBytes(6)) out += ID_ALPHABET[byte % ID_ALPHABET.length];
  return out;
}
export const EXTENSION_ID = /^x[a-z2-9]{6}$/;

export function secondsLeft(grant: Pick<Grant, 'expiresAt'>, now: number): number {
  return grant.expiresAt === undefined ? 0 : Math.max(0, Math.round((grant.expiresAt - now) / 1000));
}

/**
 * What a rebuilt record may still do: end, or record a warning. Nothing that would reach the cluster
 * as more access: no extension (asked, claimed or applied), no other expiry, no other status.
 */
function onlyTowardsEnd(grant: Grant, to: GrantStatus, changes: Partial<Grant>): boolean {
  // Rebuilt as `active`: a record that says anything else (written into Redis) is never activated.
  if (grant.status !== 'active' && grant.status !== 'revoking') return false;
  if (to !== 'active' && to !== 'revoking' && !(END_REASONS as readonly string[]).includes(to)) return false;
  const moved = (key: keyof Grant) => key in changes && changes[key] !== grant[key];
  return !(
    [
      'expiresAt',
      'durationSeconds',
      'extensions',
      'extensionRequest',
      'extensionsApplying',
      'rebuilt',
    ] as const
  ).some(moved);
}

/**
 * When an approved grant should have been set up by: `deadlineMs` after it was approved, or after its
 * window opened. Undefined for any other status.
 */
export function setupDueAt(grant: Grant, deadlineMs: number): number | undefined {
  if (grant.status !== 'approved') return undefined;
  return Math.max(grant.decidedAt ?? grant.createdAt, grant.startsAt ?? 0) + deadlineMs;
}

/** Whether an approved grant is past its setup deadline at `now` (the worker may be down, or AWS slow). */
export const setupOverdue = (grant: Grant, now: number, deadlineMs: number): boolean => {
  const due = setupDueAt(grant, deadlineMs);
  return due !== undefined && now >= due;
};
