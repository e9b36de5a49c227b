// `eks-access doctor` against real servers: a healthy set-up passes (exit 0); a broken one — Redis not
// listening, a wrong Slack token, an unreachable API server, an unparseable aws-auth, a level whose
// aggregated ClusterRole has become privileged — names each problem with a fix and exits non-zero.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { doctorProbes } from '../../src/adapters/doctor-probes.js';
import { runCli } from '../../src/bin/cli.js';
import { parsePolicy } from '../../src/config/load.js';
import { systemClock } from '../../src/domain/clock.js';
import { renderRbacYaml } from '../../src/operator/render-permissions.js';
import {
  adminKubeConfig,
  awsClientConfig,
  kubeconfigFor,
  platform,
  uniqueName,
} from '../platform/context.js';
import { pollUntil } from '../support/poll.js';
import { TEST_SEAL_KEYS, testSealKeys } from '../support/seal.js';
import { FakeSlack } from '../support/slack/index.js';

const kubectl = (args: string[], input?: string) =>
  spawnSync(platform().kube.kubectl, ['--kubeconfig', platform().kube.adminKubeconfig, ...args], {
    input,
    encoding: 'utf8',
  });

describe('eks-access doctor', () => {
  const namespace = uniqueName('ops-doctor');
  const botUser = uniqueName('eks-access-bot');
  const rbacName = uniqueName('eks-access-bot');
  const dir = () => platform().runDir;
  let slack: FakeSlack;
  let botKubeconfig: string;
  let rendered: string;
  let unreachableKubeconfig: string;
  // A ClusterRole aggregated (by the controller manager, as admin/edit/view are) from ClusterRoles
  // carrying this test's label: the policy cannot see what it will contain.
  const reader = uniqueName('reader');
  const aggregateLabel = { 'eks-access.test/aggregate-to': reader };
  const clusterRoles = () => adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);

  const policyFor = (clusters: Record<string, string>) => `
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
  reader: { clusterRole: ${reader}, defaultDuration: 1h, maxDuration: 4h }
clusters:
${Object.entries(clusters)
  .map(
    ([name, kubeconfig]) => `
  ${name}:
    region: eu-west-1
    accountId: "${platform().aws.accountId}"
    connection: { kubeconfig: { path: "${kubeconfig}" } }
    identityMapping: aws-auth
    namespaces:
      - name: ${namespace}
        approvers: { users: [U0APPROVER] }
        channel: C0APPROVAL
        levels: [view, reader]`,
  )
  .join('')}
`;

  async function runDoctor(env: Record<string, string>, policyText: string) {
    const policyFile = join(dir(), `${uniqueName('doctor-policy')}.yaml`);
    writeFileSync(policyFile, policyText);
    let out = '';
    const code = await runCli(
      ['doctor'],
      { env: { POLICY_FILE: policyFile, ...env }, out: (t) => (out += t), err: (t) => (out += t) },
      {
        probes: (parsedEnv, loadConfig) =>
          doctorProbes({
            env: parsedEnv,
            loadConfig,
            clock: systemClock,
            credentials: awsClientConfig('sts').credentials,
            // This test's aws-auth lives in its own namespace, never in the shared kube-system.
            awsAuth: { main: { namespace, name: 'aws-auth' }, down: { namespace, name: 'aws-auth' } },
          }),
      },
    );
    return { code, out };
  }

  const healthyEnv = () => ({
    REDIS_URL: platform().redisUrl,
    SEAL_KEYS: TEST_SEAL_KEYS,
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_API_URL: slack.apiUrl,
    AWS_ENDPOINT_URL_STS: platform().aws.stsEndpoint,
  });

  const setAwsAuth = (mapRoles: string) =>
    adminKubeConfig()
      .makeApiClient(CoreV1Api)
      .replaceNamespacedConfigMap({
        name: 'aws-auth',
        namespace,
        body: { metadata: { name: 'aws-auth', namespace }, data: { mapRoles } },
      });

  beforeAll(async () => {
    // The approval channel, with the bot invited (the setup guide's step).
    slack = await FakeSlack.start({
      channels: { C0APPROVAL: {} },
      users: [{ id: 'U0APPROVER' }, { id: 'U0GROUPIE' }, { id: 'U0LEFT', deleted: true }],
      usergroups: { S0APPROVERS: ['U0GROUPIE', 'U0LEFT'] },
    });
    await clusterRoles().createClusterRole({
      body: {
        metadata: { name: reader },
        aggregationRule: { clusterRoleSelectors: [{ matchLabels: aggregateLabel }] },
      },
    });
    await clusterRoles().createClusterRole({
      body: {
        metadata: { name: `${reader}-pods`, labels: aggregateLabel },
        rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }],
      },
    });
    await pollUntil(
      `ClusterRole ${reader} to aggregate pods`,
      () => clusterRoles().readClusterRole({ name: reader }),
      (role) => (role.rules ?? []).some((r) => r.resources?.includes('pods')),
    );
    const core = adminKubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedConfigMap({
      namespace,
      body: {
        metadata: { name: 'aws-auth' },
        data: { mapRoles: '- rolearn: arn:aws:iam::1:role/node\n  username: node\n' },
      },
    });
    // The bot's identity gets exactly the rendered RBAC, plus reading this test's aws-auth copy.
    const policy = parsePolicy(policyFor({ main: 'unused' })).policy;
    rendered =
      renderRbacYaml(policy, 'main', { subject: { kind: 'User', name: botUser }, name: rbacName }).text +
      `---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: test-aws-auth, namespace: ${namespace} }
rules: [{ apiGroups: [""], resources: [configmaps], verbs: [get], resourceNames: [aws-auth] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: test-aws-auth, namespace: ${namespace} }
subjects: [{ kind: User, name: ${botUser}, apiGroup: rbac.authorization.k8s.io }]
roleRef: { kind: Role, name: test-aws-auth, apiGroup: rbac.authorization.k8s.io }
`;
    expect(kubectl(['apply', '-f', '-'], rendered).status).toBe(0);
    botKubeconfig = await kubeconfigFor(botUser);
    unreachableKubeconfig = join(dir(), `${uniqueName('unreachable')}.kubeconfig`);
    // Same identity, but an API server address nothing listens on.
    writeFileSync(
      unreachableKubeconfig,
      readFileSync(botKubeconfig, 'utf8').replace(platform().kube.server, 'https://127.0.0.1:9'),
    );
  });

  afterAll(async () => {
    kubectl(['delete', '--ignore-not-found', '-f', '-'], rendered);
    for (const name of [reader, `${reader}-pods`, `${reader}-secrets`]) {
      await clusterRoles()
        .deleteClusterRole({ name })
        .catch(() => undefined);
    }
    await adminKubeConfig()
      .makeApiClient(CoreV1Api)
      .deleteNamespace({ name: namespace })
      .catch(() => undefined);
    await slack?.close();
  });

  /**
   * Every int file shares one API server, and the forged-bindings check reads RoleBindings cluster-wide:
   * bindings other files sealed for their own cluster names (not yet gone with their namespaces) fail the
   * seal for `main`. 1 when doctor reports such a line (never naming this file's namespace), else 0.
   */
  const othersSealedBindings = (out: string): number => {
    const line = out.split('\n').find((l) => l.startsWith('✗ cluster main: forged bindings'));
    if (!line) return 0;
    expect(line).not.toContain(`${namespace}/`);
    return 1;
  };

  it('passes against a healthy set-up', async () => {
    const { code, out } = await runDoctor(healthyEnv(), policyFor({ main: botKubeconfig }));
    expect(out).toContain('✓ config');
    expect(out).toContain('✓ slack');
    expect(out).toContain('✓ slack channels  the bot can post to C0APPROVAL');
    expect(out).toContain('✓ redis  reachable, maxmemory-policy noeviction');
    expect(out).toMatch(/✓ cluster main: aws identity {2}arn:aws:/);
    expect(out).toMatch(/✓ cluster main: worker permissions {2}all \d+ permissions granted/);
    expect(out).toContain('✓ cluster main: aws-auth  parseable, 1 mapRoles entries');
    expect(out).toContain(
      `✓ cluster main: levels  not privileged: reader (ClusterRole ${reader}), view (ClusterRole view)`,
    );
    // One key, so nothing to rotate out (the count includes other files' bindings for a cluster `main`).
    expect(out).toMatch(new RegExp(`✓ seal keys {2}${testSealKeys().ids[0]} \\(signing\\) seals \\d+ live`));
    const failures = out.split('\n').filter((line) => line.includes('✗'));
    expect(failures).toHaveLength(othersSealedBindings(out));
    if (failures.length === 0) expect(code).toBe(0);
  });

  it('asks nothing of the API server of a cluster of access-policy levels: the worker holds no Kubernetes access there', async () => {
    const policy = `
levels:
  eks-edit: { accessPolicy: AmazonEKSEditPolicy, privileged: true, approvals: 1, defaultDuration: 1h, maxDuration: 4h }
settings: { auditChannel: C0APPROVAL }
clusters:
  nokube:
    region: eu-west-1
    accountId: "${platform().aws.accountId}"
    connection: { kubeconfig: { path: "${unreachableKubeconfig}" } }
    identityMapping: access-entries
    namespaces:
      - name: ${namespace}
        approvers: { users: [U0APPROVER] }
        channel: C0APPROVAL
        levels: [eks-edit]
`;
    const { out } = await runDoctor(healthyEnv(), policy);
    expect(out).toContain(
      '✓ cluster nokube: access policies  its levels are EKS access policies (eks-edit (AmazonEKSEditPolicy)): the worker holds no Kubernetes access here',
    );
    // Its API server is unreachable, and doctor does not ask it (nor check worker RBAC there).
    expect(out).not.toMatch(/cluster nokube: (api server|worker permissions)/);
  });

  it("counts an access-entries cluster's entries against EKS's limit of 3000", async () => {
    const { login, aws } = platform();
    const policy = `
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
settings: { auditChannel: C0APPROVAL }
clusters:
  entries:
    region: ${login.region}
    accountId: "${aws.accountId}"
    connection: { eks: { name: ${login.clusterName} } }
    identityMapping: access-entries
    namespaces:
      - name: ${namespace}
        approvers: { users: [U0APPROVER] }
        channel: C0APPROVAL
        levels: [view]
`;
    const { out } = await runDoctor(
      { ...healthyEnv(), AWS_ENDPOINT_URL_EKS: aws.eksEndpoint, AWS_REGION: login.region },
      policy,
    );
    expect(out).toMatch(/✓ cluster entries: access entries {2}\d+ of 3000 \(EKS's limit per cluster\)/);
  });

  it('finds a level whose live, aggregated ClusterRole has become privileged, and says what to do', async () => {
    // Someone who may write ClusterRoles aggregates secrets into the level's ClusterRole.
    await clusterRoles().createClusterRole({
      body: {
        metadata: { name: `${reader}-secrets`, labels: aggregateLabel },
        rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }],
      },
    });
    try {
      await pollUntil(
        `ClusterRole ${reader} to aggregate secrets`,
        () => clusterRoles().readClusterRole({ name: reader }),
        (role) => (role.rules ?? []).some((r) => r.resources?.includes('secrets')),
      );
      const { code, out } = await runDoctor(healthyEnv(), policyFor({ main: botKubeconfig }));
      expect(out).toContain(
        `✗ cluster main: levels  level reader binds ClusterRole ${reader}, which is privileged: reads secrets\n    fix: Grants of these levels are refused until fixed: mark the level privileged: true`,
      );
      expect(out).toContain(`${1 + othersSealedBindings(out)} check(s) failed`);
      expect(code).toBe(1);
    } finally {
      await clusterRoles().deleteClusterRole({ name: `${reader}-secrets` });
      // The next test must see the ClusterRole harmless again.
      await pollUntil(
        `ClusterRole ${reader} to drop secrets`,
        () => clusterRoles().readClusterRole({ name: reader }),
        (role) => !(role.rules ?? []).some((r) => r.resources?.includes('secrets')),
      );
    }
  });

  it('names every problem of a broken set-up, with a fix, and exits non-zero', async () => {
    await setAwsAuth('- rolearn: [unclosed\n');
    try {
      const { code, out } = await runDoctor(
        { ...healthyEnv(), REDIS_URL: 'redis://127.0.0.1:9', SLACK_BOT_TOKEN: 'xoxb-not-the-real-one' },
        policyFor({ main: botKubeconfig, down: unreachableKubeconfig }),
      );
      expect(out).toMatch(/✗ slack {2}Slack refused the bot token: invalid_auth\n {4}fix: /);
      expect(out).toMatch(/✗ redis {2}Redis is not reachable at redis:\/\/127\.0\.0\.1:9\n {4}fix: /);
      expect(out).toMatch(/✗ cluster down: api server {2}.*\n {4}fix: /);
      expect(out).toMatch(/✗ cluster main: aws-auth {2}ConfigMap .*mapRoles is not valid YAML/);
      expect(out).toContain('✓ cluster main: api server');
      expect(out).not.toContain('xoxb-not-the-real-one');
      expect(out).toContain(`${4 + othersSealedBindings(out)} check(s) failed`);
      expect(code).toBe(1);
    } finally {
      await setAwsAuth('- rolearn: arn:aws:iam::1:role/node\n  username: node\n');
    }
  });

  it('says which approval channel the bot is not in, and how to invite it', async () => {
    slack.addChannel('C0APPROVAL', { bot: false });
    try {
      const { code, out } = await runDoctor(healthyEnv(), policyFor({ main: botKubeconfig }));
      expect(out).toContain(
        '✗ slack channels  the bot is not in C0APPROVAL\n    fix: Run `/invite @eks-access` in each channel',
      );
      expect(code).toBe(1);
    } finally {
      slack.addChannel('C0APPROVAL', {});
    }
  });

  it('checks the kept Roles the platform team applies, and says what aws-auth and Slack groups cost', async () => {
    // A policy with a level of inline rules and an approver group; the platform team applies its render.
    const text = policyFor({ main: botKubeconfig })
      .replace(
        'levels:\n',
        'levels:\n  deployer:\n    rules: [{ apiGroups: [batch], resources: [jobs], verbs: [get] }]\n    defaultDuration: 1h\n    maxDuration: 4h\n',
      )
      .replace('levels: [view, reader]', 'levels: [view, reader, deployer]')
      .replace(
        'approvers: { users: [U0APPROVER] }',
        'approvers: { users: [U0APPROVER], groups: [S0ONCALL] }',
      );
    const keptRbac = renderRbacYaml(parsePolicy(text).policy, 'main', {
      subject: { kind: 'User', name: botUser },
      name: uniqueName('eks-access-bot'),
    }).text;
    expect(kubectl(['apply', '-f', '-'], keptRbac).status).toBe(0);
    const roles = adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);
    try {
      let { out } = await runDoctor(healthyEnv(), text);
      expect(out).toContain('✓ cluster main: kept roles  1 applied as the policy says');
      expect(out).toContain(
        '✓ cluster main: worker reach  the worker may write aws-auth, and whoever can write aws-auth is cluster-admin',
      );
      expect(out).toContain('identityMapping: access-entries is the mode that bounds the worker');
      expect(out).toContain(
        '✓ slack user groups  approvers S0ONCALL: each is only as safe as who may edit it',
      );
      expect(out).toContain('"Create and edit user groups"');

      // Someone widens the Role behind the policy's back: doctor names it and what to do.
      const role = await roles.readNamespacedRole({ name: 'eks-access-deployer', namespace });
      await roles.replaceNamespacedRole({
        name: 'eks-access-deployer',
        namespace,
        body: { ...role, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] },
      });
      ({ out } = await runDoctor(healthyEnv(), text));
      expect(out).toContain(
        `✗ cluster main: kept roles  ${namespace}/eks-access-deployer differs from the policy: grants of those levels are refused\n    fix: Apply them: eks-access rbac render --cluster main`,
      );
      await roles.deleteNamespacedRole({ name: 'eks-access-deployer', namespace });
      ({ out } = await runDoctor(healthyEnv(), text));
      expect(out).toContain(`✗ cluster main: kept roles  ${namespace}/eks-access-deployer is missing`);
    } finally {
      kubectl(['delete', '--ignore-not-found', '-f', '-'], keptRbac);
    }
  });

  it('fails on an archived approval channel, and says how to fix it', async () => {
    slack.archiveChannel('C0APPROVAL');
    try {
      const { code, out } = await runDoctor(healthyEnv(), policyFor({ main: botKubeconfig }));
      expect(out).toContain(
        '✗ slack channels  C0APPROVAL is archived (nothing can be posted there)\n    fix: Unarchive the channel, or name a live one in the policy.',
      );
      expect(code).toBe(1);
    } finally {
      slack.addChannel('C0APPROVAL', {});
    }
  });

  it('counts only active approvers toward a quorum, and says when user groups are not on the plan', async () => {
    // Three approvals needed; the policy names one person and a group of two, one of whom has left.
    const needsThree = policyFor({ main: botKubeconfig })
      .replace('view: { clusterRole: view,', 'view: { clusterRole: view, approvals: 3,')
      .replace(
        'approvers: { users: [U0APPROVER] }',
        'approvers: { users: [U0APPROVER], groups: [S0APPROVERS] }',
      );
    const short = await runDoctor(healthyEnv(), needsThree);
    expect(short.out).toContain(
      `✗ slack approvers  ${namespace} on main, level view: needs 3 approval(s), only 2 active approver(s) can give them; deactivated or unknown in Slack: U0LEFT`,
    );
    expect(short.code).toBe(1);
    slack.setPlan('free');
    try {
      const free = await runDoctor(healthyEnv(), needsThree);
      expect(free.out).toContain(
        "✗ slack approvers  user groups are unavailable on this workspace's plan (Slack: plan_upgrade_required), so approver group S0APPROVERS has no members",
      );
    } finally {
      slack.setPlan('pro');
    }
  });

  it('reports missing worker permissions when the RBAC is not applied', async () => {
    const stranger = await kubeconfigFor(uniqueName('not-the-bot'));
    const { code, out } = await runDoctor(healthyEnv(), policyFor({ main: stranger }));
    expect(out).toMatch(/✗ cluster main: worker permissions {2}missing \d+ of \d+: .*bind/);
    expect(out).toContain('fix: Apply the worker RBAC: eks-access rbac render --for worker --cluster main');
    expect(code).toBe(1);
  });
});
