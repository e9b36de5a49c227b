// Whether a person's own IAM policies let them call sts:AssumeRole on their personal role: the half of a
// login the worker's probe cannot prove (it assumes the role as itself). IAM's policy simulator answers for
// an IAM user or role (identity policies, permission boundaries; not SCPs, which it only sees from the
// organization's management account); a session (assumed-role, Identity Center) cannot be simulated.
import { type IAMClient, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { fromAwsError } from './errors.js';

/** `roleArns` that `principalArn` may not assume by its own policies, or undefined when it is a session. */
export async function rolesDeniedToAssume(
  iam: IAMClient,
  principalArn: string,
  roleArns: readonly string[],
): Promise<string[] | undefined> {
  if (!/^arn:[^:]+:iam::\d{12}:(user|role)\//.test(principalArn)) return undefined;
  try {
    const out = await iam.send(
      new SimulatePrincipalPolicyCommand({
        PolicySourceArn: principalArn,
        ActionNames: ['sts:AssumeRole'],
        ResourceArns: [...roleArns],
      }),
    );
    const allowed = new Set<string>();
    for (const result of out.EvaluationResults ?? []) {
      if (result.EvalDecision !== 'allowed') continue;
      // One result per action, or one per resource (ResourceSpecificResults) when resources were given.
      const specific = result.ResourceSpecificResults ?? [];
      if (specific.length === 0 && result.EvalResourceName) allowed.add(result.EvalResourceName);
      for (const r of specific)
        if (r.EvalResourceDecision === 'allowed' && r.EvalResourceName) allowed.add(r.EvalResourceName);
      if (specific.length === 0 && (!result.EvalResourceName || result.EvalResourceName === '*'))
        for (const arn of roleArns) allowed.add(arn);
    }
    return roleArns.filter((arn) => !allowed.has(arn));
  } catch (error) {
    throw fromAwsError(error, `simulate sts:AssumeRole for ${principalArn}`);
  }
}
