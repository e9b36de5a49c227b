// The audit trail's records: one hash chain per writer, so an edited, removed or replaced record is named
// by the verifier; archive keys sort by time.
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/domain/audit-event.js';
import {
  type AuditRecord,
  auditArchiveKey,
  auditKeyTime,
  chainNext,
  chainStart,
  parseRecord,
  serialiseRecord,
  verifyChains,
} from '../../src/domain/audit-record.js';
import { breakGlassIndexKey, parseBreakGlassIndexKey } from '../../src/domain/break-glass-index.js';

const T0 = Date.parse('2026-12-04T10:00:00.000Z');
const event = (i: number): AuditEvent => ({
  action: i % 2 ? 'approved' : 'requested',
  actor: 'U0ALICE',
  grantId: `ea-aaaaaaa${i}`,
  at: T0 + i * 1000,
  details: { namespace: 'test', n: i },
});

function chainOf(writer: string, n: number): AuditRecord[] {
  let head = chainStart(writer);
  return Array.from({ length: n }, (_, i) => {
    const next = chainNext(head, event(i));
    head = next.head;
    return next.record;
  });
}

describe('audit records', () => {
  it('chain each writer: seq from 1, each naming the hash of the one before', () => {
    const chain = chainOf('bot-abc123', 4);
    expect(chain.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect(chain[1]?.prevHash).toBe(chain[0]?.hash);
    expect(verifyChains([...chain, ...chainOf('worker-def456', 2)].reverse(), { fromStart: true })).toEqual({
      writers: 2,
      records: 6,
      problems: [],
    });
  });

  it('name an edited record, a removed one and one replaced with a re-hashed copy', () => {
    const chain = chainOf('bot-abc123', 5);
    const [a, b, c, d, e] = chain as [AuditRecord, AuditRecord, AuditRecord, AuditRecord, AuditRecord];
    const edited = { ...c, event: { ...c.event, actor: 'U0MALLORY' } };
    expect(verifyChains([a, b, edited, d, e]).problems).toEqual([
      'writer bot-abc123 record 3 (requested ea-aaaaaaa2): edited (its hash does not match its content)',
    ]);
    expect(verifyChains([a, b, d, e]).problems).toEqual(['writer bot-abc123: records 3-3 are missing']);
    const rehashed = chainNext(
      { writer: 'bot-abc123', seq: 2, hash: '1'.repeat(64) },
      { ...c.event, actor: 'U0MALLORY' },
    );
    expect(verifyChains([a, b, rehashed.record, d, e]).problems).toEqual([
      'writer bot-abc123 record 3 (requested ea-aaaaaaa2): does not follow record 2 (an earlier record was replaced)',
      'writer bot-abc123 record 4 (approved ea-aaaaaaa3): does not follow record 3 (an earlier record was replaced)',
    ]);
    expect(verifyChains([b, c], { fromStart: true }).problems).toEqual([
      'writer bot-abc123: records 1-1 are missing',
    ]);
  });

  it('read back what they wrote, and refuse what is not one', () => {
    const [record] = chainOf('bot-abc123', 1) as [AuditRecord];
    expect(parseRecord(serialiseRecord(record))).toEqual(record);
    expect(parseRecord('{"type":"other"}')).toBeUndefined();
    expect(parseRecord('not json')).toBeUndefined();
  });

  it('have archive keys ordered by time that name their time, writer and place', () => {
    const chain = chainOf('bot-abc123', 3);
    const keys = chain.map(auditArchiveKey);
    expect(keys[0]).toBe('audit/2026-12-04/2026-12-04T10:00:00.000Z-bot-abc123-000000000001');
    expect([...keys].sort()).toEqual(keys);
    expect(auditKeyTime(keys[2] as string)).toBe(T0 + 2000);
  });

  it('index break-glass uses by rule, time, grant and person, read back from the key alone', () => {
    const use = { rule: 'oncall', by: 'U0ALICE', grantId: 'ea-abcdefgh', at: T0 };
    const key = breakGlassIndexKey(use);
    expect(key).toBe('index/break-glass/oncall/2026-12-04T10:00:00.000Z-ea-abcdefgh-U0ALICE');
    expect(parseBreakGlassIndexKey(key)).toEqual(use);
    expect(parseBreakGlassIndexKey('index/break-glass/oncall/garbage')).toBeUndefined();
  });
});
