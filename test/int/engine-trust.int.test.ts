// The personal role's trust policy, enforced: on the strict emulator (test/platform/strict-aws.ts,
// ministack with AUTH=true, which verifies signatures and evaluates trust policies and their conditions)
// the engine's own IAM adapter (AwsIamRoles, the code path a grant takes), signing as a user with exactly
// the worker's rendered IAM policy, creates and retires the role (and cannot give it a permission),
// and real IAM users sign sts:AssumeRole with their own access keys. Only the person named in the trust
// policy gets in; an account administrator does not (the runbook's "AccessDenied on sts:AssumeRole even as
// an account admin", by design); a trust whose time has passed, a closed trust and a deleted role refuse
// the person too.
import { CreateRoleCommand, GetRoleCommand, type IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { InitializeMiddleware, MiddlewareStack } from '@smithy/types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsCredentials } from '../../src/adapters/aws/eks-token.js';
import { AwsIamRoles } from '../../src/adapters/aws/iam-roles.js';
import { renderIamPolicies } from '../../src/domain/bot-permissions.js';
import { personalRoleFor } from '../../src/domain/plan.js';
import { uniqueName } from '../platform/context.js';
import { type AwsUser, type StrictAws, startStrictAws } from '../platform/strict-aws.js';
import { strictPolicy } from '../support/strict-eks.js';

let aws: StrictAws;
beforeAll(async () => {
  aws = await startStrictAws(uniqueName('ministack-trust'));
});
afterAll(async () => {
  await aws?.stop();
});

const stsAs = (credentials: AwsCredentials) =>
  new STSClient({ region: aws.region, endpoint: aws.endpoint, credentials });

/** A user whose one inline policy allows `action` on everything. */
const allowedTo = (prefix: string, action: string) =>
  aws.createUser(prefix, {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: action, Resource: '*' }],
  });

/** A person as people are set up: allowed to call sts:AssumeRole, nothing else. */
const person = (prefix: string) => allowedTo(prefix, 'sts:AssumeRole');

/** An account administrator: the AWS managed AdministratorAccess policy. */
const admin = (prefix: string) => aws.createUser(prefix, 'arn:aws:iam::aws:policy/AdministratorAccess');

/** The cluster every plan here is for, unless a test names its own. */
const CLUSTER = uniqueName('trust');

/**
 * The worker's own IAM client: an IAM user with the actions of the worker policy the renderer gives this
 * cluster (`eks-access iam-policy render --for worker`), so every call below is made with the shipped
 * action list, and an action it lacks is refused by the emulator. One adjustment: ministack matches a
 * role's ARN without its path (`role/<name>`; real IAM uses `role/eks-access/<cluster>/<name>`), so the
 * path is dropped from the resources here — the path limit itself is checked by the renderer's tests.
 */
async function botRoles(cluster = CLUSTER): Promise<{ roles: AwsIamRoles; iam: IAMClient }> {
  const rendered = renderIamPolicies(policyFor(cluster)).worker;
  const forEmulator = JSON.parse(
    JSON.stringify(rendered).replaceAll(`:role/eks-access/${cluster}/*`, ':role/*'),
  );
  const bot = await aws.createUser('eks-access-worker', forEmulator);
  const iam = aws.iamAs(bot.credentials);
  return { roles: new AwsIamRoles(iam), iam };
}

const policyFor = (cluster: string) => strictPolicy(aws, cluster, { name: 'trust-policy' });

/** The person's role on a fresh cluster, trusted until `expiresAt`, as a grant plans it. */
function planFor(who: AwsUser, expiresAt: number, cluster = CLUSTER) {
  return personalRoleFor(policyFor(cluster), {
    cluster,
    principalArn: who.arn,
    username: `eks-access:${who.name}`,
    expiresAt,
  });
}

type Assumed = { ok: true; arn: string } | { ok: false; error: string; status: number | undefined };

/** sts:AssumeRole as `who`, signed with their own key: what `aws eks get-token --role-arn` does. */
async function assume(who: AwsUser, roleArn: string): Promise<Assumed> {
  try {
    const out = await stsAs(who.credentials).send(
      new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: who.name.slice(0, 64) }),
    );
    return { ok: true, arn: out.AssumedRoleUser?.Arn ?? '' };
  } catch (error) {
    const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
    return { ok: false, error: e.name ?? String(error), status: e.$metadata?.httpStatusCode };
  }
}

const denied = { ok: false, error: 'AccessDenied', status: 403 };

const HOUR = 3_600_000;

