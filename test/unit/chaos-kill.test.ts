// Where chaos/kill.ts's rules put a real kill: on the call order of an activation and a revocation as
// the worker makes them (aws-auth mode, a level with a kept Role), each rule picks the first call after
// its step. The chaos scenarios check the same on the platform (landedAfter); this pins the rules.
import { describe, expect, it } from 'vitest';
import { AWS_AUTH_PATH, BOUNDARIES, describeRequest } from '../../chaos/kill.js';
import type { SeenRequest } from '../../test/platform/fault-proxy.js';

const RBAC = '/apis/rbac.authorization.k8s.io/v1';
const kube = (method: string, path: string): SeenRequest => ({ via: 'kube', method, path, action: '' });
const iam = (action: string): SeenRequest => ({ via: 'iam', method: 'POST', path: '/', action });
const review = kube('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews');

const ACTIVATION = [
  kube('GET', AWS_AUTH_PATH),
  kube('GET', '/api/v1/namespaces/ns'),
  kube('POST', `${RBAC}/namespaces/ns/rolebindings`),
  kube('PUT', `${RBAC}/namespaces/ns/roles/eks-access-k8s-test-role`),
  kube('POST', `${RBAC}/namespaces/ns/roles`),
  kube('GET', `${RBAC}/rolebindings?labelSelector=eks-access%2Fuser%3Dalice`),
  iam('CreateRole'),
  iam('PutRolePolicy'),
  kube('GET', AWS_AUTH_PATH),
  kube('PUT', AWS_AUTH_PATH),
  kube('GET', AWS_AUTH_PATH),
  review,
  review,
];

const REVOCATION = [
  kube('DELETE', `${RBAC}/namespaces/ns/rolebindings/eks-access-ea-1`),
  kube('GET', `${RBAC}/namespaces/ns/roles/eks-access-k8s-test-role`),
  kube('GET', `${RBAC}/namespaces/ns/rolebindings`),
  kube('DELETE', `${RBAC}/namespaces/ns/roles/eks-access-k8s-test-role`),
  kube('GET', `${RBAC}/rolebindings?labelSelector=eks-access%2Fuser%3Dalice`),
  kube('GET', AWS_AUTH_PATH),
  kube('PUT', AWS_AUTH_PATH),
  iam('DeleteRole'),
];

/** Which call (index and description) a boundary's rule holds, as a gate offers them one by one. */
function heldIn(calls: readonly SeenRequest[], step: keyof typeof BOUNDARIES): [number, string] | undefined {
  const at = calls.findIndex((call, i) => BOUNDARIES[step].next(call, calls.slice(0, i)));
  const held = calls[at];
  return held && [at, describeRequest(held)];
}

describe('chaos kill boundaries', () => {
  it('hold the first call after each activation step', () => {
    expect(heldIn(ACTIVATION, 'role-binding')).toEqual([5, 'GET rolebindings (list)']);
    expect(heldIn(ACTIVATION, 'identity')).toEqual([10, 'GET aws-auth']);
    // The expiry is final from the first write: nothing on the cluster or IAM follows verification.
    expect(heldIn(ACTIVATION, 'verified')).toBeUndefined();
  });

  it('hold the first call after the revocation step, and nothing in an activation', () => {
    expect(heldIn(REVOCATION, 'revoke-binding')).toEqual([4, 'GET rolebindings (list)']);
    expect(heldIn(ACTIVATION, 'revoke-binding')).toBeUndefined();
  });

  it('describe AWS calls by their operation', () => {
    expect(describeRequest(iam('CreateRole'))).toBe('iam CreateRole');
  });
});
