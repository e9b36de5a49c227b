import { describe, expect, it } from 'vitest';
import { retiringKeysInUse, sealKeyUses } from '../../src/domain/seal-keys-census.js';

describe('which key of SEAL_KEYS still seals live bindings', () => {
  it('counts per key of the ring in its order, the first signing, an unused key at 0', () => {
    const uses = sealKeyUses(
      ['k2', 'k1', 'k0'],
      [
        { key: 'k1', expiresAt: 5_000 },
        { key: 'k2', expiresAt: 1_000 },
        { key: 'k1', expiresAt: 9_000 },
        { key: 'k1', expiresAt: 7_000 },
        // Outside the ring: it cannot have verified, and is no key to keep.
        { key: 'k9', expiresAt: 99_000 },
      ],
    );
    expect(uses).toEqual([
      { key: 'k2', signing: true, live: 1, latestExpiry: 1_000 },
      { key: 'k1', signing: false, live: 3, latestExpiry: 9_000 },
      { key: 'k0', signing: false, live: 0 },
    ]);
    expect(retiringKeysInUse(uses).map((u) => u.key)).toEqual(['k1']);
  });

  it('finds no key to keep when only the signing key seals', () => {
    const uses = sealKeyUses(['k2', 'k1'], [{ key: 'k2', expiresAt: 1 }]);
    expect(retiringKeysInUse(uses)).toEqual([]);
    expect(uses[1]).toEqual({ key: 'k1', signing: false, live: 0 });
  });
});
