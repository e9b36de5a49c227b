// A redis-server owned by one test run: loopback only, nothing written to disk, and noeviction, which
// BullMQ requires (an evicted job key would be silent data loss).
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { freePort, type ManagedProcess, startProcess, waitUntil } from './processes.js';

/** Whether a redis-server answers PING on 127.0.0.1:`port` (raw RESP, no client needed). */
export function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(2_000);
    let reply = '';
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => {
      reply += data.toString();
      if (reply.includes('\r\n')) {
        socket.end();
        resolve(reply.startsWith('+PONG'));
      }
    });
    socket.on('timeout', () => socket.destroy());
    socket.on('error', () => resolve(false));
    socket.on('close', () => resolve(false));
  });
}

export async function startRedis(runDir: string, track: ManagedProcess[]): Promise<string> {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error(
      'redis-server is not installed: run scripts/platform/install.sh (apt-get install redis-server)',
    );
  }
  const dir = join(runDir, 'redis');
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const redis = startProcess(
    'redis',
    'redis-server',
    // biome-ignore format: flag/value pairs read best one per line
    ['--bind', '127.0.0.1', '--port', `${port}`, '--save', '', '--appendonly', 'no',
      '--maxmemory-policy', 'noeviction', '--dir', dir, '--daemonize', 'no'],
    { logDir: join(runDir, 'logs'), track },
  );
  await waitUntil('redis-server PING', async () => ((await ping(port)) ? true : undefined), {
    timeoutMs: 30_000,
    process: redis,
  });
  return `redis://127.0.0.1:${port}`;
}
