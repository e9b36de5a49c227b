// Seals: HMAC-SHA256 over the facts that decide access, so that what the worker wrote (a RoleBinding)
// and what an approval produced (a grant record) can be told apart from look-alikes written by anyone
// else with RoleBinding or Redis write access. Pure: the keys come from the composition root.
//
// A seal reads `<version>.<key id>.<base64url HMAC>`. The HMAC covers a canonical encoding (a JSON array
// in a fixed order, prefixed with the version and the purpose), so a binding seal can never pass as a
// decision seal or the other way round, a v1 seal never for a v2 one, and no field can bleed into its
// neighbour. Decision seals are v2 (they add when it was decided, the activation deadline and the
// break-glass use); v1 decision seals still verify, for grants approved before the upgrade.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Approval, Grant } from './grant.js';

/** Keys shorter than this are refused: the seal is only as strong as its key. */
export const MIN_SEAL_KEY_BYTES = 32;
const KEY_ID = /^[a-z0-9][a-z0-9-]{0,15}$/;

interface SealKey {
  id: string;
  secret: Buffer;
}

/**
 * The key ring: the first key seals, every key verifies (so keys can rotate: put the new key first,
 * keep the old one until every seal made with it has expired). Secrets live in private fields, and
 * JSON/inspection show key ids only, so a logged object never carries one.
 */
export class SealKeys {
  readonly #keys: readonly SealKey[];

  constructor(keys: readonly { id: string; secret: Uint8Array }[]) {
    if (keys.length === 0) throw new Error('SealKeys needs at least one key');
    this.#keys = keys.map((k) => ({ id: k.id, secret: Buffer.from(k.secret) }));
  }

  get currentId(): string {
    return (this.#keys[0] as SealKey).id;
  }

  get ids(): string[] {
    return this.#keys.map((k) => k.id);
  }

  /** @internal the HMAC with the current key, or with the key of that id (undefined when unknown). */
  mac(payload: string, keyId = this.currentId): Buffer | undefined {
    const key = this.#keys.find((k) => k.id === keyId);
    return key ? createHmac('sha256', key.secret).update(payload).digest() : undefined;
  }

  toJSON(): { ids: string[] } {
    return { ids: this.ids };
  }

  toString(): string {
    return `SealKeys(${this.ids.join(',')})`;
  }
}

/**
 * `SEAL_KEYS`: comma-separated `<id>:<base64 secret>`, the sealing key first. Each secret must decode
 * to at least 32 bytes (`openssl rand -base64 32`). Problems are named without echoing any secret.
 */
export function parseSealKeys(text: string): { keys?: SealKeys; problems: string[] } {
  const problems: string[] = [];
  const keys: SealKey[] = [];
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) problems.push('no key given');
  for (const [index, part] of parts.entries()) {
    const colon = part.indexOf(':');
    const id = colon > 0 ? part.slice(0, colon) : '';
    const encoded = colon > 0 ? part.slice(colon + 1) : '';
    const where = `key ${index + 1}`;
    if (!KEY_ID.test(id)) {
      problems.push(`${where}: write it as <id>:<base64 secret>, the id 1-16 of a-z, 0-9, "-"`);
      continue;
    }
    if (keys.some((k) => k.id === id)) problems.push(`${where}: the id "${id}" is used twice`);
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(encoded)) {
      problems.push(`${where} ("${id}"): the secret is not base64`);
      continue;
    }
    const secret = Buffer.from(
      encoded,
      encoded.includes('-') || encoded.includes('_') ? 'base64url' : 'base64',
    );
    if (secret.length < MIN_SEAL_KEY_BYTES) {
      problems.push(
        `${where} ("${id}"): the secret is ${secret.length} bytes; at least ${MIN_SEAL_KEY_BYTES} are needed (openssl rand -base64 32)`,
      );
      continue;
    }
    keys.push({ id, secret });
  }
  return problems.length > 0 ? { problems } : { keys: new SealKeys(keys), problems };
}

export type SealVerdict = 'valid' | 'missing' | 'malformed' | 'unknown-key' | 'mismatch';

type Version = 'v1' | 'v2';

function seal(keys: SealKeys, purpose: string, fields: readonly unknown[], version: Version = 'v1'): string {
  const mac = keys.mac(canonical(version, purpose, fields)) as Buffer;
  return `${version}.${keys.currentId}.${mac.toString('base64url')}`;
}

/** The version a seal text names (`v1`, `v2`), or undefined when it names none. */
export function sealVersion(sealText: string | undefined): string | undefined {
  return sealText?.split('.')[0] || undefined;
}

function verify(
  keys: SealKeys,
  purpose: string,
  fields: readonly unknown[],
  sealText: string | undefined,
  version: Version = 'v1',
): SealVerdict {
  if (!sealText) return 'missing';
  const [named, keyId, encoded, ...rest] = sealText.split('.');
  if (named !== version || !keyId || !encoded || rest.length > 0) return 'malformed';
  const expected = keys.mac(canonical(version, purpose, fields), keyId);
  if (!expected) return 'unknown-key';
  const given = Buffer.from(encoded, 'base64url');
  return given.length === expected.length && timingSafeEqual(given, expected) ? 'valid' : 'mismatch';
}

