// The Helm chart (charts/eks-access) against the real kube-apiserver: helm lint, the schema refusing bad
// values, the kustomize manifests rendered from it (one source), the same objects from both, and a real
// helm install / upgrade / uninstall (server-side validation; the platform runs no kubelet, so nothing
// waits for pods). helm is built from source by scripts/platform/build-ops-tools.sh.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CHART, helmTemplate, opsTools, staleFiles } from '../../scripts/chart/kustomize-base.js';
import { parsePolicy } from '../../src/config/load.js';
import { renderRbacYaml } from '../../src/operator/render-permissions.js';
import { platform, uniqueName } from '../platform/context.js';

const tools = opsTools();

function run(command: string, args: string[], input?: string) {
  const result = spawnSync(command, args, { encoding: 'utf8', input });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
const kubectl = (args: string[], input?: string) =>
  run(platform().kube.kubectl, ['--kubeconfig', platform().kube.adminKubeconfig, ...args], input);
const helm = (args: string[]) => run(tools.helm, ['--kubeconfig', platform().kube.adminKubeconfig, ...args]);

/** Values as an operator gives them: the policy and the rendered worker RBAC as files. */
const REQUIRED = [
  '--set-file',
  'policy=policy.example.yaml',
  '--set',
  'archive.bucket=acme-eks-access-archive',
];

type K8sObject = {
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: { template?: { metadata?: { annotations?: Record<string, string> } } };
};

const objects = (text: string) =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);

/**
 * What Helm and kustomize add of their own, removed: Helm's release labels, the policy checksum (kustomize
 * rolls pods by the ConfigMap's hashed name instead), the hash itself, and an explicit pull policy.
 */
function normalise(list: K8sObject[]): Record<string, unknown> {
  const HELM_LABELS = [
    'app.kubernetes.io/managed-by',
    'app.kubernetes.io/instance',
    'app.kubernetes.io/version',
    'helm.sh/chart',
  ];
  const out: Record<string, unknown> = {};
  for (const o of list) {
    const labels = o.metadata.labels ?? {};
    if (labels['app.kubernetes.io/managed-by'] === 'Helm') for (const l of HELM_LABELS) delete labels[l];
    delete o.spec?.template?.metadata?.annotations?.['checksum/policy'];
    if (
      o.spec?.template?.metadata?.annotations &&
      Object.keys(o.spec.template.metadata.annotations).length === 0
    ) {
      delete o.spec.template.metadata.annotations;
    }
    const text = JSON.stringify(o)
      .replace(/"eks-access-policy-[a-z0-9]{10}"/g, '"eks-access-policy"')
      .replace(/,"imagePullPolicy":"IfNotPresent"/g, '');
    const clean = JSON.parse(text) as K8sObject;
    out[`${clean.kind}/${clean.metadata.namespace ?? ''}/${clean.metadata.name}`] = clean;
  }
  return out;
}

describe('the Helm chart', () => {
  it('passes helm lint --strict', () => {
    const lint = run(tools.helm, ['lint', CHART, '--strict', ...REQUIRED]);
    expect(lint.stdout + lint.stderr).toContain('0 chart(s) failed');
    expect(lint.status).toBe(0);
  });

  it('is the source of the kustomize manifests: manifests/ is what scripts/chart/kustomize-base.ts renders', () => {
    expect(staleFiles(tools.helm)).toEqual([]);
  });

  // Each overlay's settings as chart values: its policy, its worker RBAC (the hub has none: its clusters
  // are remote), the in-cluster Redis, and the base's image and IRSA role.
  it.each([
    [
      'single-cluster',
      'manifests/base/policy.yaml',
      ['--set-file', 'workerRbac=manifests/base/rbac/worker-rbac.yaml'],
      // 19, plus the worker RBAC's kept Role and its admission policy and binding (issue #18)
      22,
    ],
    ['hub', 'manifests/overlays/hub/policy.yaml', [], 13],
  ])('renders the same objects as kustomize (manifests/overlays/%s)', (overlay, policy, rbac, count) => {
    const fromKustomize = kubectl(['kustomize', `manifests/overlays/${overlay}`]);
    expect(fromKustomize.status).toBe(0);
    const fromHelm = helmTemplate(tools.helm, [
      '--set-file',
      `policy=${policy}`,
      ...rbac,
      '--set',
      'archive.bucket=eks-access-archive,redis.enabled=true,namespace.create=true',
      '--set',
      'image.repository=ghcr.io/example/eks-access,image.tag=0.1.0',
      '--set',
      'serviceAccounts.worker.roleArn=arn:aws:iam::111122223333:role/eks-access-worker',
    ]);
    const helmObjects = normalise(objects(fromHelm));
    const kustomizeObjects = normalise(objects(fromKustomize.stdout));
    expect(Object.keys(helmObjects).sort()).toEqual(Object.keys(kustomizeObjects).sort());
    expect(Object.keys(helmObjects)).toHaveLength(count);
    expect(helmObjects).toEqual(kustomizeObjects);
  });

  it.each([
    [
      'no archive bucket',
      ['--set-file', 'policy=policy.example.yaml'],
      /at '\/archive': missing property 'bucket'/,
    ],
    ['no policy', ['--set', 'archive.bucket=acme-archive'], /missing property 'policy'/],
    [
      'replicas as words',
      [...REQUIRED, '--set', 'worker.replicas=two'],
      /at '\/worker\/replicas': got string, want integer/,
    ],
    [
      'a token inlined',
      [...REQUIRED, '--set', 'secrets.slackBotToken=xoxb-not-a-name'],
      /additional properties 'slackBotToken' not allowed/,
    ],
    [
      'a role that is not an ARN',
      [...REQUIRED, '--set', 'serviceAccounts.worker.roleArn=eks-access-worker'],
      /serviceAccounts\/worker\/roleArn/,
    ],
    [
      'a memory limit in words',
      [...REQUIRED, '--set', 'bot.resources.limits.memory=lots'],
      /bot\/resources\/limits\/memory/,
    ],
  ])('refuses %s, naming the field', (_what, args, message) => {
    const refused = run(tools.helm, ['template', 'x', CHART, ...args]);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(message);
    expect(refused.stderr).not.toContain('xoxb-not-a-name');
  });

  it('references Secrets and never renders one; IRSA annotation from roleArn, none for Pod Identity', () => {
    const irsa = objects(
      helmTemplate(tools.helm, [
        ...REQUIRED,
        '--set',
        'serviceAccounts.worker.roleArn=arn:aws:iam::111122223333:role/w',
      ]),
    );
    expect(irsa.filter((o) => o.kind === 'Secret')).toEqual([]);
    const worker = irsa.find((o) => o.kind === 'ServiceAccount' && o.metadata.name === 'eks-access-worker');
    expect(worker?.metadata.annotations?.['eks.amazonaws.com/role-arn']).toBe(
      'arn:aws:iam::111122223333:role/w',
    );
    const podIdentity = objects(helmTemplate(tools.helm, REQUIRED));
    const sa = podIdentity.find(
      (o) => o.kind === 'ServiceAccount' && o.metadata.name === 'eks-access-worker',
    );
    expect(sa?.metadata.annotations).toBeUndefined();
  });
});

