// EKS's access-policy authorizer, for the test kube-apiserver. On EKS an access entry's associated access
// policies (AmazonEKSEditPolicy, …, cluster- or namespace-scoped) are evaluated by an authorizer of AWS's
// own, before RBAC; RBAC never sees them. Here the same order comes from a structured authorization
// configuration: Node, then this webhook, then RBAC. The webhook answers a SubjectAccessReview from the
// access entries the authenticator currently maps (access-entries-sync.ts: the same propagation delay)
// and their associated policies, with the permissions of src/domain/access-policies.ts (the EKS user
// guide's lists, recorded as data). It allows, or has no opinion (RBAC then decides); it never denies,
// as EKS's does not.
//
// Only requests of users the aws-iam-authenticator authenticated reach it (a match condition on the uid
// it gives them), and its decisions are cached for a second, so a revoked association is refused within
// about a second plus the sync, not after the apiserver's default five minutes.
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { PolicyRule } from '../../src/config/policy.js';
import { MANAGED_ACCESS_POLICIES } from '../../src/domain/access-policies.js';
import { type CertPair, makeServingCert } from './certs.js';
import { freePort } from './processes.js';

/** An access entry as the authorizer sees it: who it maps and its associated policies. */
export interface EntryPolicies {
  username: string;
  policies: { name: string; scope: { type: 'cluster' } | { type: 'namespace'; namespaces: string[] } }[];
}

/** The principal's unique id (RoleId/UserId) → its entry's policies, or undefined when unmapped. */
export type PolicyLookup = (principalId: string) => EntryPolicies | undefined;

export interface AuthorizerPlan {
  port: number;
  /** Give to kube-apiserver as --authorization-config. */
  authorizationConfig: string;
  serving: CertPair;
}

/** Decisions are cached this long by the apiserver (both ways); EKS applies changes within seconds. */
export const AUTHORIZER_CACHE_TTL = '1s';

export async function planAuthorizer(pki: string, ca: CertPair, runDir: string): Promise<AuthorizerPlan> {
  const port = await freePort();
  const dir = join(runDir, 'access-policy-authorizer');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const serving = await makeServingCert(pki, ca, 'access-policy-authorizer', {
    ips: ['127.0.0.1'],
    dns: ['localhost'],
  });
  const kubeconfig = join(dir, 'webhook-kubeconfig.yaml');
  await writeFile(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '  - name: access-policies',
      '    cluster:',
      `      certificate-authority: ${ca.certFile}`,
      `      server: https://127.0.0.1:${port}/authorize`,
      'users:',
      '  - name: apiserver',
      'contexts:',
      '  - name: webhook',
      '    context: { cluster: access-policies, user: apiserver }',
      'current-context: webhook',
      '',
    ].join('\n'),
  );
  const authorizationConfig = join(dir, 'authorization-config.yaml');
  await writeFile(
    authorizationConfig,
    [
      'apiVersion: apiserver.config.k8s.io/v1',
      'kind: AuthorizationConfiguration',
      'authorizers:',
      '  - type: Node',
      '    name: node',
      '  - type: Webhook',
      '    name: eks-access-policies',
      '    webhook:',
      '      timeout: 3s',
      '      subjectAccessReviewVersion: v1',
      '      matchConditionSubjectAccessReviewVersion: v1',
      // Down, it has no opinion: RBAC still answers (EKS's authorizer is not ours to fail closed).
      '      failurePolicy: NoOpinion',
      `      authorizedTTL: ${AUTHORIZER_CACHE_TTL}`,
      `      unauthorizedTTL: ${AUTHORIZER_CACHE_TTL}`,
      '      connectionInfo:',
      '        type: KubeConfigFile',
      `        kubeConfigFile: ${kubeconfig}`,
      '      matchConditions:',
      // Only people the authenticator logged in: certificates and service accounts go straight to RBAC.
      '        - expression: "has(request.uid) && request.uid.startsWith(\'aws-iam-authenticator:\')"',
      '  - type: RBAC',
      '    name: rbac',
      '',
    ].join('\n'),
  );
  return { port, authorizationConfig, serving };
}

