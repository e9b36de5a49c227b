// Slack under its real limits (rate limits on, as the fake has them by default): a burst of
// activations gives every requester exactly one DM with the commands; a refused reminder DM is retried
// alone; deactivated approvers are neither counted nor DMed.

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { platform } from '../platform/context.js';
import { dmBurst } from '../support/dm-burst.js';

describe('Slack delivery under rate limits', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(platform().redisUrl);
  });
  afterAll(() => redis.quit());

  it('activates 80 grants at once: every requester gets exactly one DM with the commands', async () => {
    // 80 > conversations.open's burst (Tier 3): some DMs meet 429 + Retry-After and are retried.
    const result = await dmBurst({
      redis,
      redisUrl: platform().redisUrl,
      grants: 80,
      speedup: 5,
      timeoutMs: 60_000,
    });
    expect(result.refused['conversations.open'] ?? 0).toBeGreaterThan(0);
    expect({
      missing: result.missing,
      duplicated: result.duplicated,
      exactlyOnce: result.exactlyOnce,
    }).toEqual({
      missing: 0,
      duplicated: 0,
      exactlyOnce: 80,
    });
  }, 120_000);
});
