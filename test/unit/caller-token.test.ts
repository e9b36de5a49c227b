// Every local rule of the API's caller verifier (domain/caller-token.ts), each tried the way an attacker
// would: a correct token passes, and each token broken in one way is refused naming that rule.
import { describe, expect, it } from 'vitest';
import {
  parseStsAnswer,
  type StsAnswer,
  StsCallerVerifier,
} from '../../src/adapters/aws/sts-caller-verifier.js';
import {
  AUDIENCE_HEADER,
  assertSameUniqueId,
  type CallerTokenRules,
  defaultStsHosts,
  judgeStsCaller,
  parseAmzDate,
  readCallerToken,
} from '../../src/domain/caller-token.js';
import { AccessError } from '../../src/domain/errors.js';
import { callerToken, presignCallerUrl, tokenOf } from '../support/caller-tokens.js';

const credentials = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};
const now = Date.UTC(2026, 11, 5, 10, 30, 0);
const rules: CallerTokenRules = { stsHosts: defaultStsHosts(['us-east-1', 'eu-west-1']), audience: 'prod' };

/** The rule a refusal names (details.token), or 'accepted'. */
function ruleOf(token: string, at = now): string {
  try {
    readCallerToken(token, rules, at);
    return 'accepted';
  } catch (error) {
    if (!(error instanceof AccessError)) throw error;
    if (token.length > 60) expect(error.message).not.toContain(token.slice(20, 60));
    return String(error.details['token']);
  }
}

/** A token URL edited after signing (the signature no longer matters: the local rules come first). */
async function edited(edit: (url: URL) => void, options = {}): Promise<string> {
  const url = new URL(await presignCallerUrl({ credentials, signedAt: now, audience: 'prod', ...options }));
  edit(url);
  return tokenOf(url.href);
}

