// Break-glass rate limits after Redis lost its data: the counts live in Redis (the audit log's sorted
// sets, one ZCOUNT per check), and every use is also indexed in the archive. The worker's reconcile
// sweep restores the counts from the index whenever Redis does not say they were restored (a fresh or
// emptied Redis), listing only each rule's longest window: key names carry rule, time, grant and person.
import type { Policy } from '../config/policy.js';
import {
  breakGlassRulePrefix,
  breakGlassWindowStart,
  parseBreakGlassIndexKey,
} from '../domain/break-glass-index.js';
import type { Clock } from '../domain/clock.js';
import { parseDuration } from '../domain/duration.js';
import type { DurableArchive } from '../ports/archive.js';
import type { AuditLog } from '../ports/audit-log.js';

export interface BreakGlassCountDeps {
  policy: Policy;
  audit: Pick<AuditLog, 'breakGlassCountsRestored' | 'restoreBreakGlassUses'>;
  archive: Pick<DurableArchive, 'list'>;
  clock: Clock;
}

/** Restores the counts when Redis does not hold them; returns how many uses were put back (undefined: not needed). */
export async function restoreBreakGlassCounts(deps: BreakGlassCountDeps): Promise<number | undefined> {
  if (await deps.audit.breakGlassCountsRestored()) return undefined;
  const now = deps.clock.now();
  const uses = [];
  for (const rule of deps.policy.breakGlass) {
    const windowMs =
      Math.max(
        ...[rule.perPerson, ...(rule.perRule ? [rule.perRule] : [])].map((l) => parseDuration(l.per) ?? 0),
      ) * 1000;
    const keys = await deps.archive.list(breakGlassRulePrefix(rule.name), {
      startAfter: breakGlassWindowStart(rule.name, now - windowMs - 1),
    });
    for (const key of keys) {
      const use = parseBreakGlassIndexKey(key);
      if (use?.rule === rule.name) uses.push(use);
    }
  }
  await deps.audit.restoreBreakGlassUses(uses);
  return uses.length;
}
