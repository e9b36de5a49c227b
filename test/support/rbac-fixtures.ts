// Shared by the tests that run the worker with only its rendered RBAC on the real apiserver.
import { spawnSync } from 'node:child_process';
import { parsePolicy } from '../../src/config/load.js';
import type { Policy } from '../../src/config/policy.js';
import { platform } from '../platform/context.js';

/** kubectl as the platform's admin (the platform team applying what `rbac render` prints). */
export function adminKubectl(
  args: string[],
  input?: string,
): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(platform().kube.kubectl, ['--kubeconfig', platform().kube.adminKubeconfig, ...args], {
    input,
    encoding: 'utf8',
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** One cluster `test` (in-cluster connection, no identity mapping) offering view and a kept-Role level in one namespace. */
export function viewAndDeployerPolicy(namespace: string, usernameTemplate: string): Policy {
  return parsePolicy(`
settings: { auditChannel: C0AUDIT }
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
  deployer:
    rules:
      - apiGroups: [batch]
        resources: [jobs]
        verbs: [create, get, list]
    privileged: true
    approvals: 1
    defaultDuration: 1h
    maxDuration: 4h
clusters:
  test:
    region: eu-west-1
    accountId: "111122223333"
    connection: { kubeconfig: {} }
    identityMapping: none
    usernameTemplate: "${usernameTemplate}"
    namespaces:
      - name: ${namespace}
        approvers: { users: [U0APPROVER] }
        channel: C0APPROVAL
        levels: [view, deployer]
`).policy;
}
