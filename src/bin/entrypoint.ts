// The container's one entry point: `bot`, `worker` or `cli …` picks the role, so one image serves the
// three Deployments/Jobs. Each role module exports `main(argv)` and owns its own graceful shutdown
// (SIGTERM: stop taking work, drain BullMQ/Bolt, close Redis); tini (PID 1) forwards the signal.
import { pathToFileURL } from 'node:url';

export const ROLES = {
  bot: './bot.js',
  worker: './worker.js',
  cli: './cli.js',
} as const;
export type Role = keyof typeof ROLES;

interface RoleModule {
  main?: (argv: readonly string[]) => Promise<unknown>;
}

const USAGE = `usage: entrypoint <role> [args…]
  bot       the Slack-facing bot (Socket Mode or HTTP)
  worker    the BullMQ worker: activation, revocation at expiry, reconciler
  cli …     the admin CLI (eks-access --help)
`;

export async function dispatch(argv: readonly string[]): Promise<number> {
  const [role, ...rest] = argv;
  if (!role || !(role in ROLES)) {
    process.stderr.write(role && role !== '--help' ? `unknown role "${role}"\n${USAGE}` : USAGE);
    return role === '--help' ? 0 : 2;
  }
  // A variable specifier: each role loads only its own dependencies (the CLI never starts Bolt).
  const specifier: string = ROLES[role as Role];
  const module = (await import(specifier)) as RoleModule;
  if (typeof module.main !== 'function') {
    throw new Error(`${specifier} does not export main(argv)`);
  }
  const code = await module.main(rest);
  return typeof code === 'number' ? code : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  dispatch(process.argv.slice(2)).then(
    (code) => {
      // Long-running roles resolve main() once started; they exit through their signal handlers.
      if (code !== 0) process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
