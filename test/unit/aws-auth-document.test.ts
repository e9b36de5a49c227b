import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  editMapRoles,
  effectiveMapping,
  type MapRolesEdit,
  parseMapRoles,
} from '../../src/adapters/k8s/aws-auth-document.js';
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

  it('refuses only what the authenticator cannot use either, and leaves foreign roles alone', () => {
    for (const [text, reason] of [
      ['- rolearn: [unclosed\n', /not valid YAML/],
      ['rolearn: not-a-list\n', /not a list/],
      ['just some text\n', /not a list/],
      ['{"rolearn": "a"}\n', /not a list/],
    ] as const) {
      expect(() => editMapRoles(text, [{ kind: 'upsert', entry: alice }], 'cm', isOurs)).toThrow(reason);
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

  // Every form aws-iam-authenticator reads (sigs.k8s.io/yaml: YAML block or flow lists, JSON), with
  // comments, quoting, odd keys, duplicates and items it skips. Grants come and go in every order; the
  // foreign entries never change meaning, and once ours are gone the text is the original, byte for byte.
  const DOCUMENTS: Record<string, string> = {
    empty: '',
    'blank line': '\n',
    'comment only': '# nothing mapped yet\n',
    'document marker': '---\n',
    'block, indented, comments': FOREIGN,
    'block, no indent, no final newline':
      '- rolearn: arn:aws:iam::1:role/node\n  username: node\n  groups:\n  - system:nodes',
    'block, quoting styles': `- rolearn: 'arn:aws:iam::1:role/a'\n  username: "a"\n- "rolearn": arn:aws:iam::1:role/b\n  username: >-\n    b\n`,
    'block, trailing comment line': '- rolearn: arn:aws:iam::1:role/node\n  username: node\n# end of list\n',
    'block, CRLF': '- rolearn: arn:aws:iam::1:role/node\r\n  username: node\r\n',
    'block, crazy-case keys':
      '- rOlEaRn: arn:aws:iam::1:role/node\n  UsErNaMe: node\n  gRoUpS: [system:nodes]\n',
    'block, duplicates and items the authenticator skips': `${FOREIGN}${FOREIGN}  - just-a-string\n  - {username: no-arn}\n`,
    'flow, empty': '[]',
    'flow, empty with newline': '[]\n',
    'flow, empty with spaces': '[ ]\n',
    'flow, one line': '[{rolearn: arn:aws:iam::1:role/node, username: node, groups: [system:nodes]}]\n',
    'flow, multi-line with comments and trailing comma':
      '[\n  {rolearn: arn:aws:iam::1:role/node, username: node}, # nodes\n  {rolearn: "arn:aws:iam::1:role/admin", username: admin},\n]\n',
    'JSON, compact': '[{"rolearn":"arn:aws:iam::1:role/node","username":"node","groups":["system:nodes"]}]',
    'JSON, pretty':
      '[\n  {\n    "rolearn": "arn:aws:iam::1:role/node",\n    "username": "node",\n    "groups": [\n      "system:nodes"\n    ]\n  }\n]\n',
    'JSON, empty': '[]\n',
  };
  const carol = { roleArn: 'arn:aws:iam::1:role/eksa-carol', username: 'eks-access:carol', groups: [] };
  const people = [alice, bob, carol];
  const orders = [
    [0, 1, 2],
    [2, 1, 0],
    [1, 0, 2],
  ];
  /** What the authenticator would decode: the JSON value of the YAML. */
  const decoded = (text: string) => (text.trim() === '' ? null : parse(text));
  const foreignOf = (text: string) =>
    ((decoded(text) as unknown[] | null) ?? []).filter((item) => {
      const { rolearn, username } = (item ?? {}) as { rolearn?: unknown; username?: unknown };
      return !isOurs({ roleArn: String(rolearn ?? ''), username: String(username ?? '') });
    });

  it.each(Object.entries(DOCUMENTS))(
    '%s: grants come and go, foreign entries keep meaning and bytes',
    (_, original) => {
      const apply = (text: string, edit: MapRolesEdit) => editMapRoles(text, [edit], 'cm', isOurs) ?? text;
      for (const order of orders) {
        let text = original;
        for (const person of people) {
          const next = apply(text, { kind: 'upsert', entry: person });
          expect(next).not.toBe(text);
          // Idempotent: the same upsert again writes nothing.
          expect(editMapRoles(next, [{ kind: 'upsert', entry: person }], 'cm', isOurs)).toBeUndefined();
          text = next;
        }
        // Our entries are there for the authenticator, once each, path-less; foreign ones unchanged.
        const mapped = decoded(text) as { rolearn?: string; username?: string }[];
        for (const person of people) {
          expect(
            mapped.filter((e) => e?.rolearn === person.roleArn && e.username === person.username),
          ).toHaveLength(1);
        }
        expect(JSON.stringify(foreignOf(text.replace(/\r/g, '')))).toBe(
          JSON.stringify(foreignOf(original.replace(/\r/g, ''))),
        );
        for (const index of order) {
          text = apply(text, { kind: 'remove', roleArn: (people[index] as typeof alice).roleArn });
        }
        expect(text).toBe(original);
      }
    },
  );

  it('null, ~ and the texts the authenticator skips ("", \'\', two backticks) take our entry and end empty', () => {
    for (const original of ['null\n', '~', '""', "''", '``']) {
      const added = editMapRoles(original, [{ kind: 'upsert', entry: alice }], 'cm', isOurs) as string;
      expect(parseMapRoles(added, 'cm').map((e) => e.roleArn)).toEqual([alice.roleArn]);
      expect(editMapRoles(added, [{ kind: 'remove', roleArn: alice.roleArn }], 'cm', isOurs)).toBe('');
    }
  });

  it('picks the entry the authenticator would use: the last one for the canonical ARN, any case', () => {
    const text = `- rolearn: ${alice.roleArn}\n  username: eks-access:alice\n- rolearn: ${alice.roleArn.toUpperCase().replace('ARN:AWS:IAM', 'arn:aws:iam')}\n  username: admin\n`;
    expect(
      effectiveMapping(parseMapRoles(text, 'cm'), 'arn:aws:iam::1:role/eks-access/c/eksa-alice')?.username,
    ).toBe('admin');
    expect(effectiveMapping(parseMapRoles(FOREIGN, 'cm'), alice.roleArn)).toBeUndefined();
    // An entry with the path matches no session, so it is not what the authenticator uses.
    const legacy = '- rolearn: arn:aws:iam::1:role/eks-access/c/eksa-alice\n  username: eks-access:alice\n';
    expect(effectiveMapping(parseMapRoles(legacy, 'cm'), alice.roleArn)).toBeUndefined();
  });
});

describe('aws-auth mapRoles edits in batches (one parse carried through a batch)', () => {
  const bases = {
    'indented block': FOREIGN,
    'block without a final newline': FOREIGN.trimEnd(),
    flow: '[{"rolearn": "arn:aws:iam::1:role/admin", "username": "admin"}]',
    empty: '',
    'comments only': '# managed by the platform team\n',
  };
  const roles = ['a', 'b', 'c', 'd', 'e', 'f'].map((n) => `arn:aws:iam::1:role/eksa-${n}`);
  // A small seeded generator, so a failure can be replayed.
  const random = (seed: number) => () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const ourEntries = (text: string) =>
    parseMapRoles(text, 'cm')
      .filter(isOurs)
      .map((e) => `${e.roleArn}=${e.username}`)
      .sort();
  const foreignEntries = (text: string) => parseMapRoles(text, 'cm').filter((e) => !isOurs(e));

  for (const [name, base] of Object.entries(bases)) {
    it(`${name}: a batch gives what its edits one by one give, foreign entries untouched, and back to the original bytes`, () => {
      const next = random(name.length * 7919);
      let batched = base;
      let single = base;
      const model = new Map<string, string>();
      for (let round = 0; round < 40; round++) {
        const batch: MapRolesEdit[] = Array.from({ length: 1 + Math.floor(next() * 8) }, () => {
          const roleArn = roles[Math.floor(next() * roles.length)] as string;
          if (next() < 0.35) return { kind: 'remove', roleArn };
          return {
            kind: 'upsert',
            entry: { roleArn, username: `eks-access:${next() < 0.5 ? 'x' : 'y'}`, groups: [] },
          };
        });
        for (const edit of batch) {
          if (edit.kind === 'remove') model.delete(edit.roleArn);
          else model.set(edit.entry.roleArn, edit.entry.username);
          single = editMapRoles(single, [edit], 'cm', isOurs) ?? single;
        }
        batched = editMapRoles(batched, batch, 'cm', isOurs) ?? batched;
        expect(batched).toBe(single);
        expect(ourEntries(batched)).toEqual([...model].map(([arn, user]) => `${arn}=${user}`).sort());
        expect(foreignEntries(batched)).toEqual(foreignEntries(base));
      }
      const removeAll = roles.map((roleArn): MapRolesEdit => ({ kind: 'remove', roleArn }));
      expect(editMapRoles(batched, removeAll, 'cm', isOurs) ?? batched).toBe(base);
    });
  }
});
