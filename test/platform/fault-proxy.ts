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
// The error answers are the ones the real services send, so the SDK classifies them as it would in
// production (@smithy/core retry: `Throttling`/`ThrottlingException`/HTTP 429 are throttling errors, retried
// with the throttling backoff and fed to the adaptive rate limiter; 500/502/503/504 are transient):
//   - IAM and STS (query protocol): HTTP 400, `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>`;
//     5xx: HTTP 503 `<Code>ServiceUnavailable</Code>` (Type Receiver).
//   - EKS (REST-JSON): HTTP 429 with `x-amzn-ErrorType: ThrottlingException`; 5xx: HTTP 500 `ServerException`.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { forward, readBody } from './aws-gateway.js';

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

export interface FaultProxy {
  /** http://127.0.0.1:PORT, to use as the service's endpoint. */
  url: string;
  set(fault: Fault): void;
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
  let seen = 0;
  const stats: ProxyStats = { forwarded: {}, throttled: {}, failed: {}, reset: 0 };
  const frozen = new Set<() => void>();

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  const sockets = trackSockets(server);

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    const action = service === 'eks' ? eksAction(req.method ?? 'GET', req.url ?? '/') : queryAction(body);
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
