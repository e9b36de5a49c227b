// The weekly summary in Slack: one message with the figures (requesters as mentions), then the chart as
// a file shared into the same channel (files.uploadV2: files.getUploadURLExternal, the upload, and
// files.completeUploadExternal; needs files:write and the bot in the channel).
import type { webApi } from '@slack/bolt';
import type { WeeklySummary } from '../../domain/summary.js';
import { summaryLines } from '../../domain/summary.js';
import { humanTime } from '../../domain/text.js';
import type { SummaryPublisher } from '../../ports/summary.js';
import { context, esc, type Message, mention, section } from './blocks.js';
import { asSlackMessage } from './handlers/context.js';

export class SlackSummaryPublisher implements SummaryPublisher {
  readonly #client: webApi.WebClient;

  constructor(client: webApi.WebClient) {
    this.#client = client;
  }

  async publish(
    channel: string,
    summary: WeeklySummary,
    chart?: { png: Uint8Array; title: string },
  ): Promise<void> {
    const lines = summaryLines(summary, (id) => mention(id));
    const message: Message = {
      text: `Weekly access summary: ${summary.grants} grant(s), ${summary.breakGlass.uses} break-glass`,
      blocks: [
        section(
          `:bar_chart: *Weekly access summary* — ${esc(humanTime(summary.since))} to ${esc(humanTime(summary.until))}`,
        ),
        ...lines.map((line) => section(line)),
        context('`eks-access report --since 7d --format csv` has every grant.'),
      ],
    };
    await this.#client.chat.postMessage({ channel, ...asSlackMessage(message) });
    if (chart) {
      await this.#client.filesUploadV2({
        channel_id: channel,
        file: Buffer.from(chart.png),
        filename: 'eks-access-weekly-summary.png',
        title: chart.title,
      });
    }
  }
}
