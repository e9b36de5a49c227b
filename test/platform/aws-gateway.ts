// AWS's public host names on loopback, for programs that cannot be pointed at an endpoint: the
// aws-iam-authenticator's token verifier only accepts presigned URLs for https://sts.<region>.amazonaws.com
// (or sts.amazonaws.com) and fetches them with Go's default HTTP client, and the requester's own `aws` CLI
// should run the DM's commands unchanged. Both honour HTTPS_PROXY, so:
//
//   - a CONNECT proxy on 127.0.0.1 (HTTPS_PROXY) tunnels every *.amazonaws.com:443 to
//   - a local TLS endpoint whose certificate (*.amazonaws.com and *.<region>.amazonaws.com) is signed by a
//     test CA (SSL_CERT_FILE for Go, AWS_CA_BUNDLE for the aws CLI), which dispatches by Host:
//     sts and iam → moto, eks → ministack. Anything else is refused with a message naming the host.
//
// Two answers are corrected on the way, both documented in docs/test-platform.md:
//   - moto 5.2 answers a *presigned GET* GetCallerIdentity (the token the authenticator verifies) wrongly:
//     with no Authorization header it routes it to S3 and answers as its default user, in XML. The gateway
//     sends moto the equivalent POST, carrying the caller's access key, session token and signature in an
//     Authorization header, so the answer names the real caller; and answers JSON when asked for JSON
//     (`Accept: application/json`, which the authenticator sends and real STS honours).
//   - ministack's DescribeCluster returns a placeholder endpoint and CA. For clusters registered with
//     `describeClusterAs` the gateway returns the real kube-apiserver's https endpoint and CA instead.
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import { type CertPair, makeCa, makeServingCert } from './certs.js';
import type { AssumeRoleGuard } from './iam-propagation.js';

/** Regions whose host names the gateway's certificate covers (a wildcard spans one label only). */
const REGIONS = [
  'us-east-1',
  'us-east-2',
  'us-west-1',
  'us-west-2',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'eu-central-1',
  'eu-north-1',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-northeast-1',
  'ca-central-1',
  'sa-east-1',
];

export interface Upstreams {
  /** moto: STS and IAM. */
  moto: string;
  /** ministack: EKS. */
  eks: string;
  /** IAM's eventual consistency and trust policies for AssumeRole (iam-propagation.ts); absent: moto's way. */
  assumeRole?: AssumeRoleGuard | undefined;
}

export interface AwsGateway {
  /** http://127.0.0.1:PORT, for HTTPS_PROXY. */
  proxyUrl: string;
  /** The CA that signs the gateway's certificate, for SSL_CERT_FILE / AWS_CA_BUNDLE. */
  caFile: string;
  /** Where requests go; until this is called every request is answered 503. */
  /**
   * http://127.0.0.1:PORT serving STS as the gateway does, for programs given an endpoint (the worker in
   * login tests: its login probe then meets the same IAM as the person's `aws` CLI).
   */
  stsEndpoint: string;
  route(upstreams: Upstreams): void;
  /** DescribeCluster of `name` answers with this endpoint and CA (PEM file) instead of ministack's placeholders. */
  describeClusterAs(name: string, cluster: { endpoint: string; caFile: string }): Promise<void>;
  close(): Promise<void>;
}

type Service = 'sts' | 'iam' | 'eks';

/** sts.amazonaws.com, sts.us-east-1.amazonaws.com, iam.amazonaws.com, eks.eu-west-1.amazonaws.com. */
export function serviceOf(host: string): Service | undefined {
  const name = host.replace(/:\d+$/, '').toLowerCase();
  const match = /^(sts|iam|eks)(\.[a-z]{2}(-gov)?-[a-z]+-\d)?\.amazonaws\.com$/.exec(name);
  if (!match) return undefined;
  const service = match[1] as Service;
  if (service === 'eks' && !match[2]) return undefined; // EKS has no global endpoint
  return service;
}

/**
 * The POST moto understands for a presigned GET GetCallerIdentity, or undefined when `url` is not one.
 * The presigned query carries what a signed request carries in headers; moto only needs the credential
 * (to find the caller), but the whole signature travels so the request means what the caller signed.
 */
