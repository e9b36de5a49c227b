#!/usr/bin/env node
// kubectl eks-access: ask for access from the terminal, approved in Slack (docs/api.md).
//
//   kubectl eks-access request test for 2h because INC-1
//   kubectl eks-access status [<id>]     kubectl eks-access list
//   kubectl eks-access done <id>         kubectl eks-access extend <id> [for] <duration>
//   kubectl eks-access token             (a one-use token, for curl and CI)
//
// One file with nothing but Node's built-ins, so it can be copied onto any machine with Node 22+: it
// imports nothing from the rest of eks-access (test/unit/kubectl-plugin.test.ts holds its constants to
// the server's). It proves who you are the way EKS tokens do: a presigned STS GetCallerIdentity,
// signed here with your own AWS credentials (SigV4 with node:crypto) for this installation's audience
// header; the bot sends it to STS itself. Credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
// (+AWS_SESSION_TOKEN) from the environment, otherwise `aws configure export-credentials` (AWS CLI v2:
// profiles, SSO). The server: --server <url> or EKS_ACCESS_URL.
import { execFile } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';

/** Must equal the server's (domain/caller-token.ts): checked by a unit test. */
export const TOKEN_PREFIX = 'eks-access-v1.';
export const TOKEN_EXPIRES_S = 60;
const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

/** RFC 3986 encoding, as SigV4 wants it. */
const enc = (text: string) =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const hmac = (key: string | Buffer, text: string) => createHmac('sha256', key).update(text).digest();

/** The region a STS host signs for: its own, or us-east-1 for the global endpoint. */
export function regionOfStsHost(host: string): string {
  return /^sts\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(host)?.[1] ?? 'us-east-1';
}

/**
 * A presigned GET https://<host>/?Action=GetCallerIdentity&Version=2011-06-15 whose signature covers
 * the host and `audienceHeader: audience`, valid for TOKEN_EXPIRES_S seconds from `now`.
 */
export function presignCallerIdentity(options: {
  credentials: Credentials;
  host: string;
  audienceHeader: string;
  audience: string;
  now: number;
}): string {
  const { credentials, host } = options;
  const region = regionOfStsHost(host);
  const amzDate = new Date(options.now)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${region}/sts/aws4_request`;
  const header = options.audienceHeader.toLowerCase();
  const signedHeaders = ['host', header].sort().join(';');
  const query: Record<string, string> = {
    Action: 'GetCallerIdentity',
    Version: '2011-06-15',
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': `${credentials.accessKeyId}/${scope}`,
    'X-Amz-Date': amzDate,
    'X-Amz-Expires': String(TOKEN_EXPIRES_S),
    'X-Amz-SignedHeaders': signedHeaders,
    ...(credentials.sessionToken ? { 'X-Amz-Security-Token': credentials.sessionToken } : {}),
  };
  const canonicalQuery = Object.keys(query)
    .sort()
    .map((k) => `${enc(k)}=${enc(query[k] ?? '')}`)
    .join('&');
  const headers: Record<string, string> = { host, [header]: options.audience.trim() };
  const canonicalHeaders = signedHeaders
    .split(';')
    .map((h) => `${h}:${headers[h]}\n`)
    .join('');
  const canonicalRequest = ['GET', '/', canonicalQuery, canonicalHeaders, signedHeaders, EMPTY_SHA256].join(
    '\n',
  );
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  const key = ['sts', 'aws4_request'].reduce(
    (k, part) => hmac(k, part),
    hmac(hmac(`AWS4${credentials.secretAccessKey}`, day), region),
  );
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  return `https://${host}/?${canonicalQuery}&X-Amz-Signature=${signature}`;
}

export const tokenOfUrl = (url: string) => `${TOKEN_PREFIX}${Buffer.from(url).toString('base64url')}`;

type Env = Record<string, string | undefined>;

