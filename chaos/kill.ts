// Where a real SIGKILL lands. The worker process reaches kube-apiserver and IAM only through fault
// proxies that share one RequestGate; for each engine step (EngineStep in src/engine/deps.ts) a rule
// picks the first request of whatever comes after it, the gate holds that request and every later one,
// and the process is killed while it waits for the answer. No hook in the engine: the boundary is read
// from the calls the worker makes, in the order src/engine/activate.ts and revoke.ts make them
// (aws-auth mode, a level with inline rules, so a kept Role):
//
//   activation  POST rolebindings, PUT|POST roles            → role-binding
//               GET rolebindings (list), IAM role writes,
//               GET + PUT aws-auth                            → identity
//               GET aws-auth, POST subjectaccessreviews (n)   → verified
//               Redis: active (the RoleBinding and the trust carry the final expiry from their first
//               write, fixed by the ledger: nothing on the cluster or IAM follows verification)
//   revocation  DELETE rolebindings, GET roles, GET rolebindings, DELETE roles → revoke-binding
//               GET rolebindings (list), GET + PUT aws-auth, IAM role teardown, Redis: ended
import type { Grant } from '../src/domain/grant.js';
import type { EngineStep } from '../src/engine/deps.js';
import type { Harness } from '../test/int/engine-harness.js';
import type { SeenRequest } from '../test/platform/fault-proxy.js';
import { traces } from './measure.js';

/** Where a worker looks for aws-auth; the kube proxy maps it onto the harness's own ConfigMap. */
export const AWS_AUTH_PATH = '/api/v1/namespaces/kube-system/configmaps/aws-auth';

const RBAC_NAMESPACED =
  /^\/apis\/rbac\.authorization\.k8s\.io\/v1\/namespaces\/[^/]+\/roles(\/[^/?]+)?(\?|$)/;
const kube = (r: SeenRequest | undefined, methods: readonly string[]) =>
  r?.via === 'kube' && methods.includes(r.method);
const isRoleWrite = (r: SeenRequest | undefined) =>
  kube(r, ['PUT', 'POST']) && RBAC_NAMESPACED.test(r?.path ?? '');
const isRoleDelete = (r: SeenRequest | undefined) =>
  kube(r, ['DELETE']) && RBAC_NAMESPACED.test(r?.path ?? '');
const isAwsAuthWrite = (r: SeenRequest | undefined) =>
  kube(r, ['PUT', 'PATCH']) && (r?.path ?? '').split('?')[0] === AWS_AUTH_PATH;
const isReview = (r: SeenRequest | undefined) =>
  kube(r, ['POST']) && (r?.path ?? '').startsWith('/apis/authorization.k8s.io/v1/subjectaccessreviews');

export interface Boundary {
  /** Whether `request` is the first one after the step, given those before it. */
  next(request: SeenRequest, before: readonly SeenRequest[]): boolean;
  /** The kinds of trace (chaos/measure.ts traces()) the grant has once the step is done and the next is not. */
  traces: readonly string[];
  /** The grant's status in Redis at that moment. */
  status: Grant['status'];
}

export const BOUNDARIES: Readonly<Record<EngineStep, Boundary>> = {
  // The Role's write (a replace, or a create after its 404) ends the step: anything else comes after.
  'role-binding': {
    next: (r, before) => before.some(isRoleWrite) && !isRoleWrite(r),
    traces: ['RoleBinding'],
    status: 'approved',
  },
  // The aws-auth write is the identity step's last call (the IAM role is written before it).
  identity: {
    next: (_r, before) => isAwsAuthWrite(before.at(-1)),
    traces: ['RoleBinding', 'IAM role', 'aws-auth entry'],
    status: 'approved',
  },
  // Verification only reads (the mapping, then SubjectAccessReviews, the last the negative check), and
  // no cluster or IAM call follows it any more: this rule holds nothing in an activation (chaos-kill
  // unit test), so no scenario kills there; a kill after `identity` covers a crash before `active`.
  verified: {
    next: (r, before) => before.some(isAwsAuthWrite) && isReview(before.at(-1)) && !isReview(r),
    traces: ['RoleBinding', 'IAM role', 'aws-auth entry'],
    status: 'approved',
  },
  // The kept Role's conditional delete ends the step (the grant's RoleBinding went first).
  'revoke-binding': {
    next: (r, before) => before.some(isRoleDelete) && !isRoleDelete(r),
    traces: ['IAM role', 'aws-auth entry'],
    status: 'revoking',
  },
};

/** `GET rolebindings (list)`, `PUT rolebindings`, `iam CreateRole`: a held request, briefly. */
export function describeRequest(r: SeenRequest): string {
  if (r.via !== 'kube') return `${r.via} ${r.action}`;
  const [path = '', query] = r.path.split('?');
  const parts = path.split('/').filter(Boolean);
  const kinds = ['rolebindings', 'roles', 'configmaps', 'subjectaccessreviews', 'namespaces'];
  const at = parts.findLastIndex((p) => kinds.includes(p));
  const kind = at === -1 ? path : parts[at] === 'configmaps' ? 'aws-auth' : parts[at];
  return `${r.method} ${kind}${at === parts.length - 1 && r.method === 'GET' && query ? ' (list)' : ''}`;
}

/**
 * What the cluster, IAM and Redis say right after the kill, against what `step` done and the next
 * step not begun should leave; empty when they agree.
 */
export async function landedAfter(h: Harness, grant: Grant, step: EngineStep): Promise<string[]> {
  const expected = BOUNDARIES[step];
  const found = (await traces(h, [grant])).map((t) => t.slice(0, t.lastIndexOf(' ')));
  const status = (await h.runtime.store.get(grant.id))?.status;
  const problems: string[] = [];
  if ([...found].sort().join() !== [...expected.traces].sort().join()) {
    problems.push(`at the kill found ${found.join(', ') || 'nothing'}, not ${expected.traces.join(', ')}`);
  }
  if (status !== expected.status)
    problems.push(`at the kill the grant was ${status}, not ${expected.status}`);
  return problems;
}
