// The plugin's own SigV4 signer (plain node:crypto, so the plugin is one file without dependencies)
// against the AWS SDK's signer, and its constants against the server's.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { presignGetCallerIdentity } from '../../src/adapters/aws/eks-token.js';
import {
  presignCallerIdentity,
  regionOfStsHost,
  TOKEN_EXPIRES_S,
  TOKEN_PREFIX,
  tokenOfUrl,
} from '../../src/bin/kubectl-eks-access.js';
import {
  AUDIENCE_HEADER,
  CALLER_TOKEN_PREFIX,
  MAX_TOKEN_EXPIRES_S,
  readCallerToken,
} from '../../src/domain/caller-token.js';

const now = Date.UTC(2026, 11, 5, 10, 30, 7);
const credentials = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};

describe('kubectl eks-access signs like the AWS SDK', () => {
  it.each([
    ['sts.eu-west-1.amazonaws.com', undefined],
    ['sts.amazonaws.com', 'FwoGZXIvYXdzEJr//////////wEaDH+session/token=='],
  ])('for %s (session token %s)', async (host, sessionToken) => {
    const mine = presignCallerIdentity({
      credentials: { ...credentials, sessionToken },
      host,
      audienceHeader: AUDIENCE_HEADER,
      audience: 'prod',
      now,
    });
    const sdk = await presignGetCallerIdentity({
      region: regionOfStsHost(host),
      hostname: host,
      headers: { host, [AUDIENCE_HEADER]: 'prod' },
      credentials: { ...credentials, ...(sessionToken ? { sessionToken } : {}) },
      now,
      expiresIn: TOKEN_EXPIRES_S,
    });
    const params = (url: string) => Object.fromEntries(new URL(url).searchParams);
    expect(params(mine)).toEqual(params(sdk));
    expect(new URL(mine).host).toBe(host);
  });

  it('makes tokens the server reads, with its prefix and within its expiry', () => {
    expect(TOKEN_PREFIX).toBe(CALLER_TOKEN_PREFIX);
    expect(TOKEN_EXPIRES_S).toBeLessThanOrEqual(MAX_TOKEN_EXPIRES_S);
    const url = presignCallerIdentity({
      credentials,
      host: 'sts.eu-west-1.amazonaws.com',
      audienceHeader: AUDIENCE_HEADER,
      audience: 'prod',
      now,
    });
    const read = readCallerToken(
      tokenOfUrl(url),
      { stsHosts: ['sts.eu-west-1.amazonaws.com'], audience: 'prod' },
      now + 1000,
    );
    expect(read.accessKeyId).toBe(credentials.accessKeyId);
  });
});

describe('kubectl eks-access as one file', () => {
  it('imports nothing but Node built-ins, so the built file runs alone on any machine with Node', () => {
    const source = readFileSync(new URL('../../src/bin/kubectl-eks-access.ts', import.meta.url), 'utf8');
    const imports = [...source.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((from) => !from?.startsWith('node:'))).toEqual([]);
    expect(source).not.toMatch(/\bimport\(/);
  });
});
