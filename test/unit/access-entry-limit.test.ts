import { describe, expect, it } from 'vitest';
import { ACCESS_ENTRY_LIMIT, accessEntryHeadroom } from '../../src/domain/access-entry-limit.js';

describe("EKS's access-entry limit, as doctor judges it", () => {
  it('passes well below the limit, saying how many of how many', () => {
    expect(accessEntryHeadroom(120, 'prod')).toEqual({
      ok: true,
      warning: false,
      detail: "120 of 3000 (EKS's limit per cluster)",
    });
  });

  it('warns from 90 % on, with what is left and what to do', () => {
    const near = accessEntryHeadroom(2700, 'prod');
    expect(near).toMatchObject({ ok: true, warning: true });
    expect(near.detail).toContain('300 left');
    expect(near.fix).toContain('aws eks list-access-entries --cluster-name prod');
    expect(accessEntryHeadroom(2699, 'prod').warning).toBe(false);
  });

  it('fails at the limit: grants there are refused', () => {
    const full = accessEntryHeadroom(ACCESS_ENTRY_LIMIT, 'prod');
    expect(full).toMatchObject({ ok: false });
    expect(full.detail).toContain('grants are refused');
  });
});
