// Certificates for the test kube-apiserver, made the way envtest makes them: one CA signs the serving
// certificate and every client certificate; a client certificate's CN is the user name and each O a group.
// Keys are P-256 (instant to generate); openssl (>= 3.0, for `req -CA`) signs.
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertPair {
  certFile: string;
  keyFile: string;
}

function newKey(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privatePem: privateKey, publicPem: publicKey };
}

/** openssl -subj syntax; '/' and '\' inside a value must be escaped. */
function subject(cn: string, organizations: readonly string[]): string {
  const esc = (value: string) => value.replace(/[\\/]/g, (c) => `\\${c}`);
  return `/CN=${esc(cn)}${organizations.map((o) => `/O=${esc(o)}`).join('')}`;
}

async function issue(
  dir: string,
  name: string,
  subj: string,
  extensions: readonly string[],
  signer: CertPair | undefined,
): Promise<CertPair> {
  await mkdir(dir, { recursive: true });
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  const configFile = join(dir, `${name}.cnf`);
  await writeFile(keyFile, newKey().privatePem, { mode: 0o600 });
  await writeFile(
    configFile,
    ['[req]', 'distinguished_name = dn', '[dn]', '[ext]', ...extensions, ''].join('\n'),
  );
  const args = ['req', '-x509', '-new', '-key', keyFile, '-subj', subj, '-days', '3650'];
  args.push('-config', configFile, '-extensions', 'ext', '-out', certFile);
  args.push('-set_serial', `0x${randomBytes(12).toString('hex')}`);
  if (signer) args.push('-CA', signer.certFile, '-CAkey', signer.keyFile);
  try {
    await run('openssl', args);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new Error('openssl is not installed: run scripts/platform/install.sh (apt-get install openssl)');
    }
    throw new Error(`openssl could not issue ${name}: ${(error as { stderr?: string }).stderr ?? error}`);
  }
  return { certFile, keyFile };
}

export function makeCa(dir: string): Promise<CertPair> {
  return issue(
    dir,
    'ca',
    subject('eks-access-test-ca', []),
    [
      'basicConstraints = critical, CA:TRUE',
      'keyUsage = critical, keyCertSign, cRLSign, digitalSignature',
      'subjectKeyIdentifier = hash',
    ],
    undefined,
  );
}

export function makeServingCert(
  dir: string,
  ca: CertPair,
  name: string,
  hosts: { ips: readonly string[]; dns: readonly string[] },
): Promise<CertPair> {
  const san = [...hosts.ips.map((ip) => `IP:${ip}`), ...hosts.dns.map((d) => `DNS:${d}`)].join(', ');
  return issue(
    dir,
    name,
    subject(name, []),
    [
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature',
      'extendedKeyUsage = serverAuth',
      `subjectAltName = ${san}`,
    ],
    ca,
  );
}

/** A client certificate: Kubernetes reads CN as the user name and every O as a group. */
export function makeClientCert(
  dir: string,
  ca: CertPair,
  fileName: string,
  user: string,
  groups: readonly string[],
): Promise<CertPair> {
  return issue(
    dir,
    fileName,
    subject(user, groups),
    [
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature',
      'extendedKeyUsage = clientAuth',
    ],
    ca,
  );
}

/** The key pair the apiserver signs (private) and verifies (public) service-account tokens with. */
export async function makeSigningKeyPair(
  dir: string,
): Promise<{ privateKeyFile: string; publicKeyFile: string }> {
  await mkdir(dir, { recursive: true });
  const { privatePem, publicPem } = newKey();
  const privateKeyFile = join(dir, 'sa.key');
  const publicKeyFile = join(dir, 'sa.pub');
  await writeFile(privateKeyFile, privatePem, { mode: 0o600 });
  await writeFile(publicKeyFile, publicPem);
  return { privateKeyFile, publicKeyFile };
}
