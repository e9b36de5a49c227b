// The fault proxy (test/platform/fault-proxy.ts) in front of a stand-in upstream of this test's own: each
// fault does what the chaos scenarios rely on, and its throttling and 5xx answers are classified by the
// real AWS SDK clients the way AWS's own are (retried, throttling seen as throttling).
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eksAction,
  type FaultProxy,
  IAM_WRITES,
  RequestGate,
  startAwsFaultProxy,
  startTcpFaultProxy,
} from '../../test/platform/fault-proxy.js';
import { pollUntil } from '../support/poll.js';

let upstream: http.Server;
let upstreamUrl: string;
const proxies: FaultProxy[] = [];

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('upstream');
    });
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}`;
});
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
});

async function proxy(service: 'iam' | 'eks'): Promise<FaultProxy> {
  const p = await startAwsFaultProxy(service, upstreamUrl);
  proxies.push(p);
  return p;
}

const call = (p: FaultProxy, action: string) =>
  fetch(p.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `Action=${action}&Version=2010-05-08`,
  });

const credentials = { accessKeyId: 'AKIAFAULTPROXYTEST00', secretAccessKey: 'not-a-secret' };

describe('AWS fault proxy', () => {
  it('passes requests through and counts them per action', async () => {
    const p = await proxy('iam');
    const res = await call(p, 'GetRole');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('upstream');
    expect(p.stats().forwarded).toEqual({ GetRole: 1 });
  });

  it("throttles the limited actions beyond the bucket with IAM's Throttling answer, others pass", async () => {
    const p = await proxy('iam');
    p.limit({ perSecond: 0.001, burst: 2, actions: IAM_WRITES });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(p, 'CreateRole')).status);
    expect(statuses).toEqual([200, 200, 400]);
    const throttled = await call(p, 'DeleteRole');
    expect(throttled.status).toBe(400);
    expect(await throttled.text()).toMatch(
      /^<ErrorResponse[^>]*><Error><Type>Sender<\/Type><Code>Throttling<\/Code><Message>Rate exceeded<\/Message><\/Error><RequestId>/,
    );
    expect((await call(p, 'GetRole')).status).toBe(200);
    expect(p.stats().throttled).toEqual({ DeleteRole: 1, CreateRole: 1 });
    p.limit(undefined);
    expect((await call(p, 'CreateRole')).status).toBe(200);
  });

  it('answers throttling that the SDK retries as throttling: IAM Throttling, EKS 429 ThrottlingException', async () => {
    const iamProxy = await proxy('iam');
    const eksProxy = await proxy('eks');
    iamProxy.limit({ perSecond: 0.001, burst: 0 });
    eksProxy.limit({ perSecond: 0.001, burst: 0 });
    const region = 'us-east-1';
    const iam = new IAMClient({ region, endpoint: iamProxy.url, credentials, maxAttempts: 2 });
    const eks = new EKSClient({ region, endpoint: eksProxy.url, credentials, maxAttempts: 2 });
    try {
      const iamError = await iam.send(new GetRoleCommand({ RoleName: 'r' })).catch((e: unknown) => e);
      expect(iamError).toMatchObject({ name: 'Throttling', $metadata: { httpStatusCode: 400, attempts: 2 } });
      const eksError = await eks.send(new DescribeClusterCommand({ name: 'c' })).catch((e: unknown) => e);
      expect(eksError).toMatchObject({
        name: 'ThrottlingException',
        $metadata: { httpStatusCode: 429, attempts: 2 },
      });
      expect(eksProxy.stats().throttled).toEqual({ DescribeCluster: 2 });
    } finally {
      iam.destroy();
      eks.destroy();
    }
    // Each client waits out the SDK's jittered throttling backoff (up to a second) once: up to 1.7 s
    // on an idle machine, too close to the 5 s default on a loaded one.
  }, 15_000);

  it("answers every n-th request with the service's 5xx, which the SDK retries", async () => {
    const p = await proxy('iam');
    p.set({ kind: 'error', every: 2 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await call(p, 'GetRole')).status);
    expect(statuses).toEqual([200, 503, 200, 503]);
    p.set({ kind: 'error' });
    const iam = new IAMClient({ region: 'us-east-1', endpoint: p.url, credentials, maxAttempts: 2 });
    try {
      const error = await iam.send(new GetRoleCommand({ RoleName: 'r' })).catch((e: unknown) => e);
      expect(error).toMatchObject({
        name: 'ServiceUnavailable',
        $metadata: { httpStatusCode: 503, attempts: 2 },
      });
    } finally {
      iam.destroy();
    }
    const eksProxy = await proxy('eks');
    eksProxy.set({ kind: 'error' });
    const res = await fetch(`${eksProxy.url}/clusters/c`);
    expect(res.status).toBe(500);
    expect(res.headers.get('x-amzn-errortype')).toBe('ServerException');
  });

  it('resets connections while down, and passes again after', async () => {
    const p = await proxy('iam');
    p.set({ kind: 'down' });
    await expect(call(p, 'GetRole')).rejects.toThrow();
    expect(p.stats().reset).toBeGreaterThanOrEqual(1);
    p.set({ kind: 'pass' });
    expect((await call(p, 'GetRole')).status).toBe(200);
  });

  it('holds requests while frozen and lets them through when the freeze ends', async () => {
    const p = await proxy('iam');
    p.set({ kind: 'freeze' });
    let answered = false;
    const pending = call(p, 'GetRole').then((res) => {
      answered = true;
      return res.status;
    });
    await pollUntil(
      'a held request',
      async () => p.held(),
      (n) => n === 1,
      { timeoutMs: 5_000, intervalMs: 10 },
    );
    expect(answered).toBe(false);
    p.set({ kind: 'pass' });
    expect(await pending).toBe(200);
    expect(p.held()).toBe(0);
  });

  it('names the EKS operations eks-access sends', () => {
    expect(eksAction('POST', '/clusters/c1/access-entries')).toBe('CreateAccessEntry');
    expect(eksAction('DELETE', '/clusters/c1/access-entries/arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx')).toBe(
      'DeleteAccessEntry',
    );
    expect(eksAction('POST', '/clusters/c1/access-entries/arn/access-policies')).toBe(
      'AssociateAccessPolicy',
    );
    expect(eksAction('GET', '/clusters/c1/access-entries?maxResults=100')).toBe('ListAccessEntries');
    expect(eksAction('GET', '/clusters/c1')).toBe('DescribeCluster');
    expect(eksAction('PATCH', '/other')).toBe('PATCH /other');
  });
});

describe('TCP fault proxy', () => {
  it('pipes bytes both ways, and resets open and new connections while down', async () => {
    const echo = net.createServer((s) => s.on('error', () => undefined).pipe(s));
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    const tcp = await startTcpFaultProxy({
      host: '127.0.0.1',
      port: (echo.address() as net.AddressInfo).port,
    });
    try {
      const open = net.connect(tcp.port, '127.0.0.1');
      open.write('ping');
      const [data] = (await once(open, 'data')) as [Buffer];
      expect(data.toString()).toBe('ping');
      // Not events.once: it rejects on the reset's 'error', which is what is expected here.
      const closed = new Promise((resolve) => open.once('close', resolve));
      const openError = new Promise<NodeJS.ErrnoException>((resolve) => open.once('error', resolve));
      tcp.set({ kind: 'down' });
      await closed;
      expect((await openError).code).toBe('ECONNRESET');
      const refused = net.connect(tcp.port, '127.0.0.1');
      const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
      expect(error.code).toBe('ECONNRESET');
      tcp.set({ kind: 'pass' });
      const again = net.connect(tcp.port, '127.0.0.1');
      again.write('pong');
      const [back] = (await once(again, 'data')) as [Buffer];
      expect(back.toString()).toBe('pong');
      again.destroy();
    } finally {
      await tcp.close();
      await new Promise((resolve) => echo.close(resolve));
    }
  });
});

describe('request gate', () => {
  it('holds the first request its rule picks and every later one, across proxies, until dropped', async () => {
    const iam = await proxy('iam');
    const eks = await proxy('eks');
    // "After the CreateRole": the first request whose predecessor was a CreateRole.
    const gate = new RequestGate((_r, before) => before.at(-1)?.action === 'CreateRole');
    iam.gate(gate);
    eks.gate(gate);
    expect((await call(iam, 'GetRole')).status).toBe(200);
    expect((await call(iam, 'CreateRole')).status).toBe(200);
    const next = call(iam, 'PutRolePolicy');
    expect(await gate.held).toMatchObject({ via: 'iam', method: 'POST', action: 'PutRolePolicy' });
    // Held means not forwarded: the upstream never saw it, and a later call on another proxy waits too.
    const later = fetch(`${eks.url}/clusters/c`).then(
      (r) => r.status,
      () => 'reset',
    );
    await pollUntil(
      'both requests held',
      async () => gate.seen.length,
      (n) => n === 4,
    );
    expect(iam.stats().forwarded).toEqual({ GetRole: 1, CreateRole: 1 });
    expect(eks.stats().forwarded).toEqual({});
    gate.drop();
    await expect(next).rejects.toThrow();
    expect(await later).toBe('reset');
    expect(gate.seen.map((r) => r.action)).toEqual([
      'GetRole',
      'CreateRole',
      'PutRolePolicy',
      'DescribeCluster',
    ]);
  });
});
