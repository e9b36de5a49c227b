// The authenticator EKS runs in front of every cluster (kubernetes-sigs/aws-iam-authenticator), as the
// test kube-apiserver's token webhook, so a test can log in the way a person does: `aws eks get-token`
// makes a presigned STS GetCallerIdentity URL, the apiserver hands it to the authenticator, which fetches
// it (through the AWS gateway, see aws-gateway.ts) and maps the caller to a Kubernetes user with, in order:
//   - DynamicFile: the stand-in for EKS access entries, a JSON file kept in step with ministack's access
//     entries by access-entries-sync.ts, matched by the principal's unique id as EKS does
//     (dynamicfileUserIDStrict), so it accepts role ARNs with a path like access entries do;
//   - EKSConfigMap: kube-system/aws-auth, read through the apiserver, compared exactly against the
//     canonical (path-less) role ARN of the caller's session, as EKS does.
// One authenticator serves one cluster id (the `x-k8s-aws-id` every token is signed for): the platform's
// login cluster (PlatformInfo.login.clusterName).
//
// Its /healthz is also served on port 21363 on every interface, with no flag to change it; a second
// platform on the same machine only logs that the port is taken, so readiness is read from the token
// webhook's own /healthz on 127.0.0.1 instead.

import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { type CertPair, makeServingCert } from './certs.js';
import { freePort, type ManagedProcess, startProcess, waitUntil } from './processes.js';

const START_TIMEOUT_MS = 30_000;

export interface AuthenticatorPlan {
  /** Token webhook address, chosen before kube-apiserver starts (it reads the webhook kubeconfig once). */
  port: number;
  /** Give to kube-apiserver as --authentication-token-webhook-config-file. */
  webhookKubeconfig: string;
  stateDir: string;
  /** The DynamicFile (access entries); exists (empty) before the authenticator starts. */
  dynamicFile: string;
}

/** Certificates and files the apiserver needs before the authenticator runs. */
export async function planAuthenticator(
  pki: string,
  ca: CertPair,
  runDir: string,
): Promise<AuthenticatorPlan> {
  const port = await freePort();
  const stateDir = join(runDir, 'authenticator');
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  // The authenticator loads cert.pem/key.pem from its state dir when present instead of making a
  // self-signed pair, so the apiserver can trust it through the test CA.
  const serving = await makeServingCert(pki, ca, 'aws-iam-authenticator', {
    ips: ['127.0.0.1'],
    dns: ['localhost'],
  });
  await writeFile(join(stateDir, 'cert.pem'), readFileSync(serving.certFile));
  await writeFile(join(stateDir, 'key.pem'), readFileSync(serving.keyFile), { mode: 0o600 });
  const webhookKubeconfig = join(stateDir, 'webhook-kubeconfig.yaml');
  await writeFile(
    webhookKubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '  - name: aws-iam-authenticator',
      '    cluster:',
      `      certificate-authority: ${ca.certFile}`,
      `      server: https://127.0.0.1:${port}/authenticate`,
      'users:',
      '  - name: apiserver',
      'contexts:',
      '  - name: webhook',
      '    context: { cluster: aws-iam-authenticator, user: apiserver }',
      'current-context: webhook',
      '',
    ].join('\n'),
  );
  const dynamicFile = join(stateDir, 'access-entries.json');
  await writeFile(dynamicFile, emptyDynamicFile());
  return { port, webhookKubeconfig, stateDir, dynamicFile };
}

function emptyDynamicFile(): string {
  return JSON.stringify({
    LastUpdatedDateTime: `${Math.floor(Date.now() / 1000)}`,
    Version: '0',
    mapRoles: [],
    mapUsers: [],
    mapAccounts: [],
  });
}

export interface AuthenticatorOptions {
  binary: string;
  clusterId: string;
  /** Admin kubeconfig: EKSConfigMap watches kube-system/aws-auth with it. */
  kubeconfig: string;
  /** The AWS gateway (HTTPS_PROXY) and the CA of its certificate (SSL_CERT_FILE). */
  proxyUrl: string;
  awsCaFile: string;
  caFile: string;
  logDir: string;
  track: ManagedProcess[];
}

export async function startAuthenticator(
  plan: AuthenticatorPlan,
  options: AuthenticatorOptions,
): Promise<void> {
  const config = join(plan.stateDir, 'config.yaml');
  // dynamicfilepath and dynamicfileUserIDStrict have no flags; they are only read from a config file.
  await writeFile(
    config,
    [
      `clusterID: ${options.clusterId}`,
      'server:',
      `  dynamicfilepath: ${plan.dynamicFile}`,
      '  dynamicfileUserIDStrict: true',
      '',
    ].join('\n'),
  );
  const process_ = startProcess(
    'aws-iam-authenticator',
    options.binary,
    [
      'server',
      `--config=${config}`,
      `--cluster-id=${options.clusterId}`,
      '--address=127.0.0.1',
      `--port=${plan.port}`,
      `--state-dir=${plan.stateDir}`,
      '--kubeconfig-pregenerated=true',
      `--kubeconfig=${options.kubeconfig}`,
      // Access entries take precedence over aws-auth on EKS (API_AND_CONFIG_MAP).
      '--backend-mode=DynamicFile,EKSConfigMap',
    ],
    {
      logDir: options.logDir,
      track: options.track,
      // On SIGTERM it stops its mapper but keeps serving; it holds no state, so it is killed outright.
      stopSignal: 'SIGKILL',
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        HOME: plan.stateDir,
        HTTPS_PROXY: options.proxyUrl,
        NO_PROXY: '127.0.0.1,localhost',
        SSL_CERT_FILE: options.awsCaFile,
        // Otherwise it asks the EC2 instance metadata service for its region and waits for the timeout.
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_REGION: 'us-east-1',
      },
    },
  );
  const ca = readFileSync(options.caFile);
  await waitUntil(
    'aws-iam-authenticator /healthz',
    () =>
      new Promise<true | undefined>((resolve, reject) => {
        const req = request(`https://127.0.0.1:${plan.port}/healthz`, { ca, timeout: 2_000 }, (res) => {
          res.resume();
          resolve(res.statusCode === 200 ? true : undefined);
        });
        req.on('timeout', () => req.destroy(new Error('timed out')));
        req.on('error', reject);
        req.end();
      }),
    { timeoutMs: START_TIMEOUT_MS, process: process_ },
  );
}
