// aws-auth document edits without a server: how fast `editMapRoles` upserts and removes our entry in a
// mapRoles document that already holds 10, 100 or 1000 foreign entries (node roles and the like).
import { editMapRoles } from '../src/adapters/k8s/aws-auth-document.js';
import { isOurMapping } from '../src/domain/names.js';
import { ms, percentile } from './stats.js';

const OWN = { accountId: '123456789012', rolePath: '/eks-access/bench/', usernamePrefix: 'eks-access:' };
const isOurs = (entry: { roleArn: string; username: string }) => isOurMapping(OWN, entry);

function foreignDocument(entries: number): string {
  let text = '';
  for (let i = 0; i < entries; i++) {
    text += `- rolearn: arn:aws:iam::123456789012:role/nodegroup-${i}-NodeInstanceRole\n`;
    text +=
      '  username: system:node:{{EC2PrivateDNSName}}\n  groups:\n    - system:bootstrappers\n    - system:nodes\n';
  }
  return text;
}

export interface EditResult {
  foreign: number;
  upsert: { p50: number; p95: number; perSecond: number };
  remove: { p50: number; p95: number; perSecond: number };
}

export function awsAuthEdits(foreign: number, rounds: number): EditResult {
  const base = foreignDocument(foreign);
  const upserts: number[] = [];
  const removes: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const entry = {
      roleArn: `arn:aws:iam::123456789012:role/eksa-u${i}`,
      username: `eks-access:u${i}`,
      groups: [],
    };
    let t = performance.now();
    const added = editMapRoles(base, [{ kind: 'upsert', entry }], 'bench', isOurs);
    upserts.push(performance.now() - t);
    if (!added) throw new Error('upsert wrote nothing');
    t = performance.now();
    const removed = editMapRoles(added, [{ kind: 'remove', roleArn: entry.roleArn }], 'bench', isOurs);
    removes.push(performance.now() - t);
    if (removed !== base) throw new Error('remove did not restore the document');
  }
  const figures = (samples: number[]) => ({
    p50: percentile(samples, 50),
    p95: percentile(samples, 95),
    perSecond: 1000 / (samples.reduce((a, b) => a + b, 0) / samples.length),
  });
  return { foreign, upsert: figures(upserts), remove: figures(removes) };
}

export function printAwsAuthEdits(results: readonly EditResult[]): void {
  console.log(
    '\n## aws-auth edits (editMapRoles, one upsert then its removal, byte-exact round trip checked)\n',
  );
  console.log('| foreign entries | upsert p50 / p95 | upserts/s | remove p50 / p95 | removes/s |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of results) {
    console.log(
      `| ${r.foreign} | ${ms(r.upsert.p50)} / ${ms(r.upsert.p95)} | ${r.upsert.perSecond.toFixed(0)} | ${ms(r.remove.p50)} / ${ms(r.remove.p95)} | ${r.remove.perSecond.toFixed(0)} |`,
    );
  }
}
