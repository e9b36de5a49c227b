// Identity mapping through the aws-auth ConfigMap. Edits from concurrent grants in this process are
// batched into one read-modify-write; writes carry the resourceVersion read, and a 409 (another writer,
// another process) re-reads and re-applies with bounded, jittered retries. Nothing else is touched.
import type { V1ConfigMap } from '@kubernetes/client-node';
import { authenticatorRoleArn } from '../../domain/arn.js';
import { AccessError, misconfigured } from '../../domain/errors.js';
import { isOurMapping, type OwnMappings } from '../../domain/names.js';
import type { IdentityMapping, MappingEntry } from '../../ports/cluster.js';
import {
  editMapRoles,
  effectiveMapping,
  type IsOurs,
  type MapRolesEdit,
  parseMapRoles,
} from './aws-auth-document.js';
import { fromKubeError, kubeStatus } from './errors.js';
import { FreshRead } from './fresh-read.js';
import type { KubeApis } from './rbac.js';

export interface AwsAuthLocation {
  namespace: string;
  name: string;
}
export const DEFAULT_AWS_AUTH: AwsAuthLocation = { namespace: 'kube-system', name: 'aws-auth' };

const MAX_ATTEMPTS = 40;

interface Pending {
  edit: MapRolesEdit;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class AwsAuthMapping implements IdentityMapping {
  readonly mode = 'aws-auth' as const;
  readonly #apis: KubeApis;
  readonly #where: AwsAuthLocation;
  /** Only entries this recognises are ours to edit; every other entry is left byte for byte. */
  readonly #isOurs: IsOurs;
  #queue: Pending[] = [];
  #flushing = false;
  /** Concurrent reads (a burst's preflights and read-backs) share one made after each caller asked. */
  readonly #fresh = new FreshRead(() => this.#readNow());

  constructor(apis: KubeApis, own: OwnMappings, where: AwsAuthLocation = DEFAULT_AWS_AUTH) {
    this.#apis = apis;
    this.#isOurs = (entry) => isOurMapping(own, entry);
    this.#where = where;
  }

  /** Writes the path-less ARN, the only form the authenticator matches, whatever form `entry` has. */
  upsert(entry: MappingEntry): Promise<void> {
    const roleArn = authenticatorRoleArn(entry.roleArn);
    if (!roleArn) return Promise.reject(misconfigured(`${entry.roleArn} is not an IAM role ARN`));
    return this.#enqueue({ kind: 'upsert', entry: { ...entry, roleArn } });
  }

  remove(roleArn: string): Promise<void> {
    return this.#enqueue({ kind: 'remove', roleArn });
  }

  async preflight(): Promise<void> {
    const configMap = await this.#read();
    parseMapRoles(configMap?.data?.['mapRoles'] ?? '', this.#label());
  }

  async effectiveEntry(roleArn: string): Promise<MappingEntry | undefined> {
    const configMap = await this.#read();
    const entry = effectiveMapping(
      parseMapRoles(configMap?.data?.['mapRoles'] ?? '', this.#label()),
      roleArn,
    );
    return entry && { roleArn: entry.roleArn, username: entry.username, groups: entry.groups };
  }

  /** Our entries as written (an entry from before the path-less fix still shows its path). */
  async list(): Promise<MappingEntry[]> {
    const configMap = await this.#read();
    const text = configMap?.data?.['mapRoles'] ?? '';
    return parseMapRoles(text, this.#label())
      .filter((e) => this.#isOurs(e))
      .map(({ roleArn, username, groups }) => ({ roleArn, username, groups }));
  }

  #label = () => `ConfigMap ${this.#where.namespace}/${this.#where.name}`;

  #enqueue(edit: MapRolesEdit): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ edit, resolve, reject });
      if (!this.#flushing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        try {
          await this.#write(batch.map((p) => p.edit));
          for (const p of batch) p.resolve();
        } catch (error) {
          for (const p of batch) p.reject(error);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  async #write(edits: MapRolesEdit[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const configMap = await this.#read();
      const before = configMap?.data?.['mapRoles'] ?? '';
      const after = editMapRoles(before, edits, this.#label(), this.#isOurs);
      if (after === undefined) return;
      try {
        await this.#save(configMap, after);
        return;
      } catch (error) {
        if (kubeStatus(error) !== 409 || attempt >= MAX_ATTEMPTS) {
          throw fromKubeError(error, `write ${this.#label()}`);
        }
        // Someone else wrote in between: back off a little (jittered, growing) and re-apply.
        const ceiling = Math.min(1000, 20 * 2 ** Math.min(attempt, 6));
        await new Promise((r) => setTimeout(r, Math.random() * ceiling));
      }
    }
  }

  #read(): Promise<V1ConfigMap | undefined> {
    return this.#fresh.get();
  }

  async #readNow(): Promise<V1ConfigMap | undefined> {
    const { core } = await this.#apis.get();
    try {
      return await core.readNamespacedConfigMap(this.#where);
    } catch (error) {
      if (kubeStatus(error) === 404) return undefined;
      throw fromKubeError(error, `read ${this.#label()}`);
    }
  }

  /** Throws the raw ApiException so the caller can tell a 409 apart. */
  async #save(read: V1ConfigMap | undefined, mapRoles: string): Promise<void> {
    const { core } = await this.#apis.get();
    if (!read) {
      await core.createNamespacedConfigMap({
        namespace: this.#where.namespace,
        body: {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: this.#where.name, namespace: this.#where.namespace },
          data: { mapRoles },
        },
      });
      return;
    }
    // Only data.mapRoles changes; every other key and the metadata go back exactly as read, and the
    // read resourceVersion makes the write conditional.
    const body: V1ConfigMap = { ...read, data: { ...(read.data ?? {}), mapRoles } };
    if (!read.metadata?.resourceVersion) throw new AccessError('internal', 'aws-auth has no resourceVersion');
    await core.replaceNamespacedConfigMap({ ...this.#where, body });
  }
}
