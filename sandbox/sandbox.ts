// The whole product on one machine: the test platform (kube-apiserver + etcd + aws-iam-authenticator,
// Redis, moto, ministack, the AWS gateway), the places and people a policy names, the strict fake Slack,
// and the unchanged bot and worker (src/bin/bot.ts, src/bin/worker.ts) as child processes talking to it
// over Socket Mode, exactly as they would to Slack. The page (page.ts) is how a person drives it.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { PlatformInfo } from '../test/platform/info.js';
import { cacheDir, startPlatform } from '../test/platform/platform.js';
import { startProcess, waitUntil } from '../test/platform/processes.js';
import { archiveEnv } from '../test/support/archive.js';
import { applyKeptRoles } from '../test/support/kept-roles.js';
import { FakeSlack } from '../test/support/slack/index.js';
import { type Person, type SandboxWorld, sandboxPolicy } from './policy.js';
import { type Supervised, supervise } from './supervise.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The channel the page's composer types commands in (any channel works for a slash command). */
export const GENERAL_CHANNEL = 'C0SBGENERAL';

/** A requester's terminal: a file to `source` and the tools it puts on PATH. */
export interface Terminal {
  envFile: string;
  kubectl: string;
  aws: string;
}

/** Something the sandbox itself did that a person should see (a role restarted): on the page and the terminal. */
export interface Notice {
  at: number;
  text: string;
}

export interface Sandbox {
  /** What the sandbox did on its own, oldest first. */
  notices: Notice[];
  /** Called for each new notice; returns the unsubscribe function. */
  onNotice(listener: (notice: Notice) => void): () => void;
  world: SandboxWorld;
  info: PlatformInfo;
  slack: FakeSlack;
  /** Requesters with an IAM user, by Slack id. */
  terminals: Map<string, Terminal>;
  people: Person[];
  logs: string;
  stop(): Promise<void>;
}

const conflictOk = (error: unknown) => {
  // Created by an earlier step of this run (the login cluster's aws-auth, a namespace named twice).
  if ((error as { code?: number }).code !== 409) throw error;
};

