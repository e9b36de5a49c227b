// Every IAM policy eks-access renders, checked offline against AWS's own IAM definitions by parliament
// (PyPI; installed in the platform's venv by scripts/platform/install.sh). The emulators accept any
// condition key and any resource pattern, so a misspelt `eks:` key or an ARN that matches nothing would
// only show as AccessDenied on real AWS; parliament knows every action, resource type and condition key
// of AWS's Service Authorization Reference. Any finding fails, unless waived in WAIVERS below, each with the
// AWS documentation that says the finding is wrong (parliament's definitions are a snapshot).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config/load.js';
import { type ArchiveLocation, renderIamPolicies } from '../../src/domain/bot-permissions.js';
import { probeCallerOf } from '../../src/domain/login-probe.js';
import { trustPolicyFor } from '../../src/domain/plan.js';

const CACHE =
  process.env['EKS_ACCESS_PLATFORM_CACHE'] ??
  join(process.env['HOME'] ?? '/root', '.cache/eks-access-platform');
const PARLIAMENT = join(CACHE, 'venv/bin/parliament');

interface Finding {
  issue: string;
  title: string;
  severity: string;
  detail: unknown;
  location: { filepath: string | null };
}

/**
 * Findings parliament is wrong about, each with the AWS page that says so. A waiver names the issue, the
 * policy (file name) it applies to and a text its detail must contain; nothing else is let through.
 */
const WAIVERS: { issue: string; policy: RegExp; detail: RegExp; reference: string }[] = [
  {
    // parliament accepts only iam:: ARNs as AWS principals; a role session (the Identity Center person's
    // session, which the personal role trusts alone) is a documented principal.
    issue: 'UNKNOWN_PRINCIPAL',
    policy: /\/trust-personal-identity-center\.json$/,
    detail:
      /^"arn:aws:sts::111122223333:assumed-role\/AWSReservedSSO_EKSAccess_[0-9a-f]+\/alice@example\.com"$/,
    reference:
      'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-role-session',
  },
  {
    // parliament knows SAML providers and four web identity hosts; an IAM OIDC provider (the cluster's,
    // for IRSA) is a documented federated principal.
    issue: 'UNKNOWN_FEDERATION_SOURCE',
    policy: /\/shipped-trust-irsa\.json$/,
    detail:
      /^"arn:aws:iam::111122223333:oidc-provider\/oidc\.eks\.eu-west-1\.amazonaws\.com\/id\/[0-9A-F]+"$/,
    reference: 'https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html',
  },
  {
    // The OIDC provider's own keys (<provider>:sub, <provider>:aud) are named after the provider, so no
    // service definition lists them; IAM documents them for web identity federation.
    issue: 'UNKNOWN_CONDITION_FOR_ACTION',
    policy: /\/shipped-trust-irsa\.json$/,
    detail:
      /^"Unknown condition oidc\.eks\.eu-west-1\.amazonaws\.com\/id\/[0-9A-F]+:(sub|aud) for action sts:AssumeRoleWithWebIdentity"$/,
    reference:
      'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif',
  },
  {
    // parliament's Date pattern has no fractional seconds; IAM takes any W3C profile of ISO 8601, which
    // has them (the trust's end is Date.toISOString(), milliseconds included).
    issue: 'MISMATCHED_TYPE',
    policy: /\/trust-personal-[a-z-]+\.json$/,
    detail:
      /^"Type mismatch: aws:CurrentTime requires a value of type Date but given \['\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z'\]"$/,
    reference:
      'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Date',
  },
];

