// Time is injected everywhere so tests (and the reconciler's "what is expired?") agree on "now".
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export const isoTime = (epochMs: number): string => new Date(epochMs).toISOString();
