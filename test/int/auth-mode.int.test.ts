// The cluster's authentication mode, read from the EKS emulator (ministack) as the engine reads it
// (DescribeCluster accessConfig.authenticationMode): an identity mapping the cluster does not read is
// refused before anything is written, and `identityMapping: auto` picks access entries where the
// cluster reads them. ministack returns accessConfig as CreateCluster gave it ({} when not given: the
// API's default, CONFIG_MAP); the platform's layer in front of it (test/platform/eks-access-config.ts)
// adds UpdateClusterConfig, so a cluster's move CONFIG_MAP → API_AND_CONFIG_MAP → API is exercised too.
import {
  CreateAccessEntryCommand,
  DescribeClusterCommand,
  EKSClient,
  UpdateClusterConfigCommand,
} from '@aws-sdk/client-eks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { doctorProbes } from '../../src/adapters/doctor-probes.js';
import { PolicyClusterConnections } from '../../src/adapters/k8s/cluster-connections.js';
import { parseEnv } from '../../src/config/load.js';
import { systemClock } from '../../src/domain/clock.js';
import { AccessError } from '../../src/domain/errors.js';
import { type CheckResult, doctor, formatCheck } from '../../src/operator/doctor.js';
import { platform, uniqueName } from '../platform/context.js';
import { type StrictAws, startStrictAws } from '../platform/strict-aws.js';
import { type AuthenticationMode, createStrictCluster, strictPolicy } from '../support/strict-eks.js';

let aws: StrictAws;
beforeAll(async () => {
  aws = await startStrictAws(uniqueName('ministack-modes'));
});
afterAll(async () => {
  await aws?.stop();
});

type Mode = AuthenticationMode | undefined;

async function clusterIn(mode: Mode): Promise<string> {
  const name = await createStrictCluster(aws, aws.rootOf(aws.accountId), aws.accountId, {
    ...(mode ? { authenticationMode: mode } : {}),
  });
  const eks = new EKSClient({
    region: aws.region,
    endpoint: aws.endpoint,
    credentials: aws.rootOf(aws.accountId),
  });
  const reported = (await eks.send(new DescribeClusterCommand({ name }))).cluster?.accessConfig;
  expect(reported?.authenticationMode).toBe(mode);
  return name;
}

function connectionsFor(cluster: string, identityMapping: string, clock = { now: () => Date.now() }) {
  return new PolicyClusterConnections({
    policy: strictPolicy(aws, cluster, { identityMapping, name: 'modes-policy' }),
    env: {
      AWS_ENDPOINT_URL_IAM: aws.endpoint,
      AWS_ENDPOINT_URL_STS: aws.endpoint,
      AWS_ENDPOINT_URL_EKS: aws.endpoint,
    },
    clock,
    credentials: aws.rootOf(aws.accountId),
  });
}

function backendsFor(cluster: string, identityMapping: string) {
  return connectionsFor(cluster, identityMapping).forCluster(cluster);
}

/** What preflight says: `ok`, the refusal's message, or (aws-auth) the kind of error reading aws-auth. */
async function preflight(cluster: string, identityMapping: string): Promise<string> {
  const backends = await backendsFor(cluster, identityMapping);
  try {
    await backends.mapping.preflight();
    return 'ok';
  } catch (error) {
    expect(error).toBeInstanceOf(AccessError);
    const e = error as AccessError;
    // The emulated cluster's API server is a placeholder: past the mode check, aws-auth cannot be read.
    return e.kind === 'misconfigured' ? `refused: ${e.message} | ${e.hint}` : `read aws-auth: ${e.kind}`;
  }
}

/** One cluster per mode, made once for the tests that only read a mode. */
let made: Promise<Record<'configMap' | 'both' | 'api' | 'unset', string>> | undefined;
const clusters = () => {
  made ??= Promise.all([
    clusterIn('CONFIG_MAP'),
    clusterIn('API_AND_CONFIG_MAP'),
    clusterIn('API'),
    clusterIn(undefined),
  ]).then(([configMap, both, api, unset]) => ({ configMap, both, api, unset }));
  return made;
};

