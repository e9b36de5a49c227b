// The requester logs in with the DM's own commands, as on EKS: the test takes the text of the DM the bot
// sends, and runs its shell commands unchanged as the requester — their own IAM user's keys, a clean HOME,
// the aws CLI from PyPI and kubectl — with AWS's public host names reached only through environment
// variables (HTTPS_PROXY to the platform's AWS gateway, AWS_CA_BUNDLE). kubectl's token goes to the real
// kube-apiserver, which asks the real aws-iam-authenticator (EKSConfigMap for aws-auth, the DynamicFile
// stand-in for access entries) who it is. Then expiry, and the same kubeconfig is refused.
//
// In aws-auth mode this proves what SubjectAccessReviews could not: the authenticator compares the
// session's canonical, path-less role ARN with the `rolearn` of the entry exactly (issue #8).
//
// An Identity Center person (issue #12): the same, with her SSO profile, and a colleague of the same
// permission set refused on sts:AssumeRole by the strict emulator.
import { CreateAccessEntryCommand, EKSClient } from '@aws-sdk/client-eks';
import {
  CreateAccessKeyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeleteRoleCommand,
  GetRoleCommand,
  IAMClient,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { AwsCredentials } from '../../src/adapters/aws/eks-token.js';
import {
  IAM_TAGS,
  MANAGED_BY,
  personalRoleArn,
  personalRoleName,
  personalRolePath,
  renderUsername,
} from '../../src/domain/names.js';
import { awsClientConfig, platform, uniqueName } from '../platform/context.js';
import { type StrictAws, startStrictAws } from '../platform/strict-aws.js';
import { pollUntil } from '../support/poll.js';
import { LOGIN_REFUSED, personalShell, succeeded, UNAUTHORIZED } from '../support/requester-shell.js';
import { blocksText } from '../support/slack/index.js';
import { ALICE, ANA, type Harness, harnessPool, requestedId } from './harness.js';
import {
  activationDmCommands,
  approvedRequest,
  dmCommands,
  holdSession,
  requesterShell,
  runDmCommands,
} from './login-steps.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

/** ALICE asks, ANA approves, the worker activates: the grant id and the commands of the DM ALICE gets. */
async function grantedCommands(h: Harness, duration: string): Promise<{ id: string; commands: string[] }> {
  const id = await approvedRequest(h, `request ${h.namespace} for ${duration} because INC-8 log in for real`);
  return { id, commands: await activationDmCommands(h) };
}

describe.each(['aws-auth', 'access-entries'] as const)(
  'the requester logs in with the DM (%s)',
  (mapping) => {
    it('request → approve → the DM’s commands work as the requester → expiry → the same kubeconfig is refused', async () => {
      const h = await pool.use({
        login: true,
        identityMapping: mapping,
        createNamespace: true,
        worker: true,
        levelDuration: { default: '90s', max: '4m' },
        expiryWarning: '30s',
      });
      const shell = await requesterShell(h);
      const { id, commands } = await grantedCommands(h, '90s');
      expect(commands[0]).toMatch(/^aws eks update-kubeconfig /);

      // The DM's commands, verbatim: update-kubeconfig, then the can-i check it suggests.
      const outputs: string[] = [];
      outputs.push(...(await runDmCommands(shell, commands)));
      expect(outputs.at(-1)).toBe('yes');

      // The same kubeconfig for what a person does next.
      const context = /--alias (\S+)/.exec(commands[0] ?? '')?.[1] as string;
      const kubectl = (args: string) => shell(`kubectl --context ${context} ${args}`);
      // The personal username as the policy renders it (the default template names account, kind and name).
      const username = renderUsername(h.policy.settings.kubernetesUsername, {
        principalArn: h.aliceArn,
        slackUserId: ALICE,
      });
      expect(username).toContain(h.aliceArn.split('/').pop());
      const whoami = JSON.parse(succeeded(await kubectl('auth whoami -o json'), 'kubectl auth whoami')) as {
        status: { userInfo: { username: string } };
      };
      expect(whoami.status.userInfo.username).toBe(username);
      succeeded(await kubectl(`get pods -n ${h.namespace}`), `kubectl get pods -n ${h.namespace}`);
      const elsewhere = await kubectl('get pods -n default');
      expect(elsewhere.code).not.toBe(0);
      expect(elsewhere.stderr).toMatch(/Forbidden/);
      expect(elsewhere.stderr).toContain(`User "${username}" cannot list resource "pods"`);
      // A session of the role she keeps (an hour's worth): it gets in now; after expiry only the removed
      // mapping can keep it out, as IAM would still vouch for it.
      const held = await holdSession(shell, commands);
      succeeded(await held(`get pods -n ${h.namespace}`), 'kubectl with a token of the held session');

      // Expiry: the engine takes it all away; from then on the same kubeconfig must be refused. The person
      // keeps trying from the moment the revoke starts; each try is a whole kubectl run (a new token from
      // `aws eks get-token`, a second or more), which bounds the resolution of the timings below.
      const revoking = await pollUntil(
        `grant ${id} to reach its expiry`,
        () => h.store.get(id),
        (grant) => grant !== undefined && grant.status !== 'active',
        { timeoutMs: 150_000, intervalMs: 100 },
      );
      const expiresAt = revoking?.expiresAt ?? Date.now();
      let firstRefusal: { at: number; stderr: string } | undefined;
      const unauthorized = await pollUntil(
        'the expired kubeconfig to be refused',
        async () => {
          const run = await kubectl(`get pods -n ${h.namespace}`);
          const seen = { at: Date.now(), stderr: run.stderr.trim(), code: run.code };
          if (run.code !== 0) firstRefusal ??= seen;
          return seen;
        },
        (seen) => seen.code !== 0 && LOGIN_REFUSED.test(seen.stderr),
        { timeoutMs: 60_000, intervalMs: 0 },
      );
      const ended = await pollUntil(
        'the grant to be expired',
        () => h.store.get(id),
        (g) => g?.status === 'expired',
      );
      const endedAt = ended?.endedAt ?? 0;
      const since = (at: number) =>
        `${at - expiresAt} ms after expiry, ${at - endedAt} ms after the revoke finished`;
      console.log(
        `[${mapping}] expiry ${new Date(expiresAt).toISOString()}, revoke finished ${new Date(endedAt).toISOString()}\n` +
          `[${mapping}] first refusal ${firstRefusal ? since(firstRefusal.at) : '?'}: ${firstRefusal?.stderr}\n` +
          `[${mapping}] refused ${since(unauthorized.at)} (webhook token cache TTL ` +
          `${platform().login.webhookCacheTtlSeconds} s here, 120 s on EKS): ${unauthorized.stderr}`,
      );
      // It stays refused: a fresh token, a fresh question to the authenticator.
      const again = await kubectl('auth whoami');
      expect(again.code).not.toBe(0);
      expect(again.stderr).toMatch(LOGIN_REFUSED);
      // And the session she held, which IAM still honours, is refused by the cluster: the mapping is gone.
      const heldAfter = await pollUntil(
        'the held session to be Unauthorized',
        () => held('auth whoami'),
        (run) => run.code !== 0 && UNAUTHORIZED.test(run.stderr),
        { timeoutMs: 30_000, intervalMs: 0 },
      );
      expect(heldAfter.stderr).not.toMatch(/AssumeRole/);
    }, 360_000);
  },
);

describe('a stale access entry (access entries)', () => {
  // EKS binds an access entry to the role's unique id. A personal role deleted by hand while its entry stays
  // leaves an entry that maps nobody, even once a role of the same ARN exists again: the worker, having just
  // made the role, must replace the entry, or the DM's commands are refused whatever the entry's username.
  it('left by a personal role deleted by hand, is replaced by the next grant: the DM’s commands work', async () => {
    const h = await pool.use({
      login: true,
      identityMapping: 'access-entries',
      createNamespace: true,
      worker: true,
    });
    const { clusterName, region } = platform().login;
    const username = renderUsername(h.policy.settings.kubernetesUsername, {
      principalArn: h.aliceArn,
      slackUserId: ALICE,
    });
    const iam = new IAMClient(awsClientConfig('iam'));
    const eks = new EKSClient(awsClientConfig('eks'));
    try {
      // Her personal role and its entry as an earlier grant left them, and proof the cluster bound the entry
      // to that role: she logs in through it (from a shell of her own, so the DM's kubeconfig starts clean).
      const earlier = {
        RoleName: personalRoleName(clusterName, h.aliceArn),
        Path: personalRolePath(h.policy.settings.iamPath, clusterName),
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { AWS: h.aliceArn }, Action: 'sts:AssumeRole' }],
        }),
        // Tagged as the worker tags its roles, so the reconciler counts it (and its entry) as in use.
        Tags: [{ Key: IAM_TAGS.managedBy, Value: MANAGED_BY }],
      };
      const made = await iam.send(new CreateRoleCommand(earlier));
      const roleArn = made.Role?.Arn ?? '';
      expect(roleArn).toBe(
        personalRoleArn(platform().aws.accountId, h.policy.settings.iamPath, clusterName, h.aliceArn),
      );
      await eks.send(new CreateAccessEntryCommand({ clusterName, principalArn: roleArn, username }));
      const earlierShell = await requesterShell(h);
      succeeded(
        await earlierShell(
          `aws eks update-kubeconfig --name ${clusterName} --region ${region} --role-arn ${roleArn}`,
        ),
        'aws eks update-kubeconfig (the earlier role)',
      );
      await pollUntil(
        'a login through the earlier role',
        () => earlierShell("kubectl auth whoami -o jsonpath='{.status.userInfo.username}'"),
        (run) => run.code === 0 && run.stdout.trim() === username,
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      // Someone deletes the role; the entry stays.
      await iam.send(new DeleteRoleCommand({ RoleName: earlier.RoleName }));

      const shell = await requesterShell(h);
      const { commands } = await grantedCommands(h, '1h');
      const outputs = await runDmCommands(shell, commands);
      expect(outputs.at(-1)).toBe('yes');
    } finally {
      iam.destroy();
      eks.destroy();
    }
  }, 180_000);
});

