// The spent ledger: what makes a decision and an extension claim single-use, and an ended grant stay
// ended, whatever Redis says. It lives in the durable archive (S3 with Object Lock, written only with
// putOnce; nobody in eks-access can delete), keyed by the grant:
//
//   ledger/<grantId>/activation               the activation: the expiry it fixed, when, which worker
//   ledger/<grantId>/ended                    the grant ended (expired, revoked, relinquished, failed)
//   ledger/<grantId>/extension/<extensionId>  the claim was applied: the expiry it moved to
//
// Records are JSON with a version (`v`) and the worker's seal over their facts: a record put into the
// archive by anyone else can only make the worker refuse, never fix an expiry. Pure: the archive I/O is
// in engine/ledger.ts.
import type { Grant } from './grant.js';
import { type SealKeys, type SealVerdict, sealLedger, verifyLedgerSeal } from './seal.js';

export const LEDGER_VERSION = 1;

/**
 * Written once, by the first worker with the ledger: from then, a v1 decision (which seals no activateBy)
 * may be activated for ACTIVATION_WINDOW_MS only (engine/ledger.ts).
 */
export const UPGRADE_MARKER_KEY = 'ledger/upgraded-to-v2';

export const ledgerKey = {
  activation: (grantId: string) => `ledger/${grantId}/activation`,
  ended: (grantId: string) => `ledger/${grantId}/ended`,
  extension: (grantId: string, extensionId: string) => `ledger/${grantId}/extension/${extensionId}`,
};

export interface ActivationRecord {
  v: typeof LEDGER_VERSION;
  kind: 'activation';
  grantId: string;
  cluster: string;
  namespace: string;
  /** Epoch ms: when the worker recorded the activation, just before its first write. */
  activatedAt: number;
  /** Epoch ms: the end this activation fixed; every retry re-uses it, every extension is capped from it. */
  expiresAt: number;
  worker: string;
  /** Written later for a grant activated before the ledger existed (from its sealed RoleBinding). */
  legacy?: boolean;
  seal: string;
}

export interface EndedRecord {
  v: typeof LEDGER_VERSION;
  kind: 'ended';
  grantId: string;
  /** expired, revoked, relinquished or failed. */
  reason: string;
  by: string;
  at: number;
  worker: string;
  seal: string;
}

export interface ExtensionRecord {
  v: typeof LEDGER_VERSION;
  kind: 'extension';
  grantId: string;
  extensionId: string;
  seconds: number;
  /** Epoch ms: the absolute end this claim moves the grant to (checked against the cap when spent). */
  expiresAt: number;
  at: number;
  worker: string;
  seal: string;
}

export type LedgerRecord = ActivationRecord | EndedRecord | ExtensionRecord;
type Unsealed<R> = Omit<R, 'seal' | 'v' | 'kind'>;

const fieldsOf = (record: LedgerRecord): unknown[] => {
  switch (record.kind) {
    case 'activation':
      return [
        record.grantId,
        record.cluster,
        record.namespace,
        record.activatedAt,
        record.expiresAt,
        record.worker,
        record.legacy === true,
      ];
    case 'ended':
      return [record.grantId, record.reason, record.by, record.at, record.worker];
    case 'extension':
      return [record.grantId, record.extensionId, record.seconds, record.expiresAt, record.at, record.worker];
  }
};

function sealed<R extends LedgerRecord>(keys: SealKeys, kind: R['kind'], facts: Unsealed<R>): R {
  const draft = { v: LEDGER_VERSION, kind, ...facts, seal: '' } as R;
  return { ...draft, seal: sealLedger(keys, kind, fieldsOf(draft)) };
}

export const activationRecord = (keys: SealKeys, facts: Unsealed<ActivationRecord>) =>
  sealed<ActivationRecord>(keys, 'activation', facts);
export const endedRecord = (keys: SealKeys, facts: Unsealed<EndedRecord>) =>
  sealed<EndedRecord>(keys, 'ended', facts);
export const extensionRecord = (keys: SealKeys, facts: Unsealed<ExtensionRecord>) =>
  sealed<ExtensionRecord>(keys, 'extension', facts);

/**
 * A record read back from the archive, trusted only when it parses, is of the expected kind and grant,
 * and its seal verifies; otherwise why not (the caller refuses: such a record can only stop access).
 */
export function readRecord<K extends LedgerRecord['kind']>(
  keys: SealKeys,
  kind: K,
  grantId: string,
  body: string,
): { record: Extract<LedgerRecord, { kind: K }> } | { untrusted: SealVerdict | 'unreadable' } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { untrusted: 'unreadable' };
  }
  const record = parsed as LedgerRecord;
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    record.v !== LEDGER_VERSION ||
    record.kind !== kind ||
    record.grantId !== grantId
  ) {
    return { untrusted: 'unreadable' };
  }
  const verdict = verifyLedgerSeal(keys, kind, fieldsOf(record), record.seal);
  return verdict === 'valid'
    ? { record: record as Extract<LedgerRecord, { kind: K }> }
    : { untrusted: verdict };
}

/**
 * The latest end any extension may reach: the activation's recorded (sealed) end plus what the level's
 * cap allows beyond the approved duration. `maxTotalSeconds` counts the approved duration too (a 1 h grant
 * on a level with maxTotal 3 h may gain 2 h), so the cap is never derived from a counter in Redis.
 */
export function latestEnd(
  activation: Pick<ActivationRecord, 'expiresAt'>,
  grant: Pick<Grant, 'durationSeconds'>,
  maxTotalSeconds: number,
): number {
  return activation.expiresAt + Math.max(0, maxTotalSeconds - grant.durationSeconds) * 1000;
}