const canonical = (version: Version, purpose: string, fields: readonly unknown[]) =>
  JSON.stringify(['eks-access-seal', version, purpose, ...fields]);

/** What a RoleBinding of ours grants; every field the engine reads from a found binding. */
export interface BindingFacts {
  grantId: string;
  cluster: string;
  namespace: string;
  level: string;
  username: string;
  principalArn: string;
  /** Empty for `identityMapping: none`. */
  roleArn: string;
  /** Epoch ms. */
  expiresAt: number;
  roleRef: { kind: string; name: string };
  /**
   * The requester's Slack user id: sealed on bindings written since grants can be rebuilt from them
   * (after Redis lost its data), absent from the seals of older ones (see bindingRequesterFields).
   */
  requester?: string;
}

const bindingFields = (f: BindingFacts) => [...bindingGrantFields(f), ...bindingRequesterFields(f)];

/**
 * The requester, appended only when it is sealed: a seal made before it was covered (no requester in
 * its fields) still verifies without it, and then the requester's annotation is not trusted.
 */
const bindingRequesterFields = (f: Pick<BindingFacts, 'requester'>) =>
  f.requester === undefined ? [] : ['requester', f.requester];

const bindingGrantFields = (f: BindingFacts) => [
  f.grantId,
  f.cluster,
  f.namespace,
  f.level,
  f.username,
  f.principalArn,
  f.roleArn,
  new Date(f.expiresAt).toISOString(),
  f.roleRef.kind,
  f.roleRef.name,
];

export function sealBinding(keys: SealKeys, facts: BindingFacts): string {
  if (!Number.isFinite(facts.expiresAt)) throw new Error('sealBinding: expiry is not a time');
  return seal(keys, 'binding', bindingFields(facts));
}

export function verifyBindingSeal(
  keys: SealKeys,
  facts: BindingFacts,
  sealText: string | undefined,
): SealVerdict {
  if (!Number.isFinite(facts.expiresAt)) return sealText ? 'mismatch' : 'missing';
  return verify(keys, 'binding', bindingFields(facts), sealText);
}

/** A RoleBinding as found on a cluster (labels and annotations read, nothing trusted yet). */
export interface FoundBinding {
  name: string;
  namespace: string;
  grantId: string;
  level: string;
  username: string;
  principalArn: string;
  roleArn?: string;
  expiresAt: number;
  roleRef: { kind: string; name: string };
  /** The requester annotation (Slack user id), if any. */
  requester?: string;
  seal?: string;
}

/**
 * Whether a found binding is one the worker wrote, as it wrote it, on this cluster: a valid seal under
 * the name its grant id gives (`eks-access-<grant id>`). A binding copied to another cluster fails.
 */
export function verifyFoundBinding(keys: SealKeys, cluster: string, b: FoundBinding): SealVerdict {
  const verdict = verifyFoundBindingFacts(keys, cluster, b, b.requester);
  // A binding sealed before the requester was covered: its grant facts still verify without it.
  return verdict === 'valid' || b.requester === undefined
    ? verdict
    : verifyFoundBindingFacts(keys, cluster, b, undefined);
}

/**
 * The id of the key that sealed a found binding, when its seal verifies (undefined otherwise). A seal
 * names its key (`<version>.<key id>.<mac>`) and is checked with that key only, so the key it names is
 * the one that verified it: the key that must stay in SEAL_KEYS for as long as the binding lives.
 */
export function sealingKeyOf(keys: SealKeys, cluster: string, b: FoundBinding): string | undefined {
  return verifyFoundBinding(keys, cluster, b) === 'valid' ? sealKeyId(b.seal) : undefined;
}

/** The key id a seal text names, verified or not (for a seal already found valid: the key that made it). */
export function sealKeyId(sealText: string | undefined): string | undefined {
  return sealText?.split('.')[1] || undefined;
}

/** The requester of a found binding when its seal covers it (undefined when unsealed or not ours). */
export function sealedRequesterOf(keys: SealKeys, cluster: string, b: FoundBinding): string | undefined {
  return b.requester !== undefined && verifyFoundBindingFacts(keys, cluster, b, b.requester) === 'valid'
    ? b.requester
    : undefined;
}

function verifyFoundBindingFacts(
  keys: SealKeys,
  cluster: string,
  b: FoundBinding,
  requester: string | undefined,
): SealVerdict {
  if (b.name !== `eks-access-${b.grantId}`) return 'mismatch';
  const facts: BindingFacts = {
    grantId: b.grantId,
    cluster,
    namespace: b.namespace,
    level: b.level,
    username: b.username,
    principalArn: b.principalArn,
    roleArn: b.roleArn ?? '',
    expiresAt: b.expiresAt,
    roleRef: b.roleRef,
    ...(requester === undefined ? {} : { requester }),
  };
  return verifyBindingSeal(keys, facts, b.seal);
}

