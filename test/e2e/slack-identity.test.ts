// Who the requester is on AWS, end to end: the opt-in Slack email → IAM user tag lookup against moto,
// and an aws-auth cluster where approval creates a personal IAM role in moto that only the requester
// may assume, maps it in aws-auth, and DMs the exact update-kubeconfig command.
import { randomBytes } from 'node:crypto';
import {
  CreateUserCommand,
  GetRoleCommand,
  IAMClient,
  NoSuchEntityException,
  TagUserCommand,
} from '@aws-sdk/client-iam';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { adminKubeConfig, awsClientConfig, platform } from '../platform/context.js';
import { blocksText } from '../support/slack/index.js';
import {
  ALICE,
  ANA,
  clickOn,
  ephemeralTo,
  type Harness,
  harnessPool,
  requestedId,
  untilActive,
} from './harness.js';

const pool = harnessPool();
const iam = new IAMClient(awsClientConfig('iam'));
afterEach(() => pool.closeAll());

/** A Slack user with a unique email; with `tagged`, an IAM user in moto carrying that email as its tag. */
async function person(
  h: Harness,
  tagged: boolean,
): Promise<{ slackId: string; email: string; arn?: string }> {
  const tag = randomBytes(4).toString('hex');
  const slackId = `U0P${tag.toUpperCase()}`;
  const email = `person-${tag}@example.com`;
  h.slack.addUser({ id: slackId, name: `person-${tag}`, email });
  if (!tagged) return { slackId, email };
  const userName = `person-${tag}`;
  await iam.send(new CreateUserCommand({ UserName: userName }));
  // Compared case-insensitively: directories disagree about the case of emails.
  await iam.send(
    new TagUserCommand({ UserName: userName, Tags: [{ Key: 'slack-email', Value: email.toUpperCase() }] }),
  );
  return { slackId, email, arn: `arn:aws:iam::${platform().aws.accountId}:user/${userName}` };
}

describe('email → IAM user tag (identities.emailTag)', () => {
  it('a person whose IAM user carries their Slack email is resolved and can request', async () => {
    const h = await pool.use({ emailTag: true });
    const carl = await person(h, true);
    const who = await (async () => {
      const after = h.slack.calls.length;
      await h.command(carl.slackId, 'whoami');
      return ephemeralTo(h.slack, carl.slackId, after);
    })();
    expect(who).toContain(`is \`${carl.arn}\` on AWS`);

    const id = await requestedId(h, carl.slackId, `request ${h.namespace} because INC-41`);
    expect(h.slack.callsTo('users.info').some((c) => c.args.user === carl.slackId)).toBe(true);
    const message = await h.approvalMessage(id);
    expect(blocksText(h.slack.message(message.channel, message.ts)?.blocks)).toContain(`(\`${carl.arn}\`)`);
    expect((await h.store.get(id))?.requester).toMatchObject({
      slackUserId: carl.slackId,
      principalArn: carl.arn,
      email: carl.email,
    });
  });

  it('without a matching tag the person is told exactly what an admin must add, and nothing is created', async () => {
    const h = await pool.use({ emailTag: true });
    const dora = await person(h, false);
    const before = await h.snapshot();
    const after = h.slack.calls.length;
    await h.command(dora.slackId, `request ${h.namespace} because INC-42`);
    const text = await ephemeralTo(h.slack, dora.slackId, after);
    expect(text).toContain(`Your Slack account (${dora.slackId}) is not linked to an AWS user`);
    expect(text).toContain(`${dora.slackId}: arn:aws:iam::&lt;account&gt;:user/&lt;name&gt;`);
    expect(text).toContain(`tag your IAM user with \`slack-email=${dora.email}\``);
    expect(text).toContain('Nothing was requested.');
    expect(await h.snapshot()).toEqual(before);
    expect(h.slack.calls.slice(after).filter((c) => c.method === 'chat.postMessage')).toEqual([]);
  });
});

