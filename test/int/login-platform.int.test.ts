// Proof that the platform's login path is EKS's (issue #8): a person's own aws CLI and kubectl, through the
// AWS gateway, the real kube-apiserver and the real aws-iam-authenticator, with mappings written by hand
// (not by the engine), so what the authenticator accepts is shown apart from what the engine writes.
//   - update-kubeconfig finds the login cluster's real endpoint and CA (ministack's placeholder corrected);
//   - aws-auth: a role mapped path-less logs in; the same role mapped with its IAM path is refused
//     ("identity is not mapped": a session of the role canonicalises to the path-less ARN);
//   - access entries (DynamicFile stand-in): the full ARN, path included, logs in; deletion refuses.

import { readFile } from 'node:fs/promises';
import { CreateAccessEntryCommand, DeleteAccessEntryCommand, EKSClient } from '@aws-sdk/client-eks';
import {
  CreateAccessKeyCommand,
  CreateRoleCommand,
  type CreateRoleCommandInput,
  CreateUserCommand,
  DeleteRoleCommand,
  IAMClient,
} from '@aws-sdk/client-iam';
import { ApiException, CoreV1Api } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { adminKubeConfig, awsClientConfig, platform, uniqueName } from '../platform/context.js';
import { pollUntil } from '../support/poll.js';
import { personalShell, type Shell, succeeded, UNAUTHORIZED } from '../support/requester-shell.js';

let shell: Shell;
let roleArn: string;
let pathlessRoleArn: string;
/** How bob's role was made, to make it again under the same ARN. */
let roleInput: CreateRoleCommandInput;
/** Bob's own keys, for a second shell of his (its own HOME, so its own kubeconfig). */
let bobKeys: { accessKeyId: string; secretAccessKey: string };
const context = 'platform-login';
const iam = () => new IAMClient(awsClientConfig('iam'));

beforeAll(async () => {
  const client = iam();
  try {
    const person = uniqueName('bob');
    const user = await client.send(new CreateUserCommand({ UserName: person }));
    const trust = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: user.User?.Arn }, Action: 'sts:AssumeRole' }],
    };
    roleInput = {
      RoleName: uniqueName('eksa-bob'),
      Path: `/eks-access/${platform().login.clusterName}/`,
      AssumeRolePolicyDocument: JSON.stringify(trust),
    };
    const role = await client.send(new CreateRoleCommand(roleInput));
    roleArn = role.Role?.Arn ?? '';
    pathlessRoleArn = roleArn.replace(/:role\/.*\//, ':role/');
    const key = (await client.send(new CreateAccessKeyCommand({ UserName: person }))).AccessKey;
    bobKeys = { accessKeyId: key?.AccessKeyId ?? '', secretAccessKey: key?.SecretAccessKey ?? '' };
    shell = await personalShell(bobKeys);
  } finally {
    client.destroy();
  }
  const { clusterName, region } = platform().login;
  succeeded(
    await shell(
      `aws eks update-kubeconfig --name ${clusterName} --region ${region} --role-arn ${roleArn} --alias ${context}`,
    ),
    'aws eks update-kubeconfig',
  );
  await assumable(roleArn);
});

/**
 * Waits until IAM lets bob assume `arn` for good: a new role propagates late, as on AWS (the gateway
 * refuses it for a seeded 1–4 s, then answers old or new at random for a while), so one success is not
 * enough; three in a row, as the worker's login probe asks.
 */
async function assumable(arn: string): Promise<void> {
  let inARow = 0;
  await pollUntil(
    `${arn} to be assumable three times in a row`,
    () =>
      shell(`aws sts assume-role --role-arn ${arn} --role-session-name ready --query AssumedRoleUser.Arn`),
    (run) => {
      inARow = run.code === 0 ? inARow + 1 : 0;
      return inARow >= 3;
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  );
}

const whoami = () =>
  shell(`kubectl --context ${context} auth whoami -o jsonpath='{.status.userInfo.username}'`);
const loggedInAs = (username: string) =>
  pollUntil(`a login as ${username}`, whoami, (run) => run.code === 0 && run.stdout.trim() === username, {
    timeoutMs: 30_000,
    intervalMs: 250,
  });
const refused = () =>
  pollUntil('the login to be refused', whoami, (run) => run.code !== 0 && UNAUTHORIZED.test(run.stderr), {
    timeoutMs: 30_000,
    intervalMs: 250,
  });

interface RoleEntry {
  rolearn: string;
  username: string;
  groups?: string[];
}

/** Rewrites mapRoles of kube-system/aws-auth with `change`, keeping every entry it does not touch. */
async function editAwsAuth(change: (roles: RoleEntry[]) => RoleEntry[]): Promise<void> {
  const core = adminKubeConfig().makeApiClient(CoreV1Api);
  for (;;) {
    let cm: Awaited<ReturnType<typeof core.readNamespacedConfigMap>> | undefined;
    try {
      cm = await core.readNamespacedConfigMap({ namespace: 'kube-system', name: 'aws-auth' });
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 404)) throw error;
    }
    const roles = ((cm?.data?.['mapRoles'] ? parse(cm.data['mapRoles']) : []) ?? []) as RoleEntry[];
    const mapRoles = stringify(change(roles));
    try {
      if (cm) {
        cm.data = { ...cm.data, mapRoles };
        await core.replaceNamespacedConfigMap({ namespace: 'kube-system', name: 'aws-auth', body: cm });
      } else {
        await core.createNamespacedConfigMap({
          namespace: 'kube-system',
          body: { metadata: { name: 'aws-auth' }, data: { mapRoles } },
        });
      }
      return;
    } catch (error) {
      // Another test file's engine edited it meanwhile (or created it): read again.
      if (!(error instanceof ApiException && (error.code === 409 || error.code === 404))) throw error;
    }
  }
}

