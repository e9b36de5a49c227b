// The weekly access summary (issue #12 §3): the worker's job scheduler runs it, it reads the real audit
// stream in Redis, posts the figures to the audit channel of the strict fake Slack, and shares the chart
// with files.uploadV2. The test decodes the PNG and finds the bars: one per namespace, their lengths in
// the ratio of the hours of access, not a blank canvas. A bot not in the channel is refused like Slack
// refuses it, and the job reports the failure.
import { randomBytes } from 'node:crypto';
import { webApi } from '@slack/bolt';
import { Redis } from 'ioredis';
import { PNG } from 'pngjs';
import { afterEach, describe, expect, it } from 'vitest';
import { CHART, renderBarChart } from '../../src/adapters/chart/bar-chart.js';
import { createLogger } from '../../src/adapters/logger.js';
import { startWeeklySummaryJob, type WeeklySummaryJob } from '../../src/adapters/queue/weekly-summary-job.js';
import { RedisAuditLog } from '../../src/adapters/redis/audit-log.js';
import { SlackSummaryPublisher } from '../../src/adapters/slack/summary-publisher.js';
import { parsePolicy } from '../../src/config/load.js';
import type { AuditEvent } from '../../src/domain/audit-event.js';
import { systemClock } from '../../src/domain/clock.js';
import { postWeeklySummary } from '../../src/shared/weekly-summary.js';
import { platform } from '../platform/context.js';
import { pollUntil } from '../support/poll.js';
import { blocksText, FakeSlack } from '../support/slack/index.js';

const AUDIT = 'C0AUDIT';
const HOUR = 3_600_000;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const { policy } = parsePolicy(`
settings: { auditChannel: ${AUDIT} }
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 12h }
clusters:
  prod:
    region: eu-west-1
    accountId: "111122223333"
    connection: { kubeconfig: {} }
    identityMapping: aws-auth
    namespaces:
      - name: payments
        approvers: { users: [U0ANA] }
        channel: C0APPROVALS
        levels: [view]
      - name: search
        approvers: { users: [U0ANA] }
        channel: C0APPROVALS
        levels: [view]
`);

/** One grant's trail: requested, approved, active for `hours`, expired. */
function life(
  grantId: string,
  namespace: string,
  requester: string,
  startAgo: number,
  hours: number,
  extra = {},
) {
  const start = Date.now() - startAgo;
  const where = { cluster: 'prod', namespace, level: 'view' };
  const events: AuditEvent[] = [
    {
      action: 'requested',
      actor: requester,
      grantId,
      at: start,
      details: { ...where, durationSeconds: hours * 3600, reason: 'INC-1', ...extra },
    },
    { action: 'approved', actor: 'U0ANA', grantId, at: start + 1000, details: where },
    { action: 'activated', actor: 'system', grantId, at: start + 2000, details: where },
    { action: 'expired', actor: 'system', grantId, at: start + 2000 + hours * HOUR, details: where },
  ];
  return events;
}

async function seededAudit(): Promise<{ audit: RedisAuditLog; redis: Redis; prefix: string }> {
  const redis = new Redis(platform().redisUrl, { maxRetriesPerRequest: null });
  const prefix = `{ws-${randomBytes(4).toString('hex')}}:`;
  cleanups.push(() => redis.quit());
  const audit = new RedisAuditLog(redis, prefix);
  const events = [
    ...life('ea-aaaaaaa2', 'payments', 'U0ALICE', 3 * 24 * HOUR, 6),
    ...life('ea-aaaaaaa3', 'payments', 'U0BOB', 2 * 24 * HOUR, 4),
    ...life('ea-aaaaaaa4', 'search', 'U0ALICE', 24 * HOUR, 5, { breakGlass: 'oncall' }),
  ].sort((a, b) => a.at - b.at);
  // Stream ids must grow: the trail is written in time order, as it happens.
  for (const event of events) await audit.append(event);
  return { audit, redis, prefix };
}

