// Which identity mapping an EKS cluster reads in each authentication mode, what `auto` becomes, and
// the refusal (with its fix) for a mapping the cluster ignores.
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config/load.js';
import {
  authenticationModeOf,
  mappingMismatch,
  readsMapping,
  resolveMapping,
} from '../../src/domain/auth-mode.js';
import { planGrant } from '../../src/domain/plan.js';

describe('authentication mode', () => {
  it.each([
    ['CONFIG_MAP', true, false, 'aws-auth'],
    ['API_AND_CONFIG_MAP', true, true, 'access-entries'],
    ['API', false, true, 'access-entries'],
  ] as const)('%s: reads aws-auth %s, access entries %s; auto is %s', (mode, awsAuth, entries, auto) => {
    expect(readsMapping(mode, 'aws-auth')).toBe(awsAuth);
    expect(readsMapping(mode, 'access-entries')).toBe(entries);
    expect(resolveMapping('auto', mode)).toBe(auto);
    expect(resolveMapping('aws-auth', mode)).toBe('aws-auth');
    expect(mappingMismatch('aws-auth', mode, 'c') === undefined).toBe(awsAuth);
    expect(mappingMismatch('access-entries', mode, 'c') === undefined).toBe(entries);
    expect(mappingMismatch('none', mode, 'c')).toBeUndefined();
  });

  it('takes an absent mode as the API default, CONFIG_MAP, and refuses an unknown one', () => {
    expect(authenticationModeOf(undefined)).toBe('CONFIG_MAP');
    expect(authenticationModeOf('API')).toBe('API');
    expect(authenticationModeOf('SOMETHING_NEW')).toBeUndefined();
    expect(mappingMismatch('aws-auth', undefined, 'c')?.problem).toMatch(/does not know/);
  });

  it('names the fix: access entries on an API cluster, update-cluster-config on a CONFIG_MAP one', () => {
    expect(mappingMismatch('aws-auth', 'API', 'prod')?.fix).toMatch(/identityMapping: access-entries/);
    expect(mappingMismatch('access-entries', 'CONFIG_MAP', 'prod')?.fix).toContain(
      'aws eks update-cluster-config --name prod --access-config authenticationMode=API_AND_CONFIG_MAP',
    );
  });
});

describe('identityMapping: auto in the policy', () => {
  const policy = (connection: string) => `
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
clusters:
  dev:
    region: eu-west-1
    accountId: "111122223333"
    connection: ${connection}
    identityMapping: auto
    namespaces:
      - name: test
        approvers: { users: [U0APPROVER] }
        channel: C0APPROVAL
        levels: [view]
`;

  it('needs an EKS connection (the mode comes from DescribeCluster)', () => {
    expect(() => parsePolicy(policy('{ kubeconfig: {} }'))).toThrow(/identityMapping auto reads the EKS/);
    expect(() => parsePolicy(policy('{ eks: {} }'))).not.toThrow();
  });

  it('plans both entries offline, and the resolved one when the cluster is known', () => {
    const loaded = parsePolicy(policy('{ eks: {} }')).policy;
    const grant = {
      id: 'ea-abcdefgh',
      cluster: 'dev',
      namespace: 'test',
      level: 'view',
      requester: {
        slackUserId: 'U1',
        principalArn: 'arn:aws:iam::111122223333:user/alice',
        kubernetesUsername: 'eks-access:alice',
      },
    };
    const offline = planGrant({ policy: loaded, grant, expiresAt: 0 });
    expect(offline.mapping).toMatchObject({
      mode: 'auto',
      awsAuth: { rolearn: expect.stringMatching(/^arn:aws:iam::111122223333:role\/eksa-alice-/) },
      accessEntry: { principalArn: offline.personalRole?.arn },
    });
    expect(
      planGrant({ policy: loaded, grant, expiresAt: 0, resolvedMapping: 'access-entries' }).mapping.mode,
    ).toBe('access-entries');
  });
});
