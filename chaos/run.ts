// `npm run chaos`: every chaos scenario (chaos/scenarios.ts) on the real platform, one after another, and
// the table of outcomes. The scenarios run inside vitest's int project (test/int/chaos.int.test.ts), which
// starts the platform the way every integration test gets it; this script collects what they report.
//   npm run chaos                      all scenarios, prints the table
//   npm run chaos -- --quick           the reduced set CI runs
//   npm run chaos -- --only a,b        the named scenarios
//   npm run chaos -- --write           also regenerates the table in docs/reliability.md
// Exits 1 when a scenario missed the goal.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { spawnGroup } from '../test/platform/processes.js';
import { GOAL_MS, type Outcome, PERIOD_MS } from './measure.js';

interface Row extends Outcome {
  id: string;
  fault: string;
  tookMs: number;
}

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BEGIN = '<!-- chaos:begin (npm run chaos -- --write) -->';
const END = '<!-- chaos:end -->';

const seconds = (ms: number | undefined) => (ms === undefined ? 'never' : `${(ms / 1000).toFixed(1)} s`);

function table(rows: readonly Row[]): string {
  const lines = [
    '| scenario | fault | verdict | gone after the fault cleared | after expiry | left behind | stuck | DMs lost / doubled | figures |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    lines.push(
      `| \`${r.id}\` | ${r.fault} | ${r.problems.length === 0 ? 'pass' : `**FAIL**: ${r.problems.join('; ')}`} | ${seconds(r.goneAfterMs)} | ${seconds(r.afterExpiryMs)} | ${r.leftBehind.length === 0 ? 'nothing' : r.leftBehind.join(', ')}${r.foreignChanged ? '; foreign content changed' : ''} | ${r.stuck.length} | ${r.lost} / ${r.duplicated} | ${r.notes.join('; ')} |`,
    );
  }
  return lines.join('\n');
}

function header(rows: readonly Row[], quick: boolean): string {
  const cpu = cpus();
  const took = rows.reduce((sum, r) => sum + r.tookMs, 0);
  return [
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.version}, ` +
      `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB; ` +
      `${quick ? 'the reduced set' : `${rows.length} scenarios`} in ${Math.round(took / 1000)} s. ` +
      `Reconcile period ${PERIOD_MS / 1000} s; goal: every trace gone within ${GOAL_MS / 1000} s ` +
      `(one period plus ${(GOAL_MS - PERIOD_MS) / 1000} s for a sweep on a shared 2-core machine) after the fault clears or the grant expires, whichever is later.`,
  ].join('\n');
}

async function runScenarios(options: { quick: boolean; only: string | undefined }): Promise<Row[]> {
  const dir = await mkdtemp(join(tmpdir(), 'eks-access-chaos-'));
  const results = join(dir, 'results.jsonl');
  await writeFile(results, '');
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, EKS_ACCESS_CHAOS_RESULTS: results };
    if (!options.quick) env['EKS_ACCESS_CHAOS'] = 'all';
    if (options.only) env['EKS_ACCESS_CHAOS_ONLY'] = options.only;
    const vitest = join(repo, 'node_modules', 'vitest', 'vitest.mjs');
    // spawnGroup: stopping this script (Ctrl-C, a CI timeout) ends the vitest run and its servers too.
    const child = spawnGroup(
      process.execPath,
      [vitest, 'run', '--project', 'int', 'test/int/chaos.int.test.ts'],
      {
        cwd: repo,
        env,
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    await new Promise((resolve) => child.once('exit', resolve));
    const text = await readFile(results, 'utf8');
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Row);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function writeDoc(section: string): Promise<void> {
  const file = join(repo, 'docs', 'reliability.md');
  const doc = await readFile(file, 'utf8');
  const from = doc.indexOf(BEGIN);
  const to = doc.indexOf(END);
  if (from === -1 || to < from) throw new Error(`${file} has no ${BEGIN} … ${END} section`);
  await writeFile(file, `${doc.slice(0, from + BEGIN.length)}\n${section}\n${doc.slice(to)}`);
  console.log(`wrote the table into ${file}`);
}

{
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      write: { type: 'boolean', default: false },
      only: { type: 'string' },
    },
  });
  const rows = await runScenarios({ quick: values.quick, only: values.only });
  if (rows.length === 0) {
    console.error('chaos: no scenario reported an outcome (see the vitest output above)');
    process.exit(1);
  }
  const section = `${header(rows, values.quick)}\n\n${table(rows)}`;
  console.log(`\n# eks-access chaos\n\n${section}\n`);
  if (values.write) await writeDoc(section);
  process.exit(rows.some((r) => r.problems.length > 0) ? 1 : 0);
}