describe('a scheduled window, as the requester lives it (aws-auth)', () => {
  it('approved ahead: the reminder’s commands are refused before the start, work from it, and are refused after the end', async () => {
    const h = await pool.use({
      login: true,
      identityMapping: 'aws-auth',
      createNamespace: true,
      worker: true,
      levelDuration: { default: '90s', max: '4m' },
      windows: '{ reminder: 20s }',
    });
    const shell = await requesterShell(h);
    const id = await requestedId(
      h,
      ALICE,
      `request ${h.namespace} from +30s for 40s because INC-14 maintenance window`,
    );
    const approval = await h.approvalMessage(id);
    await h.interact(
      h.slack.blockActions({
        user_id: ANA,
        action_id: 'approve',
        channel: approval.channel,
        message_ts: approval.ts,
      }),
    );
    const approved = await pollUntil(
      `window ${id} to be approved`,
      () => h.store.get(id),
      (g) => g?.status === 'approved',
    );
    const startsAt = approved?.startsAt as number;

    // The reminder brings the commands before the start; run then, they are refused (no role, no mapping).
    const reminder = await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel.startsWith('D') && blocksText(c.args.blocks).includes('opens at'),
      { timeoutMs: 30_000 },
    );
    const early = dmCommands(blocksText(reminder.args.blocks));
    expect(Date.now()).toBeLessThan(startsAt);
    const tries = [];
    for (const command of early) tries.push(await shell(command));
    expect(Date.now()).toBeLessThan(startsAt);
    expect(tries.at(-1)?.code).not.toBe(0);
    expect((await h.store.get(id))?.status).toBe('approved');

    // From the start: the activation DM, and the same commands work.
    const commands = await activationDmCommands(h);
    expect(commands).toEqual(early);
    const active = await h.store.get(id);
    expect(active?.activatedAt ?? 0).toBeGreaterThanOrEqual(startsAt);
    // The window ends at its end, not 40 s after the (slightly later) activation.
    expect(active?.expiresAt).toBe(startsAt + 40_000);
    const outputs: string[] = [];
    outputs.push(...(await runDmCommands(shell, commands)));
    expect(outputs.at(-1)).toBe('yes');

    // After the end: refused.
    const context = /--alias (\S+)/.exec(commands[0] ?? '')?.[1] as string;
    await pollUntil(
      `window ${id} to end`,
      () => h.store.get(id),
      (g) => g?.status === 'expired',
      {
        timeoutMs: 90_000,
        intervalMs: 200,
      },
    );
    await pollUntil(
      'the window’s kubeconfig to be refused after its end',
      () => shell(`kubectl --context ${context} get pods -n ${h.namespace}`),
      (run) => run.code !== 0 && LOGIN_REFUSED.test(run.stderr),
      { timeoutMs: 60_000, intervalMs: 0 },
    );
  }, 300_000);
});

