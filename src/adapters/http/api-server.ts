// The HTTPS API beside Slack's endpoints, for `kubectl eks-access` and CI jobs (docs/api.md). node:http
// only; TLS ends at the cluster's ingress. Every call but /v1/info carries `Authorization: Bearer
// eks-access-v1.<presigned GetCallerIdentity>`, verified afresh (each token is good once): the caller
// is whoever STS says signed it, mapped to a person by the identity sources (bot/api-caller.ts). Then the
// same use cases as the Slack commands run, with the same policy, approvals and audit.
//
//   GET  /v1/info                  installation, STS hosts and the audience header (no token needed)
//   POST /v1/requests              {"request": "test for 2h because INC-1"}: the Slack command's words
//   GET  /v1/requests              the caller's requests and grants
//   GET  /v1/requests/<id>         one of them, with the kubeconfig arguments once active
//   POST /v1/requests/<id>/done    give it back
//   POST /v1/requests/<id>/extend  {"duration": "30m"}: ask for more time
//
// Errors are the one vocabulary (domain/errors.ts) as HTTP statuses, with the headline, message and
// hint a person reads; never a token.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { personOfCaller } from '../../bot/api-caller.js';
import type { FlowDeps } from '../../bot/deps.js';
import { mustGet } from '../../bot/deps.js';
import { endAccess } from '../../bot/end-access.js';
import { requestExtension } from '../../bot/request-extension.js';
import { submitRequests } from '../../bot/submit.js';
import type { ApiRules } from '../../config/api.js';
import { AUDIENCE_HEADER, MAX_TOKEN_EXPIRES_S, type VerifiedCaller } from '../../domain/caller-token.js';
import { namespacePolicyOf } from '../../domain/decisions.js';
import {
  type AccessError,
  badInput,
  type ErrorKind,
  headlineOf,
  notFound,
  toAccessError,
} from '../../domain/errors.js';
import type { Grant } from '../../domain/grant.js';
import { GRANT_ID } from '../../domain/grant.js';
import { approvalNeedText, kubeconfigUpdate, statusLine } from '../../domain/text.js';
import type { Logger } from '../logger.js';
import { parseCommand } from '../slack/grammar.js';
import { listen } from './listen.js';

/** HTTP status per error kind: the API's mapping of the one vocabulary. */
export const HTTP_STATUS: Readonly<Record<ErrorKind, number>> = {
  bad_input: 400,
  not_found: 404,
  conflict: 409,
  forbidden: 403,
  unavailable: 503,
  misconfigured: 500,
  internal: 500,
};

export interface ApiDeps extends FlowDeps {
  rules: ApiRules;
  verifier: { verify(token: string): Promise<VerifiedCaller> };
  logger: Logger;
}

export interface ApiServer {
  port: number;
  close(): Promise<void>;
}

/** A request body is a few words; anything larger is not one of ours. */
const MAX_BODY_BYTES = 16 * 1024;

/** What a client shows of a grant: its state in words, who decides and where, and how to use it. */
export async function grantView(deps: Pick<FlowDeps, 'policy' | 'clock' | 'directory'>, grant: Grant) {
  const ns = namespacePolicyOf(deps.policy, grant);
  const approverNames = await Promise.all(
    (ns?.approvers.users ?? []).map(async (id) => {
      const profile = await deps.directory.profile(id).catch(() => undefined);
      return profile?.displayName ?? id;
    }),
  );
  return {
    id: grant.id,
    status: grant.status,
    cluster: grant.cluster,
    namespace: grant.namespace,
    level: grant.level,
    statusLine: statusLine(grant, deps.clock.now()),
    approvals: grant.approvals.length,
    requiredApprovals: grant.requiredApprovals,
    approvers: { people: approverNames, groups: ns?.approvers.groups ?? [], channel: ns?.channel },
    ...(grant.expiresAt === undefined ? {} : { expiresAt: new Date(grant.expiresAt).toISOString() }),
    ...(grant.status === 'active' ? { kubeconfig: kubeconfigUpdate(deps.policy, grant) ?? null } : {}),
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(`${JSON.stringify(body)}\n`);
}

function errorBody(error: AccessError) {
  return {
    error: error.kind,
    // Slack's "your Slack account is not linked" reads wrong here: it is the AWS identity that is unknown.
    headline:
      error.details['unlinked'] === true
        ? 'This AWS identity is not linked to anyone here'
        : headlineOf(error),
    // A bug's own message is for the logs; the caller gets the headline only.
    message: error.kind === 'internal' ? headlineOf(error) : error.message,
    ...(error.hint ? { hint: error.hint } : {}),
    // Which token rule refused it (reused, expired, host, …), for clients to act on; never the token.
    ...(typeof error.details['token'] === 'string' ? { rule: error.details['token'] } : {}),
  };
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw badInput('The request body is too large');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // refused below
  }
  throw badInput('The request body must be a JSON object');
}

