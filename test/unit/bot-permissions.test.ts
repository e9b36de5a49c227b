// The bot's own permissions, rendered from the policy: least privilege per namespace, names pinned,
// warnings where Kubernetes or IAM cannot be narrowed, and the shipped manifests equal to the renderer.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config/load.js';
import { renderWorkerAdmission } from '../../src/domain/admission.js';
import {
  botPermissionChecks,
  type RbacObject,
  type RbacRoleObject,
  renderIamPolicies,
  renderWorkerRbac,
} from '../../src/domain/bot-permissions.js';
import {
  renderIamPolicyJson,
  renderKeptRolesYaml,
  renderRbacYaml,
} from '../../src/operator/render-permissions.js';

const policyText = (clusters: string, extra = '') => `
settings: { auditChannel: C0AUDIT }
${extra}
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
  edit: { clusterRole: edit, privileged: true, defaultDuration: 1h, maxDuration: 4h }
  deployer:
    rules: [{ apiGroups: [batch], resources: [jobs], verbs: [create, get] }]
    privileged: true
    defaultDuration: 1h
    maxDuration: 4h
clusters:
${clusters}
`;
const ns = (name: string, levels: string) => `
      - name: ${name}
        approvers: { users: [U0APPROVER, U0SECOND] }
        channel: C0APPROVAL
        levels: [${levels}]`;

const twoClusters = policyText(`
  dev:
    region: eu-west-1
    accountId: "111122223333"
    connection: { kubeconfig: {} }
    identityMapping: aws-auth
    namespaces:${ns('test', 'view, deployer')}${ns('payments', 'edit')}
  prod:
    region: us-east-1
    accountId: "444455556666"
    connection: { eks: { name: prod-main, assumeRoleArn: "arn:aws:iam::444455556666:role/eks-access-hub" } }
    identityMapping: access-entries
    namespaces:${ns('team-*', 'view')}
`);

const roleIn = (objects: RbacObject[], kind: 'Role' | 'ClusterRole', namespace?: string) =>
  objects.find(
    (o): o is RbacRoleObject => o.kind === kind && o.metadata.namespace === namespace,
  ) as RbacRoleObject;