describe('logging in as on EKS (aws CLI → kube-apiserver → aws-iam-authenticator)', () => {
  it("update-kubeconfig gets the login cluster's real endpoint and CA, and an unmapped role is refused", async () => {
    const { kube } = platform();
    const config = succeeded(
      await shell(`kubectl config view --raw --minify --context ${context} -o json`),
      'view',
    );
    const cluster = (JSON.parse(config) as { clusters: { cluster: Record<string, string> }[] }).clusters[0]
      ?.cluster;
    expect(cluster?.['server']).toBe(kube.server);
    expect(cluster?.['certificate-authority-data']).toBe((await readFile(kube.caFile)).toString('base64'));
    const run = await whoami();
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(UNAUTHORIZED);
  });

  it('aws-auth: the path-less rolearn logs in; the same role written with its path is refused', async () => {
    const username = `platform:${pathlessRoleArn.split('/').pop()}`;
    const mine = (r: RoleEntry) => r.rolearn !== roleArn && r.rolearn !== pathlessRoleArn;
    try {
      await editAwsAuth((roles) => [
        ...roles.filter(mine),
        { rolearn: pathlessRoleArn, username, groups: [] },
      ]);
      await loggedInAs(username);
      // One edit swaps the path-less entry for the one with the path: once the path-less one is gone
      // for the authenticator, so is the document without the path, and the login must be refused.
      await editAwsAuth((roles) => [...roles.filter(mine), { rolearn: roleArn, username, groups: [] }]);
      await refused();
      expect(await readFile(platform().login.authenticatorLog, 'utf8')).toContain('identity is not mapped');
    } finally {
      await editAwsAuth((roles) => roles.filter(mine));
    }
  });

  it('access entries: the full ARN, path included, logs in; deleted, it is refused', async () => {
    const { clusterName } = platform().login;
    const eks = new EKSClient(awsClientConfig('eks'));
    const username = `platform-ae:${pathlessRoleArn.split('/').pop()}`;
    try {
      await eks.send(new CreateAccessEntryCommand({ clusterName, principalArn: roleArn, username }));
      await loggedInAs(username);
      await eks.send(new DeleteAccessEntryCommand({ clusterName, principalArn: roleArn }));
      await refused();
    } finally {
      await eks
        .send(new DeleteAccessEntryCommand({ clusterName, principalArn: roleArn }))
        .catch(() => undefined);
      eks.destroy();
    }
  });

  it('access entries: a role deleted and made again under the same ARN does not match its old entry, as on EKS; a new entry does', async () => {
    const { clusterName } = platform().login;
    const eks = new EKSClient(awsClientConfig('eks'));
    const client = iam();
    const username = `platform-stale:${pathlessRoleArn.split('/').pop()}`;
    try {
      await eks.send(new CreateAccessEntryCommand({ clusterName, principalArn: roleArn, username }));
      await loggedInAs(username);
      // The role goes and comes back (a console, a script): same ARN, a new unique id.
      await client.send(new DeleteRoleCommand({ RoleName: roleInput.RoleName }));
      await client.send(new CreateRoleCommand(roleInput));
      // A barrier, not a wait: another role of bob's gets an entry, and once its login works the
      // authenticator reads a file written after the re-creation. Only then is a refusal worth anything.
      const other = await client.send(
        new CreateRoleCommand({ ...roleInput, RoleName: uniqueName('eksa-bob2') }),
      );
      const otherArn = other.Role?.Arn ?? '';
      const otherName = `platform-stale2:${otherArn.split('/').pop()}`;
      // Another shell: update-kubeconfig keeps one user per cluster, so a second role would replace the first.
      const second = await personalShell(bobKeys);
      succeeded(
        await second(
          `aws eks update-kubeconfig --name ${clusterName} --region ${platform().login.region} --role-arn ${otherArn} --alias ${context}`,
        ),
        'aws eks update-kubeconfig (second role)',
      );
      await eks.send(
        new CreateAccessEntryCommand({ clusterName, principalArn: otherArn, username: otherName }),
      );
      await pollUntil(
        `a login as ${otherName}`,
        () => second(`kubectl --context ${context} auth whoami -o jsonpath='{.status.userInfo.username}'`),
        (run) => run.code === 0 && run.stdout.trim() === otherName,
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      await eks.send(new DeleteAccessEntryCommand({ clusterName, principalArn: otherArn }));
      const stale = await whoami();
      expect(stale.code).not.toBe(0);
      expect(stale.stderr).toMatch(UNAUTHORIZED);
      // What eks-access does when it made the role just now (IdentityMapping.upsert, roleIsNew).
      await eks.send(new DeleteAccessEntryCommand({ clusterName, principalArn: roleArn }));
      await eks.send(new CreateAccessEntryCommand({ clusterName, principalArn: roleArn, username }));
      await loggedInAs(username);
    } finally {
      await eks
        .send(new DeleteAccessEntryCommand({ clusterName, principalArn: roleArn }))
        .catch(() => undefined);
      eks.destroy();
      client.destroy();
    }
  });
});
