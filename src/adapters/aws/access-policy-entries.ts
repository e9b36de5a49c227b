// The access-policy side of our EKS access entries: tags (TagResource/UntagResource/ListTagsForResource on
// the entry's ARN) and associated access policies (AssociateAccessPolicy, DisassociateAccessPolicy,
// ListAssociatedAccessPolicies). "Not found" on removal is success, so each step is idempotent both ways.
// Tags are read with ListTagsForResource, not DescribeAccessEntry: it is what TagResource changes.
import {
  AssociateAccessPolicyCommand,
  DescribeAccessEntryCommand,
  DisassociateAccessPolicyCommand,
  type EKSClient,
  ListAssociatedAccessPoliciesCommand,
  ListTagsForResourceCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-eks';
import { AccessError } from '../../domain/errors.js';
import type { AccessPolicyEntries, IdentityMapping, PolicyEntry } from '../../ports/cluster.js';
import { awsErrorName, fromAwsError } from './errors.js';

const NOT_FOUND = 'ResourceNotFoundException';

export class EksAccessPolicyEntries implements AccessPolicyEntries {
  readonly #eks: EKSClient;
  readonly #clusterName: string;
  readonly #mapping: IdentityMapping;

  /** `mapping`: the cluster's access-entries mapping, whose `list` tells our entries apart. */
  constructor(eks: EKSClient, clusterName: string, mapping: IdentityMapping) {
    this.#eks = eks;
    this.#clusterName = clusterName;
    this.#mapping = mapping;
  }

  async read(roleArn: string): Promise<PolicyEntry | undefined> {
    try {
      const { accessEntry } = await this.#eks.send(
        new DescribeAccessEntryCommand({ clusterName: this.#clusterName, principalArn: roleArn }),
      );
      if (!accessEntry?.accessEntryArn) return undefined;
      const [{ tags }, associated] = await Promise.all([
        this.#eks.send(new ListTagsForResourceCommand({ resourceArn: accessEntry.accessEntryArn })),
        this.#associations(roleArn),
      ]);
      return {
        roleArn,
        username: accessEntry.username ?? '',
        tags: tags ?? {},
        associations: associated,
      };
    } catch (error) {
      if (awsErrorName(error) === NOT_FOUND) return undefined;
      throw fromAwsError(error, 'read the EKS access entry and its access policies');
    }
  }

  async #associations(roleArn: string): Promise<PolicyEntry['associations']> {
    const found: PolicyEntry['associations'] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.#eks.send(
        new ListAssociatedAccessPoliciesCommand({
          clusterName: this.#clusterName,
          principalArn: roleArn,
          ...(nextToken ? { nextToken } : {}),
        }),
      );
      for (const p of page.associatedAccessPolicies ?? []) {
        found.push({
          policyArn: p.policyArn ?? '',
          scope: p.accessScope?.type === 'namespace' ? 'namespace' : 'cluster',
          namespaces: p.accessScope?.namespaces ?? [],
        });
      }
      nextToken = page.nextToken;
    } while (nextToken);
    return found;
  }

  async #entryArn(roleArn: string): Promise<string | undefined> {
    try {
      const { accessEntry } = await this.#eks.send(
        new DescribeAccessEntryCommand({ clusterName: this.#clusterName, principalArn: roleArn }),
      );
      return accessEntry?.accessEntryArn;
    } catch (error) {
      if (awsErrorName(error) === NOT_FOUND) return undefined;
      throw fromAwsError(error, 'read the EKS access entry');
    }
  }

  async tag(roleArn: string, tags: Record<string, string>): Promise<void> {
    const arn = await this.#entryArn(roleArn);
    if (!arn) throw new AccessError('not_found', `There is no EKS access entry for ${roleArn}`);
    try {
      await this.#eks.send(new TagResourceCommand({ resourceArn: arn, tags }));
    } catch (error) {
      throw fromAwsError(error, 'tag the EKS access entry');
    }
  }

  async untag(roleArn: string, keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    const arn = await this.#entryArn(roleArn);
    if (!arn) return;
    try {
      await this.#eks.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: [...keys] }));
    } catch (error) {
      if (awsErrorName(error) === NOT_FOUND) return;
      throw fromAwsError(error, 'untag the EKS access entry');
    }
  }

  async associate(roleArn: string, policyArn: string, namespaces: readonly string[]): Promise<void> {
    if (namespaces.length === 0)
      throw new Error('associate: an access policy is never associated cluster-wide');
    try {
      await this.#eks.send(
        new AssociateAccessPolicyCommand({
          clusterName: this.#clusterName,
          principalArn: roleArn,
          policyArn,
          accessScope: { type: 'namespace', namespaces: [...namespaces] },
        }),
      );
    } catch (error) {
      throw fromAwsError(error, 'associate the EKS access policy');
    }
  }

  async disassociate(roleArn: string, policyArn: string): Promise<void> {
    try {
      await this.#eks.send(
        new DisassociateAccessPolicyCommand({
          clusterName: this.#clusterName,
          principalArn: roleArn,
          policyArn,
        }),
      );
    } catch (error) {
      if (awsErrorName(error) === NOT_FOUND) return;
      throw fromAwsError(error, 'disassociate the EKS access policy');
    }
  }

  async listOurs(): Promise<PolicyEntry[]> {
    const entries: PolicyEntry[] = [];
    for (const { roleArn } of await this.#mapping.list()) {
      const entry = await this.read(roleArn);
      if (entry) entries.push(entry);
    }
    return entries;
  }
}
