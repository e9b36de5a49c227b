// The kustomize manifests are rendered from the Helm chart, so the two cannot drift: charts/eks-access is
// the one source for the objects both ship (Namespace, ServiceAccounts, Deployments, the metrics Service,
// PodDisruptionBudgets, NetworkPolicies, the optional Redis). This writes them into manifests/ with the
// chart's comments; the kustomizations (configMapGenerator for the policy, images, the part-of label, the
// Redis component's patch) and the worker RBAC (`eks-access rbac render`) stay kustomize's own.
//
//   npx tsx scripts/chart/kustomize-base.ts           # re-render manifests/ after editing the chart
//   npx tsx scripts/chart/kustomize-base.ts --check   # exit 1, naming the files, if manifests/ is stale
//
// test/int/chart.int.test.ts runs the check, and compares the chart's and kustomize's objects.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';

export const CHART = 'charts/eks-access';
const VALUES = `${CHART}/kustomize.values.yaml`;

/** Paths of the tools scripts/platform/build-ops-tools.sh built (it never builds with --check). */
export function opsTools(): { helm: string; promtool: string; crds: string } {
  const run = spawnSync('bash', ['scripts/platform/build-ops-tools.sh', '--check'], { encoding: 'utf8' });
  if (run.status !== 0)
    throw new Error(run.stderr.trim() || 'scripts/platform/build-ops-tools.sh --check failed');
  const paths = Object.fromEntries(
    run.stdout
      .trim()
      .split('\n')
      .map((line) => line.split('=', 2) as [string, string]),
  );
  return {
    helm: paths['HELM'] ?? '',
    promtool: paths['PROMTOOL'] ?? '',
    crds: paths['PROMETHEUS_OPERATOR_CRDS'] ?? '',
  };
}

/** `helm template` of the chart; throws with helm's own words when it refuses. */
export function helmTemplate(helm: string, args: string[]): string {
  const run = spawnSync(helm, ['template', 'eks-access', CHART, '--namespace', 'eks-access', ...args], {
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`helm template ${args.join(' ')}: ${run.stderr}`);
  return run.stdout;
}

/** Where each object goes, by kind and name; the Redis ones only from the render with Redis on. */
const BASE: Record<string, string> = {
  'Namespace/eks-access': 'manifests/base/namespace.yaml',
  'ServiceAccount/eks-access-worker': 'manifests/base/serviceaccount.yaml',
  'ServiceAccount/eks-access-bot': 'manifests/base/serviceaccount.yaml',
  'Deployment/eks-access-bot': 'manifests/base/deployment-bot.yaml',
  'Deployment/eks-access-worker': 'manifests/base/deployment-worker.yaml',
  'Service/eks-access-metrics': 'manifests/base/service-metrics.yaml',
  'PodDisruptionBudget/eks-access-bot': 'manifests/base/poddisruptionbudget.yaml',
  'PodDisruptionBudget/eks-access-worker': 'manifests/base/poddisruptionbudget.yaml',
  'NetworkPolicy/eks-access': 'manifests/base/networkpolicy.yaml',
};
const REDIS: Record<string, string> = {
  'StatefulSet/eks-access-redis': 'manifests/components/redis/statefulset.yaml',
  'Service/eks-access-redis': 'manifests/components/redis/service.yaml',
  'NetworkPolicy/eks-access-redis': 'manifests/components/redis/networkpolicy.yaml',
};

/** The API's (docs/api.md), only from the render with the API on; the Deployment's and NetworkPolicy's
 * additions are the component's own patches (manifests/components/api/kustomization.yaml). */
const API: Record<string, string> = {
  'Service/eks-access-api': 'manifests/components/api/service.yaml',
};

/** One rendered document's text (comments kept, Helm's `# Source:` line and blank lines dropped). */
function documents(rendered: string): { key: string; source: string; text: string }[] {
  return rendered
    .split(/^---\s*$/m)
    .map((chunk) => {
      const source = /^# Source: [^/]+\/(.+)$/m.exec(chunk)?.[1] ?? '';
      const text = chunk
        .split('\n')
        .filter((line) => line.trim() !== '' && !line.startsWith('# Source: '))
        .join('\n');
      const object = parse(text) as { kind?: string; metadata?: { name?: string } } | null;
      return { key: `${object?.kind}/${object?.metadata?.name}`, source, text: `${text}\n` };
    })
    .filter((doc) => doc.key !== 'undefined/undefined');
}

/** The manifests/ files the chart renders, path → text. */
export function kustomizeFiles(helm: string): Map<string, string> {
  const files = new Map<string, { sources: Set<string>; docs: string[] }>();
  const add = (path: string, source: string, text: string) => {
    const file = files.get(path) ?? { sources: new Set<string>(), docs: [] };
    file.sources.add(source);
    file.docs.push(text);
    files.set(path, file);
  };
  for (const doc of documents(helmTemplate(helm, ['-f', VALUES]))) {
    const path = BASE[doc.key];
    if (!path)
      throw new Error(`${doc.key} (${doc.source}) has no place in manifests/: add it to BASE, REDIS or API`);
    add(path, doc.source, doc.text);
  }
  for (const doc of documents(helmTemplate(helm, ['-f', VALUES, '--set', 'redis.enabled=true']))) {
    const path = REDIS[doc.key];
    if (path) add(path, doc.source, doc.text);
    else if (!BASE[doc.key]) throw new Error(`${doc.key} (${doc.source}) has no place in manifests/`);
  }
  for (const doc of documents(helmTemplate(helm, ['-f', VALUES, '--set', 'api.enabled=true']))) {
    const path = API[doc.key];
    if (path) add(path, doc.source, doc.text);
    else if (!BASE[doc.key]) throw new Error(`${doc.key} (${doc.source}) has no place in manifests/`);
  }
  return new Map(
    [...files].map(([path, { sources, docs }]) => [
      path,
      `# Rendered from ${CHART} (${[...sources].join(', ')}) by scripts/chart/kustomize-base.ts: edit the chart, not this file.\n${docs.join('---\n')}`,
    ]),
  );
}

/** The files whose committed text differs from the chart's. */
export function staleFiles(helm: string): string[] {
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  };
  return [...kustomizeFiles(helm)].filter(([path, text]) => read(path) !== text).map(([path]) => path);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { helm } = opsTools();
  if (process.argv.includes('--check')) {
    const stale = staleFiles(helm);
    if (stale.length > 0) {
      console.error(
        `not rendered from ${CHART}: ${stale.join(', ')}; run npx tsx scripts/chart/kustomize-base.ts`,
      );
      process.exit(1);
    }
  } else {
    for (const [path, text] of kustomizeFiles(helm)) writeFileSync(path, text);
  }
}
