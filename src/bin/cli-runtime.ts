// The CLI's view of the engine runtime (bin/engine-runtime.ts): the store, the audit stream, break-glass
// endGrant and reconcile. State changes are logged (no Slack needed: break-glass works when Slack is down).
import { createLogger } from '../adapters/logger.js';
import type { Env } from '../config/env.js';
import type { LoadedPolicy } from '../config/load.js';
import { deleteForged, findForged } from '../engine/forged.js';
import type { CliRuntime } from './cli.js';
import { createRuntime, logNotifier } from './engine-runtime.js';

export async function buildCliRuntime(env: Env, loaded: LoadedPolicy): Promise<CliRuntime> {
  // Logs go to stderr: stdout is the command's output (JSON lines a script may pipe).
  const logger = createLogger({ level: env.LOG_LEVEL, name: 'eks-access-cli', destination: process.stderr });
  // So are the audit records the CLI writes (revoke, forged --delete): stderr is its log stream.
  const runtime = await createRuntime(env, {
    role: 'cli',
    loaded,
    logger,
    auditLine: (line) => process.stderr.write(`${line}\n`),
  });
  const engine = runtime.engine(logNotifier(runtime.logger));
  return {
    store: runtime.store,
    audit: runtime.audit,
    archive: runtime.archive,
    endGrant: (grantId, actor) => engine.endGrant(grantId, 'revoked', actor),
    reconcile: (dryRun) => engine.reconcile(dryRun),
    forged: async (deleteAs) => {
      const deps = runtime.engineDeps(logNotifier(runtime.logger));
      if (!deleteAs) return { ...(await findForged(deps)), deleted: false };
      const { deleted, errors } = await deleteForged(deps, deleteAs);
      return { forged: deleted, deleted: true, errors };
    },
    close: () => runtime.close(),
  };
}