describe('authentication mode', () => {
  it('refuses a mapping the cluster does not read, before writing anything, and says how to fix it', async () => {
    const { configMap, both, api, unset } = await clusters();
    // aws-auth on an API cluster: refused, the fix is to use access entries.
    expect(await preflight(api, 'aws-auth')).toMatch(
      /^refused: EKS cluster \S+ has authentication mode API, which reads only access entries: a aws-auth mapping would never log anyone in \| Set identityMapping: access-entries/,
    );
    // Access entries on a CONFIG_MAP cluster (explicit, or by default): refused, with the command.
    for (const cluster of [configMap, unset]) {
      expect(await preflight(cluster, 'access-entries')).toMatch(
        new RegExp(
          `^refused: EKS cluster ${cluster} has authentication mode CONFIG_MAP, .* \\| .*aws eks update-cluster-config --name ${cluster} --access-config authenticationMode=API_AND_CONFIG_MAP`,
        ),
      );
    }
    // What the cluster reads passes the mode check.
    expect(await preflight(api, 'access-entries')).toBe('ok');
    expect(await preflight(both, 'access-entries')).toBe('ok');
    for (const cluster of [configMap, both, unset]) {
      expect(await preflight(cluster, 'aws-auth')).toMatch(/^read aws-auth: (unavailable|internal)$/);
    }
  }, 120_000);

  it('auto takes access entries where the cluster reads them, else aws-auth', async () => {
    const { configMap, both, api, unset } = await clusters();
    expect((await backendsFor(configMap, 'auto')).mapping.mode).toBe('aws-auth');
    expect((await backendsFor(unset, 'auto')).mapping.mode).toBe('aws-auth');
    expect((await backendsFor(both, 'auto')).mapping.mode).toBe('access-entries');
    expect((await backendsFor(api, 'auto')).mapping.mode).toBe('access-entries');
    expect(await preflight(api, 'auto')).toBe('ok');
  }, 120_000);

  it('auto on a cluster that reads access entries also takes away the aws-auth it moved on from', async () => {
    const { configMap, both, api } = await clusters();
    // Only where auto resolved to access entries: nothing moved on elsewhere, and an explicit mapping
    // stays what the platform team chose.
    expect((await backendsFor(configMap, 'auto')).formerMapping).toBeUndefined();
    expect((await backendsFor(both, 'access-entries')).formerMapping).toBeUndefined();
    // API_AND_CONFIG_MAP still reads aws-auth: failing to read it (the placeholder API server here) is the
    // revocation's failure, never skipped.
    const stillRead = (await backendsFor(both, 'auto')).formerMapping;
    await expect(stillRead?.list()).rejects.toMatchObject({
      kind: expect.stringMatching(/unavailable|internal/),
    });
    await expect(stillRead?.remove(`arn:aws:iam::${aws.accountId}:role/eksa-x`)).rejects.toBeInstanceOf(
      AccessError,
    );
    // API reads no aws-auth: an entry there admits no one, so one that cannot be reached is left, inert.
    const unread = (await backendsFor(api, 'auto')).formerMapping;
    await expect(unread?.list()).resolves.toEqual([]);
    await expect(unread?.remove(`arn:aws:iam::${aws.accountId}:role/eksa-x`)).resolves.toBeUndefined();
  }, 120_000);

  it('follows a cluster that moves CONFIG_MAP → API_AND_CONFIG_MAP → API, one way, at the next read of its mode', async () => {
    const cluster = await clusterIn('CONFIG_MAP');
    const rootEks = new EKSClient({
      region: aws.region,
      endpoint: aws.endpoint,
      credentials: aws.rootOf(aws.accountId),
    });
    const switchTo = (authenticationMode: AuthenticationMode, eks = rootEks) =>
      eks.send(new UpdateClusterConfigCommand({ name: cluster, accessConfig: { authenticationMode } }));
    // EKS refuses an access entry on a cluster that does not read them.
    await expect(
      rootEks.send(
        new CreateAccessEntryCommand({
          clusterName: cluster,
          principalArn: `arn:aws:iam::${aws.accountId}:role/eksa-x`,
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidRequestException' });
    // Switching is an IAM-checked action: a caller allowed only to describe is refused, and nothing moves.
    const viewer = await aws.createUser('modes-viewer', {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'eks:DescribeCluster', Resource: '*' }],
    });
    const viewerEks = new EKSClient({
      region: aws.region,
      endpoint: aws.endpoint,
      credentials: viewer.credentials,
    });
    await expect(switchTo('API_AND_CONFIG_MAP', viewerEks)).rejects.toMatchObject({
      name: expect.stringMatching(/AccessDenied/),
    });

    let now = Date.now();
    const connections = connectionsFor(cluster, 'auto', { now: () => now });
    const before = await connections.forCluster(cluster);
    expect(before.mapping.mode).toBe('aws-auth');
    expect(before.formerMapping).toBeUndefined();

    const update = (await switchTo('API_AND_CONFIG_MAP')).update;
    expect(update).toMatchObject({
      type: 'AccessConfigUpdate',
      params: [{ type: 'AuthenticationMode', value: 'API_AND_CONFIG_MAP' }],
    });
    // The mode is re-read at most once a minute: until then the connection stays what it was built as.
    expect((await connections.forCluster(cluster)).mapping.mode).toBe('aws-auth');
    now += 61_000;
    const both = await connections.forCluster(cluster);
    expect(both.mapping.mode).toBe('access-entries');
    // Grants made while it read only aws-auth are still read there: failing to reach it is a failure.
    await expect(both.formerMapping?.list()).rejects.toBeInstanceOf(AccessError);

    // One way: back to CONFIG_MAP is refused as EKS refuses it.
    await expect(switchTo('CONFIG_MAP')).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: expect.stringMatching(/from API_AND_CONFIG_MAP to CONFIG_MAP/),
    });
    await switchTo('API');
    now += 61_000;
    const api = await connections.forCluster(cluster);
    expect(api.mapping.mode).toBe('access-entries');
    // aws-auth admits no one in API mode: an entry left there is inert, and unreachable is no failure.
    await expect(api.formerMapping?.list()).resolves.toEqual([]);
    // An explicit aws-auth mapping is now refused, naming the mode.
    expect(await preflight(cluster, 'aws-auth')).toMatch(
      /^refused: EKS cluster \S+ has authentication mode API,/,
    );
  }, 120_000);

  it('doctor shows the mode and the mapping it reads, or the mismatch with its fix', async () => {
    const { api, both } = await clusters();
    const one = strictPolicy(aws, api, { identityMapping: 'aws-auth' });
    const two = strictPolicy(aws, both, { identityMapping: 'auto' });
    const policy = { ...one, clusters: { ...one.clusters, ...two.clusters } };
    const env = parseEnv({
      REDIS_URL: platform().redisUrl,
      AWS_ENDPOINT_URL_IAM: aws.endpoint,
      AWS_ENDPOINT_URL_STS: aws.endpoint,
      AWS_ENDPOINT_URL_EKS: aws.endpoint,
    });
    const results = await doctor(
      doctorProbes({
        env,
        loadConfig: () => ({ policy, warnings: [], source: 'modes-policy' }),
        clock: systemClock,
        credentials: aws.rootOf(aws.accountId),
      }),
    );
    const line = (cluster: string) =>
      formatCheck(results.find((r) => r.name === `cluster ${cluster}: authentication mode`) as CheckResult);
    expect(line(api)).toBe(
      `✗ cluster ${api}: authentication mode  EKS cluster ${api} has authentication mode API, which reads only access entries: a aws-auth mapping would never log anyone in\n` +
        '    fix: Set identityMapping: access-entries (or auto) for this cluster; a cluster in API mode cannot go back to reading aws-auth.',
    );
    expect(line(both)).toBe(
      `✓ cluster ${both}: authentication mode  API_AND_CONFIG_MAP: reads access-entries (auto)`,
    );
  }, 120_000);
});
