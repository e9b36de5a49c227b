// A real Kubernetes control plane on loopback, started the way controller-runtime's envtest starts it:
// etcd, then kube-apiserver with RBAC authorization, client-certificate users and service-account keys.
// Unlike envtest we also run kube-controller-manager with two controllers: clusterrole-aggregation (the
// bootstrap ClusterRoles admin/edit/view are aggregated; without it they grant nothing) and namespace
// (so deleting a namespace finishes instead of hanging in Terminating).

import { readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import type { Propagation } from './access-entries-sync.js';
import { planAuthorizer, type RunningAuthorizer, startAuthorizer } from './access-policy-authorizer.js';
import { planAuthenticator, startAuthenticator } from './authenticator.js';
import { type CertPair, makeCa, makeClientCert, makeServingCert, makeSigningKeyPair } from './certs.js';
import { mintKubeconfig } from './identities.js';
import type { PlatformInfo } from './info.js';
import { freePort, type ManagedProcess, startProcess, waitUntil } from './processes.js';
import { startWatchLagProxy, type WatchLagProxy } from './watch-lag.js';

export const ADMIN_USER = 'eks-access-test-admin';
const START_TIMEOUT_MS = 90_000;
/**
 * How long kube-apiserver caches a token the webhook accepted (or refused). Production's default is 2 min:
 * a token already authenticated stays authenticated that long after its mapping goes. Small here, so a
 * test sees a removed mapping refused within seconds.
 */
export const WEBHOOK_CACHE_TTL_SECONDS = 2;

/** The aws-iam-authenticator as the apiserver's token webhook (see authenticator.ts). */
export interface LoginOptions {
  binary: string;
  clusterId: string;
  /** The AWS gateway and the CA of its certificate. */
  proxyUrl: string;
  awsCaFile: string;
  /** How late aws-auth changes reach the authenticator's watch (watch-lag.ts); undefined: at once. */
  awsAuthLag?: Propagation | undefined;
}

/** GET over TLS as a client-certificate user; resolves with the status code and body. */
function httpsGet(url: string, ca: string, client: CertPair): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        ca: readFileSync(ca),
        cert: readFileSync(client.certFile),
        key: readFileSync(client.keyFile),
        timeout: 5_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export async function startKube(
  runDir: string,
  binDir: string,
  track: ManagedProcess[],
  login: LoginOptions,
): Promise<{
  kube: PlatformInfo['kube'];
  dynamicFile: string;
  watchLag: WatchLagProxy;
  authorizer: RunningAuthorizer;
}> {
  const pki = join(runDir, 'pki');
  const logDir = join(runDir, 'logs');
  const etcdDir = join(runDir, 'etcd');
  await rm(etcdDir, { recursive: true, force: true }); // a retried start must not inherit a half-made member
  await mkdir(etcdDir, { recursive: true, mode: 0o700 });
  const ca = await makeCa(pki);
  const serving = await makeServingCert(pki, ca, 'kube-apiserver', {
    ips: ['127.0.0.1', '10.0.0.1'],
    dns: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
  });
  const sa = await makeSigningKeyPair(pki);
  const admin = await makeClientCert(pki, ca, 'admin', ADMIN_USER, ['system:masters']);
  const authenticator = await planAuthenticator(pki, ca, runDir);
  const authorizer = await planAuthorizer(pki, ca, runDir);
  const audit = await auditPolicy(runDir);

  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const etcd = startProcess(
    'etcd',
    join(binDir, 'etcd'),
    [
      '--name=default',
      `--data-dir=${etcdDir}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      '--unsafe-no-fsync=true', // test data; fsync only costs time
      '--log-level=warn',
    ],
    { logDir, track },
  );
  await waitUntil(
    'etcd /health',
    async () => {
      const res = await fetch(`${etcdUrl}/health`);
      return res.ok && ((await res.json()) as { health?: string }).health === 'true' ? true : undefined;
    },
    { timeoutMs: START_TIMEOUT_MS, process: etcd },
  );

  const server = `https://127.0.0.1:${apiPort}`;
  const apiserver = startProcess(
    'kube-apiserver',
    join(binDir, 'kube-apiserver'),
    [
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--etcd-servers=${etcdUrl}`,
      // Node, EKS's access policies (access-policy-authorizer.ts), then RBAC, as EKS orders them.
      `--authorization-config=${authorizer.authorizationConfig}`,
      // Who asked what (metadata only), so a test can show which identities the worker used.
      `--audit-policy-file=${audit.policyFile}`,
      `--audit-log-path=${audit.logFile}`,
      '--audit-log-format=json',
      '--audit-log-mode=blocking',
      `--client-ca-file=${ca.certFile}`,
      `--tls-cert-file=${serving.certFile}`,
      `--tls-private-key-file=${serving.keyFile}`,
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${sa.publicKeyFile}`,
      `--service-account-signing-key-file=${sa.privateKeyFile}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      // ServiceAccount admission waits for token controllers we do not run (envtest disables it too).
      '--disable-admission-plugins=ServiceAccount',
      '--allow-privileged=true',
      `--cert-dir=${pki}`,
      '--profiling=false',
      // Bearer tokens go to the authenticator; client certificates (every other test) never reach it.
      `--authentication-token-webhook-config-file=${authenticator.webhookKubeconfig}`,
      `--authentication-token-webhook-cache-ttl=${WEBHOOK_CACHE_TTL_SECONDS}s`,
    ],
    { logDir, track },
  );
  await waitUntil(
    'kube-apiserver /readyz',
    async () => ((await httpsGet(`${server}/readyz`, ca.certFile, admin)).status === 200 ? true : undefined),
    { timeoutMs: START_TIMEOUT_MS, process: apiserver },
  );
  // Asked only for people the authenticator logged in, so none before the platform is up.
  const runningAuthorizer = await startAuthorizer(authorizer);

  const adminKubeconfig = await mintKubeconfig(
    { server, caFile: ca.certFile, caKeyFile: ca.keyFile },
    pki,
    ADMIN_USER,
    ['system:masters'],
  );
  // The authenticator watches aws-auth through a proxy that makes its watch lag, as on EKS.
  const watchLag = await startWatchLagProxy(apiPort, login.awsAuthLag);
  const authenticatorKubeconfig = join(pki, 'authenticator-kubeconfig.yaml');
  await writeFile(
    authenticatorKubeconfig,
    (await readFile(adminKubeconfig, 'utf8')).replaceAll(server, `https://127.0.0.1:${watchLag.port}`),
  );
  // Started alongside the controller-manager; both are awaited below.
  const authenticatorReady = startAuthenticator(authenticator, {
    ...login,
    kubeconfig: authenticatorKubeconfig,
    caFile: ca.certFile,
    logDir,
    track,
  });
  // The controller-manager acts with our admin identity: a test cluster has no per-controller accounts.
  const controllerManager = startProcess(
    'kube-controller-manager',
    join(binDir, 'kube-controller-manager'),
    [
      `--kubeconfig=${adminKubeconfig}`,
      '--controllers=clusterrole-aggregation,namespace',
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      `--secure-port=${await freePort()}`,
      `--cert-dir=${join(pki, 'kcm')}`,
      `--service-account-private-key-file=${sa.privateKeyFile}`,
      `--root-ca-file=${ca.certFile}`,
    ],
    { logDir, track },
  );

  // Bootstrap objects come from post-start hooks and the controller-manager; tests may rely on all of them.
  const bootstrapped = waitUntil(
    'namespaces default and kube-system, and an aggregated ClusterRole edit',
    async () => {
      const get = (path: string) => httpsGet(`${server}${path}`, ca.certFile, admin);
      const [defaultNs, kubeSystem, edit] = await Promise.all([
        get('/api/v1/namespaces/default'),
        get('/api/v1/namespaces/kube-system'),
        get('/apis/rbac.authorization.k8s.io/v1/clusterroles/edit'),
      ]);
      if (defaultNs.status !== 200 || kubeSystem.status !== 200 || edit.status !== 200) return undefined;
      const rules = (JSON.parse(edit.body) as { rules?: unknown[] }).rules ?? [];
      return rules.length > 0 ? true : undefined;
    },
    { timeoutMs: START_TIMEOUT_MS, process: controllerManager },
  );
  await Promise.all([bootstrapped, authenticatorReady]);

  return {
    kube: {
      server,
      caFile: ca.certFile,
      caKeyFile: ca.keyFile,
      adminKubeconfig,
      kubectl: join(binDir, 'kubectl'),
      auditLog: audit.logFile,
    },
    dynamicFile: authenticator.dynamicFile,
    watchLag,
    authorizer: runningAuthorizer,
  };
}

/**
 * The apiserver's audit policy: who made each request, at metadata level, from the response on. The
 * platform's own admin (the controller-manager, test set-up) is left out: it is most of the traffic and no
 * test asks about it.
 */
async function auditPolicy(runDir: string): Promise<{ policyFile: string; logFile: string }> {
  const policyFile = join(runDir, 'pki', 'audit-policy.yaml');
  await writeFile(
    policyFile,
    [
      'apiVersion: audit.k8s.io/v1',
      'kind: Policy',
      'omitStages: [RequestReceived]',
      'rules:',
      `  - level: None`,
      `    users: [${ADMIN_USER}, system:apiserver]`,
      '  - level: Metadata',
      '',
    ].join('\n'),
  );
  return { policyFile, logFile: join(runDir, 'logs', 'kube-apiserver-audit.log') };
}
