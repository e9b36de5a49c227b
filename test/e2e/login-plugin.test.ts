// Issue #24's "Done when": ALICE, with only her own IAM keys (through the AWS gateway) and the plugin,
// runs `kubectl eks-access request …`; the approval message appears in the fake Slack, marked as asked
// from the terminal; ANA and BEN approve; the plugin, still waiting, writes the kubeconfig context;
// her next `kubectl get pods` goes through the real authenticator, and after expiry is Unauthorized.
// The bot's verifier sends her token to "STS" through the same gateway (moto behind it; the attacks on
// the token are refused on the strict emulator, test/int/caller-token.int.test.ts).
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { afterEach, describe, expect, it } from 'vitest';
import { awsClientConfig, platform, uniqueName } from '../platform/context.js';
import { pollUntil } from '../support/poll.js';
import type { Shell, ShellRun } from '../support/requester-shell.js';
import { personalShell, succeeded } from '../support/requester-shell.js';
import { blocksText } from '../support/slack/index.js';
import { ALICE, ANA, BEN, type Harness, harnessPool } from './harness.js';
import { activationDmCommands, approveAs, requesterShell, untilLoginRefused } from './login-steps.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

const PLUGIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/bin/kubectl-eks-access.ts');

/** Puts `kubectl-eks_access` on her PATH, as krew would (kubectl finds `kubectl eks-access` under that name: a dash in a plugin command is an underscore in its file name) (Node, like kubectl, is on her machine). */
async function installPlugin(shell: Shell): Promise<void> {
  succeeded(
    await shell(
      `printf '#!/bin/sh\\nexec %s %s "$@"\\n' '${process.execPath}' '${PLUGIN}' > "$HOME/bin/kubectl-eks_access" && chmod +x "$HOME/bin/kubectl-eks_access"`,
    ),
    'installing the plugin',
  );
}

/** ALICE's request as the bot stored it, once it is; fails with the plugin's words when it ended first. */
async function aliceRequest(h: Harness, plugin: Promise<ShellRun>): Promise<string> {
  const ended = plugin.then((run) => {
    throw new Error(
      `the plugin ended before a request was stored (exit ${run.code}):\n${run.stdout}\n${run.stderr}`,
    );
  });
  const grants = await Promise.race([
    pollUntil(
      "ALICE's request to be stored",
      () => h.store.listByRequester(ALICE, 10),
      (list) => list.length > 0,
      { timeoutMs: 30_000 },
    ),
    ended,
  ]);
  return grants[0]?.id ?? '';
}

