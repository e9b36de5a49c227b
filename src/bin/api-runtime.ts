// The API beside the bot's Slack endpoints (policy `api.enabled`): the caller verifier with what it
// needs (Redis for single use, IAM for unique ids, a plain HTTPS GET to STS), then the HTTP server on
// API_PORT. Socket Mode installations without `api.enabled` start none of it.
import type https from 'node:https';
import type { AwsCredentials } from '../adapters/aws/eks-token.js';
import { httpsGet, redisSingleUse, StsCallerVerifier } from '../adapters/aws/sts-caller-verifier.js';
import { type ApiServer, startApiServer } from '../adapters/http/api-server.js';
import { iamUniqueIds } from '../adapters/identity/unique-id.js';
import type { Logger } from '../adapters/logger.js';
import type { RedisClient } from '../adapters/redis/connection.js';
import type { FlowDeps } from '../bot/deps.js';
import { apiRulesOf } from '../config/api.js';
import type { Env } from '../config/env.js';

export interface ApiRuntime {
  env: Env;
  logger: Logger;
  redis?: RedisClient;
  /** Base AWS credentials for IAM (tests); the SDK's default chain when omitted. */
  awsCredentials?: AwsCredentials;
  /** How connections to STS are made (tests: through the platform's AWS gateway); default, directly. */
  stsAgent?: https.Agent;
}

/** Starts the API when the policy enables it; undefined otherwise. */
export async function startApiFor(
  runtime: ApiRuntime,
  flow: FlowDeps,
  port?: number,
): Promise<ApiServer | undefined> {
  if (!flow.policy.api?.enabled) return undefined;
  if (!runtime.redis) throw new Error('the API needs Redis: each caller token is used once');
  const { env } = runtime;
  const ids = iamUniqueIds(env, runtime.awsCredentials);
  const rules = apiRulesOf(flow.policy);
  const verifier = new StsCallerVerifier({
    rules,
    accounts: rules.accounts,
    singleUse: redisSingleUse(runtime.redis, env.REDIS_PREFIX),
    uniqueIdOf: ids.uniqueIdOf,
    clock: flow.clock,
    get: httpsGet(runtime.stsAgent),
  });
  const server = await startApiServer(
    { ...flow, rules, verifier, logger: runtime.logger },
    { port: port ?? env.API_PORT },
  );
  runtime.logger.info({ port: server.port, stsHosts: rules.stsHosts }, 'eks-access API listening');
  return {
    ...server,
    close: async () => {
      await server.close();
      ids.close();
    },
  };
}
