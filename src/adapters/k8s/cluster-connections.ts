// Builds the per-cluster backends (IAM, identity mapping, RBAC) from the policy and env, once per
// cluster. SDK endpoints come from env (AWS_ENDPOINT_URL_*), the region from the cluster's policy.
import { DescribeClusterCommand, type DescribeClusterCommandOutput, EKSClient } from '@aws-sdk/client-eks';
import { IAMClient } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { KubeConfig } from '@kubernetes/client-node';
import type { Env } from '../../config/env.js';
import { type ClusterPolicy, offersAccessPolicies, type Policy } from '../../config/policy.js';
import {
  type AuthenticationMode,
  authenticationModeOf,
  mappingMismatch,
  resolveMapping,
} from '../../domain/auth-mode.js';
import type { Clock } from '../../domain/clock.js';
import { misconfigured, notFound } from '../../domain/errors.js';
import { probesLogin } from '../../domain/login-probe.js';
import { ownMappingsFor } from '../../domain/plan.js';
import type { ClusterBackends, ClusterConnections, IdentityMapping } from '../../ports/cluster.js';
import { EksAccessEntries, noMapping } from '../aws/access-entries.js';
import { EksAccessPolicyEntries } from '../aws/access-policy-entries.js';
import { type AwsClientEnv, awsClientOptions } from '../aws/client-options.js';
import { type AwsCredentials, type CredentialsProvider, EksTokenSource } from '../aws/eks-token.js';
import { fromAwsError } from '../aws/errors.js';
import { AwsIamRoles } from '../aws/iam-roles.js';
import { type AwsAuthLocation, AwsAuthMapping } from './aws-auth.js';
import { AgentPool, reuseConnections } from './keep-alive.js';
import { StsKubeLoginProbe } from './login-probe.js';
import { noKubernetesAccess } from './no-kubernetes.js';
import { KubeApis, KubeRbac } from './rbac.js';

export interface ClusterConnectionOptions {
  policy: Policy;
  env: Pick<Env, 'AWS_ENDPOINT_URL_IAM' | 'AWS_ENDPOINT_URL_STS' | 'AWS_ENDPOINT_URL_EKS'> & AwsClientEnv;
  clock: Clock;
  /** Base AWS credentials; the SDK's default chain when omitted. */
  credentials?: AwsCredentials;
  /** Where aws-auth lives, per policy cluster name (tests give each test its own). */
  awsAuth?: Readonly<Record<string, AwsAuthLocation>>;
  /** Sees every client built for a cluster (the benchmarks count API calls through it). */
  instrument?: ClientInstrumentation;
}

/** Called once per client a connection builds; may add AWS SDK middleware or wrap the KubeConfig. */
export interface ClientInstrumentation {
  aws?(cluster: string, client: IAMClient | EKSClient | STSClient): void;
  kube?(cluster: string, kubeConfig: KubeConfig): void;
}

interface Connection {
  backends: ClusterBackends;
  /** The cluster's current KubeConfig (for EKS, carrying the cached bearer token). */
  kubeConfig: () => Promise<KubeConfig>;
  /**
   * `identityMapping: auto`: whether the cluster's authentication mode (re-read at most once a minute) now
   * resolves to another mapping than the one built; the connection is then built again.
   */
  outgrown?: () => Promise<boolean>;
}

export class PolicyClusterConnections implements ClusterConnections {
  readonly #options: ClusterConnectionOptions;
  readonly #built = new Map<string, Promise<Connection>>();

  constructor(options: ClusterConnectionOptions) {
    this.#options = options;
  }