describe('a caller token, before anything is sent', () => {
  it('is accepted when it is a fresh presigned GetCallerIdentity for an allowed STS host and this audience', async () => {
    const token = await callerToken({ credentials, signedAt: now - 5_000, audience: 'prod' });
    const request = readCallerToken(token, rules, now);
    expect(new URL(request.url).host).toBe('sts.us-east-1.amazonaws.com');
    expect(request.headers).toEqual({ host: 'sts.us-east-1.amazonaws.com', [AUDIENCE_HEADER]: 'prod' });
    expect(request.validUntil).toBe(now + 55_000);
    expect(request.accessKeyId).toBe(credentials.accessKeyId);
    expect(request.signature).toMatch(/^[0-9a-f]{64}$/);
  });

  it('sends this installation’s audience, whatever the caller signed (STS then refuses a mismatch)', async () => {
    const token = await callerToken({ credentials, signedAt: now, audience: 'staging' });
    expect(readCallerToken(token, rules, now).headers[AUDIENCE_HEADER]).toBe('prod');
  });

  it('is refused when it is not a token at all', () => {
    expect(ruleOf('Bearer something')).toBe('format');
    expect(ruleOf('eks-access-v1.not base64!')).toBe('format');
    expect(ruleOf(`eks-access-v1.${Buffer.from('no url here').toString('base64url')}`)).toBe('format');
  });

  it('is refused when it is a cluster token, whole or as its URL', async () => {
    expect(ruleOf('k8s-aws-v1.aHR0cHM6Ly9zdHM')).toBe('cluster-token');
    const url = await presignCallerUrl({
      credentials,
      signedAt: now,
      headers: { host: 'sts.us-east-1.amazonaws.com', 'x-k8s-aws-id': 'prod-eu' },
    });
    expect(ruleOf(tokenOf(url))).toBe('audience');
  });

  it('is refused when it signs other headers than host and the audience header', async () => {
    const onlyHost = await presignCallerUrl({
      credentials,
      signedAt: now,
      headers: { host: 'sts.us-east-1.amazonaws.com' },
    });
    expect(ruleOf(tokenOf(onlyHost))).toBe('audience');
    const more = await presignCallerUrl({
      credentials,
      signedAt: now,
      headers: { host: 'sts.us-east-1.amazonaws.com', [AUDIENCE_HEADER]: 'prod', 'x-extra': 'a' },
    });
    expect(ruleOf(tokenOf(more))).toBe('audience');
  });

  it('is refused for any host that is not exactly an allowed STS endpoint', async () => {
    for (const host of [
      'sts.us-west-2.amazonaws.com', // a real STS, not on this installation's list
      'evil.example.com',
      'sts.us-east-1.amazonaws.com.evil.example.com',
      'sts.us-east-1.amazonaws.com.',
      '169.254.169.254',
      'localhost',
    ]) {
      expect(ruleOf(await callerToken({ credentials, signedAt: now, host, audience: 'prod' })), host).toBe(
        'host',
      );
    }
    expect(
      ruleOf(
        await edited((u) => {
          u.port = '8443';
        }),
      ),
    ).toBe('host');
    expect(
      ruleOf(
        await edited((u) => {
          u.username = 'a';
        }),
      ),
    ).toBe('host');
  });

  it('is refused unless it is https, path /, without a fragment', async () => {
    expect(
      ruleOf(
        await edited((u) => {
          u.protocol = 'http:';
        }),
      ),
    ).toBe('scheme');
    expect(
      ruleOf(
        await edited((u) => {
          u.pathname = '/redirect';
        }),
      ),
    ).toBe('path');
    expect(
      ruleOf(
        await edited((u) => {
          u.hash = 'x';
        }),
      ),
    ).toBe('path');
  });

  it('is refused for another action, another version, extra or repeated parameters', async () => {
    expect(ruleOf(await edited((u) => u.searchParams.set('Action', 'AssumeRole')))).toBe('action');
    expect(ruleOf(await edited((u) => u.searchParams.set('Version', '2020-01-01')))).toBe('action');
    expect(ruleOf(await edited((u) => u.searchParams.append('RoleArn', 'arn:aws:iam::1:role/x')))).toBe(
      'params',
    );
    expect(ruleOf(await edited((u) => u.searchParams.append('Action', 'GetCallerIdentity')))).toBe('params');
    expect(ruleOf(await edited((u) => u.searchParams.append('x-amz-date', '20261205T103000Z')))).toBe(
      'params',
    );
    expect(ruleOf(await edited((u) => u.searchParams.delete('X-Amz-Signature')))).toBe('params');
    // Signed that way by the caller themselves: still refused.
    const signedExtra = await callerToken({
      credentials,
      signedAt: now,
      audience: 'prod',
      query: { DurationSeconds: '900' },
    });
    expect(ruleOf(signedExtra)).toBe('params');
  });

  it('is refused with a malformed signature, algorithm or credential scope', async () => {
    expect(ruleOf(await edited((u) => u.searchParams.set('X-Amz-Signature', 'abc')))).toBe('signature');
    expect(ruleOf(await edited((u) => u.searchParams.set('X-Amz-Algorithm', 'AWS4-HMAC-SHA1')))).toBe(
      'signature',
    );
    expect(
      ruleOf(
        await edited((u) =>
          u.searchParams.set('X-Amz-Credential', 'AKIAIOSFODNN7EXAMPLE/20261205/us-east-1/s3/aws4_request'),
        ),
      ),
    ).toBe('signature');
  });

  it('is refused with an expiry over a minute, however the caller signed it', async () => {
    expect(ruleOf(await callerToken({ credentials, signedAt: now, audience: 'prod', expiresIn: 61 }))).toBe(
      'expires',
    );
    expect(ruleOf(await callerToken({ credentials, signedAt: now, audience: 'prod', expiresIn: 900 }))).toBe(
      'expires',
    );
    expect(ruleOf(await edited((u) => u.searchParams.set('X-Amz-Expires', '0')))).toBe('expires');
    expect(ruleOf(await edited((u) => u.searchParams.set('X-Amz-Expires', '1e3')))).toBe('expires');
  });

  it('is refused when old, expired, dated in the future or dated inconsistently', async () => {
    expect(ruleOf(await callerToken({ credentials, signedAt: now - 61_000, audience: 'prod' }))).toBe('date');
    expect(
      ruleOf(await callerToken({ credentials, signedAt: now - 11_000, audience: 'prod', expiresIn: 10 })),
    ).toBe('expired');
    expect(ruleOf(await callerToken({ credentials, signedAt: now + 31_000, audience: 'prod' }))).toBe('date');
    expect(ruleOf(await callerToken({ credentials, signedAt: now + 20_000, audience: 'prod' }))).toBe(
      'accepted',
    );
    expect(ruleOf(await edited((u) => u.searchParams.set('X-Amz-Date', '20261204T103000Z')))).toBe('date');
    expect(ruleOf(await edited((u) => u.searchParams.set('X-Amz-Date', '2026-12-05T10:30:00Z')))).toBe(
      'date',
    );
  });

  it('reads X-Amz-Date exactly', () => {
    expect(parseAmzDate('20261205T103000Z')).toBe(now);
    expect(parseAmzDate('20260231T103000Z')).toBeUndefined();
    expect(parseAmzDate('20261205T253000Z')).toBeUndefined();
    expect(parseAmzDate('20261205T103000')).toBeUndefined();
  });

  it('has AWS’s STS hosts for the regions as the default allow-list, China under .cn', () => {
    expect(defaultStsHosts(['eu-west-1', 'cn-north-1'])).toEqual([
      'sts.amazonaws.com',
      'sts.eu-west-1.amazonaws.com',
      'sts.cn-north-1.amazonaws.com.cn',
    ]);
  });
});

