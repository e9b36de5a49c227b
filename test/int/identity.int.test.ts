// The email → IAM user tag lookup against moto: found links are cached, misses are not, and an email
// two IAM users carry is refused rather than guessed.
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

  it('refuses an email that two IAM users carry, names both and what to fix, and never picks one', async () => {
    const iam = new IAMClient(awsClientConfig('iam'));
    const resolver = new PolicyIdentityResolver(policy, iam);
    const victim = uniqueName('victim');
    const intruder = uniqueName('intruder');
    const email = `${victim}@example.com`;
    const profile = { slackUserId: 'U0VICTIM', email };
    await iam.send(new CreateUserCommand({ UserName: victim }));
    await iam.send(new TagUserCommand({ UserName: victim, Tags: [{ Key: 'slack-email', Value: email }] }));
    const arnOf = (name: string) => `arn:aws:iam::${platform().aws.accountId}:user/${name}`;
    // One user with the email: that is the person (and, in the fresh resolver below, not cached yet).
    expect(await new PolicyIdentityResolver(policy, iam).principalFor(profile)).toBe(arnOf(victim));

    // Someone who may tag IAM users puts the same email on their own user (in another case).
    await iam.send(new CreateUserCommand({ UserName: intruder }));
    await iam.send(
      new TagUserCommand({ UserName: intruder, Tags: [{ Key: 'slack-email', Value: email.toUpperCase() }] }),
    );
    const refusal = resolver.principalFor(profile);
    await expect(refusal).rejects.toMatchObject({
      kind: 'misconfigured',
      message: expect.stringContaining('is the `slack-email` tag of 2 IAM users'),
      hint: expect.stringContaining('remove the `slack-email` tag from every IAM user that is not yours'),
      details: expect.objectContaining({ identity: 'ambiguous-email' }),
    });
    const message = await refusal.catch((error: Error) => error.message);
    expect(message).toContain(arnOf(victim));
    expect(message).toContain(arnOf(intruder));

    // Once the admin removes the intruder's tag, the person is found again.
    await iam.send(new UntagUserCommand({ UserName: intruder, TagKeys: ['slack-email'] }));
    expect(await resolver.principalFor(profile)).toBe(arnOf(victim));
  });
});
