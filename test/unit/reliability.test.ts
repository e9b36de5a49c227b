// The pure parts of the reliability guards: how a lost Redis connection is logged (first failure,
// rate-limited summaries, one line on recovery) and when `doctor` calls the reconciler overdue.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/adapters/logger.js';
import { ConnectionLog, isConnectionError } from '../../src/adapters/redis/connection-log.js';
import { reconcileCheck } from '../../src/operator/doctor.js';

function capture() {
  const lines: { event?: string; connection?: string; errors?: number; downForMs?: number }[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'info', name: 'test', destination }) };
}

describe('ConnectionLog', () => {
  it('logs the first failure, then a summary at most every interval, then one line on recovery', () => {
    const { lines, logger } = capture();
    let now = 0;
    const log = new ConnectionLog(logger, { summaryEveryMs: 30_000, now: () => now });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    for (; now < 65_000; now += 500) log.failed('main', refused); // a retry every 500 ms for 65 s
    log.failed('worker:revoke', refused);
    log.recovered('main');
    log.recovered('main'); // a second 'ready' without an outage says nothing
    expect(lines.map((l) => `${l.event} ${l.connection}`)).toEqual([
      'redis-connection-lost main',
      'redis-connection-down main',
      'redis-connection-down main',
      'redis-connection-lost worker:revoke',
      'redis-connection-restored main',
    ]);
    expect(lines[4]).toMatchObject({ errors: 130, downForMs: 65_000 });
  });

  it('tells connection failures from other errors, which are logged as themselves', () => {
    expect(
      isConnectionError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    ).toBe(true);
    expect(isConnectionError(new Error('Connection is closed.'))).toBe(true);
    // Redis Cluster: every node unreachable, or a failover under way.
    expect(isConnectionError(new Error('Failed to refresh slots cache.'))).toBe(true);
    expect(isConnectionError(new Error('None of startup nodes is available'))).toBe(true);
    expect(isConnectionError(new Error('CLUSTERDOWN The cluster is down'))).toBe(true);
    expect(isConnectionError(new Error('Missing lock for job 7. moveToFinished'))).toBe(false);
    expect(isConnectionError(undefined)).toBe(false);
  });
});

describe('doctor reconciler check', () => {
  const everyMs = 30_000;
  const now = 1_000_000_000;
  it('passes without a record (before the first worker) and with a recent clean sweep', () => {
    expect(reconcileCheck({ everyMs, now }).ok).toBe(true);
    expect(reconcileCheck({ everyMs, now, lastRunAt: now - 20_000, lastSuccessAt: now - 20_000 })).toEqual({
      ok: true,
      detail: 'last sweep 20 s ago, without errors (period 30 s)',
    });
  });
  it('fails when the last sweep is older than two periods, with a fix', () => {
    const result = reconcileCheck({ everyMs, now, lastRunAt: now - 61_000, lastSuccessAt: now - 61_000 });
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/completed 61 s ago \(period 30 s\)/);
    expect(result.fix).toMatch(/worker/);
  });
  it('fails when sweeps run but none without errors for two periods', () => {
    const result = reconcileCheck({ everyMs, now, lastRunAt: now - 5_000, lastSuccessAt: now - 90_000 });
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/without errors was 90 s ago/);
  });
});
