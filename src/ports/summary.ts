// Where the weekly access summary goes: the audit channel, with the chart attached. The Slack adapter
// implements it (chat.postMessage, files.uploadV2).
import type { WeeklySummary } from '../domain/summary.js';

export interface SummaryPublisher {
  publish(channel: string, summary: WeeklySummary, chart?: { png: Uint8Array; title: string }): Promise<void>;
}
