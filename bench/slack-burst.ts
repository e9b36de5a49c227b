// The burst as Slack sees it: N activations told through the real Slack outbox against the fake Slack
// with Slack's rate limits at their real rates (speed-up 1 by default): how long until the last
// requester has the DM with the commands, and whether every DM arrived exactly once.
import { Redis } from 'ioredis';
import type { PlatformInfo } from '../test/platform/info.js';
import { type DmBurstResult, dmBurst } from '../test/support/dm-burst.js';
import { ms } from './stats.js';

export async function slackBurst(
  info: PlatformInfo,
  grants: number,
  speedup: number,
): Promise<DmBurstResult> {
  const redis = new Redis(info.redisUrl);
  try {
    // At Slack's real rates the best-effort steps (thread notes, audit lines) take minutes to give up.
    return await dmBurst({ redis, redisUrl: info.redisUrl, grants, speedup, timeoutMs: 30 * 60_000 });
  } finally {
    redis.disconnect();
  }
}

export function printSlackBurst(r: DmBurstResult): void {
  const calls = (counts: Record<string, number>) =>
    Object.entries(counts)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([method, n]) => `${method} ${n}`)
      .join(', ');
  console.log(
    `\n## Slack burst: ${r.grants} activations, Slack's rate limits at ${r.speedup === 1 ? 'real rates' : `${r.speedup}x speed`}`,
  );
  console.log(`last DM with the commands: ${ms(r.lastDmMs)} after the burst began`);
  console.log(
    `DMs with the commands: ${r.exactlyOnce} of ${r.grants} exactly once, ${r.missing} missing, ${r.duplicated} more than once`,
  );
  console.log(`outbox empty after ${ms(r.drainedMs)} (every step delivered or given up)`);
  console.log(
    `audit channel: ${r.auditLines} lines naming ${r.auditedGrants} of ${r.grants} grants, in ${r.auditPosts} posts`,
  );
  console.log(`accepted calls: ${calls(r.accepted)}`);
  console.log(`refused (429): ${calls(r.refused)}`);
}