function run(
  cmd: string,
  args: string[],
  env: Env,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: env as NodeJS.ProcessEnv, timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The caller's own AWS credentials: the environment's, or what the AWS CLI v2 resolves for the profile. */
export async function callerCredentials(env: Env): Promise<Credentials> {
  if (env['AWS_ACCESS_KEY_ID'] && env['AWS_SECRET_ACCESS_KEY']) {
    return {
      accessKeyId: env['AWS_ACCESS_KEY_ID'],
      secretAccessKey: env['AWS_SECRET_ACCESS_KEY'],
      sessionToken: env['AWS_SESSION_TOKEN'],
    };
  }
  const exported = await run('aws', ['configure', 'export-credentials', '--format', 'process'], env);
  if (exported.code === 0) {
    const parsed = JSON.parse(exported.stdout) as {
      AccessKeyId?: string;
      SecretAccessKey?: string;
      SessionToken?: string;
    };
    if (parsed.AccessKeyId && parsed.SecretAccessKey) {
      return {
        accessKeyId: parsed.AccessKeyId,
        secretAccessKey: parsed.SecretAccessKey,
        sessionToken: parsed.SessionToken,
      };
    }
  }
  throw new Usage(
    'No AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or sign in so that `aws configure export-credentials` works (AWS CLI v2, e.g. `aws sso login`).',
  );
}

class Usage extends Error {}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** One JSON call; plain http only to this machine (tests, port-forward), https everywhere else. */
function call(
  server: URL,
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
): Promise<Answer> {
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(server.hostname);
  if (server.protocol !== 'https:' && !(server.protocol === 'http:' && loopback)) {
    throw new Usage(`${server.href}: the eks-access API must be https:// (plain http only on this machine)`);
  }
  const url = new URL(path, server);
  const data = body === undefined ? undefined : JSON.stringify(body);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method,
        headers: {
          accept: 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(data ? { 'content-type': 'application/json' } : {}),
        },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Record<string, unknown> = {};
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            parsed = { error: 'internal', message: text.slice(0, 300) };
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${server.host} did not answer in time`)));
    req.on('error', reject);
    req.end(data);
  });
}

interface GrantView {
  id: string;
  status: string;
  cluster: string;
  namespace: string;
  level: string;
  statusLine: string;
  approvals: number;
  requiredApprovals: number;
  approvers: { people: string[]; groups: string[]; channel?: string };
  needs?: string;
  autoApproved?: boolean;
  kubeconfig?: { name: string; region: string; roleArn: string; alias: string; profile?: string } | null;
}

/** Whatever the server refused, as a person reads it. */
class Refused extends Error {}

export class Client {
  readonly #server: URL;
  readonly #env: Env;
  readonly #now: () => number;
  #info: { installation: string; audienceHeader: string; stsHosts: string[] } | undefined;
  /** The second (epoch s) of the last token signed. */
  #lastSecond = 0;

  constructor(server: URL, env: Env, now: () => number = Date.now) {
    this.#server = server;
    this.#env = env;
    this.#now = now;
  }

  /** A one-use token for this installation, signed for the STS endpoint of the caller's region when allowed. */
  async token(): Promise<string> {
    if (!this.#info) {
      const info = await call(this.#server, 'GET', '/v1/info', undefined);
      if (info.status !== 200)
        throw new Refused(`${this.#server.host} is not an eks-access API (HTTP ${info.status})`);
      this.#info = info.body as unknown as {
        installation: string;
        audienceHeader: string;
        stsHosts: string[];
      };
    }
    const { installation, audienceHeader, stsHosts } = this.#info;
    const region = this.#env['AWS_REGION'] ?? this.#env['AWS_DEFAULT_REGION'];
    const host =
      stsHosts.find(
        (h) => region !== undefined && regionOfStsHost(h) === region && h !== 'sts.amazonaws.com',
      ) ??
      stsHosts.find((h) => h !== 'sts.amazonaws.com') ??
      stsHosts[0] ??
      'sts.amazonaws.com';
    const credentials = await callerCredentials(this.#env);
    // A token is good once, and two signed in the same second are the same token: wait for the next.
    let second = Math.floor(this.#now() / 1000);
    while (second <= this.#lastSecond) {
      await new Promise((resolve) => setTimeout(resolve, 1000 - (this.#now() % 1000) + 5));
      second = Math.floor(this.#now() / 1000);
    }
    this.#lastSecond = second;
    return tokenOfUrl(
      presignCallerIdentity({ credentials, host, audienceHeader, audience: installation, now: this.#now() }),
    );
  }

  async send(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    let answer = await call(this.#server, method, path, await this.token(), body);
    if (answer.status === 403 && answer.body['rule'] === 'reused') {
      // Another run signed the same token this second (same key, same second, same signature): the
      // server refused it and did nothing, so once more with the next second's.
      this.#lastSecond = Math.floor(this.#now() / 1000);
      answer = await call(this.#server, method, path, await this.token(), body);
    }
    if (answer.status >= 200 && answer.status < 300) return answer.body;
    const { headline, message, hint } = answer.body as { headline?: string; message?: string; hint?: string };
    throw new Refused([headline ?? `HTTP ${answer.status}`, message, hint].filter(Boolean).join('\n  '));
  }
}

const TERMINAL = new Set(['denied', 'cancelled', 'failed', 'expired', 'revoked', 'relinquished']);

function approversText(view: GrantView): string {
  const who = [...view.approvers.people, ...view.approvers.groups.map((g) => `group ${g}`)].join(', ');
  const where = view.approvers.channel ? ` in Slack channel ${view.approvers.channel}` : ' in Slack';
  return `${who || 'the approvers'}${where}`;
}

export interface Io {
  out(text: string): void;
  /** Rewrites the live status line (a TTY) or prints it when it changed (a log). */
  status(text: string): void;
  isTty: boolean;
}

/** Runs `aws eks update-kubeconfig` with the grant's arguments (no shell) and says which context it wrote. */
async function writeContext(view: GrantView, env: Env, io: Io): Promise<number> {
  const k = view.kubeconfig;
  if (!k) {
    io.out(`Active. ${view.cluster} uses the identity you already have: use your usual context for it.`);
    return 0;
  }
  const args = [
    'eks',
    'update-kubeconfig',
    '--name',
    k.name,
    '--region',
    k.region,
    '--role-arn',
    k.roleArn,
    '--alias',
    k.alias,
  ];
  if (k.profile) args.push('--profile', k.profile);
  const result = await run('aws', args, env);
  if (result.code !== 0) {
    io.out(`Active, but \`aws ${args.join(' ')}\` failed:\n${result.stderr.trim()}`);
    return 1;
  }
  io.out(`Active: ${view.level} in ${view.namespace} on ${view.cluster}. ${view.statusLine}.`);
  io.out(`Wrote kubectl context ${k.alias} (now current). Try: kubectl get pods -n ${view.namespace}`);
  return 0;
}

/** Waits, with a live status line, until the grant is active (then writes the context) or ends. */
async function waitFor(
  client: Client,
  id: string,
  env: Env,
  io: Io,
  signal: AbortSignal,
  pollMs: number,
): Promise<number> {
  for (;;) {
    const { request } = (await client.send('GET', `/v1/requests/${id}`)) as { request: GrantView };
    if (request.status === 'active') {
      io.status('');
      return writeContext(request, env, io);
    }
    if (TERMINAL.has(request.status)) {
      io.status('');
      io.out(`${id}: ${request.statusLine}`);
      return 1;
    }
    io.status(`${id}: ${request.statusLine}`);
    const stopped = await new Promise<boolean>((resolve) => {
      if (signal.aborted) return resolve(true);
      const timer = setTimeout(() => resolve(false), pollMs);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (stopped) {
      io.status('');
      io.out(`Stopped waiting; request ${id} still stands. Check it later: kubectl eks-access status ${id}`);
      return 130;
    }
  }
}

const USAGE = `Usage: kubectl eks-access <command>
  request <namespace> [on <cluster>] [as <level>] for <duration> because <reason>
  status [<id>]   list   done <id>   extend <id> [for] <duration>   token
Server: --server <url> or EKS_ACCESS_URL. AWS credentials: the environment or \`aws configure export-credentials\`.`;

/** The whole CLI, with its world injected (tests run it in-process). Returns the exit code. */
export async function main(
  argv: string[],
  env: Env,
  io: Io,
  signal: AbortSignal,
  pollMs = 2000,
): Promise<number> {
  const args = [...argv];
  const serverFlag = args.indexOf('--server');
  const serverText = serverFlag >= 0 ? args.splice(serverFlag, 2)[1] : env['EKS_ACCESS_URL'];
  const [command, ...rest] = args;
  if (!command || command === 'help' || command === '--help') {
    io.out(USAGE);
    return command ? 0 : 2;
  }
  if (!serverText) {
    io.out(
      'Where is eks-access? Set EKS_ACCESS_URL (or --server) to its API, e.g. https://eks-access.example.com',
    );
    return 2;
  }
  const client = new Client(new URL(serverText), env);
  try {
    switch (command) {
      case 'request': {
        const { requests } = (await client.send('POST', '/v1/requests', { request: rest.join(' ') })) as {
          requests: GrantView[];
        };
        for (const view of requests) {
          io.out(
            view.autoApproved
              ? `Requested ${view.id}: approved by the policy at once (${view.level} in ${view.namespace} on ${view.cluster}).`
              : `Requested ${view.id}: ${view.level} in ${view.namespace} on ${view.cluster}. Needs ${view.needs ?? `${view.requiredApprovals} approval(s)`}; approvers: ${approversText(view)}.`,
          );
        }
        io.out('Waiting for the decision (Ctrl-C stops waiting; the request stands).');
        let code = 0;
        for (const view of requests)
          code = Math.max(code, await waitFor(client, view.id, env, io, signal, pollMs));
        return code;
      }
      case 'status': {
        if (rest[0]) {
          const { request } = (await client.send('GET', `/v1/requests/${rest[0]}`)) as { request: GrantView };
          if (request.status === 'active') return writeContext(request, env, io);
          io.out(`${request.id}: ${request.statusLine}`);
          return 0;
        }
        const { requests } = (await client.send('GET', '/v1/requests')) as { requests: GrantView[] };
        const live = requests.filter((r) => !TERMINAL.has(r.status));
        io.out(
          live.length
            ? live
                .map((r) => `${r.id}  ${r.level} in ${r.namespace} on ${r.cluster}: ${r.statusLine}`)
                .join('\n')
            : 'Nothing live.',
        );
        return 0;
      }
      case 'list': {
        const { requests } = (await client.send('GET', '/v1/requests')) as { requests: GrantView[] };
        io.out(
          requests
            .map((r) => `${r.id}  ${r.level} in ${r.namespace} on ${r.cluster}: ${r.statusLine}`)
            .join('\n') || 'No requests yet.',
        );
        return 0;
      }
      case 'done': {
        if (!rest[0]) throw new Usage('Which one? kubectl eks-access done <id>');
        const { request } = (await client.send('POST', `/v1/requests/${rest[0]}/done`)) as {
          request: GrantView;
        };
        io.out(`${request.id}: ${request.statusLine}; access is being removed now.`);
        return 0;
      }
      case 'extend': {
        const [id, ...more] = rest;
        if (!id) throw new Usage('Which one? kubectl eks-access extend <id> [for] <duration>');
        const duration = more.filter((w) => w !== 'for')[0];
        const answer = (await client.send(
          'POST',
          `/v1/requests/${id}/extend`,
          duration ? { duration } : {},
        )) as {
          extension: string;
          request: GrantView;
        };
        io.out(
          answer.extension === 'applying'
            ? `${id}: extended by the policy; it takes effect in a moment.`
            : `${id}: extension asked; approvers decide in Slack.`,
        );
        return 0;
      }
      case 'token':
        io.out(await client.token());
        return 0;
      default:
        throw new Usage(`"${command}" is not a kubectl eks-access command.\n${USAGE}`);
    }
  } catch (error) {
    if (error instanceof Usage || error instanceof Refused) {
      io.out(error.message);
      return error instanceof Usage ? 2 : 1;
    }
    io.out(`eks-access: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

/** stdout, with a status line rewritten in place on a terminal and printed on change elsewhere. */
function processIo(): Io {
  const isTty = Boolean(process.stdout.isTTY);
  let last = '';
  return {
    isTty,
    out: (text) => process.stdout.write(`${text}\n`),
    status: (text) => {
      if (text === last) return;
      last = text;
      if (isTty) process.stdout.write(`\r\x1b[2K${text}`);
      else if (text) process.stdout.write(`${text}\n`);
    },
  };
}

const invokedAs = process.argv[1] ?? '';
if (/kubectl-eks[-_]access(\.[cm]?[jt]s)?$/.test(invokedAs)) {
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  main(process.argv.slice(2), process.env, processIo(), stop.signal).then((code) => process.exit(code));
}