export function presignedCallerIdentityAsPost(
  url: URL,
): { body: string; headers: Record<string, string> } | undefined {
  const q = new Map([...url.searchParams].map(([k, v]) => [k.toLowerCase(), v] as const));
  if (q.get('action') !== 'GetCallerIdentity') return undefined;
  const credential = q.get('x-amz-credential');
  const signature = q.get('x-amz-signature');
  const signedHeaders = q.get('x-amz-signedheaders');
  if (!credential || !signature || !signedHeaders) return undefined;
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
    authorization: `AWS4-HMAC-SHA256 Credential=${credential}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
  const date = q.get('x-amz-date');
  if (date) headers['x-amz-date'] = date;
  const token = q.get('x-amz-security-token');
  if (token) headers['x-amz-security-token'] = token;
  return { body: `Action=GetCallerIdentity&Version=${q.get('version') ?? '2011-06-15'}`, headers };
}

/** moto's XML GetCallerIdentityResponse as the JSON real STS returns for `Accept: application/json`. */
export function callerIdentityXmlToJson(xml: string): string | undefined {
  const field = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
  const [arn, userId, account] = [field('Arn'), field('UserId'), field('Account')];
  if (!arn || !userId || !account) return undefined;
  return JSON.stringify({
    GetCallerIdentityResponse: {
      GetCallerIdentityResult: { Account: account, Arn: arn, UserId: userId },
      ResponseMetadata: { RequestId: field('RequestId') ?? '' },
    },
  });
}

export function send(
  res: http.ServerResponse,
  status: number,
  body: string,
  type = 'application/json',
): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Passes an upstream answer on as it came (its body already read whole, so its length is known). */
export function relay(
  res: http.ServerResponse,
  answer: { status: number; headers: http.IncomingHttpHeaders; body: Buffer },
): void {
  const out: http.OutgoingHttpHeaders = { ...answer.headers };
  delete out['transfer-encoding'];
  out['content-length'] = answer.body.length;
  res.writeHead(answer.status, out);
  res.end(answer.body);
}

export async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function forward(
  target: string,
  method: string,
  path: string,
  headers: http.OutgoingHttpHeaders,
  body: Buffer,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const url = new URL(target);
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: { ...headers, 'content-length': body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export async function startAwsGateway(runDir: string): Promise<AwsGateway> {
  const pki = join(runDir, 'pki-aws');
  const ca: CertPair = await makeCa(pki);
  const serving = await makeServingCert(pki, ca, 'amazonaws', {
    ips: [],
    dns: ['amazonaws.com', '*.amazonaws.com', ...REGIONS.map((r) => `*.${r}.amazonaws.com`)],
  });
  let upstreams: Upstreams | undefined;
  const clusters = new Map<string, { endpoint: string; caData: string }>();

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const host = req.headers.host ?? '';
    const service = serviceOf(host);
    if (!service) {
      send(res, 502, JSON.stringify({ message: `the test platform's AWS gateway does not serve ${host}` }));
      return;
    }
    if (!upstreams) {
      send(res, 503, JSON.stringify({ message: 'the AWS emulators are not up yet' }));
      return;
    }
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', `https://${host}`);
    const headers = { ...req.headers };
    delete headers['proxy-connection'];

    if (service === 'sts' && req.method === 'POST' && upstreams.assumeRole) {
      const params = new URLSearchParams(body.toString());
      const refusal = await upstreams.assumeRole(params, req.headers);
      if (refusal) {
        send(res, refusal.status, refusal.body, 'text/xml');
        return;
      }
    }

    if (service === 'sts' && req.method === 'GET') {
      const post = presignedCallerIdentityAsPost(url);
      if (!post) {
        send(res, 400, JSON.stringify({ message: 'only presigned GetCallerIdentity is served over GET' }));
        return;
      }
      const answer = await forward(
        upstreams.moto,
        'POST',
        '/',
        { host, ...post.headers },
        Buffer.from(post.body),
      );
      const wantsJson = /application\/json/i.test(String(req.headers.accept ?? ''));
      const json =
        answer.status === 200 && wantsJson ? callerIdentityXmlToJson(answer.body.toString()) : undefined;
      if (json) send(res, 200, json);
      else
        send(
          res,
          answer.status,
          answer.body.toString(),
          String(answer.headers['content-type'] ?? 'text/xml'),
        );
      return;
    }

    const target = service === 'eks' ? upstreams.eks : upstreams.moto;
    const answer = await forward(target, req.method ?? 'GET', req.url ?? '/', headers, body);
    const describe = /^\/clusters\/([^/?]+)$/.exec(url.pathname);
    const override =
      service === 'eks' && req.method === 'GET' && describe ? clusters.get(describe[1] ?? '') : undefined;
    if (override && answer.status === 200) {
      const parsed = JSON.parse(answer.body.toString()) as { cluster?: Record<string, unknown> };
      if (parsed.cluster) {
        parsed.cluster['endpoint'] = override.endpoint;
        parsed.cluster['certificateAuthority'] = { data: override.caData };
      }
      send(res, 200, JSON.stringify(parsed));
      return;
    }
    relay(res, answer);
  }

  function serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 502, JSON.stringify({ message: `AWS gateway: ${String(error)}` }));
      else res.destroy();
    });
  }

  const tlsEndpoint = https.createServer(
    { cert: await readFile(serving.certFile), key: await readFile(serving.keyFile) },
    serve,
  );
  tlsEndpoint.listen(0, '127.0.0.1');
  await once(tlsEndpoint, 'listening');
  const tlsPort = (tlsEndpoint.address() as net.AddressInfo).port;

  const stsListener = http.createServer((req, res) => {
    req.headers.host = 'sts.amazonaws.com';
    serve(req, res);
  });
  stsListener.listen(0, '127.0.0.1');
  await once(stsListener, 'listening');
  const stsPort = (stsListener.address() as net.AddressInfo).port;

  // The proxy tunnels only to AWS host names, and only to our TLS endpoint: nothing leaves the machine.
  const proxy = http.createServer((_req, res) => {
    send(res, 405, 'this proxy only tunnels (CONNECT) to *.amazonaws.com:443\n', 'text/plain');
  });
  const tunnels = new Set<net.Socket>(); // upgraded sockets: server.closeAllConnections() does not see them
  proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const [host, port] = (req.url ?? '').split(':');
    if (!host?.toLowerCase().endsWith('.amazonaws.com') || (port ?? '443') !== '443') {
      client.end(
        `HTTP/1.1 403 Forbidden\r\n\r\nthe test platform's proxy only reaches *.amazonaws.com:443\n`,
      );
      return;
    }
    const upstream = net.connect(tlsPort, '127.0.0.1', () => {
      tunnels.add(client).add(upstream);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    const drop = () => {
      upstream.destroy();
      client.destroy();
      tunnels.delete(client);
      tunnels.delete(upstream);
    };
    client.on('close', drop);
    upstream.on('error', drop);
    client.on('error', drop);
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  const proxyPort = (proxy.address() as net.AddressInfo).port;

  return {
    proxyUrl: `http://127.0.0.1:${proxyPort}`,
    stsEndpoint: `http://127.0.0.1:${stsPort}`,
    caFile: ca.certFile,
    route(next) {
      upstreams = next;
    },
    async describeClusterAs(name, cluster) {
      const pem = await readFile(cluster.caFile);
      clusters.set(name, { endpoint: cluster.endpoint, caData: pem.toString('base64') });
    },
    async close() {
      for (const socket of tunnels) socket.destroy();
      proxy.closeAllConnections();
      tlsEndpoint.closeAllConnections();
      stsListener.closeAllConnections();
      await Promise.all([
        new Promise<void>((resolve) => stsListener.close(() => resolve())),
        new Promise<void>((resolve) => proxy.close(() => resolve())),
        new Promise<void>((resolve) => tlsEndpoint.close(() => resolve())),
      ]);
    },
  };
}
