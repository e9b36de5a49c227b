// Every format that outlives the process that wrote it, and the version this code writes. A reader
// accepts every version up to its own (an unversioned record is version 1: the shape of 0.1.0, written
// before the version was stamped), so a grant made by an older release is revoked by a newer one and an
// old and a new worker can run side by side during a rolling upgrade (docs/operations.md, Upgrades).
// A version goes up only when a field changes meaning or a reader of the previous version would misread
// the record; then a new fixture set is captured (scripts/fixtures/capture.ts), and
// test/unit/persisted-formats.test.ts fails until it is.
import { AUDIT_RECORD_VERSION } from './audit-record.js';
import { LEDGER_VERSION } from './ledger.js';

/** The grant record in Redis (`<prefix>grant:<id>`, field `v`) and its status and requester indexes. */
export const GRANT_RECORD_VERSION = 1;
/** The engine's BullMQ job payloads (activate, extend, revoke, remind, reconcile; field `v`). */
export const JOB_PAYLOAD_VERSION = 1;
/** The Slack outbox's job payloads (field `v`; an `audit-batch` job's `v` is also its list's entry format). */
export const OUTBOX_PAYLOAD_VERSION = 1;
/**
 * A RoleBinding's labels and annotations (annotation `eks-access.io/format`). 1: before the installation
 * label (such bindings are the reading installation's own); 2: with `eks-access.io/installation`.
 */
export const ROLE_BINDING_FORMAT_VERSION = 2;
/** An audit event in the Redis stream (field `v`); the chained record (stdout, archive) has its own `v`. */
export const AUDIT_STREAM_ENTRY_VERSION = 1;
/**
 * The personal IAM role's trust policy and tags, and the aws-auth entry: AWS's formats, with no room for a
 * version of ours. What eks-access writes into them is versioned here and guarded by the fixtures only.
 */
export const IAM_ROLE_FORMAT_VERSION = 1;
export const AWS_AUTH_ENTRY_FORMAT_VERSION = 1;

/**
 * The versions by format name, as fixture manifests (test/fixtures/persisted/<release>/manifest.json)
 * record them. Seals name their version in their text (`v1.<key>.<mac>`): binding and ledger seals are
 * v1, decision seals v2 (v1 ones still verify).
 */
export const PERSISTED_FORMATS = {
  'grant-record': GRANT_RECORD_VERSION,
  'job-payload': JOB_PAYLOAD_VERSION,
  'outbox-payload': OUTBOX_PAYLOAD_VERSION,
  'role-binding': ROLE_BINDING_FORMAT_VERSION,
  'binding-seal': 1,
  'decision-seal': 2,
  'ledger-record': LEDGER_VERSION,
  'audit-record': AUDIT_RECORD_VERSION,
  'audit-stream-entry': AUDIT_STREAM_ENTRY_VERSION,
  'iam-role': IAM_ROLE_FORMAT_VERSION,
  'aws-auth-entry': AWS_AUTH_ENTRY_FORMAT_VERSION,
} as const;
export type PersistedFormat = keyof typeof PERSISTED_FORMATS;

/** The version of a record that names one in `v`; an unversioned one is version 1. */
export const formatVersionOf = (record: { v?: unknown }): number =>
  typeof record.v === 'number' && Number.isInteger(record.v) ? record.v : 1;
