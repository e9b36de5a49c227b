// Which key of SEAL_KEYS still seals live RoleBindings: the fact a key rotation waits on. Removing a key
// while a live binding is sealed with it makes that binding fail the seal (reported as forged, no longer
// counted as ours, its person's identity retired), so an old key may go only once it seals none. Pure:
// the reconciler (the metric) and `doctor` (its line) feed it the bindings they found and verified.

/** A live binding of this installation whose seal verified, and the key that verified it. */
export interface LiveSeal {
  key: string;
  /** Epoch ms. */
  expiresAt: number;
}

export interface SealKeyUse {
  key: string;
  /** The first key of SEAL_KEYS: the one every new seal is made with. */
  signing: boolean;
  /** Live bindings it seals. */
  live: number;
  /** The latest expiry among them (epoch ms): when the key stops being needed. */
  latestExpiry?: number;
}

/**
 * One entry per key of the ring, in its order (the signing key first), unused keys with 0, so a key
 * about to be removed is seen at 0 rather than missing. Seals naming a key outside the ring cannot have
 * verified and are not counted.
 */
export function sealKeyUses(ring: readonly string[], seals: Iterable<LiveSeal>): SealKeyUse[] {
  const uses = new Map<string, SealKeyUse>(ring.map((key, i) => [key, { key, signing: i === 0, live: 0 }]));
  for (const seal of seals) {
    const use = uses.get(seal.key);
    if (!use) continue;
    use.live += 1;
    if (use.latestExpiry === undefined || seal.expiresAt > use.latestExpiry)
      use.latestExpiry = seal.expiresAt;
  }
  return [...uses.values()];
}

/** Keys that are no longer the signing key but still seal live bindings: not to be removed yet. */
export const retiringKeysInUse = (uses: readonly SealKeyUse[]): SealKeyUse[] =>
  uses.filter((u) => !u.signing && u.live > 0);