describe('helm install, upgrade and uninstall on the API server', () => {
  const namespace = uniqueName('chart');
  const release = namespace;
  const rbacName = `eks-access-worker-${namespace.slice('chart-'.length)}`;
  const dir = mkdtempSync(join(tmpdir(), 'chart-'));
  const values = [
    '--namespace',
    namespace,
    '--set-file',
    'policy=policy.example.yaml',
    '--set-file',
    `workerRbac=${join(dir, 'worker-rbac.yaml')}`,
    '--set',
    'archive.bucket=acme-eks-access-archive,redis.enabled=true',
  ];

  beforeAll(() => {
    // The example policy's worker RBAC, for a namespace of this test's own and under a unique name
    // (its ClusterRole is cluster-wide), rendered exactly as `eks-access rbac render` does.
    const text = readFileSync('policy.example.yaml', 'utf8');
    if (!text.includes('\n      - name: test\n'))
      throw new Error('policy.example.yaml changed: no namespace test');
    const policy = parsePolicy(
      text.replace('\n      - name: test\n', `\n      - name: ${namespace}\n`),
    ).policy;
    writeFileSync(join(dir, 'worker-rbac.yaml'), renderRbacYaml(policy, 'prod-eu', { name: rbacName }).text);
    const ns = kubectl(['create', 'namespace', namespace]);
    expect(ns.stderr).toBe('');
  });
  afterAll(() => {
    helm(['uninstall', release, '--namespace', namespace]);
    kubectl(['delete', 'namespace', namespace, '--wait=false']);
    rmSync(dir, { recursive: true, force: true });
  });

  it('installs every object, upgrades in place, and uninstalls them all', () => {
    const install = helm(['install', release, CHART, ...values]);
    expect(install.stderr).toBe('');
    expect(install.stdout).toContain('STATUS: deployed');

    const names = (kind: string, ns = namespace) =>
      kubectl(['get', kind, '-n', ns, '-o', 'jsonpath={.items[*].metadata.name}'])
        .stdout.split(' ')
        .filter(Boolean)
        .sort();
    expect(names('deployments')).toEqual(['eks-access-bot', 'eks-access-worker']);
    expect(names('statefulsets')).toEqual(['eks-access-redis']);
    // (no `default`: the platform runs no ServiceAccount controller)
    expect(names('serviceaccounts').filter((n) => n !== 'default')).toEqual([
      'eks-access-bot',
      'eks-access-worker',
    ]);
    expect(names('poddisruptionbudgets')).toEqual(['eks-access-bot', 'eks-access-worker']);
    expect(names('networkpolicies')).toEqual(['eks-access', 'eks-access-redis']);
    expect(names('configmaps')).toContain('eks-access-policy');
    // The worker's own Role and the level's kept Role, which the platform team applies with it.
    expect(names('roles')).toEqual(['eks-access-k8s-test-role', rbacName].sort());
    expect(names('rolebindings')).toEqual([rbacName]);
    expect(kubectl(['get', 'clusterrole', rbacName, '-o', 'name']).stdout.trim()).toBe(
      `clusterrole.rbac.authorization.k8s.io/${rbacName}`,
    );
    // Secrets are the operator's: the chart made none (Helm keeps its release record in one of its own).
    expect(names('secrets').filter((n) => !n.startsWith('sh.helm.release.v1.'))).toEqual([]);

    const upgrade = helm(['upgrade', release, CHART, ...values, '--set', 'worker.replicas=3']);
    expect(upgrade.stderr).toBe('');
    expect(upgrade.stdout).toContain('REVISION: 2');
    const replicas = kubectl([
      'get',
      'deployment',
      'eks-access-worker',
      '-n',
      namespace,
      '-o',
      'jsonpath={.spec.replicas}',
    ]);
    expect(replicas.stdout).toBe('3');

    const uninstall = helm(['uninstall', release, '--namespace', namespace]);
    expect(uninstall.stdout).toContain('uninstalled');
    expect(names('deployments')).toEqual([]);
    expect(names('roles')).toEqual([]);
    expect(kubectl(['get', 'clusterrole', rbacName, '--ignore-not-found', '-o', 'name']).stdout).toBe('');
  });
});