/** May call sts:AssumeRole, nothing else: how people are set up. */
const ASSUME_ONLY = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }],
};

/**
 * A strict emulator (moto evaluates no trust) holding the personal role of the DM's `--role-arn` exactly
 * as the engine made it in moto (path, name, trust document); its root's IAM client to add more.
 */
async function strictCopyOfPersonalRole(
  roleArn: string,
  name: string,
): Promise<{ strict: StrictAws; root: IAMClient; roleName: string }> {
  const moto = new IAMClient(awsClientConfig('iam'));
  const made = (await moto.send(new GetRoleCommand({ RoleName: roleArn.split('/').pop() ?? '' }))).Role;
  moto.destroy();
  const strict = await startStrictAws(uniqueName(name));
  const root = strict.iamAs(strict.rootOf(strict.accountId));
  await root.send(
    new CreateRoleCommand({
      RoleName: made?.RoleName ?? '',
      Path: made?.Path ?? '/',
      AssumeRolePolicyDocument: decodeURIComponent(made?.AssumeRolePolicyDocument ?? ''),
    }),
  );
  return { strict, root, roleName: made?.RoleName ?? '' };
}

describe('someone else running the DM’s commands', () => {
  let strict: StrictAws | undefined;
  afterAll(async () => {
    await strict?.stop();
  });

  // moto does not evaluate trust policies, so this part asks the strict emulator (test/platform/strict-aws.ts),
  // holding a copy of the personal role exactly as the engine made it in moto (path, name, trust document).
  it('gets AccessDenied on sts:AssumeRole (the trust names only the requester)', async () => {
    const h = await pool.use({
      login: true,
      identityMapping: 'access-entries',
      createNamespace: true,
      worker: true,
    });
    const { commands } = await grantedCommands(h, '1h');
    const roleArn = /--role-arn (\S+)/.exec(commands[0] ?? '')?.[1] ?? '';
    const copy = await strictCopyOfPersonalRole(roleArn, 'ministack-login');
    strict = copy.strict;
    const { root } = copy;
    const made = { RoleName: copy.roleName };
    // The requester herself (the ARN the trust names), allowed sts:AssumeRole like any person...
    const aliceName = h.aliceArn.split('/').pop() ?? '';
    await root.send(new CreateUserCommand({ UserName: aliceName }));
    await root.send(
      new PutUserPolicyCommand({
        UserName: aliceName,
        PolicyName: 'allow',
        PolicyDocument: JSON.stringify(ASSUME_ONLY),
      }),
    );
    const aliceKey = (await root.send(new CreateAccessKeyCommand({ UserName: aliceName }))).AccessKey;
    root.destroy();
    // ...and an account administrator.
    const mallory = await strict.createUser('mallory', 'arn:aws:iam::aws:policy/AdministratorAccess');

    // STS is the strict emulator's, through the one variable the aws CLI reads for it.
    const stsHere = { AWS_ENDPOINT_URL_STS: strict.endpoint };
    const malloryShell = await personalShell(mallory.credentials);
    succeeded(await malloryShell(commands[0] ?? '', stsHere), commands[0] ?? '');
    const refused = await malloryShell(commands[1] ?? '', stsHere);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/AccessDenied\) when calling the AssumeRole operation/);

    // The requester, same command, same emulator, gets past AssumeRole (the refusal above is the trust's).
    const aliceShell = await personalShell({
      accessKeyId: aliceKey?.AccessKeyId ?? '',
      secretAccessKey: aliceKey?.SecretAccessKey ?? '',
    });
    const assumed = await aliceShell(
      `aws sts assume-role --region ${platform().login.region} --role-arn ${roleArn} --role-session-name alice --query AssumedRoleUser.Arn --output text`,
      stsHere,
    );
    expect(succeeded(assumed, 'aws sts assume-role as the requester')).toBe(
      `arn:aws:sts::${strict.accountId}:assumed-role/${made?.RoleName}/alice`,
    );
    const malloryAssume = await malloryShell(
      `aws sts assume-role --region ${platform().login.region} --role-arn ${roleArn} --role-session-name mallory`,
      stsHere,
    );
    expect(malloryAssume.stderr).toMatch(/AccessDenied/);
  }, 180_000);
});

