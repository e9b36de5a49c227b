// doctor's `seal keys` line: what an operator rotating SEAL_KEYS reads before removing the old key.
import { describe, expect, it } from 'vitest';
import { sealKeyUses } from '../../src/domain/seal-keys-census.js';
import { formatCheck, sealKeysCheck } from '../../src/operator/doctor.js';

const EXPIRY = Date.parse('2026-05-01T14:30:00Z');

describe('doctor seal keys check', () => {
  it('one key: passes and counts what it seals', () => {
    const result = sealKeysCheck(sealKeyUses(['k1'], [{ key: 'k1', expiresAt: EXPIRY }]), []);
    expect(result).toEqual({ ok: true, detail: 'k1 (signing) seals 1 live RoleBinding(s)' });
    expect(formatCheck({ name: 'seal keys', ...result })).toBe(
      '✓ seal keys  k1 (signing) seals 1 live RoleBinding(s)',
    );
  });

  it('an old key still sealing live grants: warns it is needed until the latest of their expiries', () => {
    const uses = sealKeyUses(
      ['k2', 'k1'],
      [
        { key: 'k1', expiresAt: EXPIRY - 60_000 },
        { key: 'k1', expiresAt: EXPIRY },
      ],
    );
    const result = sealKeysCheck(uses, []);
    expect(result.ok).toBe(true);
    expect(result.warning).toBe(true);
    expect(result.detail).toBe(
      'k2 (signing) seals 0 live RoleBinding(s); k1 still seals 2 live RoleBinding(s): still needed until 2026-05-01 14:30 UTC',
    );
    expect(formatCheck({ name: 'seal keys', ...result })).toMatch(
      /^! seal keys {2}.*\n {4}fix: Keep k1 in SEAL_KEYS until the time above/,
    );
  });

  it('an old key sealing none: safe to remove, unless a cluster could not be counted', () => {
    const uses = sealKeyUses(['k2', 'k1'], [{ key: 'k2', expiresAt: EXPIRY }]);
    const result = sealKeysCheck(uses, []);
    expect(result).toMatchObject({ ok: true, warning: true });
    expect(result.detail).toBe('k2 (signing) seals 1 live RoleBinding(s); k1 seals none: safe to remove');
    expect(result.fix).toMatch(/^Remove k1 from SEAL_KEYS/);

    const partial = sealKeysCheck(uses, ['prod (api server unreachable)']);
    expect(partial.detail).not.toContain('safe to remove');
    expect(partial.detail).toContain('k1 seals none on the clusters counted; not counted: prod');
    expect(partial.fix).toMatch(/^Keep k1 in SEAL_KEYS until every cluster is counted/);
  });
});
