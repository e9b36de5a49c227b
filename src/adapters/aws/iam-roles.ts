// Personal IAM roles (the IamRoles port) with @aws-sdk/client-iam. A role carries no permission
// policies: `aws eks get-token --role-arn` only needs to assume it; trust is the whole grant.
import {
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  type IAMClient,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListRoleTagsCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { AccessError } from '../../domain/errors.js';
import { IAM_TAGS, MANAGED_BY } from '../../domain/names.js';
import { type PersonalRolePlan, type TrustPolicy, trustPolicyFor } from '../../domain/plan.js';
import type { IamRoles, ManagedRole } from '../../ports/cluster.js';
import { awsErrorName, fromAwsError } from './errors.js';

const NOT_FOUND = 'NoSuchEntityException';
const EXISTS = 'EntityAlreadyExistsException';
const CONFLICT = 'DeleteConflictException';

export class AwsIamRoles implements IamRoles {
  readonly #iam: IAMClient;

  constructor(iam: IAMClient) {
    this.#iam = iam;
  }

  async ensureRole(
    role: PersonalRolePlan,
    options: { exists?: boolean; trustOnly?: boolean } = {},
  ): Promise<{ created: boolean }> {
    // Create and catch EntityAlreadyExists (one call for a new role), or renew first when the caller
    // knows the role is there (two calls instead of three).
    if (options.exists && (await this.#renew(role, options.trustOnly))) return { created: false };
    try {
      await this.#iam.send(
        new CreateRoleCommand({
          RoleName: role.name,
          Path: role.path,
          AssumeRolePolicyDocument: JSON.stringify(role.trustPolicy),
          Description: 'eks-access personal role: trusted only by its person, only until the grant expires',
          Tags: Object.entries(role.tags).map(([Key, Value]) => ({ Key, Value })),
        }),
      );
      return { created: true };
    } catch (error) {
      if (awsErrorName(error) !== EXISTS) throw fromAwsError(error, 'create the personal IAM role');
    }
    // Deleted between the two calls (only an outside hand can, under the person's lock): try again.
    if (!(await this.#renew(role))) {
      throw new AccessError('unavailable', `Personal role ${role.name} disappeared while being renewed`);
    }
    return { created: false };
  }

  /** New trust and (unless `trustOnly`) expiry tag on an existing role; false when the role does not exist. */
  async #renew(role: PersonalRolePlan, trustOnly = false): Promise<boolean> {
    try {
      await this.#iam.send(
        new UpdateAssumeRolePolicyCommand({
          RoleName: role.name,
          PolicyDocument: JSON.stringify(role.trustPolicy),
        }),
      );
      const expiresAt = role.tags[IAM_TAGS.expiresAt];
      if (expiresAt && !trustOnly) {
        await this.#iam.send(
          new TagRoleCommand({ RoleName: role.name, Tags: [{ Key: IAM_TAGS.expiresAt, Value: expiresAt }] }),
        );
      }
      return true;
    } catch (error) {
      if (awsErrorName(error) === NOT_FOUND) return false;
      throw fromAwsError(error, 'update the personal role trust policy');
    }
  }

  async replaceTrust(name: string, trust: TrustPolicy): Promise<boolean> {
    try {
      await this.#iam.send(
        new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: JSON.stringify(trust) }),
      );
      return true;
    } catch (error) {
      if (awsErrorName(error) === NOT_FOUND) return false;
      throw fromAwsError(error, 'replace the personal role trust policy');
    }
  }

  async retireRole(
    name: string,
    principalArn: string,
    now: number,
    options: { trustClosed?: boolean } = {},
  ): Promise<void> {
    try {
      // Closing trust first: if any later step fails, nobody can start a new session meanwhile (unless
      // the caller closed it already, with the login probe's statement: one write fewer).
      if (!options.trustClosed) {
        await this.#iam.send(
          new UpdateAssumeRolePolicyCommand({
            RoleName: name,
            PolicyDocument: JSON.stringify(trustPolicyFor(principalArn, now - 60_000)),
          }),
        );
      }
      // No deny-older-sessions policy: the role has no permissions for it to deny, and the one call an
      // EKS login makes (sts:GetCallerIdentity) cannot be denied by any policy. What ends access is the
      // mapping (removed before this) and the RoleBinding; see docs/engine.md, "What ends access".
      // Roles retired by older versions may still carry that inline policy: DeleteRole then answers
      // DeleteConflict, and only then are the policies listed and deleted (one call fewer otherwise).
      try {
        await this.#iam.send(new DeleteRoleCommand({ RoleName: name }));
        return;
      } catch (error) {
        if (awsErrorName(error) !== CONFLICT) throw error;
      }
      const policies = await this.#iam.send(new ListRolePoliciesCommand({ RoleName: name }));
      for (const policyName of policies.PolicyNames ?? []) {
        await this.#iam.send(new DeleteRolePolicyCommand({ RoleName: name, PolicyName: policyName }));
      }
      await this.#iam.send(new DeleteRoleCommand({ RoleName: name }));
    } catch (error) {
      if (awsErrorName(error) === NOT_FOUND) return;
      throw fromAwsError(error, 'retire the personal IAM role');
    }
  }

  async listRoles(pathPrefix: string): Promise<ManagedRole[]> {
    const roles: ManagedRole[] = [];
    try {
      let marker: string | undefined;
      do {
        const page = await this.#iam.send(
          new ListRolesCommand({ PathPrefix: pathPrefix, ...(marker ? { Marker: marker } : {}) }),
        );
        for (const role of page.Roles ?? []) {
          if (!role.RoleName || !role.Arn) continue;
          // ListRoles does not return tags everywhere; ask for them (one call per role of ours).
          const tags = await this.#iam.send(new ListRoleTagsCommand({ RoleName: role.RoleName }));
          const tag = (key: string) => tags.Tags?.find((t) => t.Key === key)?.Value;
          if (tag(IAM_TAGS.managedBy) !== MANAGED_BY) continue;
          const principalArn = tag(IAM_TAGS.principal);
          const username = tag(IAM_TAGS.username);
          roles.push({
            name: role.RoleName,
            arn: role.Arn,
            createdAt: role.CreateDate?.getTime() ?? 0,
            ...(principalArn ? { principalArn } : {}),
            ...(username ? { username } : {}),
          });
        }
        marker = page.IsTruncated ? page.Marker : undefined;
      } while (marker);
    } catch (error) {
      if (awsErrorName(error) === NOT_FOUND) return roles;
      throw fromAwsError(error, 'list the personal IAM roles');
    }
    return roles;
  }
}