describe('an Identity Center person logs in with the DM (aws-auth)', () => {
  let strict: StrictAws | undefined;
  afterAll(async () => {
    await strict?.stop();
  });

  /** A profile file as `aws sso login` leaves the CLI able to sign for it: the SSO session's keys. */
  const profileFile = (profile: string, c: AwsCredentials) =>
    `mkdir -p ~/.aws && printf '[%s]\\naws_access_key_id = %s\\naws_secret_access_key = %s\\naws_session_token = %s\\n' ${profile} ${c.accessKeyId} ${c.secretAccessKey} ${c.sessionToken ?? ''} > ~/.aws/credentials`;

  /** sts:AssumeRole on the permission-set role, the stand-in for Identity Center's SAML sign-in. */
  async function signIn(
    sts: STSClient,
    roleArn: string,
    userName: string,
  ): Promise<AwsCredentials & { arn: string }> {
    const out = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: userName }));
    return {
      accessKeyId: out.Credentials?.AccessKeyId ?? '',
      secretAccessKey: out.Credentials?.SecretAccessKey ?? '',
      sessionToken: out.Credentials?.SessionToken ?? '',
      arn: out.AssumedRoleUser?.Arn ?? '',
    };
  }

  it('her session runs the DM’s commands and is her personal user; a colleague’s session of the same permission set gets AccessDenied', async () => {
    const h = await pool.use({
      login: true,
      identityMapping: 'aws-auth',
      createNamespace: true,
      worker: true,
      identityCenter: true,
    });
    const center = h.identityCenter as NonNullable<Harness['identityCenter']>;
    const { accountId, region } = platform().aws;
    const { id, commands } = await grantedCommands(h, '1h');
    // The principal is her Identity Center session, found from her Slack email (no map entry).
    expect((await h.store.get(id))?.requester.principalArn).toBe(h.aliceArn);
    const profile = `${center.permissionSet}-${accountId}`;
    expect(commands[0]).toBe(`aws sso login --profile ${profile}`);
    expect(commands[1]).toMatch(new RegExp(`^aws eks update-kubeconfig .* --profile ${profile}$`));

    // `aws sso login` needs Identity Center's device flow, which no emulator has: her SSO session's keys go
    // into the profile instead (obtained from moto as her sign-in), and no key is in her environment.
    const moto = new IAMClient(awsClientConfig('iam'));
    const key = (await moto.send(new CreateAccessKeyCommand({ UserName: center.userName }))).AccessKey;
    const motoSts = new STSClient({
      ...awsClientConfig('sts'),
      credentials: { accessKeyId: key?.AccessKeyId ?? '', secretAccessKey: key?.SecretAccessKey ?? '' },
    });
    const session = await signIn(motoSts, center.roleArn, center.userName);
    motoSts.destroy();
    expect(session.arn).toBe(h.aliceArn);
    const shell = await personalShell({ accessKeyId: '', secretAccessKey: '' });
    succeeded(await shell(profileFile(profile, session)), 'write the SSO profile');

    // The rest of the DM, verbatim.
    const outputs: string[] = [];
    for (const command of commands.slice(1)) outputs.push(succeeded(await shell(command), command));
    expect(outputs.at(-1)).toBe('yes');
    const context = /--alias (\S+)/.exec(commands[1] ?? '')?.[1] as string;
    const whoami = JSON.parse(
      succeeded(await shell(`kubectl --context ${context} auth whoami -o json`), 'kubectl auth whoami'),
    ) as { status: { userInfo: { username: string } } };
    expect(whoami.status.userInfo.username).toBe(
      renderUsername(h.policy.settings.kubernetesUsername, { principalArn: h.aliceArn, slackUserId: ALICE }),
    );
    expect(whoami.status.userInfo.username).toContain(`assumed-role:${center.roleArn.split('/').pop()}/`);

    // moto lets anyone assume any role, so the colleague is asked on the strict emulator, which holds
    // the personal role exactly as the engine made it in moto and the same permission-set role.
    moto.destroy();
    const roleArn = /--role-arn (\S+)/.exec(commands[1] ?? '')?.[1] ?? '';
    const copy = await strictCopyOfPersonalRole(roleArn, 'ministack-idc-login');
    strict = copy.strict;
    const { root } = copy;
    const made = { RoleName: copy.roleName };
    const mayAssume = ASSUME_ONLY;
    const alice = await strict.createUser('alice', mayAssume);
    const bob = await strict.createUser('bob', mayAssume);
    const colleague = `bob-${center.userName}`;
    const ssoRole = center.roleArn.split('/').pop() ?? '';
    await root.send(
      new CreateRoleCommand({
        RoleName: ssoRole,
        Path: `/aws-reserved/sso.amazonaws.com/${region}/`,
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            [alice, center.userName],
            [bob, colleague],
          ].map(([who, name]) => ({
            Effect: 'Allow',
            Principal: { AWS: (who as { arn: string }).arn },
            Action: 'sts:AssumeRole',
            Condition: { StringEquals: { 'sts:RoleSessionName': name } },
          })),
        }),
      }),
    );
    await root.send(
      new PutRolePolicyCommand({
        RoleName: ssoRole,
        PolicyName: 'assume',
        PolicyDocument: JSON.stringify(mayAssume),
      }),
    );
    root.destroy();
    const strictSts = (c: AwsCredentials) =>
      new STSClient({ region: strict?.region ?? region, endpoint: strict?.endpoint ?? '', credentials: c });
    const ssoArn = `arn:aws:iam::${strict.accountId}:role/aws-reserved/sso.amazonaws.com/${region}/${ssoRole}`;
    const bobSts = strictSts(bob.credentials);
    const bobSession = await signIn(bobSts, ssoArn, colleague);
    // He cannot sign in under her name (what SAML guarantees on AWS).
    await expect(signIn(bobSts, ssoArn, center.userName)).rejects.toMatchObject({ name: 'AccessDenied' });
    bobSts.destroy();
    const aliceSts = strictSts(alice.credentials);
    const aliceSession = await signIn(aliceSts, ssoArn, center.userName);
    aliceSts.destroy();
    expect(aliceSession.arn).toBe(h.aliceArn);

    // Bob, in the same permission set, runs her DM's commands with his own SSO profile: refused.
    const stsHere = { AWS_ENDPOINT_URL_STS: strict.endpoint };
    const bobShell = await personalShell({ accessKeyId: '', secretAccessKey: '' });
    succeeded(await bobShell(profileFile(profile, bobSession)), 'write his SSO profile');
    succeeded(await bobShell(commands[1] ?? '', stsHere), commands[1] ?? '');
    const refused = await bobShell(commands[2] ?? '', stsHere);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/AccessDenied\) when calling the AssumeRole operation/);
    // It was his SSO profile that signed (the kubeconfig carries the profile), not some other key.
    expect(refused.stderr).toContain(bobSession.arn);
    // Her session, same emulator, gets past AssumeRole: the refusal above is the trust's.
    const herShell = await personalShell({ accessKeyId: '', secretAccessKey: '' });
    succeeded(await herShell(profileFile(profile, aliceSession)), 'write her SSO profile');
    const assumed = await herShell(
      `aws sts assume-role --profile ${profile} --region ${region} --role-arn ${roleArn} --role-session-name ${center.userName} --query AssumedRoleUser.Arn --output text`,
      stsHere,
    );
    expect(succeeded(assumed, 'aws sts assume-role as her session')).toBe(
      `arn:aws:sts::${strict.accountId}:assumed-role/${made?.RoleName}/${center.userName}`,
    );

    // She gives it back; the grant ends.
    await h.command(ALICE, `done ${id}`);
    await pollUntil(
      `grant ${id} to end`,
      () => h.store.get(id),
      (g) => g?.status === 'relinquished',
      { timeoutMs: 60_000 },
    );
  }, 240_000);
});
