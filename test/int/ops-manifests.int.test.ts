// Every shipped manifest passes a server-side dry-run apply against the real kube-apiserver: schemas,
// field validation, RBAC object rules and Pod Security "restricted" (the unique namespace enforces it).
// Namespaced objects are moved into one unique namespace and cluster-scoped ones renamed, so the
// suite can run twice and never touches kube-system.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { adminKubeConfig, platform, uniqueName } from '../platform/context.js';

const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);

function kubectl(args: string[], input?: string) {
  const run = spawnSync(platform().kube.kubectl, ['--kubeconfig', platform().kube.adminKubeconfig, ...args], {
    input,
    encoding: 'utf8',
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

type Doc = {
  kind: string;
  metadata: { name: string; namespace?: string };
  subjects?: { kind: string; namespace?: string }[];
};

/** Moves every namespaced object into `namespace`; renames cluster-scoped ones; drops Namespaces. */
function relocate(yamlText: string, namespace: string, suffix: string): string {
  const docs = parseAllDocuments(yamlText).map((d) => d.toJS() as Doc | null);
  return docs
    .filter((doc): doc is Doc => doc !== null && doc.kind !== 'Namespace')
    .map((doc) => {
      if (CLUSTER_SCOPED.has(doc.kind)) doc.metadata.name = `${doc.metadata.name}-${suffix}`;
      else doc.metadata.namespace = namespace;
      for (const subject of doc.subjects ?? []) if (subject.namespace) subject.namespace = namespace;
      // YAML 1.1 output: kubectl reads 1.1, where an unquoted yes (redis' --appendonly yes) is a bool.
      return stringify(doc, { version: '1.1' });
    })
    .join('---\n');
}

describe('shipped manifests (server-side dry run)', () => {
  const namespace = uniqueName('ops-manifests');
  const suffix = namespace.slice('ops-manifests-'.length);

  beforeAll(async () => {
    await adminKubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespace({
        body: {
          metadata: { name: namespace, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
        },
      });
  });
  afterAll(async () => {
    await adminKubeConfig()
      .makeApiClient(CoreV1Api)
      .deleteNamespace({ name: namespace })
      .catch(() => undefined);
  });

  const dryRun = (text: string) => {
    const result = kubectl(['apply', '--dry-run=server', '-f', '-'], relocate(text, namespace, suffix));
    return {
      ...result,
      kinds: result.stdout.split('\n').filter((l) => l.includes('(server dry run)')).length,
    };
  };

  it.each([
    ['overlays/single-cluster', 21], // with the kept Role and the admission policy + binding
    ['overlays/hub', 12],
    ['overlays/hub/remote/staging-us', 6],
    ['overlays/hub/remote/prod-eu', 6],
  ])('manifests/%s builds and is accepted by the API server', (dir, objects) => {
    const built = kubectl(['kustomize', `manifests/${dir}`]);
    expect(built.stderr).toBe('');
    expect(built.status).toBe(0);
    const applied = dryRun(built.stdout);
    expect(applied.stderr).not.toMatch(/error|violate PodSecurity/i);
    expect(applied.status).toBe(0);
    expect(applied.kinds).toBe(objects);
  });

  it.each([
    ['base/secret.template.yaml', 2], // Slack and Redis settings; the seal keys
    ['components/redis/secret.template.yaml', 1],
  ] as const)('the Secret template manifests/%s holds %i valid Secret(s)', (file, count) => {
    const applied = dryRun(readFileSync(`manifests/${file}`, 'utf8'));
    expect(applied.stderr).toBe('');
    expect(applied.kinds).toBe(count);
  });

  it('the API server really refuses a pod that is not restricted (the check above can fail)', () => {
    const built = kubectl(['kustomize', 'manifests/overlays/single-cluster']).stdout.replace(
      'runAsNonRoot: true',
      'runAsNonRoot: false',
    );
    expect(dryRun(built).stderr).toMatch(/violate PodSecurity/);
  });
});