/** Starts everything; `say` reports progress. On failure, whatever started is stopped again. */
export async function startSandbox(policyPath: string, say: (line: string) => void): Promise<Sandbox> {
  const text = await readFile(policyPath, 'utf8');
  // Checked before anything starts: a bad policy gets its message and nothing runs.
  const probe = sandboxPolicy(text, policyPath, {
    accountId: '000000000000',
    region: 'us-east-1',
    adminKubeconfig: '/',
  });
  if (!probe.loginCluster) throw new Error(`${policyPath} names no cluster`);
  const started = Date.now();
  say('starting the platform: kube-apiserver, etcd, aws-iam-authenticator, Redis, moto, ministack');
  const platform = await startPlatform({ loginCluster: probe.loginCluster });
  const info = platform.info;
  const children: Supervised[] = [];
  const notices: Notice[] = [];
  const listeners = new Set<(notice: Notice) => void>();
  const notice = (text: string) => {
    const entry = { at: Date.now(), text };
    notices.push(entry);
    say(text);
    for (const listener of listeners) listener(entry);
  };
  let slack: FakeSlack | undefined;
  const stop = async () => {
    for (const child of children.reverse()) await child.stop();
    await slack?.close();
    await platform.stop();
  };
  try {
    const world = sandboxPolicy(text, policyPath, {
      accountId: info.aws.accountId,
      region: info.aws.region,
      adminKubeconfig: info.kube.adminKubeconfig,
    });
    say(`platform up in ${((Date.now() - started) / 1000).toFixed(1)} s (run directory ${info.runDir})`);
    for (const note of world.notes) say(`policy: ${note}`);

    const kc = new KubeConfig();
    kc.loadFromFile(info.kube.adminKubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    for (const name of world.namespaces)
      await core.createNamespace({ body: { metadata: { name } } }).catch(conflictOk);
    // The ConfigMap the authenticator watches (EKSConfigMap) and aws-auth mode edits, as on a new cluster.
    await core
      .createNamespacedConfigMap({
        namespace: 'kube-system',
        body: { metadata: { name: 'aws-auth' }, data: { mapRoles: '' } },
      })
      .catch(conflictOk);
    // The platform team's step (settings.keptRoles: applied-by-admin): the kept Roles `rbac render` prints.
    await applyKeptRoles(kc, world.policy);
    say(`namespaces: ${world.namespaces.join(', ') || '(none: the policy names only patterns)'}`);

    const terminals = new Map<string, Terminal>();
    let workerKeys = { accessKeyId: info.aws.accessKeyId, secretAccessKey: info.aws.secretAccessKey };
    const iam = new IAMClient({
      region: info.aws.region,
      endpoint: info.aws.iamEndpoint,
      credentials: { accessKeyId: info.aws.accessKeyId, secretAccessKey: info.aws.secretAccessKey },
    });
    try {
      // The worker is an IAM user of its own, as in production: its login probe's trust statement names it.
      await iam.send(new CreateUserCommand({ UserName: 'eks-access-worker' }));
      const workerKey = (await iam.send(new CreateAccessKeyCommand({ UserName: 'eks-access-worker' })))
        .AccessKey;
      workerKeys = {
        accessKeyId: workerKey?.AccessKeyId ?? '',
        secretAccessKey: workerKey?.SecretAccessKey ?? '',
      };
      for (const person of world.people) {
        if (!person.iamUser) continue;
        await iam.send(new CreateUserCommand({ UserName: person.iamUser }));
        const key = (await iam.send(new CreateAccessKeyCommand({ UserName: person.iamUser }))).AccessKey;
        terminals.set(
          person.id,
          await writeTerminal(info, person, {
            accessKeyId: key?.AccessKeyId ?? '',
            secretAccessKey: key?.SecretAccessKey ?? '',
          }),
        );
      }
    } finally {
      iam.destroy();
    }
    say(
      `IAM users: ${[...terminals.keys()].map((id) => world.people.find((p) => p.id === id)?.iamUser).join(', ')}`,
    );

    slack = await FakeSlack.start({
      users: world.people.map((p) => ({ id: p.id, name: p.name, real_name: p.name })),
      usergroups: world.usergroups,
      channels: Object.fromEntries([...world.channels, GENERAL_CHANNEL].map((c) => [c, {}])),
    });
    const policyFile = join(info.runDir, 'policy.yaml');
    await writeFile(policyFile, world.policyText);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'],
      HOME: process.env['HOME'],
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_APP_TOKEN: slack.appToken,
      SLACK_TRANSPORT: 'socket',
      SLACK_API_URL: slack.apiUrl,
      REDIS_URL: info.redisUrl,
      POLICY_FILE: policyFile,
      // A key of this run only; the sandbox's RoleBindings die with its API server.
      SEAL_KEYS: `sandbox:${randomBytes(32).toString('base64')}`,
      ...archiveEnv(info.aws, `sandbox-${Date.now()}`),
      LOG_LEVEL: 'info',
      METRICS_PORT: '0',
      AWS_ACCESS_KEY_ID: workerKeys.accessKeyId,
      AWS_SECRET_ACCESS_KEY: workerKeys.secretAccessKey,
      AWS_REGION: info.aws.region,
      AWS_ENDPOINT_URL_IAM: info.aws.iamEndpoint,
      // STS as the person meets it (roles and trusts propagate late, trust enforced): the login probe
      // proves what her terminal will do.
      AWS_ENDPOINT_URL_STS: info.login.stsEndpoint,
      AWS_ENDPOINT_URL_EKS: info.aws.eksEndpoint,
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    const logDir = join(info.runDir, 'logs');
    for (const role of ['worker', 'bot'] as const) {
      // `node --import tsx` rather than the tsx CLI: one process per role, so stopping it stops it all.
      const start = () =>
        startProcess(role, process.execPath, ['--import', 'tsx', join(repoRoot, 'src/bin', `${role}.ts`)], {
          logDir,
          env,
          cwd: repoRoot,
        });
      children.push(supervise(role, start, notice));
    }
    const bot = (children[1] as Supervised).current();
    const fake = slack;
    await waitUntil(
      'the bot to connect over Socket Mode',
      () => fake.socket.waitForConnection(1_000).then(() => true as const),
      { timeoutMs: 90_000, process: bot },
    );
    for (const child of children.map((c) => c.current())) {
      const status = child.exitStatus();
      if (status !== undefined) throw new Error(`${child.name} exited (${status}); see ${child.logFile}`);
    }
    say(`bot and worker running (logs: ${logDir}/bot.log, worker.log)`);
    return {
      notices,
      onNotice: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      world,
      info,
      slack,
      terminals,
      people: world.people,
      logs: logDir,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * A requester's own terminal, as on their laptop: their IAM user's keys, AWS's public host names reached
 * through the platform's gateway (HTTPS_PROXY, AWS_CA_BUNDLE), the platform's aws and kubectl first on
 * PATH, and a kubeconfig and AWS config of its own so nothing of the machine's ~/.kube or ~/.aws mixes in.
 * The keys are the emulator's (moto), worthless outside this run.
 */
async function writeTerminal(
  info: PlatformInfo,
  person: Person,
  credentials: { accessKeyId: string; secretAccessKey: string },
): Promise<Terminal> {
  const dir = join(info.runDir, 'people', person.name);
  const bin = join(dir, 'bin');
  await mkdir(bin, { recursive: true });
  const aws = join(cacheDir(), 'venv', 'bin', 'aws');
  await symlink(aws, join(bin, 'aws'));
  await symlink(info.kube.kubectl, join(bin, 'kubectl'));
  await writeFile(join(dir, 'aws-config'), '');
  const envFile = join(dir, 'env.sh');
  const vars: Record<string, string> = {
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_CONFIG_FILE: join(dir, 'aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'aws-config'),
    HTTPS_PROXY: info.login.proxyUrl,
    NO_PROXY: '127.0.0.1,localhost',
    AWS_CA_BUNDLE: info.login.caBundle,
    KUBECONFIG: join(dir, 'kubeconfig'),
  };
  const lines = [
    `# ${person.name}'s terminal in the eks-access sandbox: source this file, then run the DM's commands.`,
    'unset AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_STS AWS_ENDPOINT_URL_EKS AWS_ENDPOINT_URL_IAM',
    ...Object.entries(vars).map(([k, v]) => `export ${k}='${v}'`),
    `export PATH='${bin}':"$PATH"`,
    '',
  ];
  await writeFile(envFile, lines.join('\n'), { mode: 0o600 });
  return { envFile, kubectl: info.kube.kubectl, aws };
}
