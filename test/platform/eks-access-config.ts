// EKS's authentication-mode switch, which ministack 1.5 lacks, in a thin HTTP layer in front of it.
//
// Every request is forwarded unchanged (the Host header included), so ministack still verifies its SigV4
// signature and evaluates the caller's IAM policy for the action. Two answers are then corrected:
//
//   - `POST /clusters/{name}/update-config` with `accessConfig.authenticationMode`: ministack, once the
//     caller is allowed, answers 400 "No route for". The layer applies the switch EKS allows, one way
//     (CONFIG_MAP → API_AND_CONFIG_MAP → API, never back), answers EKS's `AccessConfigUpdate`, and from
//     then on reports the new mode in DescribeCluster. `GET /clusters/{name}/updates/{id}` reports it
//     Successful. Anything else in an update-config body is left as ministack answers it.
//   - `POST /clusters/{name}/access-entries` on a cluster in CONFIG_MAP mode: EKS refuses it
//     (InvalidRequestException), ministack creates it. The layer refuses it.
//
// Divergences, written down in docs/test-platform.md: the switch takes effect at once (EKS takes minutes,
// the update staying InProgress meanwhile), and the CONFIG_MAP refusal comes before the signature and
// IAM checks (EKS checks those first), so an unsigned request on such a cluster is refused for its mode.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { forward, readBody, relay, send } from './aws-gateway.js';

const MODES = ['CONFIG_MAP', 'API_AND_CONFIG_MAP', 'API'] as const;
type Mode = (typeof MODES)[number];

/** EKS's default for a cluster created without an access config. */
const DEFAULT_MODE: Mode = 'CONFIG_MAP';

export interface EksAccessConfigLayer {
  /** http://127.0.0.1:PORT, to use as the EKS endpoint in place of the emulator's. */
  endpoint: string;
  close(): Promise<void>;
}

function modeOf(value: unknown): Mode | undefined {
  return MODES.find((m) => m === value);
}

function eksError(res: http.ServerResponse, status: number, type: string, message: string): void {
  res.setHeader('x-amzn-errortype', type);
  send(res, status, JSON.stringify({ message }));
}

function parse(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString() || '{}');
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export async function startEksAccessConfigLayer(upstream: string): Promise<EksAccessConfigLayer> {
  /** Modes as the emulator reported them at creation (undefined: none given, EKS's default). */
  const created = new Map<string, Mode | undefined>();
  /** Modes switched here: these override what the emulator reports. */
  const switched = new Map<string, Mode>();
  const updates = new Map<string, { cluster: string; mode: Mode; createdAt: number }>();
  const modeNow = (cluster: string): Mode | undefined =>
    switched.get(cluster) ?? (created.has(cluster) ? (created.get(cluster) ?? DEFAULT_MODE) : undefined);

  const updateBody = (id: string) => {
    const update = updates.get(id);
    if (!update) return undefined;
    return {
      update: {
        id,
        status: 'Successful',
        type: 'AccessConfigUpdate',
        params: [{ type: 'AuthenticationMode', value: update.mode }],
        createdAt: update.createdAt,
        errors: [],
      },
    };
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://layer').pathname;
    const cluster = decodeURIComponent(/^\/clusters\/([^/]+)/.exec(path)?.[1] ?? '');

    if (method === 'POST' && path === `/clusters/${encodeURIComponent(cluster)}/access-entries`) {
      if (modeNow(cluster) === 'CONFIG_MAP') {
        eksError(
          res,
          400,
          'InvalidRequestException',
          `The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.`,
        );
        return;
      }
    }

    const answer = await forward(upstream, method, req.url ?? '/', { ...req.headers }, body);
    const json = answer.status === 200 ? parse(answer.body) : undefined;

    if (method === 'POST' && path === '/clusters' && json) {
      const made = json['cluster'] as { name?: string; accessConfig?: { authenticationMode?: unknown } };
      if (made?.name) created.set(made.name, modeOf(made.accessConfig?.authenticationMode));
    }
    if (method === 'GET' && /^\/clusters\/[^/]+$/.test(path) && json) {
      const described = json['cluster'] as { accessConfig?: { authenticationMode?: unknown } } | undefined;
      if (described && !created.has(cluster)) {
        created.set(cluster, modeOf(described.accessConfig?.authenticationMode));
      }
      const mode = switched.get(cluster);
      if (described && mode) {
        described.accessConfig = { ...described.accessConfig, authenticationMode: mode };
        send(res, 200, JSON.stringify(json));
        return;
      }
    }

    const unrouted = answer.status === 400 && /No route for/i.test(answer.body.toString());
    if (unrouted && method === 'POST' && path === `/clusters/${encodeURIComponent(cluster)}/update-config`) {
      const wanted = modeOf(
        (parse(body)?.['accessConfig'] as { authenticationMode?: unknown } | undefined)?.authenticationMode,
      );
      const from = modeNow(cluster);
      if (!from) {
        eksError(res, 404, 'ResourceNotFoundException', `No cluster found for name: ${cluster}.`);
        return;
      }
      if (!wanted || MODES.indexOf(wanted) <= MODES.indexOf(from)) {
        eksError(
          res,
          400,
          'InvalidParameterException',
          `Unsupported authentication mode update from ${from} to ${wanted ?? 'an unknown mode'}`,
        );
        return;
      }
      const id = randomUUID();
      updates.set(id, { cluster, mode: wanted, createdAt: Date.now() / 1000 });
      switched.set(cluster, wanted);
      const reply = updateBody(id);
      if (reply) reply.update.status = 'InProgress';
      send(res, 200, JSON.stringify(reply));
      return;
    }
    const status = /^\/clusters\/[^/]+\/updates\/([^/]+)$/.exec(path);
    if (unrouted && method === 'GET' && status) {
      const reply = updateBody(decodeURIComponent(status[1] ?? ''));
      if (reply && reply.update && updates.get(reply.update.id)?.cluster === cluster) {
        send(res, 200, JSON.stringify(reply));
        return;
      }
    }

    relay(res, answer);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent)
        send(res, 502, JSON.stringify({ message: `EKS access-config layer: ${String(error)}` }));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
