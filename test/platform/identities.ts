// Kubernetes identities for tests: a client certificate signed by the platform's CA, wrapped in a
// self-contained kubeconfig (certificate and key inline) that kubectl and @kubernetes/client-node accept.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeClientCert } from './certs.js';

export interface KubeEndpoint {
  server: string;
  caFile: string;
  caKeyFile: string;
}

export async function mintKubeconfig(
  kube: KubeEndpoint,
  dir: string,
  user: string,
  groups: readonly string[],
): Promise<string> {
  const base = `${user.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 60)}-${randomBytes(4).toString('hex')}`;
  const caPair = { certFile: kube.caFile, keyFile: kube.caKeyFile };
  const pair = await makeClientCert(dir, caPair, base, user, groups);
  const b64 = async (file: string) => (await readFile(file)).toString('base64');
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server: kube.server, 'certificate-authority': kube.caFile } }],
    users: [
      {
        name: user,
        user: {
          'client-certificate-data': await b64(pair.certFile),
          'client-key-data': await b64(pair.keyFile),
        },
      },
    ],
    contexts: [{ name: 'test', context: { cluster: 'test', user } }],
    'current-context': 'test',
  };
  const file = join(dir, `${base}.kubeconfig`);
  // JSON is YAML, so every kubeconfig reader takes it.
  await writeFile(file, JSON.stringify(kubeconfig, null, 2), { mode: 0o600 });
  return file;
}
