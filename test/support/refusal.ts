// The AccessError a synchronous call refuses with; fails the test when it does not refuse.
import { expect } from 'vitest';
import { AccessError } from '../../src/domain/errors.js';

export function refusal(work: () => unknown): AccessError {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(AccessError);
    return error as AccessError;
  }
  throw new Error('expected a refusal');
}
