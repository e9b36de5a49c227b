// The CLI's offline dry run: what a grant would create, from the policy alone.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/bin/cli.js';

async function cli(argv: string[], policyFile = 'policy.example.yaml') {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
    env: { POLICY_FILE: policyFile },
    cwd: process.cwd(),
  });
  return { code, out, err };
}

describe('eks-access plan', () => {
  it('prints the trust policy, the aws-auth entry, the kept Role and the RoleBinding of the runbook grant', async () => {
    const { code, out } = await cli([
      'plan',
      'test',
      '--principal',
      'arn:aws:iam::111122223333:user/alice',
      '--for',
      '2h',
    ]);
    expect(code).toBe(0);
    expect(out).toContain('"AWS": "arn:aws:iam::111122223333:user/alice"');
    expect(out).toContain('"aws:CurrentTime"');
    expect(out).toMatch(
      /# identity mapping \(aws-auth\)\n- rolearn: arn:aws:iam::111122223333:role\/eksa-alice-[0-9a-f]{10}\n/,
    );
    // The trust and the DM's --role-arn keep the role's full ARN (path included).
    expect(out).not.toMatch(/rolearn: \S*eks-access\/prod-eu/);
    expect(out).toContain('username: eks-access:111122223333:user:alice');
    // The runbook's level is privileged, and the dry run says so first.
    expect(out).toMatch(
      /^# WARNING: Privileged level k8s-test-role: whoever holds it can act beyond it \(writes pods/,
    );
    expect(out).toContain('name: eks-access-k8s-test-role');
    expect(out).toMatch(
      /kind: RoleBinding[\s\S]*kind: User\n\s+apiGroup: rbac.authorization.k8s.io\n\s+name: eks-access:111122223333:user:alice/,
    );
  });

  it('refuses what a real request would refuse, with the same words', async () => {
    const tooLong = await cli([
      'plan',
      'test',
      '--principal',
      'arn:aws:iam::111122223333:user/alice',
      '--for',
      '5h',
    ]);
    expect(tooLong.code).toBe(2);
    expect(tooLong.err).toContain('You asked for 5h; k8s-test-role allows at most 4h');
    const badArn = await cli(['plan', 'test', '--principal', 'alice']);
    expect(badArn.code).not.toBe(0);
    expect(badArn.err).toMatch(/principal|ARN/i);
    const assumed = await cli([
      'plan',
      'test',
      '--principal',
      'arn:aws:sts::111122223333:assumed-role/Dev/alice',
    ]);
    expect(assumed.err).toContain('is an assumed-role session, and this policy does not accept those');
    const unknown = await cli(['plan', 'prod', '--principal', 'arn:aws:iam::111122223333:user/alice']);
    expect(unknown.err).toContain('You can request: test (prod-eu).');
  });
});

describe('eks-access rbac render --kept-roles-in', () => {
  it('prints the kept Roles to apply in one namespace, and refuses one the cluster does not offer', async () => {
    const kept = await cli(['rbac', 'render', '--kept-roles-in', 'test']);
    expect(kept.code).toBe(0);
    expect(kept.out).toContain('kind: Role\nmetadata:\n  name: eks-access-k8s-test-role\n  namespace: test');
    const nothing = await cli(['rbac', 'render', '--kept-roles-in', 'nope']);
    expect(nothing.code).toBe(1);
    expect(nothing.err).toContain('cluster prod-eu offers nothing in namespace nope');
  });
});

describe('eks-access plan of an access-policy level', () => {
  it('prints the access entry and the namespace-scoped association, and no RoleBinding', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eks-access-plan-'));
    const file = join(dir, 'policy.yaml');
    writeFileSync(
      file,
      `
levels:
  eks-view: { accessPolicy: AmazonEKSViewPolicy, defaultDuration: 1h, maxDuration: 4h }
clusters:
  api:
    region: eu-west-1
    accountId: "111122223333"
    connection: { eks: {} }
    identityMapping: access-entries
    namespaces: [{ name: test, approvers: { users: [U0APPROVER] }, channel: C0APPROVAL, levels: [eks-view] }]
`,
    );
    try {
      const { code, out } = await cli(
        ['plan', 'test', '--principal', 'arn:aws:iam::111122223333:user/alice'],
        file,
      );
      expect(code).toBe(0);
      expect(out).toMatch(
        /# identity mapping \(access-entries\)\n- principalArn: arn:aws:iam::111122223333:role\/eks-access\/api\/eksa-alice-/,
      );
      expect(out).toMatch(
        /# EKS access policy association \(AssociateAccessPolicy\)\npolicyArn: arn:aws:eks::aws:cluster-access-policy\/AmazonEKSViewPolicy\naccessScope:\n {2}type: namespace\n {2}namespaces:\n {4}- test\n/,
      );
      expect(out).not.toContain('RoleBinding');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
