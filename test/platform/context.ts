// What a test file uses to reach the test platform (started by global-setup.ts): addresses, an admin
// KubeConfig, minted Kubernetes identities, AWS SDK client settings and collision-free names.
//
//   import { adminKubeConfig, awsClientConfig, kubeconfigFor, platform, uniqueName } from '../platform/context.js';
//   const iam = new IAMClient(awsClientConfig('iam'));
//   const ns = uniqueName('test');            // e.g. test-k3x9q2-1
//   const alice = await kubeconfigFor('alice', ['developers']);   // a kubeconfig file path
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { mintKubeconfig } from './identities.js';
import type { PlatformInfo } from './info.js';

export type { PlatformInfo } from './info.js';

let outsideVitest: PlatformInfo | undefined;

/** For a program outside vitest (a benchmark) that started or attached to a platform itself. */
export function usePlatform(info: PlatformInfo): void {
  outsideVitest = info;
}

export function platform(): PlatformInfo {
  if (outsideVitest) return outsideVitest;
  const info = inject('platform');
  if (!info) {
    throw new Error(
      inject('platformError') ??
        'no test platform: run this file in the vitest project "int" (its globalSetup starts it)',
    );
  }
  return info;
}

/** A kubeconfig file for a client-certificate user (CN = user, O = each group), signed by the test CA. */
export async function kubeconfigFor(user: string, groups: readonly string[] = []): Promise<string> {
  const { kube, runDir } = platform();
  const dir = join(runDir, 'identities');
  await mkdir(dir, { recursive: true });
  return mintKubeconfig(kube, dir, user, groups);
}

/** A client-node KubeConfig for a minted user; see kubeconfigFor. */
export async function kubeConfigAs(user: string, groups: readonly string[] = []): Promise<KubeConfig> {
  const kc = new KubeConfig();
  kc.loadFromFile(await kubeconfigFor(user, groups));
  return kc;
}

/** The platform's admin (`eks-access-test-admin`, group `system:masters`), for a test's own set-up. */
export function adminKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(platform().kube.adminKubeconfig);
  return kc;
}

export interface AwsClientConfig {
  region: string;
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

/** Settings for `new IAMClient(...)`, `new STSClient(...)`, `new EKSClient(...)` against the emulators. */
export function awsClientConfig(service: 'iam' | 'sts' | 'eks'): AwsClientConfig {
  const { aws } = platform();
  const endpoint = { iam: aws.iamEndpoint, sts: aws.stsEndpoint, eks: aws.eksEndpoint }[service];
  return {
    region: aws.region,
    endpoint,
    credentials: { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey },
  };
}

const runId = randomBytes(3).toString('hex');
let counter = 0;

/**
 * A name no other test (in this run or an earlier one on the same servers) uses: `${prefix}-${random}-${n}`,
 * lower-case and short enough for Kubernetes names (keep prefixes under ~40 characters).
 */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${runId}${randomBytes(2).toString('hex')}-${counter}`;
}
