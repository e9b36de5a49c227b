import { describe, expect, it } from 'vitest';
import { EksTokenSource, presignEksToken, TOKEN_REUSE_MS } from '../../src/adapters/aws/eks-token.js';

const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};

describe('EKS bearer token', () => {
  it('is k8s-aws-v1. + base64url of a presigned GetCallerIdentity URL bound to the cluster name', async () => {
    const token = await presignEksToken({
      clusterName: 'prod-eu',
      region: 'eu-west-1',
      credentials,
      now: Date.UTC(2026, 0, 2, 3, 4, 5),
    });
    expect(token.startsWith('k8s-aws-v1.')).toBe(true);
    expect(token).not.toContain('=');
    const url = new URL(Buffer.from(token.slice('k8s-aws-v1.'.length), 'base64url').toString());
    expect(url.origin).toBe('https://sts.eu-west-1.amazonaws.com');
    expect(url.searchParams.get('Action')).toBe('GetCallerIdentity');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('60');
    expect(url.searchParams.get('X-Amz-Date')).toBe('20260102T030405Z');
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('host;x-k8s-aws-id');
    expect(url.searchParams.get('X-Amz-Credential')).toBe('AKIDEXAMPLE/20260102/eu-west-1/sts/aws4_request');
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is reused until shortly before its 15 minutes end', async () => {
    let now = Date.UTC(2026, 0, 1);
    let calls = 0;
    const source = new EksTokenSource({
      clusterName: 'c',
      region: 'us-east-1',
      clock: { now: () => now },
      credentials: async () => {
        calls += 1;
        return credentials;
      },
    });
    const first = await source.token();
    now += TOKEN_REUSE_MS - 1;
    expect(await source.token()).toBe(first);
    now += 2;
    expect(await source.token()).not.toBe(first);
    expect(calls).toBe(2);
    expect(TOKEN_REUSE_MS).toBeLessThan(15 * 60_000);
  });
});
