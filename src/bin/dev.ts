// `npm run dev`: bot and worker in one process for a laptop. Slack tokens from .env; Redis at
// 127.0.0.1:6379 (a throwaway redis-server is started when none listens and one is installed); the
// current kubeconfig context and the default AWS credential chain; ./policy.yaml or the example.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { parseEnv } from '../config/load.js';
import { assertSlackSettings, startBotProcess } from './bot.js';
import { createRuntime } from './engine-runtime.js';
import { stopOnSignals } from './signals.js';
import { startWorker } from './worker.js';

/** KEY=value lines; the real environment wins. Only for development. */
function readDotEnv(path = '.env'): Record<string, string> {
  if (!existsSync(path)) return {};
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^\s*(?:export\s+)?([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (match?.[1]) out[match[1]] = (match[2] ?? '').replace(/^(['"])(.*)\1$/, '$2');
  }
  return out;
}

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => socket.end(() => resolve(true)));
    socket.once('error', () => resolve(false));
  });

async function ensureLocalRedis(): Promise<(() => void) | undefined> {
  if (await listening(6379)) return undefined;
  const child = spawn(
    'redis-server',
    ['--port', '6379', '--bind', '127.0.0.1', '--save', '', '--maxmemory-policy', 'noeviction'],
    {
      stdio: 'ignore',
    },
  );
  const failed = await new Promise<boolean>((resolve) => {
    child.once('error', () => resolve(true));
    const poll = async () => ((await listening(6379)) ? resolve(false) : setTimeout(poll, 100));
    void poll();
  });
  if (failed) {
    throw new Error(
      'Nothing listens on 127.0.0.1:6379 and redis-server is not installed (apt-get install redis-server).',
    );
  }
  return () => child.kill('SIGTERM');
}

async function main(): Promise<void> {
  const env = parseEnv({ ...readDotEnv(), ...process.env });
  assertSlackSettings(env);
  const stopRedis = env.REDIS_URL === 'redis://127.0.0.1:6379' ? await ensureLocalRedis() : undefined;
  // One process for both roles on a laptop, so it holds the worker's clients; in a cluster the bot
  // runs apart with the shared runtime only (bin/bot.ts).
  const runtime = await createRuntime(env, { role: 'worker' });
  // One health server (the worker's) on METRICS_PORT; the bot's would collide with it.
  const bot = await startBotProcess(runtime, { health: false });
  const worker = await startWorker(runtime, bot.slackNotifier);
  runtime.logger.info('eks-access dev: bot and worker running; try /eks-access help in Slack');
  stopOnSignals(runtime.logger, async () => {
    await bot.close();
    await worker.close();
    stopRedis?.();
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
