// The bot's API over HTTP, as a client other than the plugin sees it (curl, a CI script): every refusal
// is the one error vocabulary as an HTTP status with words a person understands, and changes nothing.
// The token attacks that need signatures checked run on the strict emulator
// (test/int/caller-token.int.test.ts); here STS is moto behind the platform's AWS gateway.
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { afterEach, describe, expect, it } from 'vitest';
import { presignEksToken } from '../../src/adapters/aws/eks-token.js';
import { awsClientConfig, uniqueName } from '../platform/context.js';
import { callerToken } from '../support/caller-tokens.js';
import { ALICE, type Harness, harnessPool, NOBODY } from './harness.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

async function keysOf(iam: IAMClient, userName: string) {
  const key = (await iam.send(new CreateAccessKeyCommand({ UserName: userName }))).AccessKey;
  return { accessKeyId: key?.AccessKeyId ?? '', secretAccessKey: key?.SecretAccessKey ?? '' };
}

describe('the API over HTTP', () => {
  it('refuses clearly, changes nothing, and serves only the caller’s own requests', async () => {
    const h = await pool.use({ identityMapping: 'aws-auth', api: true });
    const base = `http://127.0.0.1:${h.bot.apiPort}`;
    const region = h.policy.clusters[h.cluster]?.region ?? '';
    const iam = new IAMClient(awsClientConfig('iam'));
    const alice = await keysOf(iam, h.aliceArn.split('/').pop() ?? '');
    const strangerName = uniqueName('stranger');
    await iam.send(new CreateUserCommand({ UserName: strangerName }));
    const stranger = await keysOf(iam, strangerName);
    // ANA is mapped to this IAM user (moto is shared: another file may have made it already).
    await iam.send(new CreateUserCommand({ UserName: 'ana' })).catch((error: { name?: string }) => {
      if (error.name !== 'EntityAlreadyExists') throw error;
    });
    const ana = await keysOf(iam, 'ana');
    iam.destroy();
    let second = 0;
    // One token per call, each signed a second before the last (from one fixed moment, so a slow run
    // never brings two into the same second): two of the same second are one token.
    const start = Date.now();
    const tokenOf = (credentials: typeof alice, extra = {}) =>
      callerToken({
        credentials,
        region,
        audience: h.policy.settings.installation,
        signedAt: start - 1000 * second++,
        ...extra,
      });
    const call = async (path: string, token?: string, body?: string, method = body ? 'POST' : 'GET') => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          'content-type': 'application/json',
        },
        ...(body ? { body } : {}),
      });
      return { status: res.status, body: (await res.json()) as Record<string, string> };
    };
    // Spent tokens are recorded (that is single use); nothing else may change.
    const state = async () =>
      Object.fromEntries(Object.entries(await h.snapshot()).filter(([key]) => !key.includes(':api-token:')));
    const before = await state();

    const info = await call('/v1/info');
    expect(info.body).toMatchObject({
      installation: h.policy.settings.installation,
      audienceHeader: 'x-eks-access-installation',
    });
    expect(await call('/v1/requests')).toMatchObject({ status: 400, body: { error: 'bad_input' } });
    expect(await call('/v1/requests', 'not-a-token')).toMatchObject({
      status: 400,
      body: { error: 'bad_input' },
    });
    const eks = await presignEksToken({
      clusterName: h.cluster,
      region,
      credentials: alice,
      now: Date.now(),
    });
    expect(await call('/v1/requests', eks)).toMatchObject({
      status: 403,
      body: {
        error: 'forbidden',
        rule: 'cluster-token',
        message: 'That is a token for an EKS cluster, not for eks-access',
      },
    });
    expect(await call('/v1/requests', await tokenOf(alice, { host: 'sts.example.com' }))).toMatchObject({
      status: 403,
      body: { rule: 'host' },
    });
    expect(await call('/v1/requests', await tokenOf(alice, { expiresIn: 900 }))).toMatchObject({
      status: 403,
      body: { rule: 'expires' },
    });
    const once = await tokenOf(alice);
    expect((await call('/v1/requests', once)).status).toBe(200);
    expect(await call('/v1/requests', once)).toMatchObject({
      status: 403,
      body: { rule: 'reused', message: 'That token was already used' },
    });
    expect(await call('/v1/requests', await tokenOf(stranger))).toMatchObject({
      status: 404,
      body: { error: 'not_found', headline: 'This AWS identity is not linked to anyone here' },
    });
    expect(await call('/v1/requests', await tokenOf(alice), '{not json')).toMatchObject({
      status: 400,
      body: { message: 'The request body must be a JSON object' },
    });
    const refused = await call(
      '/v1/requests',
      await tokenOf(alice),
      JSON.stringify({ request: `${h.namespace} as root for 1h because INC-1` }),
    );
    expect(refused.status).toBe(404);
    expect(refused.body['message']).toContain(`Access level "root" is not offered in ${h.namespace}`);
    expect(await call('/v1/requests/ea-aaaaaaaa', await tokenOf(alice))).toMatchObject({ status: 404 });
    expect(await call('/v1/nothing', await tokenOf(alice))).toMatchObject({ status: 404 });
    // Nothing above changed anything.
    expect(await state()).toEqual(before);

    // A request is ALICE's; her id answers only to her.
    const made = await call(
      '/v1/requests',
      await tokenOf(alice),
      JSON.stringify({ request: `${h.namespace} as view for 1h because INC-2` }),
    );
    expect(made.status).toBe(201);
    const id = (made.body['requests'] as unknown as { id: string }[])[0]?.id ?? '';
    expect((await h.store.get(id))?.requester.slackUserId).toBe(ALICE);
    expect((await h.store.get(id))?.origin).toBe('terminal');
    expect(h.auditLines.join('\n')).toMatch(
      new RegExp(`"grantId":"${id}".*"origin":"terminal"|"origin":"terminal".*"grantId":"${id}"`),
    );
    expect(await call(`/v1/requests/${id}`, await tokenOf(alice))).toMatchObject({
      status: 200,
      body: { request: { id, status: 'pending' } },
    });
    // Someone else (ANA, an approver even) sees no such request of theirs, and cannot end it.
    expect(await call(`/v1/requests/${id}`, await tokenOf(ana))).toMatchObject({ status: 404 });
    expect(await call(`/v1/requests/${id}/done`, await tokenOf(ana), '{}')).toMatchObject({ status: 404 });
    expect((await h.store.get(id))?.status).toBe('pending');
  });

  it('finds the person through the email tag and through IAM Identity Center, as Slack requests do', async () => {
    const iam = new IAMClient(awsClientConfig('iam'));
    const ask = async (h: Harness, credentials: Parameters<typeof callerToken>[0]['credentials']) => {
      const res = await fetch(`http://127.0.0.1:${h.bot.apiPort}/v1/requests`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${await callerToken({
            credentials,
            region: h.policy.clusters[h.cluster]?.region ?? '',
            audience: h.policy.settings.installation,
            signedAt: Date.now(),
          })}`,
        },
        body: JSON.stringify({ request: `${h.namespace} as view for 1h because INC-3` }),
      });
      const body = (await res.json()) as { requests?: { id: string }[]; message?: string };
      if (res.status !== 201) throw new Error(`HTTP ${res.status}: ${body.message}`);
      return h.store.get(body.requests?.[0]?.id ?? '');
    };

    // NOBODY is in no map; her IAM user carries her Slack email as its tag.
    const tagged = await pool.use({ emailTag: true, api: true });
    const nobodyName = uniqueName('nobody');
    await iam.send(
      new CreateUserCommand({
        UserName: nobodyName,
        Tags: [{ Key: 'slack-email', Value: 'nobody@example.com' }],
      }),
    );
    const byTag = await ask(tagged, await keysOf(iam, nobodyName));
    expect(byTag?.requester).toMatchObject({
      slackUserId: NOBODY,
      principalArn: expect.stringMatching(`user/${nobodyName}$`),
    });

    // ALICE signs in through Identity Center: her session of the permission-set role, named after her user.
    const center = await pool.use({ identityMapping: 'aws-auth', identityCenter: true, api: true });
    const sts = new STSClient(awsClientConfig('sts'));
    const session = (
      await sts.send(
        new AssumeRoleCommand({
          RoleArn: center.identityCenter?.roleArn,
          RoleSessionName: center.identityCenter?.userName,
        }),
      )
    ).Credentials;
    sts.destroy();
    iam.destroy();
    const bySession = await ask(center, {
      accessKeyId: session?.AccessKeyId ?? '',
      secretAccessKey: session?.SecretAccessKey ?? '',
      sessionToken: session?.SessionToken ?? '',
    });
    expect(bySession?.requester).toMatchObject({ slackUserId: ALICE, principalArn: center.aliceArn });
  });
});