/** Runs parliament (the CLI, as CI would) over a directory of policies; one JSON finding per line. */
function parliament(dir: string): Finding[] {
  if (!existsSync(PARLIAMENT)) {
    throw new Error(`parliament is not installed in ${PARLIAMENT}: run scripts/platform/install.sh`);
  }
  const run = spawnSync(
    PARLIAMENT,
    ['--directory', dir, '--include_policy_extension', 'json', '--json', '--minimum_severity', 'INFO'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // 0: no finding; 1: findings (printed). Anything else is parliament failing, never a pass.
  if (run.status !== 0 && run.status !== 1) throw new Error(`parliament exited ${run.status}: ${run.stderr}`);
  return run.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Finding);
}

const waiverMatches = (w: (typeof WAIVERS)[number], f: Finding) =>
  w.issue === f.issue && w.policy.test(f.location.filepath ?? '') && w.detail.test(JSON.stringify(f.detail));
const waived = (f: Finding) => WAIVERS.some((w) => waiverMatches(w, f));

const readPolicy = (file: string) => parsePolicy(readFileSync(file, 'utf8')).policy;

/** Test policies that reach every branch of the renderer the shipped ones do not. */
const VARIANTS = `
settings: { auditChannel: C0AUDIT }
identities:
  emailTag: { enabled: true, tagKey: slack-email }
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
  deployer:
    rules: [{ apiGroups: [batch], resources: [jobs], verbs: [create, get] }]
    privileged: true
    approvals: 1
    defaultDuration: 1h
    maxDuration: 4h
  eks-edit: { accessPolicy: AmazonEKSEditPolicy, privileged: true, approvals: 1, defaultDuration: 1h, maxDuration: 4h }
clusters:
  policies:
    region: eu-west-1
    accountId: "111122223333"
    connection: { eks: {} }
    identityMapping: access-entries
    namespaces: [{ name: team-*, approvers: { users: [U0A] }, channel: C0A, levels: [eks-edit] }]
  entries:
    region: eu-west-1
    accountId: "111122223333"
    connection: { eks: { name: entries-main } }
    identityMapping: access-entries
    namespaces: [{ name: test, approvers: { users: [U0A] }, channel: C0A, levels: [view, deployer] }]
  automatic:
    region: us-east-1
    accountId: "111122223333"
    connection: { eks: {} }
    identityMapping: auto
    namespaces: [{ name: team-*, approvers: { users: [U0A] }, channel: C0A, levels: [view] }]
  own-names:
    region: eu-central-1
    accountId: "111122223333"
    connection: { kubeconfig: {} }
    identityMapping: none
    usernameTemplate: "{email}"
    namespaces: [{ name: test, approvers: { users: [U0A] }, channel: C0A, levels: [view] }]
  remote:
    region: us-west-2
    accountId: "444455556666"
    connection: { eks: { assumeRoleArn: "arn:aws:iam::444455556666:role/eks-access-hub" } }
    identityMapping: access-entries
    namespaces: [{ name: test, approvers: { users: [U0A] }, channel: C0A, levels: [view] }]
`;
const IDENTITY_CENTER = VARIANTS.replace(
  'emailTag: { enabled: true, tagKey: slack-email }',
  'identityCenter: { enabled: true, region: eu-west-1, identityStoreId: d-1234567890, permissionSets: [EKSAccess] }',
);

const ARCHIVE: ArchiveLocation = { bucket: 'eks-access-archive', prefix: 'eks-access/' };

/**
 * A role's trust policy has no Resource: the role is its resource. parliament reads every document as an
 * identity policy and stops at a statement without one, so the role's ARN is added; it then checks the
 * actions, principals and condition keys like any other statement.
 */
function asRoleResource(trust: { Statement: object[] }, roleArn: string): unknown {
  return { ...trust, Statement: trust.Statement.map((s) => ({ ...s, Resource: roleArn })) };
}

/** Every policy document the project renders or ships, by file name. */
function everyPolicy(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const sources = {
    example: readPolicy('policy.example.yaml'),
    hub: readPolicy('manifests/overlays/hub/policy.yaml'),
    variants: parsePolicy(VARIANTS).policy,
    'identity-center': parsePolicy(IDENTITY_CENTER).policy,
  };
  for (const [source, policy] of Object.entries(sources)) {
    for (const [suffix, archive] of [
      ['', undefined],
      ['-archive', ARCHIVE],
    ] as const) {
      const rendered = renderIamPolicies(policy, archive);
      // An empty bot policy (no lookup, no archive) is no role at all; parliament rightly refuses it.
      if (rendered.bot.Statement.length > 0) out[`${source}-bot${suffix}`] = rendered.bot;
      out[`${source}-worker${suffix}`] = rendered.worker;
      for (const cross of rendered.crossAccount) {
        out[`${source}-cross-account-${cross.roleArn.split('/').pop()}${suffix}`] = cross.policy;
      }
    }
  }
  // The personal roles' trust: an IAM user, an IAM role, an Identity Center session (aws:userid pinned).
  const until = Date.parse('2030-01-01T00:00:00Z');
  const personal = 'arn:aws:iam::111122223333:role/eks-access/prod-eu/eksa-alice';
  const people = {
    user: 'arn:aws:iam::111122223333:user/alice',
    role: 'arn:aws:iam::111122223333:role/people/alice',
    'identity-center':
      'arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_EKSAccess_0123456789abcdef/alice@example.com',
  };
  for (const [kind, principal] of Object.entries(people)) {
    out[`trust-personal-${kind}`] = asRoleResource(trustPolicyFor(principal, until), personal);
  }
  // While the worker proves a login: its statement too (aws:PrincipalArn, sts:RoleSessionName).
  const worker = probeCallerOf('arn:aws:sts::111122223333:assumed-role/eks-access-worker/botocore-session-1');
  if (!worker) throw new Error('the worker session ARN did not parse');
  out['trust-personal-user-probing'] = asRoleResource(
    trustPolicyFor(people.user, until, { caller: worker, until }),
    personal,
  );
  // The shipped trust templates, placeholders filled as the README says.
  const roles = {
    'trust-irsa': 'arn:aws:iam::111122223333:role/eks-access-worker',
    'trust-pod-identity': 'arn:aws:iam::111122223333:role/eks-access-worker',
    'trust-cross-account': 'arn:aws:iam::444455556666:role/eks-access-hub',
  };
  for (const [name, role] of Object.entries(roles)) {
    const text = readFileSync(`manifests/iam/${name}.json`, 'utf8')
      .replaceAll('<ACCOUNT_ID>', '111122223333')
      .replaceAll('<HUB_ACCOUNT_ID>', '111122223333')
      .replaceAll('<OIDC_PROVIDER>', 'oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF');
    out[`shipped-${name}`] = asRoleResource(JSON.parse(text), role);
  }
  out['shipped-worker-policy'] = JSON.parse(readFileSync('manifests/iam/worker-policy.json', 'utf8'));
  return out;
}

describe('IAM policies, checked offline by parliament', () => {
  const dirs: string[] = [];
  const lint = (policies: Record<string, unknown>) => {
    const dir = mkdtempSync(join(tmpdir(), 'iam-lint-'));
    dirs.push(dir);
    for (const [name, doc] of Object.entries(policies)) {
      writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(doc, null, 2)}\n`);
    }
    return parliament(dir);
  };
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('finds nothing in any policy eks-access renders or ships (worker, bot, cross-account, trust)', () => {
    const policies = everyPolicy();
    // What the renderer can produce is all here: each source and each kind of document.
    expect(Object.keys(policies)).toEqual(
      expect.arrayContaining([
        'example-worker',
        'example-bot-archive',
        'hub-cross-account-eks-access-hub-archive',
        'variants-bot',
        'identity-center-worker-archive',
        'trust-personal-identity-center',
        'trust-personal-user-probing',
      ]),
    );
    const all = lint(policies);
    const findings = all.filter((f) => !waived(f));
    expect(findings.map((f) => `${f.location.filepath}: ${f.issue} ${JSON.stringify(f.detail)}`)).toEqual([]);
    // A waiver nothing needs any more goes: the table stays the list of what parliament gets wrong.
    const unused = WAIVERS.filter((w) => !all.some((f) => waiverMatches(w, f)));
    expect(unused.map((w) => `${w.issue} ${w.policy}`)).toEqual([]);
  });

  it('fails a deliberately misspelt condition key, resource and action (the check above can fail)', () => {
    const worker = () => renderIamPolicies(parsePolicy(VARIANTS).policy, ARCHIVE).worker;
    const statement = (policy: ReturnType<typeof worker>, sid: string) => {
      const found = policy.Statement.find((s) => s.Sid === sid);
      if (!found) throw new Error(`no statement ${sid}`);
      return found;
    };
    const misspelt = worker();
    const condition = statement(misspelt, 'CreateAccessEntriesEntries').Condition as Record<
      string,
      Record<string, unknown>
    >;
    condition['StringLike'] = { 'eks:userName2': condition['StringLike']?.['eks:username'] };
    const badResource = worker();
    statement(badResource, 'ListAccessEntriesEntries').Resource = [
      'arn:aws:eks:eu-west-1:111122223333:clusters/entries-main',
    ];
    const badAction = worker();
    statement(badAction, 'PersonalRoles').Action = ['iam:GetRoles'];
    const findings = lint({ misspelt, 'bad-resource': badResource, 'bad-action': badAction }).filter(
      (f) => !waived(f),
    );
    const issuesOf = (name: string) =>
      findings.filter((f) => f.location.filepath?.endsWith(`/${name}.json`)).map((f) => f.issue);
    expect(issuesOf('misspelt')).toEqual(['UNKNOWN_CONDITION_FOR_ACTION']);
    expect(issuesOf('bad-resource')).toEqual(['RESOURCE_MISMATCH']);
    expect(issuesOf('bad-action')).toContain('UNKNOWN_ACTION');
  });

  it('has a reference to AWS documentation for every waiver', () => {
    for (const w of WAIVERS) expect(w.reference).toMatch(/^https:\/\/docs\.aws\.amazon\.com\//);
  });
});