describe('worker RBAC renderer', () => {
  const { policy } = parsePolicy(twoClusters);

  it('grants bind only on the ClusterRoles and kept Roles each namespace offers, by name', () => {
    const { objects, warnings } = renderWorkerRbac(policy, 'dev');
    const test = roleIn(objects, 'Role', 'test');
    const payments = roleIn(objects, 'Role', 'payments');
    expect(test.rules).toContainEqual({
      apiGroups: ['rbac.authorization.k8s.io'],
      resources: ['clusterroles'],
      verbs: ['bind'],
      resourceNames: ['view'],
    });
    expect(test.rules).toContainEqual({
      apiGroups: ['rbac.authorization.k8s.io'],
      resources: ['roles'],
      verbs: ['bind'],
      resourceNames: ['eks-access-deployer'],
    });
    // The default (keptRoles: applied-by-admin): the worker reads and binds the kept Role, writes no Role.
    expect(test.rules).toContainEqual({
      apiGroups: ['rbac.authorization.k8s.io'],
      resources: ['roles'],
      verbs: ['get'],
      resourceNames: ['eks-access-deployer'],
    });
    // payments offers only edit: no view, no kept Role, no Role-writing at all.
    expect(JSON.stringify(payments.rules)).not.toContain('"view"');
    expect(payments.rules.some((r) => r.resources.includes('roles'))).toBe(false);
    expect(payments.rules).toContainEqual(expect.objectContaining({ resourceNames: ['edit'] }));
    expect(warnings.join()).toContain('configmaps');
  });

  it('in the default mode, lets the worker write no Role anywhere and renders the kept Roles for the admin', () => {
    for (const cluster of ['dev', 'prod']) {
      const { objects } = renderWorkerRbac(policy, cluster);
      const roleRules = objects
        .flatMap((o) => ('rules' in o ? o.rules : []))
        .filter((r) => r.resources.includes('roles'));
      const verbs = new Set(roleRules.flatMap((r) => r.verbs));
      expect([...verbs].sort()).toEqual(cluster === 'dev' ? ['bind', 'get'] : []);
      expect(roleRules.every((r) => r.resourceNames !== undefined)).toBe(true);
    }
    const { keptRoles } = renderWorkerRbac(policy, 'dev');
    expect(keptRoles).toEqual([
      expect.objectContaining({
        kind: 'Role',
        metadata: expect.objectContaining({ name: 'eks-access-deployer', namespace: 'test' }),
        rules: [{ apiGroups: ['batch'], resources: ['jobs'], verbs: ['create', 'get'] }],
      }),
    ]);
  });

  it('with keptRoles: written-by-worker, lets the worker write the kept Role (escalate): the wider mode', () => {
    const wider = parsePolicy(
      twoClusters.replace(
        'settings: { auditChannel: C0AUDIT }',
        'settings: { auditChannel: C0AUDIT, keptRoles: written-by-worker }',
      ),
    ).policy;
    const { objects, keptRoles } = renderWorkerRbac(wider, 'dev');
    const test = roleIn(objects, 'Role', 'test');
    // escalate cannot be limited by name for create; it is given only where kept Roles live.
    expect(test.rules).toContainEqual({
      apiGroups: ['rbac.authorization.k8s.io'],
      resources: ['roles'],
      verbs: ['escalate'],
    });
    expect(keptRoles).toEqual([]);
  });

  it('touches only aws-auth in kube-system, and only for aws-auth clusters', () => {
    const dev = roleIn(renderWorkerRbac(policy, 'dev').objects, 'Role', 'kube-system');
    expect(dev.rules[0]).toEqual({
      apiGroups: [''],
      resources: ['configmaps'],
      verbs: ['get', 'patch', 'update'],
      resourceNames: ['aws-auth'],
    });
    expect(renderWorkerRbac(policy, 'prod').objects.some((o) => o.metadata.namespace === 'kube-system')).toBe(
      false,
    );
  });

  it('keeps cluster-wide access read-only apart from access reviews, and never touches secrets', () => {
    const { objects } = renderWorkerRbac(policy, 'dev');
    const cluster = roleIn(objects, 'ClusterRole');
    const writes = cluster.rules.filter((r) => r.verbs.some((v) => !['get', 'list', 'watch'].includes(v)));
    expect(writes).toEqual([
      {
        apiGroups: ['authorization.k8s.io'],
        resources: ['subjectaccessreviews', 'selfsubjectaccessreviews'],
        verbs: ['create'],
      },
    ]);
    expect(cluster.rules).toContainEqual(
      expect.objectContaining({ resources: ['clusterroles'], resourceNames: ['edit', 'view'] }),
    );
    const everything = objects.flatMap((o) => ('rules' in o ? o.rules : []));
    expect(everything.some((r) => r.resources.includes('secrets') || r.resources.includes('*'))).toBe(false);
    expect(everything.some((r) => r.verbs.includes('*') || r.verbs.includes('impersonate'))).toBe(false);
  });

  it("binds the worker's ServiceAccount in-cluster and the mapped worker user through EKS", () => {
    const subjects = (cluster: string) =>
      renderWorkerRbac(policy, cluster).objects.flatMap((o) => ('subjects' in o ? o.subjects : []));
    expect(subjects('dev')[0]).toEqual({
      kind: 'ServiceAccount',
      name: 'eks-access-worker',
      namespace: 'eks-access',
    });
    expect(subjects('prod')[0]).toEqual({
      kind: 'User',
      name: 'eks-access-worker',
      apiGroup: 'rbac.authorization.k8s.io',
    });
  });

  it('falls back to a ClusterRole for namespace patterns and says so', () => {
    const { objects, warnings } = renderWorkerRbac(policy, 'prod');
    expect(objects.filter((o) => o.kind === 'Role')).toEqual([]);
    expect(roleIn(objects, 'ClusterRole').rules).toContainEqual(
      expect.objectContaining({ resources: ['clusterroles'], verbs: ['bind'], resourceNames: ['view'] }),
    );
    expect(warnings.join('\n')).toMatch(/team-\*.*EVERY namespace/);
  });

  it('lists a permission check for every verb and name it grants (for doctor)', () => {
    const checks = botPermissionChecks(renderWorkerRbac(policy, 'dev'));
    expect(checks).toContainEqual({
      verb: 'bind',
      group: 'rbac.authorization.k8s.io',
      resource: 'clusterroles',
      namespace: 'test',
      name: 'view',
    });
    expect(checks).toContainEqual({
      verb: 'update',
      group: '',
      resource: 'configmaps',
      namespace: 'kube-system',
      name: 'aws-auth',
    });
    expect(checks).toContainEqual({
      verb: 'list',
      group: 'rbac.authorization.k8s.io',
      resource: 'rolebindings',
    });
  });

  it('refuses a cluster the policy does not name', () => {
    expect(() => renderRbacYaml(policy, 'nope')).toThrow(/not in the policy/);
  });

  it('renders the kept Roles of one namespace a pattern offers, and warns that the full render cannot', () => {
    const withPattern = parsePolicy(
      policyText(`
  dev:
    region: eu-west-1
    accountId: "111122223333"
    connection: { kubeconfig: {} }
    identityMapping: none
    usernameTemplate: "sso:{slackUserId}"
    namespaces:${ns('team-*', 'view, deployer')}
`),
    ).policy;
    expect(renderWorkerRbac(withPattern, 'dev').warnings.join('\n')).toContain(
      '`eks-access rbac render --kept-roles-in <namespace>`',
    );
    const one = renderKeptRolesYaml(withPattern, 'dev', 'team-a').text;
    expect(one).toContain('name: eks-access-deployer\n  namespace: team-a');
    expect(() => renderKeptRolesYaml(withPattern, 'dev', 'other')).toThrow(
      /offers nothing in namespace other/,
    );
    // The admission policy lists the pattern as an anchored expression with the roles it offers.
    const admission = renderWorkerAdmission(withPattern, 'dev').objects[0];
    expect(admission?.kind).toBe('ValidatingAdmissionPolicy');
    expect(JSON.stringify(admission)).toContain(
      "{'^team-[-a-z0-9]*$': ['ClusterRole/view', 'Role/eks-access-deployer']}",
    );
    expect(JSON.stringify(admission)).toContain("object.subjects[0].name.startsWith('sso:')");
  });
});