/** The caller's own grant, or not_found (someone else's is not shown, so ids cannot be probed). */
async function ownGrant(deps: ApiDeps, id: string, slackUserId: string): Promise<Grant> {
  const grant = await mustGet(deps.store, id);
  if (grant.requester.slackUserId !== slackUserId) throw notFound(`There is no request ${id} of yours`);
  return grant;
}

async function route(deps: ApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  if (req.method === 'GET' && path === '/v1/info') {
    send(res, 200, {
      installation: deps.rules.audience,
      audienceHeader: AUDIENCE_HEADER,
      stsHosts: deps.rules.stsHosts,
      maxTokenSeconds: MAX_TOKEN_EXPIRES_S,
    });
    return;
  }
  const auth = req.headers.authorization ?? '';
  const bearer = /^Bearer (\S+)$/.exec(auth)?.[1];
  if (!bearer) {
    throw badInput(
      'Every call needs `Authorization: Bearer <token>`: a presigned STS GetCallerIdentity',
      '`kubectl eks-access` makes one from your AWS credentials; see docs/api.md.',
    );
  }
  const caller = await deps.verifier.verify(bearer);
  const person = await personOfCaller(deps, caller);
  const one = /^\/v1\/requests\/([^/]+)(\/(done|extend))?$/.exec(path);
  if (one && !GRANT_ID.test(one[1] ?? '')) throw badInput(`"${one[1]}" is not a request id`);

  if (req.method === 'POST' && path === '/v1/requests') {
    const body = await readJson(req);
    if (typeof body['request'] !== 'string') {
      throw badInput(
        'Send {"request": "<namespace> [on <cluster>] [as <level>] for <duration> because <reason>"}',
      );
    }
    const command = parseCommand(`request ${body['request']}`);
    if (command.kind !== 'request')
      throw badInput('Say what to request: a namespace, a duration and a reason');
    const { kind: _, ...input } = command;
    const results = await submitRequests(deps, person, { ...input, origin: 'terminal' });
    send(res, 201, {
      requests: await Promise.all(
        results.map(async (r) => ({
          ...(await grantView(deps, r.grant)),
          autoApproved: r.autoApproved,
          needs: approvalNeedText(r.need, r.grant.level),
        })),
      ),
    });
    return;
  }
  if (req.method === 'GET' && path === '/v1/requests') {
    const mine = await deps.store.listByRequester(person, 50);
    send(res, 200, { requests: await Promise.all(mine.map((g) => grantView(deps, g))) });
    return;
  }
  if (one && req.method === 'GET' && !one[2]) {
    send(res, 200, { request: await grantView(deps, await ownGrant(deps, one[1] ?? '', person)) });
    return;
  }
  if (one && req.method === 'POST' && one[3] === 'done') {
    await ownGrant(deps, one[1] ?? '', person);
    send(res, 200, { request: await grantView(deps, await endAccess(deps, one[1] ?? '', person, 'done')) });
    return;
  }
  if (one && req.method === 'POST' && one[3] === 'extend') {
    const body = await readJson(req);
    const duration = typeof body['duration'] === 'string' ? body['duration'] : undefined;
    await ownGrant(deps, one[1] ?? '', person);
    const outcome = await requestExtension(deps, one[1] ?? '', person, duration);
    send(res, 200, { extension: outcome.kind, request: await grantView(deps, outcome.grant) });
    return;
  }
  send(res, 404, { error: 'not_found', message: `${req.method} ${path} is not part of the eks-access API` });
}

export async function startApiServer(
  deps: ApiDeps,
  options: { port: number; host?: string },
): Promise<ApiServer> {
  const server: Server = createServer((req, res) => {
    route(deps, req, res).catch((thrown: unknown) => {
      const error = toAccessError(thrown);
      // Refusals are logged with their rule, never with the token or its signature.
      if (error.kind === 'internal') deps.logger.error({ err: thrown }, 'api request failed');
      else
        deps.logger.info(
          { kind: error.kind, details: error.details, path: req.url?.split('?')[0] },
          'api refused',
        );
      if (!res.headersSent) send(res, HTTP_STATUS[error.kind], errorBody(error));
      else res.destroy();
    });
  });
  return listen(server, options.port, options.host);
}