interface ReviewSpec {
  user?: string;
  uid?: string;
  resourceAttributes?: {
    namespace?: string;
    verb?: string;
    group?: string;
    resource?: string;
    subresource?: string;
    name?: string;
  };
  nonResourceAttributes?: { path?: string; verb?: string };
}

/** The principal id in the authenticator's uid (`aws-iam-authenticator:<account>:<id>`). */
export function principalIdOf(uid: string | undefined): string | undefined {
  return /^aws-iam-authenticator:\d{12}:([^:]+)/.exec(uid ?? '')?.[1];
}

/** EKS's namespace patterns: a name, or a name ending in `*`. */
const namespaceMatches = (pattern: string, namespace: string) =>
  pattern.endsWith('*') ? namespace.startsWith(pattern.slice(0, -1)) : pattern === namespace;

function ruleAllows(rule: PolicyRule, attrs: NonNullable<ReviewSpec['resourceAttributes']>): boolean {
  const verb = attrs.verb ?? '';
  if (!rule.verbs.includes('*') && !rule.verbs.includes(verb)) return false;
  const group = attrs.group ?? '';
  if (!rule.apiGroups.includes('*') && !rule.apiGroups.includes(group)) return false;
  const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : (attrs.resource ?? '');
  const resourceOk =
    rule.resources.includes('*') ||
    rule.resources.includes(resource) ||
    (attrs.subresource !== undefined && rule.resources.includes(`*/${attrs.subresource}`));
  if (!resourceOk) return false;
  return !rule.resourceNames || rule.resourceNames.includes(attrs.name ?? '');
}

/** The policy that allows the request, or undefined (no opinion). Pure: the unit tests ask it directly. */
export function decide(spec: ReviewSpec, entry: EntryPolicies | undefined): string | undefined {
  if (!entry || entry.username !== spec.user) return undefined;
  for (const policy of entry.policies) {
    const managed = MANAGED_ACCESS_POLICIES[policy.name as keyof typeof MANAGED_ACCESS_POLICIES];
    if (!managed) continue; // a policy this table does not know grants nothing here (docs/test-platform.md)
    const attrs = spec.resourceAttributes;
    if (!attrs) {
      // Non-resource URLs (/healthz, /version) exist only cluster-wide.
      const urls: readonly string[] = 'nonResourceURLs' in managed ? managed.nonResourceURLs : [];
      if (policy.scope.type === 'cluster' && urls.includes('*')) return policy.name;
      continue;
    }
    if (policy.scope.type === 'namespace') {
      const namespace = attrs.namespace ?? '';
      const { namespaces } = policy.scope;
      if (!namespace || !namespaces.some((p) => namespaceMatches(p, namespace))) continue;
    }
    if (managed.rules.some((rule) => ruleAllows(rule as PolicyRule, attrs))) return policy.name;
  }
  return undefined;
}

export interface RunningAuthorizer {
  /** Where decisions come from; until set, no opinion on anything. */
  answerFrom(lookup: PolicyLookup): void;
  close(): Promise<void>;
}

export async function startAuthorizer(plan: AuthorizerPlan): Promise<RunningAuthorizer> {
  let lookup: PolicyLookup = () => undefined;
  const server = https.createServer(
    { cert: readFileSync(plan.serving.certFile), key: readFileSync(plan.serving.keyFile) },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let review: { apiVersion?: string; spec?: ReviewSpec };
        try {
          review = JSON.parse(Buffer.concat(chunks).toString()) as typeof review;
        } catch {
          res.writeHead(400).end();
          return;
        }
        const spec = review.spec ?? {};
        const id = principalIdOf(spec.uid);
        const allowedBy = decide(spec, id ? lookup(id) : undefined);
        const body = JSON.stringify({
          apiVersion: review.apiVersion ?? 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          status: allowedBy
            ? { allowed: true, reason: `EKS access policy ${allowedBy}` }
            : { allowed: false, reason: '' },
        });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(plan.port, '127.0.0.1', resolve));
  if ((server.address() as AddressInfo).port !== plan.port) throw new Error('authorizer port moved');
  return {
    answerFrom(next) {
      lookup = next;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
