// `npm run sandbox [-- --policy my-policy.yaml] [--port 8080]`: eks-access on this machine without a Slack
// workspace or an AWS account (docs/sandbox.md). Builds the local platform on the first run, starts it,
// serves the page on 127.0.0.1, prints how the requester's terminal gets its environment, and on Ctrl-C
// (SIGINT/SIGTERM/SIGHUP, or when the process that started it, e.g. npm, is gone) stops every process it
// started, each with its whole process group.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { blocksText } from '../test/support/slack/index.js';
import { installPlatform, missingPlatformParts } from './install.js';
import { dmCommands, startPage } from './page.js';
import { repoRoot, type Sandbox, startSandbox } from './sandbox.js';
import { tryItLines } from './try-it.js';

const USAGE = 'usage: npm run sandbox [-- --policy <policy.yaml>] [--port <port>]';

/** Our parent's pid now (process.ppid is the one at start-up): /proc/self/stat's fourth field. */
function currentParent(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return process.ppid;
  }
}

function say(line: string): void {
  process.stdout.write(`sandbox: ${line}\n`);
}

async function main(): Promise<number> {
  let args: { policy?: string | undefined; port?: string | undefined; help?: boolean | undefined };
  try {
    args = parseArgs({
      options: {
        policy: { type: 'string' },
        port: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (error) {
    process.stderr.write(`sandbox: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\nWithout --policy: ./policy.yaml if present, else policy.example.yaml.\n`);
    return 0;
  }
  const port = Number(args.port ?? '0');
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`sandbox: --port must be a port number (0 or absent: any free port)\n${USAGE}\n`);
    return 2;
  }
  const policyPath = resolve(
    args.policy ??
      (existsSync(resolve(repoRoot, 'policy.yaml'))
        ? 'policy.yaml'
        : resolve(repoRoot, 'policy.example.yaml')),
  );
  if (!existsSync(policyPath)) {
    process.stderr.write(`sandbox: no policy file at ${policyPath}\n${USAGE}\n`);
    return 2;
  }

  let sandbox: Sandbox | undefined;
  let page: Awaited<ReturnType<typeof startPage>> | undefined;
  let stopping: { at: number } | undefined;
  const stop = (why: string) => {
    if (stopping) {
      // One Ctrl-C in a terminal reaches the sandbox twice under npm (from the terminal, and forwarded by
      // npm): only a signal a moment later is a second Ctrl-C. No more waiting then: the exit hook of
      // test/platform/processes.ts kills every process group.
      if (Date.now() - stopping.at < 1_500) return;
      say(`${why} again: killing everything now`);
      process.exit(130);
    }
    stopping = { at: Date.now() };
    say(`${why}: stopping the page, the bot, the worker and the platform…`);
    void (async () => {
      await page?.close();
      await sandbox?.stop();
      say('stopped; nothing is left running');
      process.exit(0);
    })();
  };
  // Installed before anything starts, so a stop during the first build or start-up also ends what has
  // started (the platform's own hooks stand aside when a handler exists). SIGHUP: the terminal closed.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stop(signal));
  // A process manager, `timeout` or CI may end the process that started us (npm) and not us: when our
  // parent is gone we are re-parented, and stop as if signalled. (npm forwards SIGINT/SIGTERM to us, but a
  // SIGKILL of npm cannot be forwarded.)
  const parent = process.ppid;
  const orphaned = setInterval(() => {
    if (currentParent() === parent) return;
    clearInterval(orphaned);
    stop(`the process that started the sandbox (${parent}) exited`);
  }, 500);
  orphaned.unref();

  const missing = await missingPlatformParts(repoRoot);
  if (missing.length > 0) await installPlatform(repoRoot, missing);

  say(`policy: ${policyPath}`);
  sandbox = await startSandbox(policyPath, say);
  page = await startPage(sandbox, port);
  const lines = [
    '',
    `Open ${page.url} — you are ${sandbox.people.map((p) => `${p.name} (${p.role})`).join(', ')}.`,
    ...tryItLines(
      sandbox.world.policy,
      sandbox.world.namespaces[0],
      sandbox.people.find((p) => p.role === 'requester')?.id ?? '',
    ),
    'The page then shows the DM with the commands; run them in a shell:',
  ];
  for (const [id, terminal] of sandbox.terminals) {
    const name = sandbox.people.find((p) => p.id === id)?.name ?? id;
    lines.push(`  ${name}:  source ${terminal.envFile}`);
  }
  const first = [...sandbox.terminals.values()][0];
  if (first) lines.push(`  (kubectl: ${first.kubectl}; aws: ${first.aws})`);
  lines.push('Ctrl-C stops everything.', '');
  process.stdout.write(`${lines.join('\n')}\n`);
  say(`page: ${page.url}`);
  // The terminal half of the DM: when a requester's DM carries commands, print them with their environment.
  const running = sandbox;
  running.slack.onCall((call) => {
    if (call.method !== 'chat.postMessage' || call.response['ok'] !== true) return;
    const channel = String(call.args['channel'] ?? '');
    const person = running.people.find((p) => `D${p.id.slice(1)}` === channel || p.id === channel);
    const terminal = person && running.terminals.get(person.id);
    const blocks = call.args['blocks'] as Parameters<typeof blocksText>[0];
    const commands = dmCommands(`${String(call.args['text'] ?? '')}\n${blocksText(blocks)}`);
    if (!person || !terminal || commands.length === 0) return;
    const namespace = /\s-n (\S+)/.exec(commands.join('\n'))?.[1] ?? '<namespace>';
    process.stdout.write(
      `\n${person.name}'s DM has the commands; in a shell:\n  source ${terminal.envFile}\n` +
        `${commands.map((c) => `  ${c}`).join('\n')}\n  kubectl get pods -n ${namespace}   # works until the grant ends\n\n`,
    );
  });
  return await new Promise<number>(() => {
    // Runs until a signal; stop() exits.
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`sandbox: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
