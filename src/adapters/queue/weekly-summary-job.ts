// The weekly summary's schedule: a BullMQ job scheduler (re-asserted at every start, so a Redis that lost
// its data gets it back with the next worker start) and a worker that runs the use case. Only one job
// runs per slot however many worker replicas there are: BullMQ schedules by id.
import { Queue, Worker } from 'bullmq';
import type { Logger } from '../logger.js';
import { blockingDuplicate, type RedisClient } from '../redis/connection.js';

export const SUMMARY_QUEUE = 'summary';
const SCHEDULER_ID = 'weekly-summary';

export interface WeeklySummaryJob {
  close(): Promise<void>;
}

export async function startWeeklySummaryJob(options: {
  redis: RedisClient;
  prefix: string;
  logger: Logger;
  cron: string;
  timeZone: string;
  run: () => Promise<unknown>;
}): Promise<WeeklySummaryJob> {
  // Connections of our own (BullMQ does not close connections it was given): closed with the job.
  const connections: RedisClient[] = [];
  const connection = () => {
    const client = blockingDuplicate(options.redis);
    connections.push(client);
    return client;
  };
  const queue = new Queue(SUMMARY_QUEUE, { connection: connection(), prefix: options.prefix });
  await queue.upsertJobScheduler(
    SCHEDULER_ID,
    { pattern: options.cron, tz: options.timeZone },
    { name: 'summary' },
  );
  const worker = new Worker(
    SUMMARY_QUEUE,
    async () => {
      await options.run();
    },
    { connection: connection(), prefix: options.prefix, concurrency: 1 },
  );
  worker.on('failed', (job, error) =>
    options.logger.warn({ err: error, job: job?.id }, 'weekly summary could not be posted'),
  );
  return {
    close: async () => {
      await worker.close();
      await queue.close();
      await Promise.all(connections.map((c) => c.quit().catch(() => undefined)));
    },
  };
}
