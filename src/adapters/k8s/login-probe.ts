// The login probe (ports/cluster.ts LoginProbe) with STS and the cluster's own API server: exactly the
// path a person's `aws eks get-token --role-arn …` and kubectl take, with the worker as the caller.
import { AssumeRoleCommand, GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import { ApiException, AuthenticationV1Api, type Cluster, KubeConfig } from '@kubernetes/client-node';
import type { Clock } from '../../domain/clock.js';
import { misconfigured } from '../../domain/errors.js';
import {
  PROBE_SESSION_NAME,
  PROBE_SESSION_SECONDS,
  type ProbeAttempt,
  type ProbeCaller,
  probeCallerOf,
} from '../../domain/login-probe.js';
import type { PermissionCheck } from '../../domain/plan.js';
import type { LoginProbe } from '../../ports/cluster.js';
import { presignEksToken } from '../aws/eks-token.js';
import { awsErrorName, fromAwsError } from '../aws/errors.js';
import { fromKubeError } from './errors.js';
import { selfAllowed } from './rbac.js';

/** STS's answers that mean "not (yet) allowed": the trust has not propagated, or is gone. */
const STS_REFUSALS = new Set(['AccessDenied', 'AccessDeniedException', 'InvalidClientTokenId']);

export interface LoginProbeOptions {
  /** STS with the credentials the worker acts with on this cluster. */
  sts: STSClient;
  /** The cluster id tokens are signed for (`x-k8s-aws-id`): the EKS cluster name. */
  clusterName: string;
  region: string;
  /** The API server and its CA, as the worker's own connection reaches it. */
  server: () => Promise<Cluster>;
  clock: Clock;
}

export class StsKubeLoginProbe implements LoginProbe {
  readonly #options: LoginProbeOptions;
  #caller: Promise<ProbeCaller> | undefined;

  constructor(options: LoginProbeOptions) {
    this.#options = options;
  }

  caller(): Promise<ProbeCaller> {
    this.#caller ??= this.#readCaller();
    // A failed read must not stick.
    this.#caller.catch(() => {
      this.#caller = undefined;
    });
    return this.#caller;
  }

  async #readCaller(): Promise<ProbeCaller> {
    let arn: string | undefined;
    try {
      arn = (await this.#options.sts.send(new GetCallerIdentityCommand({}))).Arn;
    } catch (error) {
      throw fromAwsError(error, 'read who the worker is (sts:GetCallerIdentity)');
    }
    const caller = probeCallerOf(arn ?? '');
    if (!caller)
      throw misconfigured(
        `The worker's AWS identity ${arn} cannot be named in a trust policy`,
        'Run the worker as an IAM role (IRSA, Pod Identity) or user, or set loginProbe: false on the cluster.',
      );
    return caller;
  }

  async attempt(roleArn: string, checks: readonly PermissionCheck[]): Promise<ProbeAttempt> {
    let credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
    try {
      const out = await this.#options.sts.send(
        new AssumeRoleCommand({
          RoleArn: roleArn,
          RoleSessionName: PROBE_SESSION_NAME,
          DurationSeconds: PROBE_SESSION_SECONDS,
        }),
      );
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey)
        return { kind: 'refused', at: 'sts', reason: 'STS issued no session' };
      credentials = {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}),
      };
    } catch (error) {
      const name = awsErrorName(error);
      if (name && STS_REFUSALS.has(name))
        return { kind: 'refused', at: 'sts', reason: `sts:AssumeRole of ${roleArn} refused (${name})` };
      throw fromAwsError(error, `assume ${roleArn} to prove the login`);
    }
    // A new session each attempt makes a new token, so no API server cache answers for an earlier one.
    const token = await presignEksToken({
      clusterName: this.#options.clusterName,
      region: this.#options.region,
      credentials,
      now: this.#options.clock.now(),
    });
    const server = await this.#options.server();
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ ...server, name: 'probe' }],
      users: [{ name: 'probe', token }],
      contexts: [{ name: 'probe', cluster: 'probe', user: 'probe' }],
      currentContext: 'probe',
    });
    let username: string;
    try {
      const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      });
      username = review.status?.userInfo?.username ?? '';
    } catch (error) {
      if (error instanceof ApiException && error.code === 401)
        return {
          kind: 'refused',
          at: 'cluster',
          reason: 'the cluster does not accept the token (Unauthorized)',
        };
      throw fromKubeError(error, 'ask the cluster who the probe session is');
    }
    const refused: string[] = [];
    for (const check of checks) {
      const allowed = await selfAllowed(kc, {
        verb: check.verb,
        group: check.group,
        resource: check.resource,
        namespace: check.namespace,
        ...(check.subresource ? { subresource: check.subresource } : {}),
      }).catch((error: unknown) => {
        throw fromKubeError(error, 'ask the cluster what the probe session may do');
      });
      if (!allowed)
        refused.push(
          `${check.verb} ${check.resource}${check.group ? `.${check.group}` : ''} in ${check.namespace}`,
        );
    }
    return { kind: 'in', username, refused };
  }
}
