// The real services behind `eks-access doctor`: Slack's auth.test, Redis, STS and each cluster's API
// server, asked as the bot itself (its own credentials, its own Kubernetes identity).
import { DescribeClusterCommand, EKSClient, ListAccessEntriesCommand } from '@aws-sdk/client-eks';
import { IAMClient } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import {
  ApiException,
  AuthorizationV1Api,
  CoreV1Api,
  RbacAuthorizationV1Api,
  VersionApi,
} from '@kubernetes/client-node';
import { type Env, SEAL_KEYS_FIX } from '../config/env.js';
import type { LoadedPolicy } from '../config/load.js';
import type { ClusterPolicy, Policy } from '../config/policy.js';
import type { BotPermissionCheck } from '../domain/bot-permissions.js';
import type { Clock } from '../domain/clock.js';
import { parseDuration } from '../domain/duration.js';
import { AccessError, misconfigured } from '../domain/errors.js';
import { isOtherInstallation } from '../domain/names.js';
import { parseSealKeys, type SealKeys, sealingKeyOf, verifyFoundBinding } from '../domain/seal.js';
import type {
  ClusterProbe,
  DoctorProbes,
  ReconcileSweeps,
  SlackChannelState,
  SlackIdentity,
} from '../operator/doctor.js';
import { rolesDeniedToAssume } from './aws/assume-simulation.js';
import { awsClientOptions } from './aws/client-options.js';
import type { AwsCredentials, CredentialsProvider } from './aws/eks-token.js';
import { fromAwsError } from './aws/errors.js';
import { parseMapRoles } from './k8s/aws-auth-document.js';
import { clusterCredentials, PolicyClusterConnections } from './k8s/cluster-connections.js';
import { fromKubeError } from './k8s/errors.js';
import { KubeApis, KubeRbac, rulesOf, selfAllowed } from './k8s/rbac.js';
import { reconcileKeys } from './queue/reconcile-keeper.js';
import { connectRedis, describeRedisUrl } from './redis/connection.js';

export interface DoctorProbeOptions {
  env: Env;
  loadConfig: () => LoadedPolicy;
  clock: Clock;
  /** Base AWS credentials; the SDK's default chain when omitted. */
  credentials?: AwsCredentials;
  /** Where aws-auth lives per cluster (tests give each test its own). */
  awsAuth?: Readonly<Record<string, { namespace: string; name: string }>>;
  fetch?: typeof fetch;
}

const endpoint = (url: string | undefined) => (url ? { endpoint: url } : {});

export function doctorProbes(options: DoctorProbeOptions): DoctorProbes {
  const { env } = options;
  let loaded: LoadedPolicy | undefined;
  const policy = () => {
    loaded ??= options.loadConfig();
    return loaded.policy;
  };
  return {
    loadConfig: () => {
      loaded = options.loadConfig();
      return loaded;
    },
    slackAuthTest: () => slackAuthTest(env, options.fetch ?? fetch),
    slackChannel: (channel) => slackChannel(env, options.fetch ?? fetch, channel),
    slackGroupMembers: async (group) => {
      const body = await slackCall(env, options.fetch ?? fetch, 'usergroups.users.list', {
        usergroup: group,
      });
      if (body.ok) return (body['users'] as string[] | undefined) ?? [];
      if (body.error === 'plan_upgrade_required')
        throw misconfigured(
          `user groups are unavailable on this workspace's plan (Slack: plan_upgrade_required), so approver group ${group} has no members`,
          'Name approvers by user id in the policy (approvers.users), or move the workspace to a paid plan.',
        );
      throw misconfigured(
        `Slack refused usergroups.users.list for ${group}: ${body.error ?? 'no answer'}`,
        body.error === 'no_such_subteam'
          ? `Correct the group id ${group} in the policy.`
          : 'Run eks-access doctor again; if it persists, check the Slack app and its token.',
      );
    },
    slackUserActive: async (user) => {
      const body = await slackCall(env, options.fetch ?? fetch, 'users.info', { user });
      if (body.ok) return (body['user'] as { deleted?: boolean } | undefined)?.deleted !== true;
      if (body.error === 'user_not_found') return false;
      throw misconfigured(`Slack refused users.info for ${user}: ${body.error ?? 'no answer'}`);
    },
    redis: () => redisProbe(env),
    sealKeyIds: () => sealKeysOf(env).ids,
    cluster: (name) => {
      const cluster = policy().clusters[name];
      if (!cluster) throw misconfigured(`cluster ${name} is not in the policy`);
      return clusterProbe(name, cluster, policy(), options);
    },
  };
}