describe('kubectl eks-access (issue #24)', () => {
  it('request from the terminal → approved in Slack → the plugin writes the context → kubectl works → Unauthorized after expiry', async () => {
    const h = await pool.use({
      login: true,
      identityMapping: 'access-entries',
      createNamespace: true,
      worker: true,
      api: true,
      approvals: 2,
      levelDuration: { default: '90s', max: '4m' },
    });
    expect(h.bot.apiPort).toBeGreaterThan(0);
    const shell = await requesterShell(h);
    await installPlugin(shell);
    const server = { EKS_ACCESS_URL: `http://127.0.0.1:${h.bot.apiPort}` };

    const waiting = shell(
      `kubectl eks-access request ${h.namespace} as debug for 90s because INC-1 from my terminal`,
      server,
    );
    const id = await aliceRequest(h, waiting);
    const approval = await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel === h.channel && JSON.stringify(c.args.blocks ?? []).includes(id),
    );
    expect(blocksText(approval.args.blocks)).toContain('Requested from the terminal');
    await approveAs(h, id, ANA);
    await approveAs(h, id, BEN);

    const out = succeeded(await waiting, 'kubectl eks-access request');
    expect(out).toContain(`Requested ${id}`);
    expect(out).toMatch(/approvers: ana, group S0PLATFORM in Slack channel C/);
    const context = `eks-access-${h.cluster}-${h.namespace}`;
    expect(out).toContain(`Wrote kubectl context ${context}`);

    // She also gets the usual DM, as for a request made in Slack.
    await activationDmCommands(h);

    // Her next kubectl, in the context the plugin made current, through the real authenticator.
    succeeded(await shell(`kubectl get pods -n ${h.namespace}`), 'kubectl get pods');
    const status = succeeded(await shell(`kubectl eks-access status`, server), 'status');
    expect(status).toContain(id);

    // Expiry: once the engine takes the grant away, the context the plugin wrote is refused.
    await pollUntil(
      `grant ${id} to reach its expiry`,
      () => h.store.get(id),
      (grant) => grant !== undefined && grant.status !== 'active',
      { timeoutMs: 150_000, intervalMs: 200 },
    );
    await untilLoginRefused(
      (args) => shell(`kubectl ${args}`),
      h.namespace,
      'her kubeconfig to be refused after expiry',
    );
  }, 240_000);

  it('a CI role an auto-approve rule names is granted without a human; without a rule it is refused', async () => {
    // The CI job's role, and its session's keys (what a CI runner holds), made before the policy names it.
    const iam = new IAMClient(awsClientConfig('iam'));
    const sts = new STSClient(awsClientConfig('sts'));
    const trust = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${platform().aws.accountId}:root` },
          Action: 'sts:AssumeRole',
        },
      ],
    });
    const roleOf = async (prefix: string) => {
      const name = uniqueName(prefix);
      const role = (
        await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: trust }))
      ).Role;
      const session = await sts.send(
        new AssumeRoleCommand({ RoleArn: role?.Arn, RoleSessionName: 'build-42' }),
      );
      const c = session.Credentials;
      return {
        arn: role?.Arn ?? '',
        shell: await personalShell({
          accessKeyId: c?.AccessKeyId ?? '',
          secretAccessKey: c?.SecretAccessKey ?? '',
        }),
        env: { AWS_SESSION_TOKEN: c?.SessionToken ?? '' },
      };
    };
    const ci = await roleOf('ci-deployer');
    const stranger = await roleOf('ci-other');
    iam.destroy();
    sts.destroy();
    const h = await pool.use({
      login: true,
      identityMapping: 'access-entries',
      createNamespace: true,
      worker: true,
      api: true,
      namespaceExtra: `autoApprove:\n  - levels: [view]\n    maxDuration: 10m\n    requesters: { roles: [${ci.arn}] }\n`,
    });
    const env = { EKS_ACCESS_URL: `http://127.0.0.1:${h.bot.apiPort}` };
    for (const who of [ci, stranger]) await installPlugin(who.shell);

    // Granted by the rule naming it: no human, no DM, the approval message names the role.
    const run = await ci.shell(`kubectl eks-access request ${h.namespace} as view for 2m because deploy 42`, {
      ...ci.env,
      ...env,
    });
    const out = succeeded(run, 'the CI role’s request');
    expect(out).toContain('approved by the policy at once');
    expect(out).toContain(`Wrote kubectl context eks-access-${h.cluster}-${h.namespace}`);
    succeeded(await ci.shell(`kubectl get pods -n ${h.namespace}`, ci.env), 'the CI role’s kubectl');
    const [grant] = await h.grants();
    expect(grant?.requester.principalArn).toBe(ci.arn);
    // No human approves its extensions either (view extends by approval).
    const extend = await ci.shell(`kubectl eks-access extend ${grant?.id} for 5m`, { ...ci.env, ...env });
    expect(extend.code).toBe(1);
    expect(extend.stdout).toContain('A role with no person behind it gets more time only automatically');
    expect((await h.store.get(grant?.id ?? ''))?.extensionRequest).toBeUndefined();
    expect(grant?.approvals.map((a) => a.autoRule)).toEqual([expect.stringMatching(/^auto:/)]);
    const posted = h.slack.calls.filter(
      (c) => c.method === 'chat.postMessage' && c.args.channel === h.channel,
    );
    expect(
      posted.map((c) => blocksText(c.args.blocks as Parameters<typeof blocksText>[0])).join('\n'),
    ).toContain(`the IAM role \`${ci.arn}\``);
    expect(
      h.slack.calls.filter(
        (c) => c.method === 'conversations.open' && String(c.args.users).startsWith('iam-role:'),
      ),
    ).toEqual([]);

    // The same role, where no rule names it (another level): refused, nothing stored.
    const debug = await ci.shell(
      `kubectl eks-access request ${h.namespace} as debug for 2m because deploy 43`,
      {
        ...ci.env,
        ...env,
      },
    );
    expect(debug.code).toBe(1);
    expect(debug.stdout).toContain(`No auto-approve rule names ${ci.arn} for debug`);
    // A role no rule names at all: not anyone's, refused.
    const other = await stranger.shell(
      `kubectl eks-access request ${h.namespace} as view for 2m because deploy 44`,
      {
        ...stranger.env,
        ...env,
      },
    );
    expect(other.code).toBe(1);
    expect(other.stdout).toContain('is not linked to a Slack user of this installation');
    expect((await h.grants()).map((g) => g.id)).toEqual([grant?.id]);
  }, 240_000);

  it('Ctrl-C leaves the request standing and says how to check it; `status` later writes the context; extend and done', async () => {
    const h = await pool.use({
      login: true,
      identityMapping: 'access-entries',
      createNamespace: true,
      worker: true,
      api: true,
    });
    const shell = await requesterShell(h);
    await installPlugin(shell);
    const server = { EKS_ACCESS_URL: `http://127.0.0.1:${h.bot.apiPort}` };
    const home = succeeded(await shell('echo "$HOME"'), 'her HOME');
    // Job control on, so the backgrounded plugin gets SIGINT as from a terminal; the fifo is the test's
    // "now press Ctrl-C".
    const interrupted = shell(
      `set -m; mkfifo "$HOME/ctrl-c"; kubectl eks-access request ${h.namespace} as view for 10m because INC-1 > "$HOME/out" 2>&1 & pid=$!; read -r _ < "$HOME/ctrl-c"; kill -INT $pid; wait $pid; echo "exit $?"; cat "$HOME/out"`,
      server,
    );
    const id = await aliceRequest(h, interrupted);
    await h.approvalMessage(id);
    await writeFile(join(home, 'ctrl-c'), 'now\n');
    const out = (await interrupted).stdout;
    expect(out).toContain('exit 130');
    expect(out).toContain(
      `Stopped waiting; request ${id} still stands. Check it later: kubectl eks-access status ${id}`,
    );
    expect((await h.store.get(id))?.status).toBe('pending');

    await approveAs(h, id, ANA);
    await pollUntil(
      `grant ${id} to be active`,
      () => h.store.get(id),
      (g) => g?.status === 'active',
      {
        timeoutMs: 60_000,
      },
    );
    const status = succeeded(await shell(`kubectl eks-access status ${id}`, server), 'status');
    expect(status).toContain(`Wrote kubectl context eks-access-${h.cluster}-${h.namespace}`);
    succeeded(await shell(`kubectl get pods -n ${h.namespace}`), 'kubectl get pods');

    // More time (view extends by approval: the approvers are asked in Slack), then given back.
    const extend = succeeded(await shell(`kubectl eks-access extend ${id} for 30m`, server), 'extend');
    expect(extend).toContain(`${id}: extension asked; approvers decide in Slack.`);
    expect((await h.store.get(id))?.extensionRequest?.seconds).toBe(1800);
    const done = succeeded(await shell(`kubectl eks-access done ${id}`, server), 'done');
    expect(done).toContain('access is being removed now');
    await untilLoginRefused(
      (args) => shell(`kubectl ${args}`),
      h.namespace,
      'her kubeconfig to be refused once given back',
    );
  }, 240_000);
});
