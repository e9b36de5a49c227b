import { describe, expect, it } from 'vitest';
import {
  activationRecord,
  endedRecord,
  extensionRecord,
  latestEnd,
  ledgerKey,
  readRecord,
} from '../../src/domain/ledger.js';
import { parseSealKeys, type SealKeys } from '../../src/domain/seal.js';

const keys = (byte: number) =>
  parseSealKeys(`k1:${Buffer.alloc(32, byte).toString('base64')}`).keys as SealKeys;
const HOUR = 3_600_000;

const activation = activationRecord(keys(1), {
  grantId: 'ea-abcdefgh',
  cluster: 'prod',
  namespace: 'test',
  activatedAt: 1_000,
  expiresAt: 1_000 + HOUR,
  worker: 'w1/1',
});

describe('the spent ledger', () => {
  it('keys each fact by the grant', () => {
    expect(ledgerKey.activation('ea-abcdefgh')).toBe('ledger/ea-abcdefgh/activation');
    expect(ledgerKey.ended('ea-abcdefgh')).toBe('ledger/ea-abcdefgh/ended');
    expect(ledgerKey.extension('ea-abcdefgh', 'xabcdef')).toBe('ledger/ea-abcdefgh/extension/xabcdef');
  });

  it('trusts a record only with its kind, its grant and a valid seal', () => {
    const body = JSON.stringify(activation);
    expect(readRecord(keys(1), 'activation', 'ea-abcdefgh', body)).toEqual({ record: activation });
    // A later expiry written by someone without the keys, another key, another grant, another kind.
    const stretched = JSON.stringify({ ...activation, expiresAt: activation.expiresAt + 100 * HOUR });
    expect(readRecord(keys(1), 'activation', 'ea-abcdefgh', stretched)).toEqual({ untrusted: 'mismatch' });
    expect(readRecord(keys(2), 'activation', 'ea-abcdefgh', body)).toEqual({ untrusted: 'mismatch' });
    expect(readRecord(keys(1), 'activation', 'ea-zzzzzzzz', body)).toEqual({ untrusted: 'unreadable' });
    expect(readRecord(keys(1), 'ended', 'ea-abcdefgh', body)).toEqual({ untrusted: 'unreadable' });
    expect(readRecord(keys(1), 'activation', 'ea-abcdefgh', 'not json')).toEqual({ untrusted: 'unreadable' });
    const legacy = JSON.stringify({ ...activation, legacy: true });
    expect(readRecord(keys(1), 'activation', 'ea-abcdefgh', legacy)).toEqual({ untrusted: 'mismatch' });
  });

  it('seals ended and extension records over their facts', () => {
    const ended = endedRecord(keys(1), { grantId: 'ea-a', reason: 'revoked', by: 'U0A', at: 5, worker: 'w' });
    expect(readRecord(keys(1), 'ended', 'ea-a', JSON.stringify(ended))).toEqual({ record: ended });
    const spent = extensionRecord(keys(1), {
      grantId: 'ea-a',
      extensionId: 'xabcdef',
      seconds: 1800,
      expiresAt: 9,
      at: 5,
      worker: 'w',
    });
    expect(readRecord(keys(1), 'extension', 'ea-a', JSON.stringify(spent))).toEqual({ record: spent });
    const moved = JSON.stringify({ ...spent, expiresAt: 99 });
    expect(readRecord(keys(1), 'extension', 'ea-a', moved)).toEqual({ untrusted: 'mismatch' });
  });

  it('caps extensions from the recorded end: maxTotal counts the approved duration', () => {
    expect(latestEnd(activation, { durationSeconds: 3600 }, 3 * 3600)).toBe(activation.expiresAt + 2 * HOUR);
    expect(latestEnd(activation, { durationSeconds: 3600 }, 3600)).toBe(activation.expiresAt);
    // A cap below the duration (the policy tightened) never moves the end back; it allows nothing more.
    expect(latestEnd(activation, { durationSeconds: 7200 }, 3600)).toBe(activation.expiresAt);
  });
});
