// Identity mapping through EKS access entries. "Already exists" and "not found" are success, so
// create and delete are idempotent both ways.
import {
  CreateAccessEntryCommand,
  DeleteAccessEntryCommand,
  DescribeAccessEntryCommand,
  type EKSClient,
  ListAccessEntriesCommand,
} from '@aws-sdk/client-eks';
import { ACCESS_ENTRY_LIMIT } from '../../domain/access-entry-limit.js';
import { roleOf } from '../../domain/arn.js';
import { AccessError } from '../../domain/errors.js';
import { type OwnMappings, PERSONAL_ROLE_PREFIX } from '../../domain/names.js';
import type { IdentityMapping, MappingEntry } from '../../ports/cluster.js';
import { awsErrorName, fromAwsError } from './errors.js';

const EXISTS = 'ResourceInUseException';
const NOT_FOUND = 'ResourceNotFoundException';
/** EKS allows 3 000 access entries per cluster (not adjustable). */
const LIMIT = 'ResourceLimitExceededException';

export class EksAccessEntries implements IdentityMapping {
  #entriesSeen: number | undefined;
  readonly mode = 'access-entries' as const;
  readonly #eks: EKSClient;
  readonly #clusterName: string;
  readonly #own: OwnMappings;

  constructor(eks: EKSClient, clusterName: string, own: OwnMappings) {
    this.#eks = eks;
    this.#clusterName = clusterName;
    this.#own = own;
  }

  async upsert(entry: MappingEntry, options: { roleIsNew?: boolean } = {}): Promise<void> {
    try {
      await this.#eks.send(new CreateAccessEntryCommand(this.#createInput(entry)));
    } catch (error) {
      if (awsErrorName(error) === LIMIT) throw this.#full(error);
      if (awsErrorName(error) !== EXISTS) throw fromAwsError(error, 'create the EKS access entry');
      if (options.roleIsNew) await this.#replace(entry);
      else await this.#ensureUsername(entry);
    }
  }

  /**
   * The entry was made for an earlier role of this ARN (deleted while its entry stayed: a revocation cut
   * short between its two steps, a hand in the console). EKS bound it to that role's unique id, so it maps
   * nobody now, whatever its username: deleted and made again for the role that exists.
   */
  async #replace(entry: MappingEntry): Promise<void> {
    await this.remove(entry.roleArn);
    try {
      await this.#eks.send(new CreateAccessEntryCommand(this.#createInput(entry)));
    } catch (error) {
      throw fromAwsError(error, 'create the EKS access entry again for the new role');
    }
  }

  /**
   * An existing entry with another username would map the person wrongly: delete and re-create it.
   * Not UpdateAccessEntry: IAM cannot constrain the username on an update, so the worker's policy
   * grants only CreateAccessEntry, whose eks:username and eks:principalArn it does constrain.
   */
  async #ensureUsername(entry: MappingEntry): Promise<void> {
    try {
      const found = await this.#eks.send(
        new DescribeAccessEntryCommand({ clusterName: this.#clusterName, principalArn: entry.roleArn }),
      );
      if (found.accessEntry?.username === entry.username) return;
      await this.remove(entry.roleArn);
      await this.#eks.send(new CreateAccessEntryCommand(this.#createInput(entry)));
    } catch (error) {
      throw fromAwsError(error, 'correct the EKS access entry');
    }
  }

  /** The cluster holds as many entries as EKS allows: nobody else can be mapped until some go. */
  #full(error: unknown): Error {
    return new AccessError(
      'misconfigured',
      `EKS cluster ${this.#clusterName} has ${ACCESS_ENTRY_LIMIT} access entries, the most EKS allows: no one else can be mapped`,
      {
        hint: 'Delete access entries nobody uses (aws eks list-access-entries), or map people through aws-auth. This grant was not made.',
        cause: error,
      },
    );
  }

  #createInput(entry: MappingEntry) {
    return {
      clusterName: this.#clusterName,
      principalArn: entry.roleArn,
      username: entry.username,
      // Omitted when empty (always, today): the worker's policy refuses any group.
      ...(entry.groups.length > 0 ? { kubernetesGroups: entry.groups } : {}),
      type: 'STANDARD',
      tags: { 'eks-access:managed-by': 'eks-access' },
    };
  }

  /** EKS looks an access entry up by the principal's full ARN (path included), as we wrote it. */
  async effectiveEntry(roleArn: string): Promise<MappingEntry | undefined> {
    try {
      const found = await this.#eks.send(
        new DescribeAccessEntryCommand({ clusterName: this.#clusterName, principalArn: roleArn }),
      );
      const entry = found.accessEntry;
      if (!entry?.principalArn) return undefined;
      return {
        roleArn: entry.principalArn,
        username: entry.username ?? '',
        groups: entry.kubernetesGroups ?? [],
      };
    } catch (error) {
      if (awsErrorName(error) === NOT_FOUND) return undefined;
      throw fromAwsError(error, 'read the EKS access entry');
    }
  }

  /** Nothing to check without writing: EKS validates each entry on create. */
  async preflight(): Promise<void> {}

  async remove(roleArn: string): Promise<void> {
    try {
      await this.#eks.send(
        new DeleteAccessEntryCommand({ clusterName: this.#clusterName, principalArn: roleArn }),
      );
    } catch (error) {
      if (awsErrorName(error) === NOT_FOUND) return;
      throw fromAwsError(error, 'delete the EKS access entry');
    }
  }

  /**
   * Our entries: access entries keep the role's full ARN, so ours are those of roles under our path,
   * in the cluster's account, with our role-name prefix.
   */
  async list(): Promise<MappingEntry[]> {
    const entries: MappingEntry[] = [];
    let seen = 0;
    try {
      let nextToken: string | undefined;
      do {
        const page = await this.#eks.send(
          new ListAccessEntriesCommand({
            clusterName: this.#clusterName,
            ...(nextToken ? { nextToken } : {}),
          }),
        );
        seen += page.accessEntries?.length ?? 0;
        for (const arn of page.accessEntries ?? []) {
          const role = roleOf(arn);
          if (
            role?.path !== this.#own.rolePath ||
            role.account !== this.#own.accountId ||
            !role.name.startsWith(PERSONAL_ROLE_PREFIX)
          ) {
            continue;
          }
          // Usernames are not needed to decide removal; skip the per-entry Describe.
          entries.push({ roleArn: arn, username: '', groups: [] });
        }
        nextToken = page.nextToken;
      } while (nextToken);
    } catch (error) {
      throw fromAwsError(error, 'list EKS access entries');
    }
    this.#entriesSeen = seen;
    return entries;
  }

  async entryCreatedAt(roleArn: string): Promise<number | undefined> {
    try {
      const found = await this.#eks.send(
        new DescribeAccessEntryCommand({ clusterName: this.#clusterName, principalArn: roleArn }),
      );
      return found.accessEntry?.createdAt?.getTime();
    } catch (error) {
      if (awsErrorName(error) === 'ResourceNotFoundException') return undefined;
      throw fromAwsError(error, 'describe the EKS access entry');
    }
  }

  /** Every entry of the cluster (anyone's) the last complete list() counted: EKS's limit applies to all. */
  entriesSeen(): number | undefined {
    return this.#entriesSeen;
  }
}

/** `none`: people already authenticate as themselves; there is nothing to map. */
export const noMapping: IdentityMapping = {
  mode: 'none',
  upsert: async () => {},
  preflight: async () => {},
  remove: async () => {},
  effectiveEntry: async () => undefined,
  list: async () => [],
};
