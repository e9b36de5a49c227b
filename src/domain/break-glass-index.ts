// The archive's index of break-glass uses: one key per use, named so that a rule's uses in a window are
// a listing (no object read): `index/break-glass/<rule>/<iso time>-<grant id>-<Slack user id>`.
// After Redis lost its data the worker lists each rule's window and restores the counts from it.

export const BREAK_GLASS_INDEX_PREFIX = 'index/break-glass/';

export interface BreakGlassUseKey {
  rule: string;
  /** The Slack user who used it. */
  by: string;
  grantId: string;
  at: number;
}

export const breakGlassRulePrefix = (rule: string) => `${BREAK_GLASS_INDEX_PREFIX}${rule}/`;

export function breakGlassIndexKey(use: BreakGlassUseKey): string {
  return `${breakGlassRulePrefix(use.rule)}${new Date(use.at).toISOString()}-${use.grantId}-${use.by}`;
}

/** Where a listing of a rule's uses at or after `since` starts (exclusive, so nothing at `since` is missed). */
export const breakGlassWindowStart = (rule: string, since: number) =>
  `${breakGlassRulePrefix(rule)}${new Date(since).toISOString()}`;

export function parseBreakGlassIndexKey(key: string): BreakGlassUseKey | undefined {
  const match =
    /^index\/break-glass\/([a-z0-9-]+)\/(\d{4}-\d{2}-\d{2}T[\d:.]+Z)-(ea-[a-z2-9]+)-([A-Za-z0-9]+)$/.exec(
      key,
    );
  if (!match) return undefined;
  const at = Date.parse(match[2] as string);
  return Number.isFinite(at)
    ? { rule: match[1] as string, at, grantId: match[3] as string, by: match[4] as string }
    : undefined;
}
