// Liveness, readiness and metrics for the bot and the worker, on their own port (METRICS_PORT), so
// probes and scrapes never compete with Slack traffic. node:http only.
//   /healthz  200 while the event loop runs (restart me if this fails)
//   /readyz   200 when every injected check passes (Redis, Slack connection, clusters), else 503
//   /metrics  Prometheus text format
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../logger.js';
import { listen } from './listen.js';

/** A readiness check resolves when ready and throws (with a short, secret-free message) when not. */
export type ReadinessCheck = () => Promise<void>;

export interface HealthServerOptions {
  port: number;
  host?: string;
  checks: Readonly<Record<string, ReadinessCheck>>;
  registry?: Registry;
  logger?: Logger;
  /** Per-check deadline: a hanging dependency makes the pod unready, not the probe time out. */
  checkTimeoutMs?: number;
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

export async function runReadiness(
  checks: Readonly<Record<string, ReadinessCheck>>,
  timeoutMs = 3_000,
): Promise<{ ready: boolean; checks: Record<string, string> }> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]): Promise<[string, string]> => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return [name, 'ok'];
      } catch (error) {
        return [name, error instanceof Error ? error.message : String(error)];
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ready: entries.every(([, status]) => status === 'ok'), checks: Object.fromEntries(entries) };
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return reply(405, 'text/plain', 'method not allowed\n');
    if (path === '/healthz') return reply(200, 'text/plain', 'ok\n');
    if (path === '/readyz') {
      runReadiness(options.checks, options.checkTimeoutMs)
        .then((result) => {
          if (!result.ready) options.logger?.warn({ checks: result.checks }, 'not ready');
          reply(result.ready ? 200 : 503, 'application/json', `${JSON.stringify(result)}\n`);
        })
        .catch((error: unknown) => reply(500, 'text/plain', `${String(error)}\n`));
      return;
    }
    if (path === '/metrics' && options.registry) {
      const registry = options.registry;
      registry
        .metrics()
        .then((text) => reply(200, registry.contentType, text))
        .catch((error: unknown) => {
          options.logger?.error({ err: error }, 'metrics collection failed');
          reply(500, 'text/plain', 'metrics collection failed\n');
        });
      return;
    }
    reply(404, 'text/plain', 'not found\n');
  });
  return listen(server, options.port, options.host);
}
