// The API's caller verifier on the strict emulator, which verifies presigned query-string signatures as
// STS does (moto ignores them): each attack of issue #24's "Done when" is refused, and where the
// emulator alone would have let it through, the test shows that too, so the refusal is ours.
import {
  CreateRoleCommand,
  DeleteAccessKeyCommand,
  DeleteRoleCommand,
  DeleteUserCommand,
  ListAccessKeysCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presignEksToken } from '../../src/adapters/aws/eks-token.js';
import {
  httpsGet,
  parseStsAnswer,
  redisSingleUse,
  StsCallerVerifier,
} from '../../src/adapters/aws/sts-caller-verifier.js';
import { iamUniqueIdOf } from '../../src/adapters/identity/unique-id.js';
import { AUDIENCE_HEADER } from '../../src/domain/caller-token.js';
import { systemClock } from '../../src/domain/clock.js';
import { AccessError } from '../../src/domain/errors.js';
import { platform, uniqueName } from '../platform/context.js';
import { type AwsUser, type StrictAws, startStrictAws } from '../platform/strict-aws.js';
import { callerToken, presignCallerUrl, tokenOf } from '../support/caller-tokens.js';
import { type StsFront, startStsFront } from '../support/sts-front.js';

const AUDIENCE = 'prod-eu';
/** An identity policy that allows nothing of note (GetCallerIdentity needs no permission on AWS). */
const NOTHING_ELSE = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 'sts:GetCallerIdentity', Resource: '*' }],
};
const IMPOSTOR = 'sts.us-east-1.amazonaws.com.evil.example.com';

let aws: StrictAws;
let front: StsFront;
let alice: AwsUser;
let stsHost: string;
const redis = new Redis(platform().redisUrl);

beforeAll(async () => {
  aws = await startStrictAws(uniqueName('ministack-caller'));
  stsHost = `sts.${aws.region}.amazonaws.com`;
  front = await startStsFront(platform().runDir, aws.endpoint, {
    stsHosts: [stsHost],
    impostorHosts: [IMPOSTOR],
    // What an attacker's server says: "this is the account's administrator".
    impostorAnswer: JSON.stringify({
      GetCallerIdentityResponse: {
        GetCallerIdentityResult: {
          Arn: `arn:aws:iam::${aws.accountId}:user/admin`,
          Account: aws.accountId,
          UserId: 'AIDAADMIN',
        },
      },
    }),
  });
  alice = await aws.createUser('alice', NOTHING_ELSE);
});
afterAll(async () => {
  await front?.close();
  await aws?.stop();
  await redis.quit();
});

function verifier(accounts = [aws.accountId]): StsCallerVerifier {
  return new StsCallerVerifier({
    rules: { stsHosts: [stsHost], audience: AUDIENCE },
    accounts,
    singleUse: redisSingleUse(redis, `{${uniqueName('caller')}}:`),
    uniqueIdOf: iamUniqueIdOf(aws.iamAs(aws.rootOf(aws.accountId))),
    clock: systemClock,
    get: httpsGet(front.agent),
  });
}

/** The rule a refusal names, or the principal it accepted. */
async function outcome(v: StsCallerVerifier, token: string): Promise<string> {
  try {
    return (await v.verify(token)).principalArn;
  } catch (error) {
    if (!(error instanceof AccessError)) throw error;
    return `refused:${String(error.details['token'])}`;
  }
}

/** What the emulator itself answers for a token's URL sent with this installation's headers. */
async function emulatorSays(url: string): Promise<string> {
  const answer = await httpsGet(front.agent)(url, { host: stsHost, [AUDIENCE_HEADER]: AUDIENCE });
  return parseStsAnswer(answer.body)?.arn ?? `HTTP ${answer.status}`;
}

