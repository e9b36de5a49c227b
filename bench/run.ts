// Benchmarks: prints figures, asserts nothing (never run as tests).
//   npm run bench                          everything; starts the test platform unless one runs
//   npm run bench -- --grants 20           grants per mode for the cost figures (default 10)
//   npm run bench -- --only cost|aws-auth|memory
//   npm run bench -- --only throttle [--throttle-grants 100] [--iam-writes-per-second none,10,4]   (only when asked: minutes)
// Faster with a running platform: eval "$(scripts/platform/up.sh)" && npm run bench
import { parseArgs } from 'node:util';
import { awsAuthEdits, printAwsAuthEdits } from './aws-auth-edits.js';
import { grantCost, type ModeResult, printGrantCost } from './grant-cost.js';
import { memoryWithGrants, printMemory } from './memory.js';
import { withPlatform } from './platform.js';
import { printThrottle, throttledBursts } from './throttle.js';

const { values } = parseArgs({
  options: {
    grants: { type: 'string', default: '10' },
    only: { type: 'string' },
    'memory-grants': { type: 'string', default: '1000' },
    'iam-writes-per-second': { type: 'string', default: 'none,10,4' },
    'throttle-grants': { type: 'string', default: '100' },
  },
});
const only = values.only;
const wants = (what: string) => !only || only === what;

console.log(`# eks-access benchmarks (${new Date().toISOString()}, Node ${process.version})`);
if (wants('cost') || wants('memory')) {
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
  });
}
if (only === 'throttle') {
  const grants = Number(values['throttle-grants']);
  // `none` is the baseline: the same burst through the same proxy without a limit.
  const rates = values['iam-writes-per-second'].split(',').map((r) => (r === 'none' ? undefined : Number(r)));
  printThrottle(await withPlatform((info) => throttledBursts(info, grants, rates)));
}
if (wants('aws-auth')) {
  printAwsAuthEdits([10, 100, 1000].map((n) => awsAuthEdits(n, n >= 1000 ? 200 : 1000)));
}
process.exit(0);
