import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/adapters/slack/grammar.js';
import type { AccessError } from '../../src/domain/errors.js';

const refused = (text: string): AccessError => {
  try {
    parseCommand(text);
  } catch (error) {
    return error as AccessError;
  }
  throw new Error(`"${text}" was accepted`);
};

describe('the /eks-access grammar', () => {
  it('reads the example from the issue', () => {
    expect(parseCommand('request test for 2h because INC-123')).toEqual({
      kind: 'request',
      namespace: 'test',
      duration: '2h',
      reason: 'INC-123',
    });
  });

  it('takes keywords in any order, a bare duration, `in` for `on`, and keeps the reason verbatim', () => {
    expect(
      parseCommand('  REQUEST test as view in prod-eu 30m because db is on fire <!channel> for real '),
    ).toEqual({
      kind: 'request',
      namespace: 'test',
      cluster: 'prod-eu',
      level: 'view',
      duration: '30m',
      reason: 'db is on fire <!channel> for real',
    });
  });

  it('opens the modal for a bare request and shows help for nothing at all', () => {
    expect(parseCommand('request')).toEqual({ kind: 'request-modal' });
    expect(parseCommand('')).toEqual({ kind: 'help' });
    expect(parseCommand('help')).toEqual({ kind: 'help' });
  });

  it('reads the id commands', () => {
    expect(parseCommand('done ea-abcd2345')).toEqual({ kind: 'done', id: 'ea-abcd2345' });
    expect(parseCommand('revoke EA-ABCD2345')).toEqual({ kind: 'revoke', id: 'ea-abcd2345' });
    expect(parseCommand('revoke ea-abcd2345 because INC-9 is closed')).toEqual({
      kind: 'revoke',
      id: 'ea-abcd2345',
      reason: 'INC-9 is closed',
    });
    expect(parseCommand('cancel ea-abcd2345')).toEqual({ kind: 'cancel', id: 'ea-abcd2345' });
    expect(parseCommand('extend ea-abcd2345 for 1h')).toEqual({
      kind: 'extend',
      id: 'ea-abcd2345',
      duration: '1h',
    });
    expect(parseCommand('extend ea-abcd2345')).toEqual({ kind: 'extend', id: 'ea-abcd2345' });
    expect(parseCommand('list')).toEqual({ kind: 'list' });
    expect(parseCommand('approvals')).toEqual({ kind: 'approvals' });
    expect(parseCommand('whoami')).toEqual({ kind: 'whoami' });
  });

  it('refuses what it cannot read, saying what it expected', () => {
    expect(refused('frobnicate').message).toBe('"frobnicate" is not an eks-access command');
    expect(refused('frobnicate').hint).toContain('/eks-access help');
    expect(refused('request test please').message).toBe('I did not understand "please"');
    expect(refused('request test for').message).toBe('"for" needs a value after it');
    expect(refused('request test for 1h for 2h').message).toBe('duration is given twice');
    expect(refused('done').message).toBe('`done` needs a request id');
    expect(refused('done 123; rm -rf').message).toBe('"123;" is not a request id');
    expect(refused('done ea-abcd2345 now').message).toBe('`done` takes only a request id');
  });
});