describe('the API caller verifier, against STS that checks signatures', () => {
  it('accepts a fresh token signed for this installation, as the user STS names', async () => {
    const token = await callerToken({
      credentials: alice.credentials,
      region: aws.region,
      audience: AUDIENCE,
      signedAt: Date.now(),
    });
    expect(await outcome(verifier(), token)).toBe(alice.arn);
  });

  it('refuses a token used twice', async () => {
    const v = verifier();
    const token = await callerToken({
      credentials: alice.credentials,
      region: aws.region,
      audience: AUDIENCE,
      signedAt: Date.now(),
    });
    expect(await outcome(v, token)).toBe(alice.arn);
    expect(await outcome(v, token)).toBe('refused:reused');
  });

  it('refuses a token made for a cluster (x-k8s-aws-id), whole or unwrapped', async () => {
    const eksToken = await presignEksToken({
      clusterName: 'prod-eu',
      region: aws.region,
      credentials: alice.credentials,
      now: Date.now(),
    });
    expect(await outcome(verifier(), eksToken)).toBe('refused:cluster-token');
    const url = Buffer.from(eksToken.slice('k8s-aws-v1.'.length), 'base64url').toString();
    expect(await outcome(verifier(), tokenOf(url))).toBe('refused:audience');
  });

  it('refuses a token signed for another installation: STS finds the signature does not match', async () => {
    const token = await callerToken({
      credentials: alice.credentials,
      region: aws.region,
      audience: 'staging',
      signedAt: Date.now(),
    });
    expect(await outcome(verifier(), token)).toBe('refused:sts-refused');
  });

  it('refuses a long expiry and an old date that STS itself would still accept', async () => {
    const longUrl = await presignCallerUrl({
      credentials: alice.credentials,
      region: aws.region,
      audience: AUDIENCE,
      signedAt: Date.now(),
      expiresIn: 900,
    });
    expect(await emulatorSays(longUrl)).toBe(alice.arn);
    expect(await outcome(verifier(), tokenOf(longUrl))).toBe('refused:expires');

    const oldUrl = await presignCallerUrl({
      credentials: alice.credentials,
      region: aws.region,
      audience: AUDIENCE,
      signedAt: Date.now() - 5 * 60_000,
      expiresIn: 900,
    });
    expect(await emulatorSays(oldUrl)).toBe(alice.arn);
    expect(await outcome(verifier(), tokenOf(oldUrl))).toBe('refused:date');
  });

  it('refuses a token for a host that is not STS, and never asks it', async () => {
    const url = await presignCallerUrl({
      credentials: alice.credentials,
      region: aws.region,
      host: IMPOSTOR,
      audience: AUDIENCE,
      signedAt: Date.now(),
    });
    // Asked, that host would name anyone the attacker likes.
    const forged = await httpsGet(front.agent)(url, { host: IMPOSTOR });
    expect(parseStsAnswer(forged.body)?.arn).toBe(`arn:aws:iam::${aws.accountId}:user/admin`);
    const hitsBefore = front.impostorHits.length;
    expect(await outcome(verifier(), tokenOf(url))).toBe('refused:host');
    expect(front.impostorHits.length).toBe(hitsBefore);
  });

  it('refuses a caller from an account not on the allow-list', async () => {
    const token = await callerToken({
      credentials: alice.credentials,
      region: aws.region,
      audience: AUDIENCE,
      signedAt: Date.now(),
    });
    expect(await outcome(verifier(['999988887777']), token)).toBe('refused:account');
  });

  it('refuses a token of a user deleted since it was signed', async () => {
    const bob = await aws.createUser('bob', NOTHING_ELSE);
    const token = await callerToken({
      credentials: bob.credentials,
      region: aws.region,
      audience: AUDIENCE,
      signedAt: Date.now(),
    });
    const iam = aws.iamAs(aws.rootOf(aws.accountId));
    const keys = await iam.send(new ListAccessKeysCommand({ UserName: bob.name }));
    for (const key of keys.AccessKeyMetadata ?? []) {
      await iam.send(new DeleteAccessKeyCommand({ UserName: bob.name, AccessKeyId: key.AccessKeyId }));
    }
    await iam.send(new DeleteUserCommand({ UserName: bob.name }));
    expect(await outcome(verifier(), token)).toMatch(/^refused:(sts-refused|unique-id)$/);
  });

  it('refuses a session of a role deleted and created again under its name, which STS still answers for', async () => {
    const iam = aws.iamAs(aws.rootOf(aws.accountId));
    const roleName = uniqueName('recreated');
    const trust = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${aws.accountId}:root` },
          Action: 'sts:AssumeRole',
        },
      ],
    });
    const role = (
      await iam.send(new CreateRoleCommand({ RoleName: roleName, AssumeRolePolicyDocument: trust }))
    ).Role;
    const sts = new STSClient({
      region: aws.region,
      endpoint: aws.endpoint,
      credentials: aws.rootOf(aws.accountId),
    });
    const session = (await sts.send(new AssumeRoleCommand({ RoleArn: role?.Arn, RoleSessionName: 'old' })))
      .Credentials;
    sts.destroy();
    const credentials = {
      accessKeyId: session?.AccessKeyId ?? '',
      secretAccessKey: session?.SecretAccessKey ?? '',
      sessionToken: session?.SessionToken ?? '',
    };
    const sign = (ago = 0) =>
      presignCallerUrl({ credentials, region: aws.region, audience: AUDIENCE, signedAt: Date.now() - ago });
    const sessionArn = `arn:aws:sts::${aws.accountId}:assumed-role/${roleName}/old`;
    expect(await outcome(verifier(), tokenOf(await sign()))).toBe(role?.Arn);

    await iam.send(new DeleteRoleCommand({ RoleName: roleName }));
    await iam.send(new CreateRoleCommand({ RoleName: roleName, AssumeRolePolicyDocument: trust }));
    const url = await sign();
    expect(await emulatorSays(url)).toBe(sessionArn);
    // Signed for a second earlier, so it is not the very token the emulator just answered.
    expect(await outcome(verifier(), tokenOf(await sign(1000)))).toBe('refused:unique-id');
  });
});
