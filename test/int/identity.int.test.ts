// The email → IAM user tag lookup against moto: found links are cached, misses are not.
import { CreateUserCommand, IAMClient, TagUserCommand, UntagUserCommand } from '@aws-sdk/client-iam';
import { describe, expect, it } from 'vitest';
import { PolicyIdentityResolver } from '../../src/adapters/identity/aws-identity.js';
import { parsePolicy } from '../../src/config/load.js';
import { awsClientConfig, platform, uniqueName } from '../platform/context.js';

const { policy } = parsePolicy(`
identities:
  emailTag: { enabled: true, tagKey: slack-email }
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
clusters:
  dev:
    region: us-east-1
    accountId: "123456789012"
    connection: { kubeconfig: {} }
    identityMapping: none
    usernameTemplate: "{email}"
    namespaces:
      - { name: test, approvers: { users: [U0ANA] }, channel: C0APPROVAL, levels: [view] }
`);

describe('email → IAM user lookup', () => {
  it('keeps a found link for ten minutes, and sees a newly tagged user at once', async () => {
    const iam = new IAMClient(awsClientConfig('iam'));
    let now = 1_000_000;
    const resolver = new PolicyIdentityResolver(policy, iam, { now: () => now });
    const userName = uniqueName('dev');
    const email = `${userName}@example.com`;
    const profile = { slackUserId: 'U0LOOKUP', email };

    // Not tagged yet: a miss, with the exact fix, and not remembered.
    await expect(resolver.principalFor(profile)).rejects.toMatchObject({
      kind: 'not_found',
      hint: expect.stringContaining(`slack-email=${email}`),
    });
    await iam.send(new CreateUserCommand({ UserName: userName }));
    await iam.send(new TagUserCommand({ UserName: userName, Tags: [{ Key: 'slack-email', Value: email }] }));
    const arn = `arn:aws:iam::${platform().aws.accountId}:user/${userName}`;
    expect(await resolver.principalFor(profile)).toBe(arn);

    // Untagged: still answered from the cache within ten minutes, then looked up again.
    await iam.send(new UntagUserCommand({ UserName: userName, TagKeys: ['slack-email'] }));
    now += 9 * 60_000;
    expect(await resolver.principalFor(profile)).toBe(arn);
    now += 2 * 60_000;
    await expect(resolver.principalFor(profile)).rejects.toMatchObject({ kind: 'not_found' });
  });
});