describe('identities that are not one person', () => {
  it('an email two IAM users carry is refused, reported to the audit trail, and nothing is requested', async () => {
    const h = await pool.use({ emailTag: true });
    const erin = await person(h, true);
    // Someone who may tag IAM users gives their own user Erin's email.
    const intruder = `intruder-${randomBytes(4).toString('hex')}`;
    await iam.send(new CreateUserCommand({ UserName: intruder }));
    await iam.send(
      new TagUserCommand({ UserName: intruder, Tags: [{ Key: 'slack-email', Value: erin.email }] }),
    );
    const grantsBefore = await h.grants();
    const after = h.slack.calls.length;
    await h.command(erin.slackId, `request ${h.namespace} because INC-44`);
    const text = await ephemeralTo(h.slack, erin.slackId, after);
    expect(text).toContain('is the `slack-email` tag of 2 IAM users');
    expect(text).toContain(`:user/${intruder}`);
    expect(text).toContain(
      'An admin has to remove the `slack-email` tag from every IAM user that is not yours',
    );
    expect(await h.grants()).toEqual(grantsBefore);
    expect(h.slack.calls.slice(after).filter((c) => c.method === 'chat.postMessage')).toEqual([]);
    const events = await h.audit.read({ limit: 1000 });
    expect(events).toContainEqual(
      expect.objectContaining({
        action: 'identity-refused',
        actor: erin.slackId,
        details: expect.objectContaining({ identity: 'ambiguous-email' }),
      }),
    );
  });

  it('a Kubernetes username another principal already holds is refused at submit', async () => {
    const h = await pool.use();
    const username = `eks-access:${ALICE}`;
    // A live record (written straight into Redis, or left by an older template) gives Alice's username
    // to another principal.
    const now = Date.now();
    await h.store.create({
      id: 'ea-zzzz2222',
      version: 1,
      status: 'pending',
      requester: {
        slackUserId: ANA,
        principalArn: 'arn:aws:iam::123456789012:role/someone-else',
        kubernetesUsername: username,
      },
      cluster: h.cluster,
      namespace: h.namespace,
      level: 'view',
      durationSeconds: 3600,
      reason: 'INC-45',
      requiredApprovals: 1,
      approvals: [],
      createdAt: now,
      pendingUntil: now + 3_600_000,
      extensions: [],
    });
    const grantsBefore = await h.grants();
    const after = h.slack.calls.length;
    await h.command(ALICE, `request ${h.namespace} as view because INC-46`);
    const text = await ephemeralTo(h.slack, ALICE, after);
    expect(text).toContain(
      `Kubernetes user "${username}" on ${h.cluster} already belongs to another AWS principal (arn:aws:iam::123456789012:role/someone-else, request ea-zzzz2222)`,
    );
    expect(await h.grants()).toEqual(grantsBefore);
    expect(h.slack.calls.slice(after).filter((c) => c.method === 'chat.postMessage')).toEqual([]);
  });
});

describe('an aws-auth cluster', () => {
  it('the DM carries the full update-kubeconfig command for a personal role that trusts only the requester', async () => {
    const h = await pool.use({ identityMapping: 'aws-auth', createNamespace: true, worker: true });
    const id = await requestedId(h, ALICE, `request ${h.namespace} for 30m because INC-43`);
    const message = await h.approvalMessage(id);
    await clickOn(h, ANA, 'approve', message);
    await untilActive(h, message);
    const dm = await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel === 'D0ALICE' && blocksText(c.args.blocks).includes('Use it'),
    );
    const text = blocksText(dm.args.blocks);
    const alias = `eks-access-${h.cluster}-${h.namespace}`;
    const command = new RegExp(
      `aws eks update-kubeconfig --name ${h.cluster} --region eu-west-1 --role-arn (arn:aws:iam::123456789012:role/eks-access/${h.cluster}/(eksa-[a-z0-9-]+)) --alias ${alias}\\n`,
    );
    const match = command.exec(text);
    expect(match, text).not.toBeNull();
    const [, roleArn, roleName] = match as RegExpExecArray;
    expect(text).toContain(`kubectl auth can-i create jobs.batch -n ${h.namespace} --context ${alias}`);

    const role = (await iam.send(new GetRoleCommand({ RoleName: roleName }))).Role;
    expect(role?.Arn).toBe(roleArn);
    const trust = JSON.parse(decodeURIComponent(role?.AssumeRolePolicyDocument ?? '{}'));
    const grant = await h.store.get(id);
    expect(trust.Statement).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { AWS: h.aliceArn },
        Action: ['sts:AssumeRole'],
        Condition: {
          DateLessThan: { 'aws:CurrentTime': new Date(grant?.expiresAt as number).toISOString() },
        },
      }),
    ]);
    const core = adminKubeConfig().makeApiClient(CoreV1Api);
    const awsAuth = await core.readNamespacedConfigMap(h.awsAuth);
    // aws-auth names the role without its path: the only form the authenticator matches.
    expect(awsAuth.data?.['mapRoles']).toContain(`rolearn: arn:aws:iam::123456789012:role/${roleName}\n`);
    // The default username names the account, the kind and the IAM name: unique, and readable.
    expect(awsAuth.data?.['mapRoles']).toContain(
      `username: "eks-access:123456789012:user:${h.aliceArn.split('/').pop()}"`,
    );

    // Given back: the role and the mapping are gone again.
    const after = h.slack.calls.length;
    await h.command(ALICE, `done ${id}`);
    await h.slack.waitFor(
      'chat.update',
      (c) => c.args.ts === message.ts && blocksText(c.args.blocks).includes('Given back*'),
      { after, timeoutMs: 30_000 },
    );
    await expect(iam.send(new GetRoleCommand({ RoleName: roleName }))).rejects.toBeInstanceOf(
      NoSuchEntityException,
    );
    expect((await core.readNamespacedConfigMap(h.awsAuth)).data?.['mapRoles'] ?? '').not.toContain(roleName);
  });
});