/** The use case as the worker composes it, over this audit trail and this Slack client. */
const summaryDeps = (audit: RedisAuditLog, client: webApi.WebClient) => ({
  audit,
  policy,
  clock: systemClock,
  publisher: new SlackSummaryPublisher(client),
  renderChart: renderBarChart,
});

/** Per bar row (top to bottom) the length in pixels of the bar colour's run. */
function barLengths(png: Uint8Array): number[] {
  const image = PNG.sync.read(Buffer.from(png));
  const [r, g, b] = [CHART.color.slice(1, 3), CHART.color.slice(3, 5), CHART.color.slice(5, 7)].map((h) =>
    Number.parseInt(h, 16),
  );
  const rows: number[] = [];
  for (let y = 0; y < image.height; y++) {
    let run = 0;
    for (let x = 0; x < image.width; x++) {
      const i = (y * image.width + x) * 4;
      if (image.data[i] === r && image.data[i + 1] === g && image.data[i + 2] === b) run += 1;
    }
    rows.push(run);
  }
  // Bars are bands of rows with the same non-zero run; take each band's length once.
  const bands: number[] = [];
  let previous = 0;
  for (const run of rows) {
    if (run > 20 && Math.abs(run - previous) > 2) bands.push(run);
    previous = run;
  }
  return bands;
}

describe('the weekly access summary', () => {
  it('the worker’s job posts the figures and a chart whose bars are the hours per namespace', async () => {
    const { audit, redis, prefix } = await seededAudit();
    const slack = await FakeSlack.start({
      users: [{ id: 'U0ALICE' }, { id: 'U0BOB' }, { id: 'U0ANA' }],
      channels: { [AUDIT]: {} },
    });
    cleanups.push(() => slack.close());
    const client = new webApi.WebClient(slack.botToken, {
      slackApiUrl: slack.apiUrl,
      retryConfig: { retries: 0 },
    });
    let job: WeeklySummaryJob | undefined;
    job = await startWeeklySummaryJob({
      redis,
      prefix,
      logger: createLogger({ level: 'silent', name: 'summary' }),
      // Every second, so the test sees a run; production uses the policy's weekly cron.
      cron: '* * * * * *',
      timeZone: 'UTC',
      run: () => postWeeklySummary(summaryDeps(audit, client)),
    });
    cleanups.push(() => job?.close() ?? Promise.resolve());
    const file = await pollUntil(
      'the chart in the audit channel',
      async () => [...slack.files.values()],
      (files) => files.some((f) => f.channel === AUDIT && f.bytes !== undefined),
      { timeoutMs: 30_000 },
    );
    const chart = file.find((f) => f.channel === AUDIT);
    expect(chart?.title).toBe('Hours of access per namespace, last 7 days');
    const png = chart?.bytes as Buffer;
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    // payments had 10 h of access, search 5 h: two bars, the first twice as long as the second.
    const bars = barLengths(png);
    expect(bars).toHaveLength(2);
    expect((bars[0] as number) / (bars[1] as number)).toBeCloseTo(2, 1);

    const post = await slack.waitFor('chat.postMessage', (c) => c.args.channel === AUDIT);
    const text = blocksText(post.args.blocks);
    expect(text).toContain('3 grant(s), 3 became active, 15h of access in all.');
    expect(text).toContain('Break-glass: 1 use(s), 1 not reviewed, 0 flagged.');
    expect(text).toContain('Most access time: <@U0ALICE> 11h (2), <@U0BOB> 4h (1).');
  });

  it('a bot not in the audit channel is refused like Slack refuses it, and the run fails loudly', async () => {
    const { audit } = await seededAudit();
    const slack = await FakeSlack.start({ users: [{ id: 'U0ANA' }], channels: { [AUDIT]: { bot: false } } });
    cleanups.push(() => slack.close());
    const client = new webApi.WebClient(slack.botToken, {
      slackApiUrl: slack.apiUrl,
      retryConfig: { retries: 0 },
    });
    await expect(postWeeklySummary(summaryDeps(audit, client))).rejects.toThrow(/not_in_channel/);
    expect([...slack.files.values()].filter((f) => f.channel)).toEqual([]);
  });
});