async function slackAuthTest(env: Env, fetchImpl: typeof fetch): Promise<SlackIdentity | undefined> {
  if (!env.SLACK_BOT_TOKEN) return undefined;
  const base = env.SLACK_API_URL ?? 'https://slack.com/api/';
  let response: Response;
  try {
    response = await fetchImpl(new URL('auth.test', base.endsWith('/') ? base : `${base}/`), {
      method: 'POST',
      headers: { authorization: `Bearer ${env.SLACK_BOT_TOKEN}` },
      signal: AbortSignal.timeout(8_000),
    });
  } catch (error) {
    throw new AccessError('unavailable', `Slack did not answer (${base})`, {
      hint: 'Allow egress to slack.com on 443 (NetworkPolicy, proxy).',
      cause: error,
    });
  }
  const body = (await response.json().catch(() => ({}))) as {
    ok?: boolean;
    error?: string;
    team?: string;
    user?: string;
  };
  if (!body.ok) {
    throw misconfigured(
      `Slack refused the bot token: ${body.error ?? `HTTP ${response.status}`}`,
      'Set SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-…) of the installed app; reinstall it if it was revoked.',
    );
  }
  const header = response.headers.get('x-oauth-scopes');
  return {
    team: body.team ?? '?',
    user: body.user ?? '?',
    ...(header ? { scopes: header.split(',').map((s) => s.trim()) } : {}),
  };
}

/** One Web API call for doctor: no retries, a short timeout, Slack's answer as it came. */
async function slackCall(
  env: Env,
  fetchImpl: typeof fetch,
  method: string,
  params: Record<string, string>,
): Promise<{ ok?: boolean; error?: string } & Record<string, unknown>> {
  const base = env.SLACK_API_URL ?? 'https://slack.com/api/';
  const response = await fetchImpl(new URL(method, base.endsWith('/') ? base : `${base}/`), {
    method: 'POST',
    headers: { authorization: `Bearer ${env.SLACK_BOT_TOKEN ?? ''}` },
    body: new URLSearchParams(params),
    signal: AbortSignal.timeout(8_000),
  });
  return (await response.json().catch(() => ({ error: `HTTP ${response.status}` }))) as {
    ok?: boolean;
    error?: string;
  };
}

async function slackChannel(env: Env, fetchImpl: typeof fetch, channel: string): Promise<SlackChannelState> {
  const base = env.SLACK_API_URL ?? 'https://slack.com/api/';
  const response = await fetchImpl(new URL('conversations.info', base.endsWith('/') ? base : `${base}/`), {
    method: 'POST',
    headers: { authorization: `Bearer ${env.SLACK_BOT_TOKEN ?? ''}` },
    body: new URLSearchParams({ channel }),
    signal: AbortSignal.timeout(8_000),
  });
  const body = (await response.json().catch(() => ({}))) as {
    ok?: boolean;
    error?: string;
    channel?: { is_member?: boolean; is_private?: boolean; is_archived?: boolean };
  };
  if (body.ok) {
    return {
      found: true,
      isArchived: body.channel?.is_archived === true,
      isMember: body.channel?.is_member === true,
      isPrivate: body.channel?.is_private === true,
    };
  }
  if (body.error === 'channel_not_found') return { found: false };
  throw misconfigured(
    `Slack refused conversations.info for ${channel}: ${body.error ?? `HTTP ${response.status}`}`,
    body.error === 'missing_scope'
      ? 'Add the bot scopes channels:read and groups:read (slack-manifest.yml has them) and reinstall the app.'
      : 'Run eks-access doctor again; if it persists, check the Slack app and its token.',
  );
}

