// The worker's use of the spent ledger (src/domain/ledger.ts) in the durable archive: an activation is
// recorded before its first write and fixes the expiry, an end is recorded before the grant is reported
// ended, an extension claim is spent before anything moves. Only the worker (and the CLI, which runs the
// engine) reaches the archive here; the bot has no ledger access.
import { isoTime } from '../domain/clock.js';
import { forbidden } from '../domain/errors.js';
import { ACTIVATION_WINDOW_MS, activationDeadline, type Grant } from '../domain/grant.js';
import {
  type ActivationRecord,
  activationRecord,
  type EndedRecord,
  type ExtensionRecord,
  endedRecord,
  extensionRecord,
  ledgerKey,
  readRecord,
  UPGRADE_MARKER_KEY,
} from '../domain/ledger.js';
import { sealLedger, sealVersion, verifyLedgerSeal } from '../domain/seal.js';
import { accessEnd } from '../domain/window.js';
import { audit } from '../shared/grant-records.js';
import type { EngineDeps } from './deps.js';

type LedgerDeps = Pick<EngineDeps, 'archive' | 'seal' | 'clock'> & { workerId?: string };

/** Names the process in ledger records (diagnostics only; nothing is decided on it). */
const workerOf = (deps: LedgerDeps) => deps.workerId ?? 'worker';

/** Whether the ledger says the grant ended: its activation can never run again. */
export async function endedInLedger(deps: LedgerDeps, grantId: string): Promise<boolean> {
  return (await deps.archive.get(ledgerKey.ended(grantId))) !== undefined;
}

/**
 * Records that the grant ended, before it is reported ended. Idempotent (a second end finds the first).
 * Any record there counts, sealed or not: an `ended` can only refuse.
 */
export async function recordEnded(
  deps: LedgerDeps,
  grant: Pick<Grant, 'id'>,
  reason: string,
  by: string,
): Promise<void> {
  const record: EndedRecord = endedRecord(deps.seal, {
    grantId: grant.id,
    reason,
    by,
    at: deps.clock.now(),
    worker: workerOf(deps),
  });
  await deps.archive.putOnce(ledgerKey.ended(grant.id), JSON.stringify(record));
}

/**
 * Records the end, then takes the access away (`takeAway`). Taking access away never waits for the
 * archive: when the end cannot be recorded (the archive unreachable), the access still goes, and then the
 * error is thrown so the caller's job retries and records it before the grant is reported ended.
 */
export async function endedThen<T>(
  deps: LedgerDeps,
  grant: Pick<Grant, 'id'>,
  end: { reason: string; by: string },
  takeAway: () => Promise<T>,
): Promise<T> {
  const failed = await recordEnded(deps, grant, end.reason, end.by).then(
    () => undefined,
    (error: unknown) => error ?? new Error('recording the end failed'),
  );
  const result = await takeAway();
  if (failed) throw failed;
  return result;
}

export type ActivationClaim =
  /** This call recorded the activation: the grant has never been activated. */
  | { kind: 'first'; record: ActivationRecord }
  /** A recorded activation whose expiry is ahead and that has not ended: a retry after a crash. */
  | { kind: 'retry'; record: ActivationRecord };

/**
 * Claims the decision for this activation, or throws `forbidden` (after auditing `replayed-decision`)
 * when it was used: the grant ended, its recorded activation is past its expiry, the record cannot be
 * trusted, or the decision was never used and it is past its `activateBy`. Nothing is written on a
 * cluster or IAM before this returns.
 */
export async function claimActivation(deps: EngineDeps, grant: Grant): Promise<ActivationClaim> {
  const now = deps.clock.now();
  if (await endedInLedger(deps, grant.id)) {
    return refuse(deps, grant, 'ended', 'it has already ended');
  }
  const key = ledgerKey.activation(grant.id);
  const deadline = await activateByOf(deps, grant);
  if (now <= deadline) {
    const expiresAt = accessEnd(grant, now);
    const record = activationRecord(deps.seal, {
      grantId: grant.id,
      cluster: grant.cluster,
      namespace: grant.namespace,
      activatedAt: now,
      expiresAt,
      worker: workerOf(deps),
    });
    if ((await deps.archive.putOnce(key, JSON.stringify(record))) === 'created') {
      return { kind: 'first', record };
    }
  }
  const body = await deps.archive.get(key);
  if (body === undefined) {
    return refuse(
      deps,
      grant,
      'too-late',
      `its approval had to be used by ${isoTime(deadline)}`,
      'Request access again.',
    );
  }
  const read = readRecord(deps.seal, 'activation', grant.id, body);
  if ('untrusted' in read) {
    return refuse(deps, grant, 'untrusted-record', `its activation record is ${read.untrusted}`);
  }
  // A legacy record (written for a grant activated before the ledger) is never a crash's to retry.
  if (read.record.legacy || !fitsDecision(read.record, grant) || read.record.activatedAt > deadline) {
    return refuse(deps, grant, 'untrusted-record', 'its activation record does not fit its approval');
  }
  if (read.record.expiresAt <= now) {
    return refuse(deps, grant, 'used', `it was activated at ${isoTime(read.record.activatedAt)} and expired`);
  }
  return { kind: 'retry', record: read.record };
}

/**
 * Whether a recorded activation is one this decision can have made: same place, and its expiry exactly what
 * the sealed duration (or window) gives from its start. Anyone who may write the archive and holds the
 * seal keys could otherwise fix a far expiry before the worker's first write.
 */
