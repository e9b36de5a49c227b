// The seal keys tests run with: generated per test process (never a constant in the repository), the
// same for every bot, worker and CLI a test starts, so what one seals the other verifies.
import { randomBytes } from 'node:crypto';
import { parseSealKeys, type SealKeys } from '../../src/domain/seal.js';

/** `SEAL_KEYS` for a test's env. */
export const TEST_SEAL_KEYS = `t1:${randomBytes(32).toString('base64')}`;

export const testSealKeys = (): SealKeys => parseSealKeys(TEST_SEAL_KEYS).keys as SealKeys;
