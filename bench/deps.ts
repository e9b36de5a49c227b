// What each runtime dependency costs at start-up: RSS after importing it in a fresh `node` (after GC),
// alone and added in the order a process loads them (the second is what a role pays for it, the first
// counts what it shares with the others, e.g. the AWS SDK's core, once per package). Then the two
// built role modules themselves (dist/: run `npm run build` first).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** In load order: what both roles need, then the bot's Slack side, then the worker's clients. */
export const DEPENDENCIES = [
  'zod',
  'yaml',
  'pino',
  'ioredis',
  'bullmq',
  'prom-client',
  '@aws-sdk/client-s3',
  '@aws-sdk/client-iam',
  '@slack/web-api',
  '@slack/bolt',
  '@aws-sdk/client-eks',
  '@aws-sdk/client-sts',
  '@kubernetes/client-node',
] as const;

// Run in a fresh node: imports each argument in turn and prints the settled RSS before and after each.
const PROBE = `
const settle = async () => { gc(); await new Promise((r) => setTimeout(r, 200)); gc(); return process.memoryUsage().rss; };
const rss = [await settle()];
for (const spec of process.argv.slice(2)) { await import(spec); rss.push(await settle()); }
console.log(JSON.stringify(rss));
`;

function probe(specifiers: readonly string[], nodeArgs: readonly string[]): number[] {
  const out = execFileSync(
    process.execPath,
    // argv[1] is a marker, not a module: the roles start themselves when argv[1] names them.
    ['--expose-gc', ...nodeArgs, '--input-type=module', '-e', PROBE, 'probe', ...specifiers],
    { encoding: 'utf8' },
  );
  return JSON.parse(out) as number[];
}

export interface DependencyCost {
  name: string;
  alone: number;
  added: number;
}

export interface DependencyCosts {
  nodeArgs: readonly string[];
  empty: number;
  deps: DependencyCost[];
  roles: { name: string; rss: number }[];
}

export function dependencyCosts(nodeArgs: readonly string[] = []): DependencyCosts {
  const inOrder = probe(DEPENDENCIES, nodeArgs);
  const deps = DEPENDENCIES.map((name, i) => {
    const [before, after] = probe([name], nodeArgs);
    return {
      name,
      alone: (after as number) - (before as number),
      added: (inOrder[i + 1] as number) - (inOrder[i] as number),
    };
  });
  // The role modules (imported, not started: main() is not called): what their import graphs hold.
  const roles = (['bot', 'worker'] as const)
    .filter((role) => existsSync(`dist/bin/${role}.js`))
    .map((role) => ({
      name: `dist/bin/${role}.js`,
      rss: probe([`./dist/bin/${role}.js`], nodeArgs)[1] as number,
    }));
  return { nodeArgs, empty: inOrder[0] as number, deps, roles };
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

export function printDependencyCosts(r: DependencyCosts): void {
  console.log(
    `\n## Start-up RSS of each dependency (node, ${r.nodeArgs.join(' ') || 'no flags'}; an empty process ${mb(r.empty)})\n`,
  );
  console.log('| dependency | alone | added in this order |');
  console.log('| --- | --- | --- |');
  for (const d of r.deps) console.log(`| ${d.name} | +${mb(d.alone)} | +${mb(d.added)} |`);
  for (const role of r.roles) console.log(`\n${role.name} imported (not started): ${mb(role.rss)} RSS`);
}
