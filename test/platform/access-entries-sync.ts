// The stand-in for EKS access entries at login: keeps the authenticator's DynamicFile (see authenticator.ts)
// equal to ministack's access entries of the login cluster, the way EKS feeds its own authenticator.
// Each entry becomes a mapping keyed by the principal's unique id (RoleId/UserId from IAM, i.e. moto), as
// EKS keys access entries, with the entry's ARN (a path is allowed: the authenticator strips it before it
// compares), username and Kubernetes groups.
//
// EKS records the principal's id when the entry is created; we record it when the sync first sees the
// entry (each entry has an ARN of its own, new on every create), so a role deleted and re-created under the
// same ARN does not match its old entry, here as on EKS (within one poll of the entry's creation it still
// could). It also keeps each visible entry's associated access policies (ListAssociatedAccessPolicies, read
// every pass) for the access-policy authorizer (access-policy-authorizer.ts), looked up by the same unique
// id; an association changes with the next pass, an entry's creation or deletion with its delay.
import { rename, writeFile } from 'node:fs/promises';
import {
  DescribeAccessEntryCommand,
  EKSClient,
  ListAccessEntriesCommand,
  ListAssociatedAccessPoliciesCommand,
} from '@aws-sdk/client-eks';
import { GetRoleCommand, GetUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { accessPolicyNameOf } from '../../src/domain/access-policies.js';
import { seededRandom } from '../support/seeded.js';
import type { EntryPolicies } from './access-policy-authorizer.js';

const POLL_MS = 250;

interface Mapping {
  rolearn?: string;
  userarn?: string;
  userid: string;
  username: string;
  groups: string[];
}

export interface AccessEntrySync {
  /** The associated policies of the entry the authenticator maps `principalId` with now, if any. */
  policiesFor(principalId: string): EntryPolicies | undefined;
  stop(): Promise<void>;
}

/**
 * EKS's own warning: "creating or updating an access entry is eventually consistent, and may take several
 * seconds". Each created or deleted entry reaches the authenticator only after a delay drawn from a seeded
 * generator (so a failure can be replayed with the seed the platform prints), and during the second half
 * of that delay's last quarter each pass shows the old or the new state at random, as AWS may.
 */
export interface Propagation {
  seed: number;
  minMs: number;
  maxMs: number;
}

export function syncAccessEntries(options: {
  clusterName: string;
  dynamicFile: string;
  region: string;
  iamEndpoint: string;
  eksEndpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  propagation?: Propagation | undefined;
}): AccessEntrySync {
  const random = seededRandom(options.propagation?.seed ?? 0);
  const delay = () => {
    const p = options.propagation;
    return p ? p.minMs + random() * (p.maxMs - p.minMs) : 0;
  };
  /** When each entry (by its own ARN) was first seen and when it was last seen gone, with its delay. */
  const timeline = new Map<
    string,
    { mapping: Mapping; kind: 'role' | 'user'; seen: number; ms: number; goneAt?: number }
  >();
  /**
   * Whether a change begun at `since`, taking `ms`, is visible now: not yet, at random (its last quarter,
   * at most a second), or for good.
   */
  const applied = (since: number, ms: number, now: number) =>
    now - since >= ms || (now - since >= ms * 0.75 && random() < 0.5);
  const eks = new EKSClient({
    region: options.region,
    endpoint: options.eksEndpoint,
    credentials: options.credentials,
  });
  const iam = new IAMClient({
    region: options.region,
    endpoint: options.iamEndpoint,
    credentials: options.credentials,
  });
  let written = JSON.stringify({ mapRoles: [], mapUsers: [] });
  /** By entry ARN: its associated policies as last read. */
  const associations = new Map<string, EntryPolicies['policies']>();
  /** By principal id: what the authorizer answers from (visible entries only). */
  let authorized = new Map<string, EntryPolicies>();
  /** The principal each entry was bound to when first seen, by the entry's own ARN. */
  const boundTo = new Map<string, { kind: 'role' | 'user'; id: string }>();
  let version = 0;
  let stopped = false;

  async function principalId(arn: string): Promise<{ kind: 'role' | 'user'; id: string } | undefined> {
    const match = /^arn:aws[\w-]*:iam::\d{12}:(role|user)\/(?:.*\/)?([^/]+)$/.exec(arn);
    if (!match) return undefined;
    const [, kind, name] = match as unknown as [string, 'role' | 'user', string];
    try {
      if (kind === 'role') {
        const role = await iam.send(new GetRoleCommand({ RoleName: name }));
        return role.Role?.RoleId ? { kind, id: role.Role.RoleId } : undefined;
      }
      const user = await iam.send(new GetUserCommand({ UserName: name }));
      return user.User?.UserId ? { kind, id: user.User.UserId } : undefined;
    } catch {
      return undefined; // a principal that does not exist maps no one, as on EKS
    }
  }

  async function associatedPolicies(principalArn: string): Promise<EntryPolicies['policies']> {
    const policies: EntryPolicies['policies'] = [];
    try {
      const out = await eks.send(
        new ListAssociatedAccessPoliciesCommand({ clusterName: options.clusterName, principalArn }),
      );
      for (const p of out.associatedAccessPolicies ?? []) {
        const name = accessPolicyNameOf(p.policyArn ?? '') ?? p.policyArn ?? '';
        const scope =
          p.accessScope?.type === 'namespace'
            ? { type: 'namespace' as const, namespaces: p.accessScope.namespaces ?? [] }
            : { type: 'cluster' as const };
        policies.push({ name, scope });
      }
    } catch {
      // The entry went between the list and this read: it grants nothing.
    }
    return policies;
  }

  async function once(): Promise<void> {
    const seen = new Set<string>();
    const now = Date.now();
    let nextToken: string | undefined;
    do {
      let page: { accessEntries?: string[] | undefined; nextToken?: string | undefined };
      try {
        page = await eks.send(new ListAccessEntriesCommand({ clusterName: options.clusterName, nextToken }));
      } catch (error) {
        if ((error as { name?: string }).name === 'ResourceNotFoundException') return; // no cluster yet
        throw error;
      }
      for (const arn of page.accessEntries ?? []) {
        const { accessEntry } = await eks
          .send(new DescribeAccessEntryCommand({ clusterName: options.clusterName, principalArn: arn }))
          .catch(() => ({ accessEntry: undefined }));
        if (!accessEntry || (accessEntry.type ?? 'STANDARD') !== 'STANDARD') continue;
        const entryKey = accessEntry.accessEntryArn ?? `${arn}@${String(accessEntry.createdAt)}`;
        seen.add(entryKey);
        const principal = boundTo.get(entryKey) ?? (await principalId(arn));
        if (!principal) continue;
        boundTo.set(entryKey, principal);
        const mapping = {
          ...(principal.kind === 'role' ? { rolearn: arn } : { userarn: arn }),
          userid: principal.id,
          username: accessEntry.username ?? arn,
          groups: accessEntry.kubernetesGroups ?? [],
        };
        associations.set(entryKey, await associatedPolicies(arn));
        const known = timeline.get(entryKey);
        if (!known) timeline.set(entryKey, { mapping, kind: principal.kind, seen: now, ms: delay() });
        else delete known.goneAt;
      }
      nextToken = page.nextToken;
    } while (nextToken);
    for (const key of boundTo.keys()) if (!seen.has(key)) boundTo.delete(key);
    // What the authenticator sees: created entries once their delay passed, deleted ones until theirs did.
    const mapRoles: Mapping[] = [];
    const mapUsers: Mapping[] = [];
    const nextAuthorized = new Map<string, EntryPolicies>();
    for (const key of associations.keys()) if (!seen.has(key)) associations.delete(key);
    for (const [key, entry] of timeline) {
      if (!seen.has(key) && entry.goneAt === undefined) entry.goneAt = now;
      let visible: boolean;
      if (entry.goneAt !== undefined) {
        visible = !applied(entry.goneAt, entry.ms, now);
        if (!visible && now - entry.goneAt >= entry.ms) timeline.delete(key);
      } else {
        visible = applied(entry.seen, entry.ms, now);
      }
      if (visible) {
        (entry.kind === 'role' ? mapRoles : mapUsers).push(entry.mapping);
        nextAuthorized.set(entry.mapping.userid, {
          username: entry.mapping.username,
          policies: associations.get(key) ?? [],
        });
      }
    }
    authorized = nextAuthorized;
    const mappings = JSON.stringify({ mapRoles, mapUsers });
    if (mappings !== written) {
      version += 1;
      // The fields the authenticator reads to report propagation latency (Unix seconds, a version).
      const content = {
        LastUpdatedDateTime: `${Math.floor(Date.now() / 1000)}`,
        Version: `${version}`,
        mapRoles,
        mapUsers,
        mapAccounts: [],
      };
      // Replaced whole (write, then rename): written in place, the authenticator's file watch reads the
      // truncated file first and logs a parse error. A rename ends its watch; it re-reads the file and
      // watches again a second later, so a change takes effect within about a second of the sync.
      await writeFile(`${options.dynamicFile}.tmp`, JSON.stringify(content));
      await rename(`${options.dynamicFile}.tmp`, options.dynamicFile);
      written = mappings;
    }
  }

  // One pass at a time; a slow pass makes the next tick skip rather than queue.
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (stopped || running) return;
    running = once()
      .catch(() => undefined) // an emulator restarting mid-pass: the next tick tries again
      .finally(() => {
        running = undefined;
      });
  }, POLL_MS);
  timer.unref();
  return {
    policiesFor: (principalId) => authorized.get(principalId),
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      eks.destroy();
      iam.destroy();
    },
  };
}