describe('IAM policy renderer', () => {
  const { policy } = parsePolicy(twoClusters);

  it("limits the worker's role management to the path of the directly managed clusters, with no way to give a role permissions", () => {
    const { worker } = renderIamPolicies(policy);
    const roles = worker.Statement.find((s) => s.Sid === 'PersonalRoles');
    expect(roles?.Resource).toEqual(['arn:aws:iam::111122223333:role/eks-access/dev/*']);
    expect(roles?.Action).toContain('iam:UpdateAssumeRolePolicy');
    // A personal role never carries permissions; the worker cannot give it any.
    const actions = worker.Statement.flatMap((s) => s.Action);
    expect(actions).not.toContain('iam:PutRolePolicy');
    expect(actions).not.toContain('iam:AttachRolePolicy');
    // Retiring a role made by an older version still deletes its inline policy (DeleteRole needs that).
    expect(roles?.Action).toEqual(expect.arrayContaining(['iam:ListRolePolicies', 'iam:DeleteRolePolicy']));
    // Only ListRoles (no resource-level permissions in IAM) is on "*".
    expect(worker.Statement.filter((s) => s.Resource.includes('*')).flatMap((s) => s.Action)).toEqual([
      'iam:ListRoles',
    ]);
  });

  it('gives the Slack-facing bot no IAM or EKS write at all (no statement without the email lookup)', () => {
    const { bot } = renderIamPolicies(policy);
    expect(bot.Statement).toEqual([]);
    expect(JSON.parse(renderIamPolicyJson(policy, undefined, 'bot'))).toEqual(bot);
  });

  it('gives the worker the archive as write-once-and-read under its prefix, and no delete of any kind', () => {
    const { worker } = renderIamPolicies(policy, { bucket: 'acme-audit', prefix: 'eks-access/' });
    const append = worker.Statement.find((s) => s.Sid === 'ArchiveAppend');
    expect(append?.Action).toEqual(['s3:PutObject', 's3:GetObject']);
    expect(append?.Resource).toEqual(['arn:aws:s3:::acme-audit/eks-access/*']);
    const list = worker.Statement.find((s) => s.Sid === 'ArchiveList');
    expect(list?.Resource).toEqual(['arn:aws:s3:::acme-audit']);
    expect(list?.Condition).toEqual({ StringLike: { 's3:prefix': ['eks-access/*'] } });
    const actions = worker.Statement.flatMap((s) => s.Action);
    expect(actions.filter((a) => a.startsWith('s3:Delete') || a.includes('Retention'))).toEqual([]);
  });

  it('gives the bot s3:PutObject on the audit and break-glass index prefixes and nothing else on AWS', () => {
    const { bot } = renderIamPolicies(policy, { bucket: 'acme-audit', prefix: 'eks-access/' });
    expect(bot.Statement).toEqual([
      {
        Sid: 'ArchiveAuditAppend',
        Effect: 'Allow',
        Action: ['s3:PutObject'],
        Resource: [
          'arn:aws:s3:::acme-audit/eks-access/audit/*',
          'arn:aws:s3:::acme-audit/eks-access/index/break-glass/*',
        ],
      },
    ]);
  });

  it('lets the worker create and delete only access entries of its personal roles, with a template username and no groups', () => {
    const hub = renderIamPolicies(policy).crossAccount[0]?.policy;
    const create = hub?.Statement.find((s) => s.Sid === 'CreateAccessEntries');
    expect(create?.Action).toEqual(['eks:CreateAccessEntry']);
    expect(create?.Resource).toEqual(['arn:aws:eks:us-east-1:444455556666:cluster/prod-main']);
    expect(create?.Condition).toEqual({
      ArnLike: { 'eks:principalArn': 'arn:aws:iam::444455556666:role/eks-access/prod/eksa-*' },
      // The default template eks-access:{account}:{kind}:{iamName}, placeholders as wildcards.
      StringLike: { 'eks:username': 'eks-access:*:*:*' },
      StringEquals: { 'eks:accessEntryType': 'STANDARD' },
      'ForAllValues:StringEquals': { 'eks:kubernetesGroups': ['eks-access:no-groups'] },
    });
    const manage = hub?.Statement.find((s) => s.Sid === 'ManageOwnAccessEntries');
    expect(manage?.Resource).toEqual([
      'arn:aws:eks:us-east-1:444455556666:access-entry/prod-main/role/444455556666/eksa-*/*',
    ]);
    const actions = hub?.Statement.flatMap((s) => s.Action) ?? [];
    expect(actions).not.toContain('eks:UpdateAccessEntry');
    expect(actions).not.toContain('eks:AssociateAccessPolicy');
  });

  it('allows sts:AssumeRole only to the configured roles, which get the cluster permissions', () => {
    const { worker, crossAccount } = renderIamPolicies(policy);
    expect(worker.Statement.find((s) => s.Action.includes('sts:AssumeRole'))?.Resource).toEqual([
      'arn:aws:iam::444455556666:role/eks-access-hub',
    ]);
    expect(JSON.stringify(worker)).not.toContain('eks:'); // dev is kubeconfig, prod is through the hub role
    const hub = crossAccount[0];
    expect(hub?.clusters).toEqual(['prod']);
    expect(hub?.policy.Statement.find((s) => s.Sid === 'DescribeClusters')?.Resource).toEqual([
      'arn:aws:eks:us-east-1:444455556666:cluster/prod-main',
    ]);
    expect(JSON.parse(renderIamPolicyJson(policy, 'arn:aws:iam::444455556666:role/eks-access-hub'))).toEqual(
      hub?.policy,
    );
    expect(() => renderIamPolicyJson(policy, 'arn:aws:iam::1:role/other')).toThrow(/no cluster/);
  });

  it("adds the read-only IAM user lookup to the bot's and the worker's policies only when email lookup is enabled", () => {
    const actions = (text: string) => {
      const rendered = renderIamPolicies(parsePolicy(text).policy);
      return [...rendered.bot.Statement, ...rendered.worker.Statement].flatMap((s) => s.Action);
    };
    const botActions = (text: string) =>
      renderIamPolicies(parsePolicy(text).policy).bot.Statement.flatMap((s) => s.Action);
    expect(actions(twoClusters)).not.toContain('iam:ListUsers');
    const withEmail = policyText(
      `
  dev:
    region: eu-west-1
    accountId: "111122223333"
    connection: { eks: {} }
    identityMapping: aws-auth
    namespaces:${ns('test', 'view')}`,
      'identities: { emailTag: { enabled: true } }',
    );
    expect(actions(withEmail)).toEqual(
      expect.arrayContaining(['iam:ListUsers', 'iam:ListUserTags', 'eks:DescribeCluster']),
    );
    expect(botActions(withEmail)).toEqual(['iam:ListUsers', 'iam:ListUserTags']);
    // The worker asks the identity source again before it activates a grant (issue #9).
    const workerActions = renderIamPolicies(parsePolicy(withEmail).policy).worker.Statement.flatMap(
      (s) => s.Action,
    );
    expect(workerActions).toEqual(expect.arrayContaining(['iam:ListUsers', 'iam:ListUserTags']));
    expect(actions(withEmail)).not.toContain('eks:CreateAccessEntry'); // aws-auth cluster
  });

  it("gives the bot read-only GetUser/GetRole in the callers' accounts only when the API is on", () => {
    const cluster = `
  dev:
    region: eu-west-1
    accountId: "111122223333"
    connection: { eks: {} }
    identityMapping: aws-auth
    namespaces:${ns('test', 'view')}`;
    const bot = (extra: string) =>
      renderIamPolicies(parsePolicy(policyText(cluster, extra)).policy).bot.Statement;
    expect(bot('').flatMap((s) => s.Action)).not.toContain('iam:GetUser');
    const withApi = bot('api: { enabled: true }').find((s) => s.Sid === 'ApiCallerUniqueIds');
    expect(withApi?.Action).toEqual(['iam:GetUser', 'iam:GetRole']);
    expect(withApi?.Resource).toEqual([
      'arn:aws:iam::111122223333:role/*',
      'arn:aws:iam::111122223333:user/*',
    ]);
    const worker = renderIamPolicies(
      parsePolicy(policyText(cluster, 'api: { enabled: true }')).policy,
    ).worker;
    expect(worker.Statement.flatMap((s) => s.Action)).not.toContain('iam:GetUser');
  });
});