describe("STS's answer", () => {
  const user = {
    arn: 'arn:aws:iam::111122223333:user/alice',
    account: '111122223333',
    userId: 'AIDAEXAMPLE1',
  };
  const session = {
    arn: 'arn:aws:sts::111122223333:assumed-role/ci-deployer/build-42',
    account: '111122223333',
    userId: 'AROAEXAMPLE2:build-42',
  };
  const refusal = (caller: typeof user, accounts = ['111122223333']) => {
    try {
      judgeStsCaller(caller, accounts);
      return 'accepted';
    } catch (error) {
      return String((error as AccessError).details['token']);
    }
  };

  it('names an IAM user or a role session, as the principal the identity sources know', () => {
    expect(judgeStsCaller(user, ['111122223333'])).toMatchObject({
      kind: 'user',
      principalArn: user.arn,
      uniqueId: 'AIDAEXAMPLE1',
    });
    expect(judgeStsCaller(session, ['111122223333'])).toMatchObject({
      kind: 'assumed-role',
      principalArn: 'arn:aws:iam::111122223333:role/ci-deployer',
      uniqueId: 'AROAEXAMPLE2',
    });
  });

  it('is refused from an account not on the allow-list', () => {
    expect(refusal(user, ['444455556666'])).toBe('account');
  });

  it('is refused when it disagrees with itself, or names root or a federated user', () => {
    expect(refusal({ ...user, account: '444455556666' }, ['444455556666'])).toBe('answer');
    expect(refusal({ ...user, userId: 'AROAEXAMPLE2:build-42' })).toBe('answer');
    expect(refusal({ ...session, userId: 'AROAEXAMPLE2:other-session' })).toBe('answer');
    expect(refusal({ ...user, arn: 'arn:aws:iam::111122223333:root', userId: '111122223333' })).toBe('kind');
    expect(
      refusal({ ...user, arn: 'arn:aws:sts::111122223333:federated-user/bob', userId: '111122223333:bob' }),
    ).toBe('kind');
  });

  it('is refused when the user or role was re-created (same name, new unique id) or deleted', () => {
    const verified = judgeStsCaller(user, ['111122223333']);
    expect(() => assertSameUniqueId(verified, 'AIDAEXAMPLE1')).not.toThrow();
    expect(() => assertSameUniqueId(verified, 'AIDANEWONE')).toThrow(/deleted and created again/);
    expect(() => assertSameUniqueId(verified, undefined)).toThrow(/no longer exists/);
  });

  it('is read from JSON or XML, and nothing else', () => {
    const json = JSON.stringify({
      GetCallerIdentityResponse: {
        GetCallerIdentityResult: { Arn: user.arn, Account: user.account, UserId: user.userId },
      },
    });
    expect(parseStsAnswer(json)).toEqual(user);
    const xml = `<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>${user.arn}</Arn><UserId>${user.userId}</UserId><Account>${user.account}</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`;
    expect(parseStsAnswer(xml)).toEqual(user);
    expect(parseStsAnswer(xml.replace('</Arn>', '</Arn><Arn>arn:aws:iam::1:user/x</Arn>'))).toBeUndefined();
    expect(parseStsAnswer('<html>hello</html>')).toBeUndefined();
  });
});