const fitsDecision = (record: ActivationRecord, grant: Grant) =>
  record.cluster === grant.cluster &&
  record.namespace === grant.namespace &&
  (record.legacy === true || record.expiresAt === accessEnd(grant, record.activatedAt));

async function refuse(
  deps: EngineDeps,
  grant: Grant,
  why: string,
  text: string,
  hint = 'Nothing was written. Someone with write access to Redis may have set this record back to approved.',
): Promise<never> {
  deps.logger.warn({ grantId: grant.id, why }, 'refused to activate a used or expired decision');
  await audit(deps, grant, 'replayed-decision', 'system', { why, auditVersion: 1 });
  throw forbidden(`Request ${grant.id} cannot be activated: ${text}`, hint, { grantId: grant.id });
}

/**
 * The use-by time of the decision. A v2 decision seals its own. A v1 decision (approved before the upgrade)
 * seals no time: a window's sealed start gives one; otherwise it may be activated only within the
 * activation window after the first v2 worker started (the upgrade marker), so a v1 record that was used
 * and ended before the upgrade cannot be replayed later.
 */
async function activateByOf(deps: EngineDeps, grant: Grant): Promise<number> {
  if (sealVersion(grant.decisionSeal) !== 'v1') return grant.activateBy ?? 0;
  if (grant.startsAt !== undefined) return activationDeadline(grant.startsAt);
  const upgraded = await upgradedAt(deps);
  return upgraded === undefined ? 0 : upgraded + ACTIVATION_WINDOW_MS;
}

/** Written once, when the first worker with the ledger starts: when v1 decisions' grace began. */
export async function markUpgrade(deps: LedgerDeps): Promise<void> {
  const at = deps.clock.now();
  const body = { v: 1, at, seal: sealLedger(deps.seal, 'upgrade', [at]) };
  await deps.archive.putOnce(UPGRADE_MARKER_KEY, JSON.stringify(body));
}

async function upgradedAt(deps: LedgerDeps): Promise<number | undefined> {
  const body = await deps.archive.get(UPGRADE_MARKER_KEY);
  if (body === undefined) return undefined;
  try {
    const { at, seal } = JSON.parse(body) as { at: number; seal: string };
    return verifyLedgerSeal(deps.seal, 'upgrade', [at], seal) === 'valid' ? at : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The sealed activation record of an active grant. A grant activated before the ledger existed has none:
 * one is written now from what is sealed (its RoleBinding's expiry, less the extensions Redis lists as
 * applied: a lower base only shortens the cap), so from here on the cap is fixed. Undefined when a record
 * is there but cannot be trusted (the caller refuses).
 */
export async function activationOf(
  deps: EngineDeps,
  grant: Grant,
  sealedExpiry: number,
): Promise<ActivationRecord | undefined> {
  const key = ledgerKey.activation(grant.id);
  let body = await deps.archive.get(key);
  if (body === undefined) {
    const applied = grant.extensions.reduce((sum, e) => sum + e.seconds, 0);
    const legacy = activationRecord(deps.seal, {
      grantId: grant.id,
      cluster: grant.cluster,
      namespace: grant.namespace,
      activatedAt: grant.activatedAt ?? deps.clock.now(),
      expiresAt: sealedExpiry - applied * 1000,
      worker: workerOf(deps),
      legacy: true,
    });
    const written = await deps.archive.putOnce(key, JSON.stringify(legacy));
    body = written === 'created' ? JSON.stringify(legacy) : await deps.archive.get(key);
  }
  const read = body === undefined ? undefined : readRecord(deps.seal, 'activation', grant.id, body);
  if (!read || 'untrusted' in read) return undefined;
  // An activation never recorded a later end than its binding has carried since (extensions only add).
  return fitsDecision(read.record, grant) && read.record.expiresAt <= sealedExpiry ? read.record : undefined;
}

/** The record of a claim spent before; undefined when it was not, 'untrusted' when it cannot be read. */
export async function spentExtension(
  deps: EngineDeps,
  grant: Pick<Grant, 'id'>,
  extensionId: string,
): Promise<ExtensionRecord | 'untrusted' | undefined> {
  const body = await deps.archive.get(ledgerKey.extension(grant.id, extensionId));
  if (body === undefined) return undefined;
  const read = readRecord(deps.seal, 'extension', grant.id, body);
  return 'record' in read ? read.record : 'untrusted';
}

/**
 * Spends an extension claim: the first call records the absolute end it moves to; every later call (a
 * retry, a replay, a re-queue) gets that same record back and can move nothing further. Undefined when a
 * record is there but cannot be trusted.
 */
export async function spendExtension(
  deps: EngineDeps,
  grant: Grant,
  claim: { id: string; seconds: number },
  expiresAt: number,
): Promise<{ spent: 'now' | 'before'; record: ExtensionRecord } | undefined> {
  const key = ledgerKey.extension(grant.id, claim.id);
  const record = extensionRecord(deps.seal, {
    grantId: grant.id,
    extensionId: claim.id,
    seconds: claim.seconds,
    expiresAt,
    at: deps.clock.now(),
    worker: workerOf(deps),
  });
  if ((await deps.archive.putOnce(key, JSON.stringify(record))) === 'created')
    return { spent: 'now', record };
  const body = await deps.archive.get(key);
  const read = body === undefined ? undefined : readRecord(deps.seal, 'extension', grant.id, body);
  return read && 'record' in read ? { spent: 'before', record: read.record } : undefined;
}