describe('shipped manifests', () => {
  const example = parsePolicy(readFileSync('policy.example.yaml', 'utf8')).policy;

  it('carry the policy the example ships, unchanged', () => {
    expect(readFileSync('manifests/base/policy.yaml', 'utf8')).toBe(
      readFileSync('policy.example.yaml', 'utf8'),
    );
  });

  it('carry exactly the rendered worker RBAC (npm run cli -- rbac render --for worker > manifests/base/rbac/worker-rbac.yaml)', () => {
    expect(readFileSync('manifests/base/rbac/worker-rbac.yaml', 'utf8')).toBe(
      renderRbacYaml(example, undefined, {}, 'worker').text,
    );
  });

  it('give the bot no RBAC: its ServiceAccount mounts no token and no binding names it', () => {
    expect(renderRbacYaml(example, undefined, {}, 'bot').text).toMatch(
      /^# eks-access bot: no Kubernetes RBAC/,
    );
    const sa = readFileSync('manifests/base/serviceaccount.yaml', 'utf8');
    expect(sa).toMatch(
      /name: eks-access-bot\n {2}namespace: eks-access\n(?: {2}labels:\n(?: {4}.*\n)*)?automountServiceAccountToken: false/,
    );
    expect(readFileSync('manifests/base/deployment-bot.yaml', 'utf8')).toContain(
      'serviceAccountName: eks-access-bot',
    );
    expect(readFileSync('manifests/base/deployment-worker.yaml', 'utf8')).toContain(
      'serviceAccountName: eks-access-worker',
    );
    expect(readFileSync('manifests/base/rbac/worker-rbac.yaml', 'utf8')).not.toContain('eks-access-bot');
  });

  it('carry exactly the rendered IAM policies (npm run cli -- iam-policy render --for bot|worker > manifests/iam/<for>-policy.json)', () => {
    expect(readFileSync('manifests/iam/worker-policy.json', 'utf8')).toBe(
      renderIamPolicyJson(example, undefined, 'worker'),
    );
    expect(readFileSync('manifests/iam/bot-policy.json', 'utf8')).toBe(
      renderIamPolicyJson(example, undefined, 'bot'),
    );
  });

  it('carry the rendered worker RBAC of each remote cluster in the hub overlay', () => {
    const hub = parsePolicy(readFileSync('manifests/overlays/hub/policy.yaml', 'utf8')).policy;
    for (const cluster of Object.keys(hub.clusters)) {
      expect(readFileSync(`manifests/overlays/hub/remote/${cluster}/worker-rbac.yaml`, 'utf8')).toBe(
        renderRbacYaml(hub, cluster).text,
      );
    }
  });
});
