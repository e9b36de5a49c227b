// The chart's (and kustomize's) memory requests and limits follow from the measured figures
// (bench/figures.json, written by `npm run bench -- --only processes --write-figures`) by the rule in
// bench/figures.ts and docs/operations.md: a limit changed without a measurement, or a measurement that
// outgrew its limit, fails here. The bench measures the roles with the node flags these files set.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  limitViolations,
  type MemoryFigures,
  type MemoryResources,
  productionNodeArgs,
  type Role,
  readFigures,
  roleContainer,
} from '../../bench/figures.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const read = (path: string) => readFileSync(resolve(repo, path), 'utf8');

const figures = readFigures(repo);
const values = parse(read('charts/eks-access/values.yaml')) as Record<Role, { resources?: MemoryResources }>;
const chart = { bot: values.bot.resources, worker: values.worker.resources };
const kustomize = {
  bot: roleContainer(read('manifests/base/deployment-bot.yaml'), 'bot').resources,
  worker: roleContainer(read('manifests/base/deployment-worker.yaml'), 'worker').resources,
};

describe('memory requests and limits', () => {
  it('the figures are a measurement: dated, with the machine, the runs and a 10 000-grant pass', () => {
    expect(figures.measured.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(figures.measured.machine).not.toBe('');
    expect(figures.measured.runs).toBeGreaterThanOrEqual(3);
    expect(figures.reconcileGrants).toBeGreaterThanOrEqual(10_000);
    for (const f of [figures.botIdleMiB, figures.workerIdleMiB, figures.reconcilePeakMiB])
      expect(f).toBeGreaterThan(40); // an empty Node process alone is ~45 MB
  });

  it('were measured with the node flags production runs (Dockerfile ENTRYPOINT + the Deployments’ NODE_OPTIONS)', () => {
    expect(figures.measured.nodeArgs).toEqual({
      bot: productionNodeArgs('bot', repo),
      worker: productionNodeArgs('worker', repo),
    });
  });

  it("the chart's values follow from the figures", () => {
    expect(limitViolations(figures, chart, 'values.yaml')).toEqual([]);
  });

  it('the kustomize manifests carry the same', () => {
    expect(limitViolations(figures, kustomize, 'manifests/base')).toEqual([]);
    expect(kustomize).toEqual(chart);
  });

  it('fails a limit changed without a measurement, and a measurement that outgrew its limit', () => {
    const moved = structuredClone(chart);
    moved.worker = { ...moved.worker, limits: { memory: '1Gi' } };
    expect(limitViolations(figures, moved, 'values.yaml')).toEqual([
      expect.stringMatching(/^values\.yaml: worker memory limit 1Gi is outside \d+–\d+ Mi/),
    ]);
    const grown: MemoryFigures = { ...figures, reconcilePeakMiB: figures.reconcilePeakMiB * 2 };
    expect(limitViolations(grown, chart, 'values.yaml')).toEqual([
      expect.stringMatching(/^values\.yaml: worker memory limit \d+Mi is outside/),
    ]);
    const idler: MemoryFigures = { ...figures, botIdleMiB: figures.botIdleMiB / 2 };
    expect(limitViolations(idler, chart, 'values.yaml')).toEqual([
      expect.stringMatching(/^values\.yaml: bot memory request \d+Mi is outside/),
      expect.stringMatching(/^values\.yaml: bot memory limit \d+Mi is outside/),
    ]);
  });
});
