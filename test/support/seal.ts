// The seal keys tests run with: generated once per run by the int project's global setup (never a
// constant in the repository), the same for every bot, worker and CLI any test file starts, so what one
// seals the others verify; generated here when nothing set it (benchmarks).
import { randomBytes } from 'node:crypto';
import { parseSealKeys, type SealKeys } from '../../src/domain/seal.js';

/** `SEAL_KEYS` for a test's env. */
export const TEST_SEAL_KEYS =
  process.env['EKS_ACCESS_TEST_SEAL_KEYS'] ?? `t1:${randomBytes(32).toString('base64')}`;

export const testSealKeys = (): SealKeys => parseSealKeys(TEST_SEAL_KEYS).keys as SealKeys;
