// The one check for "no request here could ever be approved": a namespace's needed approvals against
// the distinct active people who may give them (doctor and the sandbox both run it).
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config/load.js';
import { describeShortfall, quorumShortfalls } from '../../src/domain/quorum.js';

const policy = (approvers: string, approvals: number) =>
  parsePolicy(`
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h, approvals: ${approvals} }
clusters:
  dev:
    region: eu-west-1
    accountId: "123456789012"
    connection: { kubeconfig: { path: /dev/null } }
    identityMapping: aws-auth
    namespaces:
      - name: test
        approvers: ${approvers}
        channel: C0APPROVALS
        levels: [view]
`).policy;

describe('quorumShortfalls', () => {
  it('finds a quorum larger than the approver list', () => {
    const p = policy('{ users: [U0A, U0B] }', 3);
    const found = quorumShortfalls(p, (ns) => ns.approvers.users);
    expect(found).toEqual([{ cluster: 'dev', namespace: 'test', level: 'view', needed: 3, active: 2 }]);
    expect(describeShortfall(found[0] as (typeof found)[0])).toBe(
      'test on dev, level view: needs 3 approval(s), only 2 active approver(s) can give them',
    );
  });

  it('finds 5 approvals asked of a group of 2 members, and counts a person in both the list and the group once', () => {
    const p = policy('{ users: [U0A], groups: [S0TEAM] }', 5);
    const members: Record<string, string[]> = { S0TEAM: ['U0A', 'U0B'] };
    const found = quorumShortfalls(p, (ns) => [
      ...ns.approvers.users,
      ...ns.approvers.groups.flatMap((g) => members[g] ?? []),
    ]);
    expect(found.map((f) => [f.needed, f.active])).toEqual([[5, 2]]);
  });

  it('counts only the active approvers it is given: a deactivated one makes a reachable quorum unreachable', () => {
    const p = policy('{ users: [U0A, U0B] }', 2);
    expect(quorumShortfalls(p, (ns) => ns.approvers.users)).toEqual([]);
    const gone = new Set(['U0B']);
    expect(quorumShortfalls(p, (ns) => ns.approvers.users.filter((u) => !gone.has(u)))).toHaveLength(1);
  });
});
