// Benchmarks: prints figures, asserts nothing (never run as tests).
//   npm run bench                          everything; starts the test platform unless one runs
//   npm run bench -- --grants 20           grants per mode for the cost figures (default 10)
//   npm run bench -- --only cost|aws-auth|memory|burst
//   npm run bench -- --only burst --burst-grants 200 --concurrency 50
//   npm run bench -- --only processes [--process-grants 10000] [--runs 3] [--no-build] [--write-figures]
//       (only when asked: builds dist/, ~1 min a run; medians of the runs; --write-figures rewrites
//       bench/figures.json, which the chart's requests and limits must follow: test/unit/memory-limits.test.ts)
//   npm run bench -- --only deps [--node-args=--max-semi-space-size=1]   (start-up RSS of each dependency; no platform)
//   npm run bench -- --only slack-burst [--slack-grants 200] [--slack-speedup 1]   (only when asked: minutes at Slack's real rates)
//   npm run bench -- --only throttle [--throttle-grants 100] [--iam-writes-per-second none,10,4]   (only when asked: minutes)
//   npm run bench -- --only login [--login-grants 10]   (only when asked: the login probe's wait for AWS's propagation, per mapping)
// Faster with a running platform: eval "$(scripts/platform/up.sh)" && npm run bench
import { parseArgs } from 'node:util';
import { awsAuthEdits, printAwsAuthEdits } from './aws-auth-edits.js';
import { burst, printBurst } from './burst.js';
import { dependencyCosts, printDependencyCosts } from './deps.js';
import { grantCost, type ModeResult, printGrantCost } from './grant-cost.js';
import { loginCost, printLoginCost } from './login.js';
import { memoryWithGrants, printMemory } from './memory.js';
import { withPlatform } from './platform.js';
import {
  memoryFigures,
  type ProcessMemoryResult,
  printFigures,
  printProcessMemory,
  processMemory,
  writeFigures,
} from './processes.js';
import { printSlackBurst, slackBurst } from './slack-burst.js';
import { printThrottle, throttledBursts } from './throttle.js';

const { values } = parseArgs({
  options: {
    grants: { type: 'string', default: '10' },
    only: { type: 'string' },
    'memory-grants': { type: 'string', default: '1000' },
    'burst-grants': { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '50' },
    'process-grants': { type: 'string', default: '10000' },
    'no-build': { type: 'boolean', default: false },
    runs: { type: 'string', default: '3' },
    'write-figures': { type: 'boolean', default: false },
    'node-args': { type: 'string', default: '' },
    'iam-writes-per-second': { type: 'string', default: 'none,10,4' },
    'throttle-grants': { type: 'string', default: '100' },
    'slack-grants': { type: 'string', default: '200' },
    'slack-speedup': { type: 'string', default: '1' },
    'login-grants': { type: 'string', default: '10' },
  },
});
const only = values.only;
const wants = (what: string) => !only || only === what;

console.log(`# eks-access benchmarks (${new Date().toISOString()}, Node ${process.version})`);
if (wants('cost') || wants('memory') || wants('burst') || only === 'processes') {
  await withPlatform(async (info) => {
    // Memory first, while the process holds nothing else.
    if (wants('memory')) printMemory(await memoryWithGrants(info, Number(values['memory-grants'])));
    if (wants('cost')) {
      const results: ModeResult[] = [];
      for (const mode of ['aws-auth', 'access-entries', 'none'] as const) {
        results.push(await grantCost(info, mode, Number(values.grants)));
      }
      printGrantCost(results);
    }
    if (only === 'processes') {
      const runs: ProcessMemoryResult[] = [];
      for (let i = 0; i < Number(values.runs); i++) {
        // Built once; each run spawns fresh processes on a fresh prefix and namespace.
        const run = await processMemory(info, {
          grants: Number(values['process-grants']),
          build: i === 0 && !values['no-build'],
        });
        printProcessMemory(run);
        runs.push(run);
      }
      const figures = memoryFigures(runs);
      printFigures(figures, runs);
      if (values['write-figures']) writeFigures(figures);
    }
    if (wants('burst')) {
      printBurst(await burst(info, Number(values['burst-grants']), Number(values.concurrency)));
    }
  });
}
if (only === 'throttle') {
  const grants = Number(values['throttle-grants']);
  // `none` is the baseline: the same burst through the same proxy without a limit.
  const rates = values['iam-writes-per-second'].split(',').map((r) => (r === 'none' ? undefined : Number(r)));
  printThrottle(await withPlatform((info) => throttledBursts(info, grants, rates)));
}
if (only === 'slack-burst') {
  const grants = Number(values['slack-grants']);
  const speedup = Number(values['slack-speedup']);
  printSlackBurst(await withPlatform((info) => slackBurst(info, grants, speedup)));
}
if (only === 'login') {
  const grants = Number(values['login-grants']);
  printLoginCost(await withPlatform((info) => loginCost(info, grants)));
}
if (only === 'deps') {
  printDependencyCosts(dependencyCosts(values['node-args'].split(/\s+/).filter(Boolean)));
}
if (wants('aws-auth')) {
  printAwsAuthEdits([10, 100, 1000].map((n) => awsAuthEdits(n, n >= 1000 ? 200 : 1000)));
}
process.exit(0);
