// The current unique id of an IAM user or role (AIDA…/AROA…), for the API's caller check: a user or
// role deleted and created again under the same name keeps its ARN but not its id, and a session of the
// old one can still call GetCallerIdentity (it needs no permission).
import { GetRoleCommand, GetUserCommand, IAMClient } from '@aws-sdk/client-iam';
import type { Env } from '../../config/env.js';
import { parseArn } from '../../domain/arn.js';
import { type AwsClientEnv, awsClientOptions } from '../aws/client-options.js';
import type { AwsCredentials } from '../aws/eks-token.js';
import type { UniqueIdOf } from '../aws/sts-caller-verifier.js';

/** undefined when the user or role does not exist (NoSuchEntity); other errors are thrown. */
export function iamUniqueIdOf(iam: IAMClient): UniqueIdOf {
  return async (principalArn) => {
    const parsed = parseArn(principalArn);
    const [kind = '', ...rest] = (parsed?.resource ?? '').split('/');
    const name = rest.at(-1);
    if (!name) return undefined;
    try {
      if (kind === 'user') return (await iam.send(new GetUserCommand({ UserName: name }))).User?.UserId;
      if (kind === 'role') return (await iam.send(new GetRoleCommand({ RoleName: name }))).Role?.RoleId;
      return undefined;
    } catch (error) {
      if ((error as { name?: string }).name === 'NoSuchEntity') return undefined;
      throw error;
    }
  };
}

/** The bot's read-only IAM client for unique ids (iam:GetUser, iam:GetRole), and the lookup on it. */
export function iamUniqueIds(
  env: Pick<Env, 'AWS_ENDPOINT_URL_IAM' | 'AWS_REGION'> & AwsClientEnv,
  credentials?: AwsCredentials,
): { uniqueIdOf: UniqueIdOf; close(): void } {
  const iam = new IAMClient({
    region: env.AWS_REGION ?? 'us-east-1',
    ...awsClientOptions(env),
    ...(env.AWS_ENDPOINT_URL_IAM ? { endpoint: env.AWS_ENDPOINT_URL_IAM } : {}),
    ...(credentials ? { credentials } : {}),
  });
  return { uniqueIdOf: iamUniqueIdOf(iam), close: () => iam.destroy() };
}
