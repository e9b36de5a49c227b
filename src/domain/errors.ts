// The one error vocabulary of eks-access. Every boundary (Slack, CLI, worker) maps these kinds to
// its own way of saying no; nothing branches on message text.

export const ERROR_KINDS = [
  'bad_input', // the caller sent something we will never accept as it is (fix the input)
  'not_found', // the thing named does not exist (or is not visible to the caller)
  'conflict', // the state moved under the caller (already decided, stale version)
  'forbidden', // the caller may not do this (not an approver, self-approval, …)
  'unavailable', // a dependency is down or throttling: retrying later may work
  'misconfigured', // the policy or environment cannot serve this request: an admin must act
  'internal', // a bug: nothing the caller can do
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

export class AccessError extends Error {
  readonly kind: ErrorKind;
  /** What the person can do about it, in their words. Never contains secrets. */
  readonly hint: string | undefined;
  /** Structured facts for logs and the audit trail (ids, names; never tokens). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    kind: ErrorKind,
    message: string,
    options: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AccessError';
    this.kind = kind;
    this.hint = options.hint;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }

  /** Retrying the same operation later may succeed. */
  get transient(): boolean {
    return this.kind === 'unavailable' || this.kind === 'conflict';
  }
}

export const badInput = (message: string, hint?: string, details?: Record<string, unknown>) =>
  new AccessError('bad_input', message, { ...(hint ? { hint } : {}), ...(details ? { details } : {}) });
export const notFound = (message: string, hint?: string, details?: Record<string, unknown>) =>
  new AccessError('not_found', message, { ...(hint ? { hint } : {}), ...(details ? { details } : {}) });
export const conflict = (message: string, hint?: string, details?: Record<string, unknown>) =>
  new AccessError('conflict', message, { ...(hint ? { hint } : {}), ...(details ? { details } : {}) });
export const forbidden = (message: string, hint?: string, details?: Record<string, unknown>) =>
  new AccessError('forbidden', message, { ...(hint ? { hint } : {}), ...(details ? { details } : {}) });
export const misconfigured = (message: string, hint?: string, details?: Record<string, unknown>) =>
  new AccessError('misconfigured', message, { ...(hint ? { hint } : {}), ...(details ? { details } : {}) });

export const isAccessError = (error: unknown): error is AccessError => error instanceof AccessError;

/** Words a Slack user (or CLI user) understands, one per kind. */
export const ERROR_HEADLINES: Readonly<Record<ErrorKind, string>> = {
  bad_input: "That request can't be accepted",
  not_found: "That doesn't exist",
  conflict: 'That already changed',
  forbidden: "You can't do that",
  unavailable: 'A system eks-access depends on is not answering; try again in a minute',
  misconfigured: 'eks-access is not set up for this yet; ask your platform team',
  internal: 'Something went wrong inside eks-access; the platform team has the details in the logs',
};

/**
 * Nobody knows who this Slack user is on AWS: not a thing that "doesn't exist" but a link an admin
 * has to make, and the heading says so (`headlineOf`). Still not_found to every other boundary.
 */
export const notLinked = (message: string, hint: string) => notFound(message, hint, { unlinked: true });

/** The heading a person reads above an error: the kind's words, or what a not-linked account is. */
export const headlineOf = (error: AccessError): string =>
  error.details['unlinked'] === true
    ? 'Your Slack account is not linked to AWS'
    : ERROR_HEADLINES[error.kind];

/** Any thrown value as an AccessError; unknown errors become `internal` (message kept for logs only). */
export function toAccessError(error: unknown): AccessError {
  if (isAccessError(error)) return error;
  return new AccessError('internal', error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}
