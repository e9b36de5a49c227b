import { describe, expect, it } from 'vitest';
import { editMapRoles, parseMapRoles } from '../../src/adapters/k8s/aws-auth-document.js';
import { AccessError } from '../../src/domain/errors.js';
import { isOurMapping } from '../../src/domain/names.js';

const OWN = { accountId: '1', rolePath: '/eks-access/c/', usernamePrefix: 'eks-access:' };
const isOurs = (entry: { roleArn: string; username: string }) => isOurMapping(OWN, entry);
const FOREIGN = `  - rolearn: arn:aws:iam::1:role/node  # nodes
    username: system:node:{{EC2PrivateDNSName}}
    groups: [system:bootstrappers, system:nodes]
  - {rolearn: "arn:aws:iam::1:role/admin", username: admin}
`;
const alice = {
  roleArn: 'arn:aws:iam::1:role/eksa-alice',
  username: 'eks-access:alice',
  groups: [],
};
const bob = { roleArn: 'arn:aws:iam::1:role/eksa-bob', username: 'eks-access:bob', groups: [] };

describe('aws-auth mapRoles edits', () => {
  it('appends our entry with the list indentation and keeps foreign bytes', () => {
    const after = editMapRoles(FOREIGN, [{ kind: 'upsert', entry: alice }], 'cm', isOurs) as string;
    expect(after.startsWith(FOREIGN)).toBe(true);
    expect(after.slice(FOREIGN.length)).toBe(
      `  - rolearn: ${alice.roleArn}\n    username: "eks-access:alice"\n    groups: []\n`,
    );
    expect(parseMapRoles(after, 'cm').map((e) => e.roleArn)).toEqual([
      'arn:aws:iam::1:role/node',
      'arn:aws:iam::1:role/admin',
      alice.roleArn,
    ]);
  });

  it('removes only our entry, wherever it sits, and round-trips to the original', () => {
    const withBoth = editMapRoles(
      FOREIGN,
      [
        { kind: 'upsert', entry: alice },
        { kind: 'upsert', entry: bob },
      ],
      'cm',
      isOurs,
    ) as string;
    const withoutAlice = editMapRoles(
      withBoth,
      [{ kind: 'remove', roleArn: alice.roleArn }],
      'cm',
      isOurs,
    ) as string;
    expect(parseMapRoles(withoutAlice, 'cm').map((e) => e.username)).toEqual([
      'system:node:{{EC2PrivateDNSName}}',
      'admin',
      'eks-access:bob',
    ]);
    expect(editMapRoles(withoutAlice, [{ kind: 'remove', roleArn: bob.roleArn }], 'cm', isOurs)).toBe(
      FOREIGN,
    );
  });

  it('is idempotent: an identical upsert or a missing removal writes nothing', () => {
    const once = editMapRoles('', [{ kind: 'upsert', entry: alice }], 'cm', isOurs) as string;
    expect(editMapRoles(once, [{ kind: 'upsert', entry: alice }], 'cm', isOurs)).toBeUndefined();
    expect(editMapRoles(FOREIGN, [{ kind: 'remove', roleArn: bob.roleArn }], 'cm', isOurs)).toBeUndefined();
  });

  it('replaces an entry whose username changed instead of duplicating it', () => {
    const once = editMapRoles(FOREIGN, [{ kind: 'upsert', entry: alice }], 'cm', isOurs) as string;
    const changed = editMapRoles(
      once,
      [{ kind: 'upsert', entry: { ...alice, username: 'eks-access:x' } }],
      'cm',
      isOurs,
    ) as string;
    expect(
      parseMapRoles(changed, 'cm')
        .filter((e) => e.roleArn === alice.roleArn)
        .map((e) => e.username),
    ).toEqual(['eks-access:x']);
  });

  it('refuses documents it does not understand, and leaves foreign roles alone', () => {
    for (const text of [
      '- rolearn: [unclosed\n',
      'rolearn: not-a-list\n',
      '[{rolearn: a}]\n',
      '- just-a-string\n',
    ]) {
      expect(() => editMapRoles(text, [{ kind: 'upsert', entry: alice }], 'cm', isOurs)).toThrow(AccessError);
    }
    expect(
      editMapRoles(FOREIGN, [{ kind: 'remove', roleArn: 'arn:aws:iam::1:role/node' }], 'cm', isOurs),
    ).toBeUndefined();
    expect(() =>
      editMapRoles(FOREIGN, [{ kind: 'upsert', entry: { ...alice, username: 'admin' } }], 'cm', isOurs),
    ).toThrow(/not ours/);
  });

  it('replaces an entry of ours written with the path by the path-less one, and removes either form', () => {
    const legacy = `${FOREIGN}  - rolearn: arn:aws:iam::1:role/eks-access/c/eksa-alice\n    username: "eks-access:alice"\n    groups: []\n`;
    const migrated = editMapRoles(legacy, [{ kind: 'upsert', entry: alice }], 'cm', isOurs) as string;
    expect(migrated).toBe(
      `${FOREIGN}  - rolearn: ${alice.roleArn}\n    username: "eks-access:alice"\n    groups: []\n`,
    );
    expect(
      editMapRoles(
        legacy,
        [{ kind: 'remove', roleArn: 'arn:aws:iam::1:role/eks-access/c/eksa-alice' }],
        'cm',
        isOurs,
      ),
    ).toBe(FOREIGN);
    // Case differs (IAM names and the authenticator's match are case-insensitive): still the same role.
    expect(
      editMapRoles(
        migrated,
        [{ kind: 'remove', roleArn: 'arn:aws:iam::1:role/eks-access/c/EKSA-Alice' }],
        'cm',
        isOurs,
      ),
    ).toBe(FOREIGN);
  });

  it('never edits a foreign entry: not our username prefix, not our path, not our account', () => {
    const foreignSameRole = `${FOREIGN}  - rolearn: ${alice.roleArn}\n    username: admin\n    groups: [system:masters]\n`;
    expect(
      editMapRoles(foreignSameRole, [{ kind: 'remove', roleArn: alice.roleArn }], 'cm', isOurs),
    ).toBeUndefined();
    expect(() => editMapRoles(foreignSameRole, [{ kind: 'upsert', entry: alice }], 'cm', isOurs)).toThrow(
      /did not write/,
    );
    for (const roleArn of [
      'arn:aws:iam::1:role/other/eksa-alice',
      'arn:aws:iam::2:role/eksa-alice',
      'arn:aws:iam::1:role/alice',
    ]) {
      const text = `- rolearn: ${roleArn}\n  username: eks-access:alice\n`;
      expect(editMapRoles(text, [{ kind: 'remove', roleArn }], 'cm', isOurs)).toBeUndefined();
    }
  });
});
