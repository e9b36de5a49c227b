// Faults between eks-access and the servers it calls, switched from the test process: a small HTTP proxy
// in front of one AWS emulator endpoint (moto for IAM or STS, ministack for EKS) and a TCP proxy in front
// of kube-apiserver (TLS passes through untouched, so the server's certificate still verifies).
//
//   const iam = await startAwsFaultProxy('iam', platform().aws.iamEndpoint);
//   // point AWS_ENDPOINT_URL_IAM at iam.url, then:
//   iam.set({ kind: 'down' });                       // every connection reset
//   iam.set({ kind: 'freeze' });                     // requests held unanswered until the next set()
//   iam.set({ kind: 'error', every: 3 });            // every 3rd request a 5xx in the service's shape
//   iam.limit({ perSecond: 2, burst: 2, actions: IAM_WRITES });  // AWS's throttling error beyond it
//   iam.set({ kind: 'pass' });
//
// A RequestGate, given to one or more proxies (an AWS one, and the TLS-terminating kube proxy below, which
// sees each request's method and path), holds the first request a rule picks and every one after it:
// none reaches the server, so a process can be killed exactly between two of its calls.
//
//   const gate = new RequestGate((r, before) => before.some(isRoleWrite) && !isRoleWrite(r));
//   iam.gate(gate); kube.gate(gate);
//   const held = await gate.held;   // then process.kill(pid, 'SIGKILL'); gate.drop();
//
// The error answers are the ones the real services send, so the SDK classifies them as it would in
// production (@smithy/core retry: `Throttling`/`ThrottlingException`/HTTP 429 are throttling errors, retried
// with the throttling backoff and fed to the adaptive rate limiter; 500/502/503/504 are transient):
//   - IAM and STS (query protocol): HTTP 400, `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>`;
//     5xx: HTTP 503 `<Code>ServiceUnavailable</Code>` (Type Receiver).
//   - EKS (REST-JSON): HTTP 429 with `x-amzn-ErrorType: ThrottlingException`; 5xx: HTTP 500 `ServerException`.
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { forward, readBody } from './aws-gateway.js';
import { makeServingCert } from './certs.js';

export type AwsService = 'iam' | 'sts' | 'eks';

export type Fault =
  /** Every request reaches the emulator. */
  | { kind: 'pass' }
  /** Every connection is reset, open ones at once (a crashed endpoint, a dropped route). */
  | { kind: 'down' }
  /** Requests are held unanswered until the fault changes (a hung endpoint); then they go on. */
  | { kind: 'freeze' }
  /** Every `every`-th request (1: all) is answered with the service's 5xx instead of reaching it. */
  | { kind: 'error'; every?: number };

/** A token bucket: `burst` calls at once, refilled at `perSecond`; beyond it AWS's throttling answer. */
export interface RateLimit {
  perSecond: number;
  burst: number;
  /** The actions it counts (one bucket shared by all of them); every action when absent. */
  actions?: readonly string[];
}

export interface ProxyStats {
  /** Per action: requests the emulator answered. */
  forwarded: Record<string, number>;
  /** Per action: requests answered with throttling. */
  throttled: Record<string, number>;
  /** Per action: requests answered with a 5xx. */
  failed: Record<string, number>;
  /** Connections reset while down. */
  reset: number;
}

/** One request as a proxy saw it arrive, before anything answered it. */
export interface SeenRequest {
  /** Which proxy: `iam`, `sts`, `eks` or `kube`. */
  via: AwsService | 'kube';
  method: string;
  /** Path and query as the client sent it. */
  path: string;
  /** AWS: the operation (e.g. `CreateRole`); kube: empty. */
  action: string;
}

/**
 * Holds the first request `rule` picks (given every request the gate saw before it, across all its
 * proxies, in arrival order) and every request after it: none of them is forwarded. `held` resolves
 * with the first; `drop()` resets the connections of all held ones.
 */
