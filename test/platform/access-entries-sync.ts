// The stand-in for EKS access entries at login: keeps the authenticator's DynamicFile (see authenticator.ts)
// equal to ministack's access entries of the login cluster, the way EKS feeds its own authenticator.
// Each entry becomes a mapping keyed by the principal's unique id (RoleId/UserId from IAM, i.e. moto), as
// EKS keys access entries, with the entry's ARN (a path is allowed: the authenticator strips it before it
// compares), username and Kubernetes groups.
//
// EKS records the principal's id when the entry is created; we record it when the sync first sees the
// entry (each entry has an ARN of its own, new on every create), so a role deleted and re-created under the
// same ARN does not match its old entry, here as on EKS (within one poll of the entry's creation it still
// could). What it cannot show (docs/test-platform.md): access policies (AssociateAccessPolicy) are not enforced, only RBAC is; the propagation delay is
// our poll interval, not EKS's.
import { rename, writeFile } from 'node:fs/promises';
import { DescribeAccessEntryCommand, EKSClient, ListAccessEntriesCommand } from '@aws-sdk/client-eks';
import { GetRoleCommand, GetUserCommand, IAMClient } from '@aws-sdk/client-iam';

const POLL_MS = 250;

interface Mapping {
  rolearn?: string;
  userarn?: string;
  userid: string;
  username: string;
  groups: string[];
}

export interface AccessEntrySync {
  stop(): Promise<void>;
}

export function syncAccessEntries(options: {
  clusterName: string;
  dynamicFile: string;
  region: string;
  iamEndpoint: string;
  eksEndpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}): AccessEntrySync {
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

  async function once(): Promise<void> {
    const mapRoles: Mapping[] = [];
    const mapUsers: Mapping[] = [];
    const seen = new Set<string>();
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
          userid: principal.id,
          username: accessEntry.username ?? arn,
          groups: accessEntry.kubernetesGroups ?? [],
        };
        if (principal.kind === 'role') mapRoles.push({ rolearn: arn, ...mapping });
        else mapUsers.push({ userarn: arn, ...mapping });
      }
      nextToken = page.nextToken;
    } while (nextToken);
    for (const key of boundTo.keys()) if (!seen.has(key)) boundTo.delete(key);
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
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      eks.destroy();
      iam.destroy();
    },
  };
}
