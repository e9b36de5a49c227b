// Use case: the weekly access summary in the audit channel (grants per namespace, break-glass uses and
// their reviews, the longest grants, who held access longest), with a chart of access hours per
// namespace. Run by the worker's weekly job scheduler, or on demand (`eks-access report --post-summary`).
import type { Clock } from '../domain/clock.js';
import { accessHoursBars, type WeeklySummary, weeklySummary } from '../domain/summary.js';
import type { SummaryPublisher } from '../ports/summary.js';
import { type ReportDeps, reportRows } from './report.js';

export interface WeeklySummaryDeps extends ReportDeps {
  clock: Clock;
  publisher: SummaryPublisher;
  /** Renders the chart (adapters/chart, loaded lazily there). */
  renderChart: (chart: {
    title: string;
    valueTitle: string;
    bars: { label: string; value: number }[];
  }) => Promise<Uint8Array>;
}

export const SUMMARY_DAYS = 7;

/** Posts the summary of the last seven days; undefined (nothing posted) without an audit channel. */
export async function postWeeklySummary(deps: WeeklySummaryDeps): Promise<WeeklySummary | undefined> {
  const channel = deps.policy.settings.auditChannel;
  if (!channel) return undefined;
  const until = deps.clock.now();
  const window = { since: until - SUMMARY_DAYS * 86_400_000, until };
  const { rows } = await reportRows(deps, window);
  const summary = weeklySummary(rows, window);
  const bars = accessHoursBars(summary);
  const title = `Hours of access per namespace, last ${SUMMARY_DAYS} days`;
  const chart =
    bars.length > 0
      ? { png: await deps.renderChart({ title, valueTitle: 'hours', bars }), title }
      : undefined;
  await deps.publisher.publish(channel, summary, chart);
  return summary;
}
