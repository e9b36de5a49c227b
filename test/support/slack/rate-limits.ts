// Slack's Web API rate limits, as the fake enforces them: per method (Tier 1-4, per app per workspace)
// and, for chat.postMessage, per channel. A refused call is HTTP 429 with Retry-After (whole seconds)
// and `{ ok: false, error: 'ratelimited' }`, as Slack answers it.
//
// Sources: api.slack.com/docs/rate-limits (Tier 1: 1+ per minute, "a small amount of burst behavior is
// tolerated"; Tier 2: 20+; Tier 3: 50+, "sporadic bursts are welcome"; Tier 4: 100+, "generous burst
// behavior"; posting messages: "1 per second, short bursts >1 allowed") and each method's reference page
// for its tier. Slack does not publish its burst sizes: the fake allows a minute's worth of a tier at
// once (at least 3 calls, so a reconnecting Socket Mode client is not refused at once) and 4 posts to
// one channel, then refills at the documented rate.
//
// Slack's limits are minutes for a burst (200 DMs at Tier 3 take four minutes), so the fake keeps
// their shape on its own clock, which a test may run faster by a stated factor (`speedup`); the
// default is generous enough that a test which does not mean to meet the limits does not.

/** Calls per minute of each tier (the documented floor). */
export const TIER_PER_MINUTE = { 1: 1, 2: 20, 3: 50, 4: 100 } as const;
export type Tier = keyof typeof TIER_PER_MINUTE;

/** chat.postMessage: about one message per second per channel, with short bursts. */
export const POSTS_PER_SECOND_PER_CHANNEL = 1;
export const POST_BURST = 4;
const MIN_TIER_BURST = 3;

/** Each method's tier, from its reference page; chat.postMessage is 'post' (per channel). */
export const METHOD_TIERS: Readonly<Record<string, Tier | 'post'>> = {
  'apps.connections.open': 1,
  'auth.test': 4, // "Special": Slack allows it far more often than anything the bot needs
  'chat.postMessage': 'post',
  'chat.update': 3,
  'chat.delete': 3,
  'chat.postEphemeral': 4,
  'chat.getPermalink': 4, // "Special"
  'conversations.open': 3,
  'conversations.info': 3,
  'users.info': 4,
  'users.lookupByEmail': 3,
  'usergroups.users.list': 2,
  'views.open': 4,
  'views.push': 4,
  'views.update': 4,
  'views.publish': 4,
  'files.getUploadURLExternal': 4,
  'files.completeUploadExternal': 4,
};

/**
 * How a FakeSlack limits calls. On by default; `{ off: 'why' }` turns them off and must say why (a
 * test about something else that would otherwise be slowed, not one that hides a burst).
 */
export type RateLimitOptions = { speedup?: number } | { off: string };

/**
 * The default speed-up: Slack's minute is 3 s of the fake's. Ordinary tests (a few grants, a handful
 * of posts per channel) stay under it; a test that bursts meets the limits as the app would, sooner.
 */
export const DEFAULT_SPEEDUP = 20;

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  readonly speedup: number;
  readonly enabled: boolean;
  readonly #started = performance.now();
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: RateLimitOptions = {}) {
    if ('off' in options) {
      if (typeof options.off !== 'string' || options.off.trim() === '')
        throw new Error('rateLimits.off needs a reason: say why this test runs without Slack rate limits');
      this.enabled = false;
      this.speedup = 1;
      return;
    }
    const speedup = options.speedup ?? DEFAULT_SPEEDUP;
    if (!(speedup >= 1)) throw new Error(`rateLimits.speedup must be at least 1 (got ${speedup})`);
    this.enabled = true;
    this.speedup = speedup;
  }

  /** Slack's time as the fake runs it, in seconds. */
  #now(): number {
    return ((performance.now() - this.#started) * this.speedup) / 1000;
  }

  /**
   * Takes one call of `method` (into `channel` for chat.postMessage); undefined when allowed, else the
   * Retry-After Slack would send, in whole real seconds (at least 1, as Slack's header is).
   */
  take(method: string, channel: string | undefined): number | undefined {
    if (!this.enabled) return undefined;
    const tier = METHOD_TIERS[method];
    if (tier === undefined) return undefined;
    const [key, perSecond, burst] =
      tier === 'post'
        ? [`post:${channel ?? ''}`, POSTS_PER_SECOND_PER_CHANNEL, POST_BURST]
        : [`tier:${method}`, TIER_PER_MINUTE[tier] / 60, Math.max(TIER_PER_MINUTE[tier], MIN_TIER_BURST)];
    const now = this.#now();
    const bucket = this.#buckets.get(key) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + (now - bucket.at) * perSecond);
    bucket.at = now;
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    const slackSeconds = (1 - bucket.tokens) / perSecond;
    return Math.max(1, Math.ceil(slackSeconds / this.speedup));
  }
}