/** An extension the bot claimed (on the grant record), for the worker to apply. */
export interface ExtensionFacts {
  id: string;
  by: string;
  seconds: number;
  auto: boolean;
  approvals?: readonly Approval[];
}

const extensionFields = (grantId: string, e: ExtensionFacts) => [
  grantId,
  e.id,
  e.by,
  e.seconds,
  e.auto,
  (e.approvals ?? []).map(approvalFields),
];

/** Sealed by the bot when it claims an extension; checked by the worker before it moves the expiry. */
export function sealExtension(keys: SealKeys, grantId: string, facts: ExtensionFacts): string {
  return seal(keys, 'extension', extensionFields(grantId, facts));
}

export function verifyExtensionSeal(
  keys: SealKeys,
  grantId: string,
  facts: ExtensionFacts,
  sealText: string | undefined,
): SealVerdict {
  return verify(keys, 'extension', extensionFields(grantId, facts), sealText);
}

/**
 * What an approval decided: the grant's identity, scope and who approved it (and through which group),
 * and (v2) when, until when it may be activated, the break-glass use it is, and the reason and tickets
 * that reviews read.
 */
export type DecisionFacts = Pick<
  Grant,
  | 'id'
  | 'cluster'
  | 'namespace'
  | 'level'
  | 'durationSeconds'
  | 'requiredApprovals'
  | 'approvals'
  | 'startsAt'
  | 'decidedAt'
  | 'activateBy'
  | 'breakGlass'
  | 'reason'
  | 'tickets'
> & { requester: Pick<Grant['requester'], 'slackUserId' | 'principalArn' | 'kubernetesUsername' | 'email'> };

const approvalFields = (a: Approval) => [a.slackUserId, a.autoRule ?? '', [...(a.viaGroups ?? [])].sort()];

const decisionFieldsV1 = (f: DecisionFacts) => [
  f.id,
  f.cluster,
  f.namespace,
  f.level,
  f.durationSeconds,
  f.requester.slackUserId,
  f.requester.principalArn,
  f.requester.kubernetesUsername,
  f.requester.email ?? '',
  f.requiredApprovals,
  f.approvals.map(approvalFields),
  // Appended only for a window, so seals made before windows existed still verify; removing the start
  // from a sealed window changes the fields, so it cannot turn a window into access now.
  ...(f.startsAt === undefined ? [] : ['window', f.startsAt]),
];

/**
 * v2: v1's fields and every fact the worker or a review relies on that v1 left open. The break-glass use
 * is sealed as granted (rule, incident, review deadline); its review and escalation come later and are
 * not part of the decision. Absent values are written as null, so removing one changes the encoding.
 */
const decisionFieldsV2 = (f: DecisionFacts) => [
  ...decisionFieldsV1(f),
  'v2',
  f.decidedAt ?? null,
  f.activateBy ?? null,
  f.breakGlass ? [f.breakGlass.rule, f.breakGlass.incident, f.breakGlass.reviewDue] : null,
  f.reason,
  [...(f.tickets ?? [])],
];

/**
 * Sealed by the bot when a request becomes `approved`; checked by the worker before it writes. Always
 * v2, so the record must carry `decidedAt` and `activateBy` (see activationDeadline).
 */
export function sealDecision(keys: SealKeys, facts: DecisionFacts): string {
  if (!Number.isFinite(facts.decidedAt) || !Number.isFinite(facts.activateBy)) {
    throw new Error('sealDecision: a decision needs decidedAt and activateBy');
  }
  return seal(keys, 'decision', decisionFieldsV2(facts), 'v2');
}

/**
 * Checks a decision seal of either version: v2 over v2's fields; v1 (made before the upgrade) over
 * v1's, which leave decidedAt, activateBy, breakGlass and the reason open: the worker accepts a v1
 * decision only under the limits in docs/engine.md (Seals).
 */
export function verifyDecisionSeal(
  keys: SealKeys,
  facts: DecisionFacts,
  sealText: string | undefined,
): SealVerdict {
  return sealVersion(sealText) === 'v1'
    ? verify(keys, 'decision', decisionFieldsV1(facts), sealText, 'v1')
    : verify(keys, 'decision', decisionFieldsV2(facts), sealText, 'v2');
}

/** @internal tests and the upgrade path only: a v1 decision seal, as versions before v2 made them. */
export function sealDecisionV1(keys: SealKeys, facts: DecisionFacts): string {
  return seal(keys, 'decision', decisionFieldsV1(facts), 'v1');
}

/**
 * A worker-written record in the durable ledger (src/domain/ledger.ts): sealed so that a record put into
 * the archive by anyone else with write access to it can only refuse, never fix an expiry.
 */
export function sealLedger(keys: SealKeys, kind: string, fields: readonly unknown[]): string {
  return seal(keys, `ledger-${kind}`, fields);
}

export function verifyLedgerSeal(
  keys: SealKeys,
  kind: string,
  fields: readonly unknown[],
  sealText: string | undefined,
): SealVerdict {
  return verify(keys, `ledger-${kind}`, fields, sealText);
}
