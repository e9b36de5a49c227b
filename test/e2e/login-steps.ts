// The steps of a real login that several e2e files share: the requester's own shell (her IAM user's new
// access key, a clean HOME, the aws CLI and kubectl), the commands of a DM exactly as she would copy them,
// and kubectl run through the kubeconfig context those commands made.
import { CreateAccessKeyCommand, IAMClient } from '@aws-sdk/client-iam';
import { awsClientConfig } from '../platform/context.js';
import { pollUntil } from '../support/poll.js';
import {
  LOGIN_REFUSED,
  personalShell,
  type Shell,
  type ShellRun,
  succeeded,
} from '../support/requester-shell.js';
import { blocksText } from '../support/slack/index.js';
import { ALICE, ANA, type Harness, requestedId } from './harness.js';

/** The commands in the DM's code block, one per line, exactly as the person would copy them. */
export function dmCommands(dmText: string): string[] {
  const block = /```([\s\S]*?)```/.exec(dmText)?.[1];
  if (!block) throw new Error(`no code block in the DM:\n${dmText}`);
  return block
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

/** ALICE's own shell: her IAM user's keys (a new access key in moto), a clean HOME. */
export async function requesterShell(h: Harness): Promise<Shell> {
  const iam = new IAMClient(awsClientConfig('iam'));
  try {
    const userName = h.aliceArn.split('/').pop() ?? '';
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: userName }))).AccessKey;
    return personalShell({
      accessKeyId: key?.AccessKeyId ?? '',
      secretAccessKey: key?.SecretAccessKey ?? '',
    });
  } finally {
    iam.destroy();
  }
}

/** `approver` clicks Approve on the approval message of request `id`. */
export async function approveAs(h: Harness, id: string, approver: string): Promise<void> {
  const approval = await h.approvalMessage(id);
  await h.interact(
    h.slack.blockActions({
      user_id: approver,
      action_id: 'approve',
      channel: approval.channel,
      message_ts: approval.ts,
    }),
  );
}

/** ALICE asks with `text`, ANA approves on the approval message; the grant's id. */
export async function approvedRequest(h: Harness, text: string): Promise<string> {
  const id = await requestedId(h, ALICE, text);
  await approveAs(h, id, ANA);
  return id;
}

/** The activation DM ("Use it") the requester gets once the worker made the grant live: its text and commands. */
export async function activationDm(h: Harness, after = 0): Promise<{ text: string; commands: string[] }> {
  const dm = await h.slack.waitFor(
    'chat.postMessage',
    (c) => c.args.channel.startsWith('D') && blocksText(c.args.blocks).includes('Use it'),
    { timeoutMs: 60_000, after },
  );
  const text = blocksText(dm.args.blocks);
  return { text, commands: dmCommands(text) };
}

/** The commands of the activation DM. */
export async function activationDmCommands(h: Harness, after = 0): Promise<string[]> {
  return (await activationDm(h, after)).commands;
}

/**
 * One fresh grant for ALICE (`reason` after "because"): ANA approves, the DM's commands run verbatim in
 * `shell` the instant it arrives, with no retry; then she gives everything back and the grant is waited out,
 * so the next try has a new personal role. `refused`: the first command that failed and its last words.
 */
export async function tryFreshGrant(
  h: Harness,
  shell: Shell,
  reason: string,
): Promise<{ id: string; dmText: string; refused: string | undefined }> {
  const after = h.slack.calls.length;
  const id = await approvedRequest(h, `request ${h.namespace} for 30m because ${reason}`);
  const { text, commands } = await activationDm(h, after);
  let refused: string | undefined;
  for (const command of commands) {
    const run = await shell(command);
    if (run.code !== 0) {
      refused = `${command}: ${run.stderr.trim().split('\n').at(-1)}`;
      break;
    }
  }
  await h.command(ALICE, 'done all');
  await pollUntil(
    `grant ${id} to end`,
    () => h.store.get(id),
    (g) => g?.endedAt !== undefined,
    {
      timeoutMs: 120_000,
      intervalMs: 200,
    },
  );
  return { id, dmText: text, refused };
}

/** kubectl through the context the DM's `update-kubeconfig --alias …` made. */
export function kubectlOf(shell: Shell, commands: readonly string[]): (args: string) => ReturnType<Shell> {
  const context = /--alias (\S+)/.exec(commands[0] ?? '')?.[1];
  if (!context) throw new Error(`no --alias in ${commands[0]}`);
  return (args) => shell(`kubectl --context ${context} ${args}`);
}

/**
 * Resolves once the authenticator refuses her kubeconfig (`Unauthorized`): each try is a whole kubectl
 * run with a fresh token, so the wait needs no interval of its own.
 */
export function untilLoginRefused(
  kubectl: (args: string) => Promise<ShellRun>,
  namespace: string,
  what: string,
): Promise<ShellRun> {
  return pollUntil(
    what,
    () => kubectl(`get pods -n ${namespace}`),
    (run) => run.code !== 0 && LOGIN_REFUSED.test(run.stderr),
    { timeoutMs: 60_000, intervalMs: 0 },
  );
}

/**
 * Runs the DM's commands verbatim in her shell, the instant the DM arrived, and returns each one's
 * output. No retry: the worker announces a grant only after its own login as her went through three
 * times in a row (the login probe, src/engine/login-probe.ts), so a refusal here is a failure, not a
 * propagation delay.
 */
export async function runDmCommands(shell: Shell, commands: readonly string[]): Promise<string[]> {
  const outputs: string[] = [];
  for (const command of commands) outputs.push(succeeded(await shell(command), command));
  return outputs;
}

/**
 * A session of the personal role she assumed while the grant was live, held on to: AWS lets a session
 * outlive its role's trust and even the role (up to its own expiry, an hour here), so only the removal of
 * the cluster's mapping can stop a token made from it. Returns kubectl run with such a token, against the
 * cluster the DM's `update-kubeconfig` named, as someone keeping the session would.
 */
export async function holdSession(
  shell: Shell,
  commands: readonly string[],
): Promise<(args: string) => Promise<ShellRun>> {
  const first = commands[0] ?? '';
  const flag = (name: string) => new RegExp(`--${name} (\\S+)`).exec(first)?.[1] ?? '';
  const [cluster, region, roleArn, context] = [flag('name'), flag('region'), flag('role-arn'), flag('alias')];
  const credentials = JSON.parse(
    succeeded(
      await shell(
        `aws sts assume-role --role-arn ${roleArn} --role-session-name held --query Credentials --output json`,
      ),
      'aws sts assume-role (a session to hold)',
    ),
  ) as { AccessKeyId: string; SecretAccessKey: string; SessionToken: string };
  const session = {
    AWS_ACCESS_KEY_ID: credentials.AccessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.SecretAccessKey,
    AWS_SESSION_TOKEN: credentials.SessionToken,
  };
  const view = (path: string) =>
    `kubectl config view --raw --minify --context ${context} -o jsonpath='{${path}}'`;
  succeeded(
    await shell(`${view('.clusters[0].cluster.certificate-authority-data')} | base64 -d > held-ca.pem`),
    'the cluster CA from her kubeconfig',
  );
  return (args) =>
    shell(
      `kubectl --kubeconfig=/dev/null --server="$(${view('.clusters[0].cluster.server')})" ` +
        '--certificate-authority=held-ca.pem ' +
        `--token="$(aws eks get-token --cluster-name ${cluster} --region ${region} --query status.token --output text)" ${args}`,
      session,
    );
}