  async forCluster(cluster: string): Promise<ClusterBackends> {
    const built = this.#connection(cluster);
    const connection = await built;
    if (!(await connection.outgrown?.())) return connection.backends;
    // The cluster moved on (CONFIG_MAP → API_AND_CONFIG_MAP → API): the mapping follows its mode.
    if (this.#built.get(cluster) === built) this.#built.delete(cluster);
    return (await this.#connection(cluster)).backends;
  }

  /** The KubeConfig the cluster's backends use right now (doctor and tests read it). */
  async kubeConfig(cluster: string): Promise<KubeConfig> {
    return (await this.#connection(cluster)).kubeConfig();
  }

  #connection(cluster: string): Promise<Connection> {
    const policy = this.#options.policy.clusters[cluster];
    if (!policy) {
      return Promise.reject(
        notFound(
          `There is no cluster "${cluster}"`,
          `Clusters: ${Object.keys(this.#options.policy.clusters).join(', ')}.`,
        ),
      );
    }
    let backends = this.#built.get(cluster);
    if (!backends) {
      backends = this.#build(cluster, policy);
      // A failed build (e.g. DescribeCluster throttled) must not stick.
      backends.catch(() => this.#built.delete(cluster));
      this.#built.set(cluster, backends);
    }
    return backends;
  }

  async #build(cluster: string, policy: ClusterPolicy): Promise<Connection> {
    const { env, instrument } = this.#options;
    const region = policy.region;
    const { sts, credentials } = clusterCredentials(policy, this.#options);
    const eksName = 'eks' in policy.connection ? (policy.connection.eks.name ?? cluster) : cluster;
    const clientConfig = { region, credentials, ...awsClientOptions(env) };
    const iam = new IAMClient({ ...clientConfig, ...endpoint(env.AWS_ENDPOINT_URL_IAM) });
    const eks = new EKSClient({ ...clientConfig, ...endpoint(env.AWS_ENDPOINT_URL_EKS) });
    for (const client of [sts, iam, eks]) instrument?.aws?.(cluster, client);

    // EKS: one DescribeCluster gives the endpoint, the CA and the authentication mode; the mode is read
    // again before each activation (it can change: clusters move towards API, one way).
    const described = 'eks' in policy.connection ? await describeCluster(eks, eksName) : undefined;
    const loadKubeConfig = described
      ? eksKubeConfig(described, eksName, region, credentials, this.#options.clock)
      : fileKubeConfig('kubeconfig' in policy.connection ? policy.connection.kubeconfig : {});
    const authMode = described && authenticationModeReader(eks, eksName, described, this.#options.clock);
    const seen = new WeakSet<KubeConfig>();
    const kubeConfig = async () => {
      const kc = await loadKubeConfig();
      if (instrument?.kube && !seen.has(kc)) {
        seen.add(kc);
        instrument.kube(cluster, kc);
      }
      return kc;
    };
    const apis = new KubeApis(kubeConfig);
    const own = ownMappingsFor(this.#options.policy, cluster);
    // Kubeconfig connections have no DescribeCluster: their explicit mapping is taken as it is.
    const chosen = resolveMapping(policy.identityMapping, (await authMode?.()) ?? 'CONFIG_MAP');
    let mapping: IdentityMapping;
    if (chosen === 'aws-auth') {
      mapping = new AwsAuthMapping(apis, own, this.#options.awsAuth?.[cluster]);
    } else if (chosen === 'access-entries') {
      mapping = new EksAccessEntries(eks, eksName, own);
    } else {
      mapping = noMapping;
    }
    if (authMode) mapping = readByCluster(mapping, authMode, eksName);
    // Access-policy levels only: no Kubernetes request as the worker, ever (the probe logs in as the person).
    const policyLevels = offersAccessPolicies(this.#options.policy, cluster);
    const follows = policy.identityMapping === 'auto' && authMode ? authMode : undefined;
    const backends: ClusterBackends = {
      iam: new AwsIamRoles(iam),
      mapping,
      rbac: policyLevels ? noKubernetesAccess(cluster) : new KubeRbac(apis),
      ...(policyLevels && chosen === 'access-entries'
        ? { accessPolicies: new EksAccessPolicyEntries(eks, eksName, mapping) }
        : {}),
      ...(follows && chosen === 'access-entries' && !policyLevels
        ? {
            formerMapping: formerAwsAuth(
              new AwsAuthMapping(apis, own, this.#options.awsAuth?.[cluster]),
              follows,
            ),
          }
        : {}),
    };
    if (chosen !== 'none' && probesLogin(policy)) {
      // Its own STS client, with the credentials the worker acts with here (a hub's assumed role).
      const probeSts = new STSClient({ ...clientConfig, ...endpoint(env.AWS_ENDPOINT_URL_STS) });
      instrument?.aws?.(cluster, probeSts);
      backends.probe = new StsKubeLoginProbe({
        sts: probeSts,
        clusterName: eksName,
        region,
        clock: this.#options.clock,
        server: async () => {
          const found = (await kubeConfig()).getCurrentCluster();
          if (!found) throw misconfigured(`The connection to ${cluster} names no API server`);
          return found;
        },
      });
    }
    const outgrown = follows
      ? async () => {
          // Unreadable (DescribeCluster throttled): keep what was built; taking access away must not wait.
          const mode = await follows().catch(() => undefined);
          return mode !== undefined && resolveMapping('auto', mode) !== chosen;
        }
      : undefined;
    return { backends, kubeConfig, ...(outgrown ? { outgrown } : {}) };
  }
}

/**
 * The aws-auth entries of grants made while an `auto` cluster read only aws-auth, now that it reads access
 * entries: removed, never written. In API mode aws-auth admits no one, so an entry there that cannot be
 * read or removed (the worker's aws-auth rights taken away after the move) is inert and left; while the
 * cluster still reads aws-auth, a failure is the revocation's.
 */
function formerAwsAuth(
  awsAuth: AwsAuthMapping,
  authMode: () => Promise<AuthenticationMode | undefined>,
): NonNullable<ClusterBackends['formerMapping']> {
  const unlessUnread = async <T>(work: () => Promise<T>, inert: T): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if ((await authMode().catch(() => undefined)) === 'API') return inert;
      throw error;
    }
  };
  return {
    remove: (roleArn) => unlessUnread(() => awsAuth.remove(roleArn), undefined),
    list: () => unlessUnread(() => awsAuth.list(), []),
  };
}

const endpoint = (url: string | undefined) => (url ? { endpoint: url } : {});

/**
 * The AWS credentials eks-access acts with on one cluster: the base ones (or the SDK's default chain),
 * or those of the cluster's `assumeRoleArn`, renewed before they end. Shared with `doctor`.
 */
export function clusterCredentials(
  policy: ClusterPolicy,
  options: Pick<ClusterConnectionOptions, 'env' | 'credentials' | 'clock'>,
): { sts: STSClient; credentials: CredentialsProvider } {
  const base = options.credentials;
  const sts = new STSClient({
    region: policy.region,
    ...awsClientOptions(options.env),
    ...endpoint(options.env.AWS_ENDPOINT_URL_STS),
    ...(base ? { credentials: base } : {}),
  });
  const assumeRoleArn = 'eks' in policy.connection ? policy.connection.eks.assumeRoleArn : undefined;
  const credentials: CredentialsProvider = assumeRoleArn
    ? assumedRoleCredentials(sts, assumeRoleArn, options.clock)
    : async () => (await sts.config.credentials()) as AwsCredentials;
  return { sts, credentials };
}

function fileKubeConfig(options: { path?: string | undefined; context?: string | undefined }) {
  const kc = new KubeConfig();
  if (options.path) kc.loadFromFile(options.path);
  else kc.loadFromDefault();
  if (options.context) kc.setCurrentContext(options.context);
  reuseConnections(kc);
  return async () => kc;
}

async function describeCluster(eks: EKSClient, name: string): Promise<DescribeClusterCommandOutput> {
  try {
    return await eks.send(new DescribeClusterCommand({ name }));
  } catch (error) {
    throw fromAwsError(error, `describe EKS cluster ${name}`);
  }
}

/** How long a read authentication mode is trusted before the next activation reads it again. */
const AUTH_MODE_TTL_MS = 60_000;

/** The cluster's authentication mode, starting from the build's DescribeCluster, re-read after a minute. */
function authenticationModeReader(
  eks: EKSClient,
  name: string,
  first: DescribeClusterCommandOutput,
  clock: Clock,
): () => Promise<AuthenticationMode | undefined> {
  const modeOf = (out: DescribeClusterCommandOutput) =>
    authenticationModeOf(out.cluster?.accessConfig?.authenticationMode);
  let cached = { mode: modeOf(first), at: clock.now() };
  return async () => {
    if (clock.now() - cached.at > AUTH_MODE_TTL_MS) {
      cached = { mode: modeOf(await describeCluster(eks, name)), at: clock.now() };
    }
    return cached.mode;
  };
}

/**
 * The mapping, refusing in `preflight` (before activation writes anything) when the cluster's
 * authentication mode does not read it. Removal and listing stay available: taking access away must
 * work whatever the mode.
 */
function readByCluster(
  mapping: IdentityMapping,
  authMode: () => Promise<AuthenticationMode | undefined>,
  eksName: string,
): IdentityMapping {
  return {
    mode: mapping.mode,
    upsert: (entry, options) => mapping.upsert(entry, options),
    remove: (roleArn) => mapping.remove(roleArn),
    effectiveEntry: (roleArn) => mapping.effectiveEntry(roleArn),
    list: () => mapping.list(),
    ...(mapping.entriesSeen ? { entriesSeen: () => mapping.entriesSeen?.() } : {}),
    ...(mapping.entryCreatedAt
      ? {
          entryCreatedAt: (roleArn: string) =>
            mapping.entryCreatedAt?.(roleArn) ?? Promise.resolve(undefined),
        }
      : {}),
    async preflight() {
      const mismatch = mappingMismatch(mapping.mode, await authMode(), eksName);
      if (mismatch) throw misconfigured(mismatch.problem, mismatch.fix);
      await mapping.preflight();
    },
  };
}

/** A fresh KubeConfig whenever the cached token is renewed. */
function eksKubeConfig(
  described: DescribeClusterCommandOutput,
  name: string,
  region: string,
  credentials: CredentialsProvider,
  clock: Clock,
): () => Promise<KubeConfig> {
  const server = described.cluster?.endpoint;
  const caData = described.cluster?.certificateAuthority?.data;
  if (!server || !caData) throw misconfigured(`EKS cluster ${name} has no endpoint or CA yet`);
  const tokens = new EksTokenSource({ clusterName: name, region, credentials, clock });
  let current: { token: string; kc: KubeConfig } | undefined;
  const pool = new AgentPool();
  return async () => {
    const token = await tokens.token();
    if (current?.token !== token) {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name, server, caData, skipTLSVerify: false }],
        users: [{ name: 'eks-access', token }],
        contexts: [{ name, cluster: name, user: 'eks-access' }],
        currentContext: name,
      });
      reuseConnections(kc, pool);
      current = { token, kc };
    }
    return current.kc;
  };
}

/** STS AssumeRole credentials into the cluster's account, renewed five minutes before they end. */
function assumedRoleCredentials(sts: STSClient, roleArn: string, clock: Clock): CredentialsProvider {
  let cached: AwsCredentials | undefined;
  return async () => {
    if (cached?.expiration && cached.expiration.getTime() - 5 * 60_000 > clock.now()) return cached;
    try {
      const out = await sts.send(
        new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'eks-access', DurationSeconds: 3600 }),
      );
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey)
        throw misconfigured(`AssumeRole ${roleArn} returned no credentials`);
      cached = {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}),
        ...(c.Expiration ? { expiration: c.Expiration } : {}),
      };
      return cached;
    } catch (error) {
      throw fromAwsError(error, `assume ${roleArn}`);
    }
  };
}