describe('the verifier', () => {
  const answer = (caller: { Arn: string; Account: string; UserId: string }): StsAnswer => ({
    status: 200,
    body: JSON.stringify({ GetCallerIdentityResponse: { GetCallerIdentityResult: caller } }),
  });
  const alice = { Arn: 'arn:aws:iam::111122223333:user/alice', Account: '111122223333', UserId: 'AIDAALICE' };

  function verifier(get: (url: string) => Promise<StsAnswer>, ids: Record<string, string> = {}) {
    const used = new Set<string>();
    const sent: string[] = [];
    const v = new StsCallerVerifier({
      rules,
      accounts: ['111122223333'],
      clock: { now: () => now },
      singleUse: { claim: async (key) => !used.has(key) && Boolean(used.add(key)) },
      uniqueIdOf: async (arn) => ids[arn],
      get: async (url) => {
        sent.push(url);
        return get(url);
      },
    });
    return { v, sent };
  }

  it('believes STS, once per token', async () => {
    const { v, sent } = verifier(async () => answer(alice), { [alice.Arn]: 'AIDAALICE' });
    const token = await callerToken({ credentials, signedAt: now, audience: 'prod' });
    expect(await v.verify(token)).toMatchObject({ principalArn: alice.Arn });
    await expect(v.verify(token)).rejects.toMatchObject({ kind: 'forbidden', details: { token: 'reused' } });
    expect(sent).toHaveLength(1);
  });

  it('sends nothing for a token the local rules refuse', async () => {
    const { v, sent } = verifier(async () => answer(alice));
    await expect(
      v.verify(await callerToken({ credentials, signedAt: now, host: 'evil.example.com' })),
    ).rejects.toMatchObject({
      kind: 'forbidden',
    });
    expect(sent).toEqual([]);
  });

  it('refuses what STS refuses, a redirect included, and is unavailable when STS is down', async () => {
    const refused = verifier(async () => ({ status: 403, body: '<Error>SignatureDoesNotMatch</Error>' }));
    await expect(
      refused.v.verify(await callerToken({ credentials, signedAt: now, audience: 'prod' })),
    ).rejects.toMatchObject({
      kind: 'forbidden',
      details: { token: 'sts-refused' },
    });
    const redirected = verifier(async () => ({ status: 302, body: '' }));
    await expect(
      redirected.v.verify(await callerToken({ credentials, signedAt: now, audience: 'prod' })),
    ).rejects.toMatchObject({
      details: { token: 'sts-refused' },
    });
    const down = verifier(async () => {
      throw new Error('ECONNREFUSED');
    });
    await expect(
      down.v.verify(await callerToken({ credentials, signedAt: now, audience: 'prod' })),
    ).rejects.toMatchObject({
      kind: 'unavailable',
    });
  });

  it('refuses a re-created principal', async () => {
    const { v } = verifier(async () => answer(alice), { [alice.Arn]: 'AIDANEWALICE' });
    await expect(
      v.verify(await callerToken({ credentials, signedAt: now, audience: 'prod' })),
    ).rejects.toMatchObject({
      details: { token: 'unique-id' },
    });
  });
});
