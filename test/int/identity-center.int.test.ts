// IAM Identity Center people resolved against moto (its identitystore and IAM), through the resolver the
// bot and the worker build (identityResolverFor, which loads the identitystore client on first use):
// Slack email → Identity Center user → the session of the policy's permission-set role in the
// cluster's account. moto implements identitystore's CreateUser and ListUsers (with the UserName filter);
// it does not run Identity Center's provisioning, so the test creates the AWSReservedSSO_… role under
// /aws-reserved/sso.amazonaws.com/ itself, as Identity Center does when a set is assigned in an account.
import { randomBytes } from 'node:crypto';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateUserCommand, IdentitystoreClient } from '@aws-sdk/client-identitystore';
import { describe, expect, it } from 'vitest';
import { identityResolverFor } from '../../src/adapters/identity/aws-identity.js';
import { parsePolicy } from '../../src/config/load.js';
import { assertPrincipalAccepted } from '../../src/domain/decisions.js';
import { awsClientConfig, platform, uniqueName } from '../platform/context.js';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** A fresh identity store and permission-set names of its own, so runs on the same moto never meet. */
function scenario(lookup: 'email' | 'userName' = 'email') {
  const { aws } = platform();
  const storeId = `d-${hex(5)}`;
  const wanted = `EKS${hex(4)}`;
  const { policy } = parsePolicy(`
identities:
  identityCenter:
    enabled: true
    region: ${aws.region}
    identityStoreId: ${storeId}
    permissionSets: [${wanted}]
    lookup: ${lookup}
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
clusters:
  dev:
    region: ${aws.region}
    accountId: "${aws.accountId}"
    connection: { kubeconfig: {} }
    identityMapping: aws-auth
    namespaces:
      - { name: test, approvers: { users: [U0APPROVER] }, channel: C0APPROVAL, levels: [view] }
`);
  const resolver = identityResolverFor(
    policy,
    { AWS_ENDPOINT_URL_IAM: aws.iamEndpoint, AWS_REGION: aws.region },
    { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey },
    aws.iamEndpoint,
  );
  const store = new IdentitystoreClient(awsClientConfig('iam'));
  const iam = new IAMClient(awsClientConfig('iam'));
  return {
    policy,
    resolver,
    wanted,
    account: { accountId: aws.accountId },
    async user(userName: string, email: string) {
      await store.send(
        new CreateUserCommand({
          IdentityStoreId: storeId,
          UserName: userName,
          DisplayName: userName,
          Name: { GivenName: userName, FamilyName: 'Test' },
          Emails: [{ Value: email, Primary: true }],
        }),
      );
    },
    /** The role Identity Center provisions for a permission set (`path` lets a test forge one elsewhere). */
    async permissionSetRole(set: string, path = `/aws-reserved/sso.amazonaws.com/${aws.region}/`) {
      const name = `AWSReservedSSO_${set}_${hex(8)}`;
      await iam.send(
        new CreateRoleCommand({
          RoleName: name,
          Path: path,
          AssumeRolePolicyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Principal: {
                  Federated: `arn:aws:iam::${aws.accountId}:saml-provider/AWSSSO_${hex(8)}_DO_NOT_DELETE`,
                },
                Action: ['sts:AssumeRoleWithSAML', 'sts:TagSession'],
                Condition: { StringEquals: { 'SAML:aud': 'https://signin.aws.amazon.com/saml' } },
              },
            ],
          }),
        }),
      );
      return name;
    },
    close() {
      store.destroy();
      iam.destroy();
    },
  };
}

describe('Identity Center people on moto', () => {
  it("resolves a Slack email to the user's session of the policy's permission-set role, and the policy accepts it", async () => {
    const s = scenario();
    try {
      const name = uniqueName('alice');
      const email = `${name}@example.com`;
      await s.user(name, email);
      // A set the policy does not name, and a look-alike of the wanted one outside Identity Center's
      // path (anyone who may create roles could make that one), are never taken.
      await s.permissionSetRole(`Admin${hex(3)}`);
      await s.permissionSetRole(s.wanted, '/');
      const role = await s.permissionSetRole(s.wanted);
      const { accountId } = s.account;
      const expected = `arn:aws:sts::${accountId}:assumed-role/${role}/${name}`;

      expect(
        await s.resolver.principalFor({ slackUserId: 'U0ALICE', email: email.toUpperCase() }, s.account),
      ).toBe(expected);
      expect(() => assertPrincipalAccepted(s.policy, expected)).not.toThrow();
      // whoami has no cluster: the policy's first cluster's account.
      expect(await s.resolver.principalFor({ slackUserId: 'U0ALICE', email })).toBe(expected);
    } finally {
      s.close();
    }
  });

  it('refuses an email two Identity Center users carry, naming both, and never picks one', async () => {
    const s = scenario();
    try {
      const alice = uniqueName('alice');
      const mallory = uniqueName('mallory');
      const email = `${alice}@example.com`;
      await s.permissionSetRole(s.wanted);
      await s.user(alice, email);
      await s.user(mallory, email.toUpperCase());
      const refusal = s.resolver.principalFor({ slackUserId: 'U0ALICE', email }, s.account);
      await expect(refusal).rejects.toMatchObject({
        kind: 'misconfigured',
        details: expect.objectContaining({ identity: 'ambiguous-email' }),
      });
      const message = await refusal.catch((error: Error) => error.message);
      expect(message).toContain(alice);
      expect(message).toContain(mallory);
    } finally {
      s.close();
    }
  });

  it('finds the user by user name with lookup userName, and refuses an account where no accepted set is provisioned', async () => {
    const s = scenario('userName');
    try {
      const email = `${uniqueName('bob')}@example.com`;
      await s.user(email, `someone-else-${hex(3)}@example.com`);
      const profile = { slackUserId: 'U0BOB', email };
      await expect(s.resolver.principalFor(profile, s.account)).rejects.toMatchObject({
        kind: 'misconfigured',
        message: expect.stringContaining(`(${s.wanted}) is provisioned in account`),
      });
      const role = await s.permissionSetRole(s.wanted);
      expect(await s.resolver.principalFor(profile, s.account)).toBe(
        `arn:aws:sts::${s.account.accountId}:assumed-role/${role}/${email}`,
      );
    } finally {
      s.close();
    }
  });
});