async function redisProbe(env: Env): Promise<Awaited<ReturnType<DoctorProbes['redis']>>> {
  const url = env.REDIS_URL;
  // No retries and a short timeout: doctor answers "unreachable" rather than hanging.
  const redis = connectRedis(env, {
    lazyConnect: true,
    connectTimeout: 3_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  redis.on('error', () => undefined); // reported through the rejected command below
  try {
    await redis.connect();
    await redis.ping();
    let maxmemoryPolicy: string | undefined;
    try {
      const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
      maxmemoryPolicy = reply[1];
    } catch {
      maxmemoryPolicy = undefined; // managed Redis often disables CONFIG
    }
    const keys = reconcileKeys(env.REDIS_PREFIX);
    const [lastRun, lastSuccess] = await redis.mget(keys.lastRun, keys.lastSuccess);
    const at = (value: string | null | undefined) =>
      value && Number.isFinite(Number(value)) ? Number(value) : undefined;
    const lastRunAt = at(lastRun);
    const lastSuccessAt = at(lastSuccess);
    const reconcile: ReconcileSweeps = {
      everyMs: (parseDuration(env.RECONCILE_INTERVAL) ?? 30) * 1000,
      now: Date.now(),
      ...(lastRunAt === undefined ? {} : { lastRunAt }),
      ...(lastSuccessAt === undefined ? {} : { lastSuccessAt }),
    };
    return { maxmemoryPolicy, reconcile };
  } catch (error) {
    throw new AccessError('unavailable', `Redis is not reachable at ${describeRedisUrl(url)}`, {
      hint: 'Check REDIS_URL (and REDIS_USERNAME, REDIS_PASSWORD, REDIS_TLS_CA_FILE), that Redis runs, and that the NetworkPolicy / security group lets the bot in.',
      cause: error,
    });
  } finally {
    redis.disconnect();
  }
}

/** SEAL_KEYS as the worker has them: the seals are checked with exactly its ring. */
function sealKeysOf(env: Env): SealKeys {
  const keys = parseSealKeys(env.SEAL_KEYS ?? '').keys;
  if (!keys) throw misconfigured('SEAL_KEYS is not set, so the seals cannot be checked', SEAL_KEYS_FIX);
  return keys;
}

function clusterProbe(
  name: string,
  cluster: ClusterPolicy,
  policy: Policy,
  options: DoctorProbeOptions,
): ClusterProbe {
  const { env, clock } = options;
  const region = cluster.region;
  // The engine's own recipe (credentials, AssumeRole, DescribeCluster + STS token), so doctor checks
  // exactly the connection the worker will use.
  const connectionOptions = {
    env,
    clock,
    ...(options.credentials ? { credentials: options.credentials } : {}),
  };
  const connections = new PolicyClusterConnections({ policy, ...connectionOptions });
  const { credentials: clusterCreds } = clusterCredentials(cluster, connectionOptions);
  const credentials: CredentialsProvider = async () => {
    try {
      return await clusterCreds();
    } catch (error) {
      if (error instanceof AccessError) throw error;
      throw fromAwsError(error, 'find AWS credentials');
    }
  };
  const kc = () => connections.kubeConfig(name);
  const awsAuth = options.awsAuth?.[name] ?? { namespace: 'kube-system', name: 'aws-auth' };

  const eksClient = () =>
    new EKSClient({ region, ...awsClientOptions(env), ...endpoint(env.AWS_ENDPOINT_URL_EKS), credentials });
  return {
    async callerIdentity() {
      const creds = await credentials();
      const client = new STSClient({
        region,
        ...awsClientOptions(env),
        ...endpoint(env.AWS_ENDPOINT_URL_STS),
        credentials: creds,
      });
      try {
        return (await client.send(new GetCallerIdentityCommand({}))).Arn;
      } catch (error) {
        throw fromAwsError(error, 'call STS GetCallerIdentity');
      }
    },
    async serverVersion() {
      try {
        return (await (await kc()).makeApiClient(VersionApi).getCode()).gitVersion;
      } catch (error) {
        if (error instanceof AccessError) throw error;
        throw new AccessError('unavailable', `the API server of ${name} did not answer: ${describe(error)}`, {
          cause: error,
        });
      }
    },
    async selfAllowed(check: BotPermissionCheck) {
      try {
        return await selfAllowed(await kc(), {
          verb: check.verb,
          group: check.group,
          resource: check.resource,
          ...(check.namespace ? { namespace: check.namespace } : {}),
          ...(check.name ? { name: check.name } : {}),
        });
      } catch (error) {
        throw fromKubeError(error, 'ask SelfSubjectAccessReview');
      }
    },
    async authenticationMode() {
      if (!('eks' in cluster.connection)) return undefined;
      const eksName = cluster.connection.eks.name ?? name;
      const client = eksClient();
      try {
        const out = await client.send(new DescribeClusterCommand({ name: eksName }));
        return { reported: out.cluster?.accessConfig?.authenticationMode };
      } catch (error) {
        throw fromAwsError(error, `describe EKS cluster ${eksName}`);
      }
    },
    async deniedToAssume(principalArn, roleArns) {
      const iam = new IAMClient({
        region,
        ...awsClientOptions(env),
        ...endpoint(env.AWS_ENDPOINT_URL_IAM),
        credentials,
      });
      try {
        return await rolesDeniedToAssume(iam, principalArn, roleArns);
      } finally {
        iam.destroy();
      }
    },
    async accessEntries() {
      if (!('eks' in cluster.connection)) return 0;
      const eksName = cluster.connection.eks.name ?? name;
      const client = eksClient();
      try {
        let total = 0;
        let nextToken: string | undefined;
        do {
          const page = await client.send(
            new ListAccessEntriesCommand({ clusterName: eksName, ...(nextToken ? { nextToken } : {}) }),
          );
          total += page.accessEntries?.length ?? 0;
          nextToken = page.nextToken;
        } while (nextToken);
        return total;
      } catch (error) {
        throw fromAwsError(error, `list the access entries of EKS cluster ${eksName}`);
      } finally {
        client.destroy();
      }
    },
    async policyEntries() {
      const { accessPolicies } = await connections.forCluster(name);
      return accessPolicies ? accessPolicies.listOurs() : [];
    },
    async awsAuthEntries() {
      const where = `ConfigMap ${awsAuth.namespace}/${awsAuth.name}`;
      let text: string;
      try {
        const cm = await (await kc())
          .makeApiClient(CoreV1Api)
          .readNamespacedConfigMap({ name: awsAuth.name, namespace: awsAuth.namespace });
        text = cm.data?.['mapRoles'] ?? '';
      } catch (error) {
        // Absent is fine: the bot creates it with the first grant.
        if (error instanceof ApiException && error.code === 404) return 0;
        throw fromKubeError(error, `read ${where}`);
      }
      return parseMapRoles(text, where).length;
    },
    async forgedBindings() {
      const keys = sealKeysOf(env);
      const bindings = await new KubeRbac(new KubeApis(kc)).listBindings();
      return bindings
        .filter(
          (b) =>
            verifyFoundBinding(keys, name, b) !== 'valid' &&
            !isOtherInstallation(policy.settings.installation, b),
        )
        .map((b) => `${b.namespace}/${b.name}`);
    },
    async liveSeals() {
      const keys = sealKeysOf(env);
      const now = clock.now();
      const bindings = await new KubeRbac(new KubeApis(kc)).listBindings();
      return bindings.flatMap((b) => {
        // Another installation's bindings wait on its own keys, not on ours.
        if (!(b.expiresAt > now) || isOtherInstallation(policy.settings.installation, b)) return [];
        const key = sealingKeyOf(keys, name, b);
        return key ? [{ key, expiresAt: b.expiresAt }] : [];
      });
    },
    roleRules(namespace: string, name: string) {
      return new KubeRbac(new KubeApis(kc)).roleRules(namespace, name);
    },
    async clusterRoleRules(name: string) {
      try {
        return rulesOf(await (await kc()).makeApiClient(RbacAuthorizationV1Api).readClusterRole({ name }));
      } catch (error) {
        if (error instanceof ApiException && error.code === 404) return undefined;
        throw fromKubeError(error, `read ClusterRole ${name}`);
      }
    },
  };
}

function describe(error: unknown): string {
  if (error instanceof ApiException) return `HTTP ${error.code}`;
  const e = error as { code?: string; cause?: { code?: string }; message?: string };
  return e.cause?.code ?? e.code ?? e.message ?? String(error);
}