describe('the personal role trust policy on a strict emulator', () => {
  it('lets the person assume their role and refuses an account administrator', async () => {
    const { roles, iam } = await botRoles();
    const alice = await person('alice');
    const mallory = await admin('mallory');
    const plan = planFor(alice, Date.now() + HOUR);
    await roles.ensureRole(plan);

    // The role the plan names is the role IAM made (path included).
    const made = await iam.send(new GetRoleCommand({ RoleName: plan.name }));
    expect(made.Role?.Arn).toBe(plan.arn);

    // The owner gets a session of the role.
    const session = await assume(alice, plan.arn);
    expect(session).toEqual({
      ok: true,
      arn: `arn:aws:sts::${aws.accountId}:assumed-role/${plan.name}/${alice.name.slice(0, 64)}`,
    });

    // The administrator's identity permissions are real here: AdministratorAccess lets them read the
    // role and assume a role whose trust names the account...
    const adminIam = aws.iamAs(mallory.credentials);
    expect((await adminIam.send(new GetRoleCommand({ RoleName: plan.name }))).Role?.Arn).toBe(plan.arn);
    const accountTrusting = await aws.iamAs(aws.rootOf(aws.accountId)).send(
      new CreateRoleCommand({
        RoleName: uniqueName('account-trusting'),
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { AWS: `arn:aws:iam::${aws.accountId}:root` },
              Action: 'sts:AssumeRole',
            },
          ],
        }),
      }),
    );
    expect(await assume(mallory, accountTrusting.Role?.Arn ?? '')).toMatchObject({ ok: true });
    // ...but the personal role names only its person: AccessDenied, for the admin as for anyone.
    expect(await assume(mallory, plan.arn)).toEqual(denied);
    // And another person with the same permissions as Alice.
    const bob = await person('bob');
    expect(await assume(bob, plan.arn)).toEqual(denied);
    // Alice's own identity is what the trust matched (her key, her ARN).
    const me = await stsAs(alice.credentials).send(new GetCallerIdentityCommand({}));
    expect(me.Arn).toBe(alice.arn);
  });

  it('refuses the person once the role is retired: first by the closed trust, then by the deleted role', async () => {
    const { roles, iam } = await botRoles();
    const alice = await person('alice');
    const plan = planFor(alice, Date.now() + HOUR);
    await roles.ensureRole(plan);
    expect(await assume(alice, plan.arn)).toMatchObject({ ok: true });

    // The worker cannot give the personal role a permission: its policy has no PutRolePolicy.
    await expect(
      iam.send(
        new PutRolePolicyCommand({
          RoleName: plan.name,
          PolicyName: 'widen',
          PolicyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
          }),
        }),
      ),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });

    // A retirement that fails after its first step (closing the trust): the role still exists, and
    // already refuses the person. This is the order retireRole relies on.
    const failing = aws.iamAs((await iam.config.credentials()) as AwsCredentials);
    const stopAfterTrust: InitializeMiddleware<object, object> = (next, context) => async (args) => {
      if (context.commandName === 'DeleteRoleCommand') throw new Error('injected: DeleteRole fails');
      return next(args);
    };
    (failing.middlewareStack as unknown as MiddlewareStack<object, object>).add(stopAfterTrust, {
      step: 'initialize',
      name: 'stopAfterTrust',
    });
    await expect(new AwsIamRoles(failing).retireRole(plan.name, alice.arn, Date.now())).rejects.toThrow();
    const closed = await iam.send(new GetRoleCommand({ RoleName: plan.name }));
    expect(closed.Role?.Arn).toBe(plan.arn);
    expect(decodeURIComponent(closed.Role?.AssumeRolePolicyDocument ?? '')).toContain(alice.arn);
    expect(await assume(alice, plan.arn)).toEqual(denied);

    // The whole retirement: the role is gone, and AssumeRole is refused the same way.
    await roles.retireRole(plan.name, alice.arn, Date.now());
    await expect(iam.send(new GetRoleCommand({ RoleName: plan.name }))).rejects.toMatchObject({
      name: 'NoSuchEntityException',
    });
    expect(await assume(alice, plan.arn)).toEqual(denied);
  });

  it('evaluates DateLessThan aws:CurrentTime: a trust whose time has passed refuses the person', async () => {
    const cluster = uniqueName('trust');
    const { roles } = await botRoles(cluster);
    const alice = await person('alice');
    // A grant planned with an expiry a minute ago (the emulator's clock is this machine's).
    const lapsed = planFor(alice, Date.now() - 60_000, cluster);
    await roles.ensureRole(lapsed);
    expect(await assume(alice, lapsed.arn)).toEqual(denied);

    // The same role, the same person, the trust renewed to an hour ahead (ensureRole on an existing
    // role, as an extension does): now it lets her in, so the refusal above was the time alone.
    const renewed = planFor(alice, Date.now() + HOUR, cluster);
    expect(renewed.arn).toBe(lapsed.arn);
    await roles.ensureRole(renewed);
    expect(await assume(alice, lapsed.arn)).toMatchObject({ ok: true });

    // And back: the expiry moved a second into the past refuses her again.
    await roles.ensureRole(planFor(alice, Date.now() - 1_000, cluster));
    expect(await assume(alice, lapsed.arn)).toEqual(denied);
  });
});
