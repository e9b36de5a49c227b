// The memory figures the chart's requests and limits are set from (bench/figures.json), how the bench
// starts a role exactly as production does, and the rule that turns the figures into requests and limits.
// `npm run bench -- --only processes --write-figures` rewrites the figures; test/unit/memory-limits.test.ts
// fails when the chart or the kustomize manifests no longer follow from them (a limit changed without a
// measurement, or a measurement that outgrew its limit).
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

export const FIGURES_FILE = 'bench/figures.json';

/** RSS in MiB (the unit of the chart's Mi), medians of `runs` runs of `--only processes`. */
export interface MemoryFigures {
  /** When and where: RSS depends on the Node version and, a little, on the machine. */
  measured: { date: string; machine: string; node: string; runs: number; nodeArgs: Record<Role, string[]> };
  botIdleMiB: number;
  workerIdleMiB: number;
  /** The worker's peak RSS during one reconcile pass over `reconcileGrants` live grants. */
  reconcilePeakMiB: number;
  reconcileGrants: number;
}

export type Role = 'bot' | 'worker';

export function readFigures(root = '.'): MemoryFigures {
  return JSON.parse(readFileSync(`${root}/${FIGURES_FILE}`, 'utf8')) as MemoryFigures;
}

/**
 * The node arguments of a role in production: the Dockerfile's ENTRYPOINT flags (between `node` and the
 * entry point), then the Deployment's NODE_OPTIONS (the kustomize base, rendered from the chart). The bench
 * spawns the built entry point with exactly these, so what it measures is what the limits must hold.
 */
export function productionNodeArgs(role: Role, root = '.'): string[] {
  const entrypoint = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(readFileSync(`${root}/Dockerfile`, 'utf8'))?.[1];
  if (!entrypoint) throw new Error('Dockerfile: no ENTRYPOINT [...] line');
  const argv = JSON.parse(entrypoint) as string[];
  const flags = argv.slice(argv.indexOf('node') + 1, argv.indexOf('dist/bin/entrypoint.js'));
  return [...flags, ...(deploymentEnv(role, root)['NODE_OPTIONS'] ?? '').split(/\s+/).filter(Boolean)];
}

interface Container {
  env?: { name: string; value?: string }[];
  resources?: { requests?: { memory?: string }; limits?: { memory?: string } };
}

/** The role's container in a YAML stream of objects (a chart render or a kustomize manifest). */
export function roleContainer(yamlText: string, role: Role): Container {
  for (const doc of parseAllDocuments(yamlText)) {
    const o = doc.toJS() as {
      kind?: string;
      metadata?: { name?: string };
      spec?: { template?: { spec?: { containers?: ({ name: string } & Container)[] } } };
    } | null;
    if (o?.kind !== 'Deployment' || o.metadata?.name !== `eks-access-${role}`) continue;
    const container = o.spec?.template?.spec?.containers?.find((c) => c.name === role);
    if (container) return container;
  }
  throw new Error(`no Deployment eks-access-${role} with a container "${role}"`);
}

function deploymentEnv(role: Role, root: string): Record<string, string> {
  const text = readFileSync(`${root}/manifests/base/deployment-${role}.yaml`, 'utf8');
  return Object.fromEntries((roleContainer(text, role).env ?? []).map((e) => [e.name, e.value ?? '']));
}

/** Kubernetes quantities in Mi (the chart writes Mi; Gi accepted). */
export function mebibytes(quantity: string): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(quantity);
  if (!m) throw new Error(`memory quantity "${quantity}": want <n>Mi or <n>Gi`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
}

/**
 * The rule (docs/operations.md, "Requests and limits"), as bounds so that a re-measurement within noise
 * does not force a chart change:
 * - request ≈ idle: at least the idle RSS, at most 32 Mi above it (the scheduler reserves what the pod
 *   really holds, not more);
 * - worker limit = the reconcile pass's peak + 25–60 % (the pass over 10 000 grants is the largest thing
 *   the worker does; the margin is for a larger fleet or a pass overlapping activations);
 * - bot limit = 1.5–2.2 × its idle RSS: the bot holds no grant list, its peak is a burst of Slack
 *   requests (`--only slack-burst`, not in these figures).
 */
export function limitsRule(
  f: MemoryFigures,
): Record<Role, { request: [number, number]; limit: [number, number] }> {
  return {
    bot: {
      request: [f.botIdleMiB, f.botIdleMiB + 32],
      limit: [f.botIdleMiB * 1.5, f.botIdleMiB * 2.2],
    },
    worker: {
      request: [f.workerIdleMiB, f.workerIdleMiB + 32],
      limit: [f.reconcilePeakMiB * 1.25, f.reconcilePeakMiB * 1.6],
    },
  };
}

export interface MemoryResources {
  requests?: { memory?: string };
  limits?: { memory?: string };
}

/** Where `resources` (per role) breaks the rule for these figures, one sentence each; [] when it follows. */
export function limitViolations(
  figures: MemoryFigures,
  resources: Record<Role, MemoryResources | undefined>,
  where: string,
): string[] {
  const rule = limitsRule(figures);
  const problems: string[] = [];
  for (const role of ['bot', 'worker'] as const) {
    for (const kind of ['request', 'limit'] as const) {
      const quantity = (kind === 'request' ? resources[role]?.requests : resources[role]?.limits)?.memory;
      const [low, high] = rule[role][kind];
      const range = `${Math.ceil(low)}–${Math.floor(high)} Mi`;
      if (quantity === undefined) {
        problems.push(`${where}: ${role} has no memory ${kind} (want ${range})`);
        continue;
      }
      const mi = mebibytes(quantity);
      if (mi < low || mi > high)
        problems.push(`${where}: ${role} memory ${kind} ${quantity} is outside ${range} (${FIGURES_FILE})`);
    }
  }
  return problems;
}

export const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