export class RequestGate {
  readonly seen: SeenRequest[] = [];
  readonly held: Promise<SeenRequest>;
  readonly #rule: (request: SeenRequest, before: readonly SeenRequest[]) => boolean;
  readonly #drops: (() => void)[] = [];
  #tripped = false;
  #trip!: (request: SeenRequest) => void;
  constructor(rule: (request: SeenRequest, before: readonly SeenRequest[]) => boolean) {
    this.#rule = rule;
    this.held = new Promise((resolve) => {
      this.#trip = resolve;
    });
  }
  /** For a proxy: true when `request` is held (the proxy neither forwards nor answers it). */
  arrive(request: SeenRequest, drop: () => void): boolean {
    if (!this.#tripped && this.#rule(request, this.seen)) {
      this.#tripped = true;
      this.#trip(request);
    }
    this.seen.push(request);
    if (this.#tripped) this.#drops.push(drop);
    return this.#tripped;
  }
  drop(): void {
    for (const drop of this.#drops.splice(0)) drop();
  }
}

export interface FaultProxy {
  /** http://127.0.0.1:PORT, to use as the service's endpoint. */
  url: string;
  set(fault: Fault): void;
  /** Requests pass through `gate` first (undefined: no gate). */
  gate(gate: RequestGate | undefined): void;
  limit(rule: RateLimit | undefined): void;
  /** Requests held by a freeze right now. */
  held(): number;
  stats(): ProxyStats;
  close(): Promise<void>;
}

/** IAM's mutating actions eks-access sends (its write path; AWS throttles writes well below reads). */
export const IAM_WRITES = [
  'CreateRole',
  'DeleteRole',
  'UpdateAssumeRolePolicy',
  'PutRolePolicy',
  'DeleteRolePolicy',
  'TagRole',
  'UntagRole',
  'AttachRolePolicy',
  'DetachRolePolicy',
] as const;

/** The EKS operation a REST-JSON request is (method and path), e.g. `CreateAccessEntry`. */
export function eksAction(method: string, path: string): string {
  const p = path.split('?')[0] ?? '';
  const routes: [string, RegExp, string][] = [
    ['POST', /^\/clusters\/[^/]+\/access-entries\/[^/]+\/access-policies$/, 'AssociateAccessPolicy'],
    ['GET', /^\/clusters\/[^/]+\/access-entries\/[^/]+\/access-policies$/, 'ListAssociatedAccessPolicies'],
    ['DELETE', /^\/clusters\/[^/]+\/access-entries\/[^/]+\/access-policies\/.+$/, 'DisassociateAccessPolicy'],
    ['POST', /^\/clusters\/[^/]+\/access-entries$/, 'CreateAccessEntry'],
    ['GET', /^\/clusters\/[^/]+\/access-entries$/, 'ListAccessEntries'],
    ['GET', /^\/clusters\/[^/]+\/access-entries\/[^/]+$/, 'DescribeAccessEntry'],
    ['POST', /^\/clusters\/[^/]+\/access-entries\/[^/]+$/, 'UpdateAccessEntry'],
    ['DELETE', /^\/clusters\/[^/]+\/access-entries\/[^/]+$/, 'DeleteAccessEntry'],
    ['GET', /^\/clusters\/[^/]+$/, 'DescribeCluster'],
    ['GET', /^\/clusters$/, 'ListClusters'],
    ['POST', /^\/clusters$/, 'CreateCluster'],
  ];
  return routes.find(([m, re]) => m === method && re.test(p))?.[2] ?? `${method} ${p}`;
}

/** The query-protocol action (IAM, STS) of a form-encoded body. */
export function queryAction(body: Buffer): string {
  return new URLSearchParams(body.toString()).get('Action') ?? 'unknown';
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const queryError = (status: number, type: string, code: string, message: string): Answer => ({
  status,
  headers: { 'content-type': 'text/xml' },
  body: `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
});

const restJsonError = (status: number, code: string, message: string): Answer => ({
  status,
  headers: { 'content-type': 'application/json', 'x-amzn-errortype': code, 'x-amzn-requestid': randomUUID() },
  body: JSON.stringify({ message }),
});

/** What the real service answers when it throttles a caller. */
export function throttlingAnswer(service: AwsService): Answer {
  return service === 'eks'
    ? restJsonError(429, 'ThrottlingException', 'Rate exceeded')
    : queryError(400, 'Sender', 'Throttling', 'Rate exceeded');
}

/** What the real service answers when it fails on its side. */
export function serverErrorAnswer(service: AwsService): Answer {
  return service === 'eks'
    ? restJsonError(500, 'ServerException', 'An internal error occurred')
    : queryError(503, 'Receiver', 'ServiceUnavailable', 'Service is unavailable');
}

class TokenBucket {
  private tokens: number;
  private at = performance.now();
  private readonly rule: RateLimit;
  constructor(rule: RateLimit) {
    this.rule = rule;
    this.tokens = rule.burst;
  }
  counts(action: string): boolean {
    return !this.rule.actions || this.rule.actions.includes(action);
  }
  take(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.rule.burst, this.tokens + ((now - this.at) / 1000) * this.rule.perSecond);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

const bump = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/** Tracks a server's sockets so a fault can cut the open ones, keep-alive included. */
function trackSockets(server: net.Server | http.Server): Set<net.Socket> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return sockets;
}

async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

async function closeServer(server: net.Server, sockets: Set<net.Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export async function startAwsFaultProxy(service: AwsService, upstream: string): Promise<FaultProxy> {
  let fault: Fault = { kind: 'pass' };
  let bucket: TokenBucket | undefined;
  let gate: RequestGate | undefined;
  let seen = 0;
  const stats: ProxyStats = { forwarded: {}, throttled: {}, failed: {}, reset: 0 };
  const frozen = new Set<() => void>();

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  const sockets = trackSockets(server);

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    const method = req.method ?? 'GET';
    const action = service === 'eks' ? eksAction(method, req.url ?? '/') : queryAction(body);
    if (gate?.arrive({ via: service, method, path: req.url ?? '/', action }, () => req.socket.destroy())) {
      return;
    }
    while (fault.kind === 'freeze') {
      await new Promise<void>((resolve) => frozen.add(resolve));
    }
    if (fault.kind === 'down') {
      stats.reset += 1;
      req.socket.destroy();
      return;
    }
    const reply = (answer: Answer) => {
      res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) });
      res.end(answer.body);
    };
    seen += 1;
    if (fault.kind === 'error' && seen % (fault.every ?? 1) === 0) {
      bump(stats.failed, action);
      reply(serverErrorAnswer(service));
      return;
    }
    if (bucket?.counts(action) && !bucket.take()) {
      bump(stats.throttled, action);
      reply(throttlingAnswer(service));
      return;
    }
    const headers = { ...req.headers };
    const answer = await forward(upstream, req.method ?? 'GET', req.url ?? '/', headers, body);
    bump(stats.forwarded, action);
    const out: http.OutgoingHttpHeaders = { ...answer.headers };
    delete out['transfer-encoding'];
    out['content-length'] = answer.body.length;
    res.writeHead(answer.status, out);
    res.end(answer.body);
  }

  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    set(next) {
      fault = next;
      if (next.kind === 'down') {
        for (const socket of sockets) socket.destroy();
        stats.reset += sockets.size;
      }
      if (next.kind !== 'freeze') {
        const waiting = [...frozen];
        frozen.clear();
        for (const resume of waiting) resume();
      }
    },
    gate(next) {
      gate = next;
    },
    limit(rule) {
      bucket = rule ? new TokenBucket(rule) : undefined;
    },
    held: () => frozen.size,
    stats: () => structuredClone(stats),
    async close() {
      fault = { kind: 'down' };
      for (const resume of frozen) resume();
      frozen.clear();
      await closeServer(server, sockets);
    },
  };
}

/** A TCP proxy (kube-apiserver: TLS passes through) that can only be up or down. */
export interface TcpFaultProxy {
  /** 127.0.0.1:PORT */
  address: string;
  port: number;
  set(fault: { kind: 'pass' } | { kind: 'down' }): void;
  close(): Promise<void>;
}

export async function startTcpFaultProxy(upstream: { host: string; port: number }): Promise<TcpFaultProxy> {
  let down = false;
  const server = net.createServer((client) => {
    if (down) {
      client.resetAndDestroy();
      return;
    }
    const target = net.connect(upstream.port, upstream.host);
    const drop = () => {
      client.destroy();
      target.destroy();
    };
    client.on('error', drop).on('close', drop);
    target.on('error', drop).on('close', drop);
    client.pipe(target).pipe(client);
  });
  const sockets = trackSockets(server);
  const port = await listen(server);
  return {
    address: `127.0.0.1:${port}`,
    port,
    set(fault) {
      down = fault.kind === 'down';
      if (down) for (const socket of sockets) socket.resetAndDestroy();
    },
    close: () => closeServer(server, sockets),
  };
}

/** An HTTPS proxy in front of kube-apiserver that sees every request (see startKubeFaultProxy). */
export interface KubeFaultProxy {
  /** https://127.0.0.1:PORT */
  url: string;
  /** A copy of the admin kubeconfig whose server is this proxy (same CA, same client certificate). */
  kubeconfig: string;
  /** Requests pass through `gate` first (undefined: no gate). */
  gate(gate: RequestGate | undefined): void;
  close(): Promise<void>;
}

/**
 * The TCP proxy above cannot tell one request from another (TLS passes through it). This one ends TLS
 * with a serving certificate from the platform's CA (so a client of the admin kubeconfig still verifies
 * it), reads each request's method and path, and sends it on to kube-apiserver as the admin user (the
 * client certificate of `adminKubeconfig`: the identity every engine in the tests uses anyway).
 * `rewrite` maps request paths (prefix → replacement), e.g. a worker's kube-system/aws-auth onto a
 * test's own ConfigMap, so that parallel tests never share one.
 */
export async function startKubeFaultProxy(options: {
  adminKubeconfig: string;
  ca: { certFile: string; keyFile: string };
  /** Where the serving certificate and the kubeconfig are written. */
  dir: string;
  rewrite?: Readonly<Record<string, string>>;
}): Promise<KubeFaultProxy> {
  const admin = new KubeConfig();
  admin.loadFromFile(options.adminKubeconfig);
  const server = admin.getCurrentCluster()?.server;
  if (!server) throw new Error(`${options.adminKubeconfig} names no server`);
  const upstream = new URL(server);
  const tls: https.RequestOptions = {};
  await admin.applyToHTTPSOptions(tls);
  const agent = new https.Agent({ keepAlive: true, ca: tls.ca, cert: tls.cert, key: tls.key });
  const name = `kube-fault-proxy-${randomBytes(4).toString('hex')}`;
  const serving = await makeServingCert(options.dir, options.ca, name, { ips: ['127.0.0.1'], dns: [] });
  let gate: RequestGate | undefined;
  const rewrite = (path: string) => {
    for (const [from, to] of Object.entries(options.rewrite ?? {})) {
      if (path === from || path.startsWith(`${from}?`)) return to + path.slice(from.length);
    }
    return path;
  };

  const proxy = https.createServer(
    { cert: await readFile(serving.certFile), key: await readFile(serving.keyFile) },
    (req, res) => {
      const method = req.method ?? 'GET';
      const path = req.url ?? '/';
      if (gate?.arrive({ via: 'kube', method, path, action: '' }, () => req.socket.destroy())) return;
      const out = https.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method,
          path: rewrite(path),
          headers: { ...req.headers, host: upstream.host },
          agent,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      out.on('error', () => res.destroy());
      req.pipe(out);
    },
  );
  const sockets = trackSockets(proxy);
  const port = await listen(proxy);
  const url = `https://127.0.0.1:${port}`;
  const kubeconfig = join(options.dir, `${name}.kubeconfig`);
  const text = await readFile(options.adminKubeconfig, 'utf8');
  await writeFile(kubeconfig, text.replaceAll(server, url), { mode: 0o600 });
  return {
    url,
    kubeconfig,
    gate(next) {
      gate = next;
    },
    async close() {
      gate?.drop();
      await closeServer(proxy, sockets);
      agent.destroy();
    },
  };
}
