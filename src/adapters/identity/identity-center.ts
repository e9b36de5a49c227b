// People who sign in through IAM Identity Center: Slack profile email → Identity Center user
// (identitystore ListUsers) → that user's session of one of the policy's permission-set roles in the
// cluster's account (IAM ListRoles under /aws-reserved/sso.amazonaws.com/). The principal is
// `arn:<p>:sts::<account>:assumed-role/AWSReservedSSO_<set>_<hash>/<user name>`: Identity Center names
// the session after the user, so it names one person (docs/engine.md, "Who a person is on AWS").
// Every refusal says what an admin has to change and stores nothing.
import { type IAMClient, ListRolesCommand } from '@aws-sdk/client-iam';
import type { IdentitystoreClient } from '@aws-sdk/client-identitystore';
import type { Policy } from '../../config/policy.js';
import { permissionSetOfRole } from '../../domain/arn.js';
import type { Clock } from '../../domain/clock.js';
import { AccessError, misconfigured, notLinked } from '../../domain/errors.js';
import type { SlackProfile } from '../../ports/identity.js';

export type IdentityCenterSettings = NonNullable<Policy['identities']['identityCenter']>;

/** An Identity Center user as the lookup needs it. */
export interface IdentityCenterUser {
  userId: string;
  userName: string;
  emails: string[];
}

/** What the lookup reads from the identity store: every user, or those with one user name; all pages. */
export interface IdentityStoreUsers {
  users(userName?: string): Promise<IdentityCenterUser[]>;
}

/**
 * The identity store through the SDK client, which is loaded on first use only: bot, worker and CLI
 * of a policy without identityCenter never load it. `client` builds the client from the loaded module.
 */
export function sdkIdentityStore(
  identityStoreId: string,
  client: (sdk: typeof import('@aws-sdk/client-identitystore')) => IdentitystoreClient,
): IdentityStoreUsers {
  let loaded: Promise<{ sdk: typeof import('@aws-sdk/client-identitystore'); client: IdentitystoreClient }>;
  return {
    async users(userName) {
      loaded ??= import('@aws-sdk/client-identitystore').then((sdk) => ({ sdk, client: client(sdk) }));
      const { sdk, client: store } = await loaded;
      const found: IdentityCenterUser[] = [];
      let nextToken: string | undefined;
      do {
        const page = await store.send(
          new sdk.ListUsersCommand({
            IdentityStoreId: identityStoreId,
            ...(userName ? { Filters: [{ AttributePath: 'UserName', AttributeValue: userName }] } : {}),
            ...(nextToken ? { NextToken: nextToken } : {}),
          }),
        );
        for (const user of page.Users ?? []) {
          if (!user.UserId || !user.UserName) continue;
          const emails = (user.Emails ?? []).flatMap((e) => (e.Value ? [e.Value] : []));
          found.push({ userId: user.UserId, userName: user.UserName, emails });
        }
        nextToken = page.NextToken;
      } while (nextToken);
      return found;
    },
  };
}

/** Where Identity Center provisions permission-set roles in every account (path, region part optional). */
export const RESERVED_SSO_PATH = '/aws-reserved/sso.amazonaws.com/';
/** What STS accepts as a session name: Identity Center's user name becomes one, so it must fit. */
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
/** Found users and roles are kept this long; misses are never kept, so an admin's fix works at once. */
const FOUND_TTL_MS = 10 * 60_000;

interface PermissionSetRole {
  roleName: string;
  permissionSet: string;
  partition: string;
}

export class IdentityCenterLookup {
  readonly #settings: IdentityCenterSettings;
  readonly #store: IdentityStoreUsers;
  readonly #iam: IAMClient;
  readonly #clock: Clock;
  readonly #users = new Map<string, { user: IdentityCenterUser; at: number }>();
  readonly #roles = new Map<string, { role: PermissionSetRole; at: number }>();

  constructor(settings: IdentityCenterSettings, store: IdentityStoreUsers, iam: IAMClient, clock: Clock) {
    this.#settings = settings;
    this.#store = store;
    this.#iam = iam;
    this.#clock = clock;
  }

  /** The person's session principal in `accountId`; throws not_found / misconfigured / unavailable. */
  async principalFor(profile: SlackProfile, accountId: string): Promise<string> {
    if (!profile.email) {
      throw notLinked(
        'eks-access cannot see your Slack email, so it cannot find your IAM Identity Center user',
        'Give the Slack app the users:read.email scope, or have an admin map you under identities.map in the policy.',
      );
    }
    const user = await this.#user(profile.email);
    const role = await this.#role(accountId);
    return `arn:${role.partition}:sts::${accountId}:assumed-role/${role.roleName}/${user.userName}`;
  }

  /**
   * The emails of the Identity Center user with this user name (a session's name): its own emails, or
   * with lookup `userName` the name itself, which is the email then. Empty when there is no such user.
   */
  async emailsOfUserName(userName: string): Promise<string[]> {
    let users: IdentityCenterUser[];
    try {
      users = await this.#store.users(userName);
    } catch (error) {
      throw new AccessError('unavailable', 'IAM Identity Center did not answer while looking up a user', {
        cause: error,
      });
    }
    const user = users.find((u) => u.userName === userName);
    if (!user) return [];
    return this.#settings.lookup === 'userName' ? [user.userName] : user.emails;
  }

  async #user(email: string): Promise<IdentityCenterUser> {
    const key = email.toLowerCase();
    const cached = this.#users.get(key);
    if (cached && this.#clock.now() - cached.at < FOUND_TTL_MS) return cached.user;
    const byUserName = this.#settings.lookup === 'userName';
    let candidates: IdentityCenterUser[];
    try {
      candidates = await this.#store.users(byUserName ? email : undefined);
    } catch (error) {
      throw new AccessError('unavailable', 'IAM Identity Center did not answer while looking up your user', {
        cause: error,
      });
    }
    // Every user is read (or every one the filter returns), not just up to the first match: a second
    // one must be seen to be refused.
    const matches = candidates.filter((u) =>
      byUserName ? u.userName.toLowerCase() === key : u.emails.some((e) => e.toLowerCase() === key),
    );
    const what = byUserName ? 'user name' : 'email';
    if (matches.length > 1) {
      const named = matches.map((u) => `${u.userName} (${u.userId})`);
      throw misconfigured(
        `Your email is the ${what} of ${matches.length} IAM Identity Center users (${named.join(', ')}), so eks-access cannot tell which one is you`,
        `Nothing was requested. An admin has to give each Identity Center user their own ${what}, or map you under identities.map in the policy.`,
        { identity: 'ambiguous-email', source: 'identity-center', principals: named.join(' ') },
      );
    }
    const [user] = matches;
    if (!user) {
      throw notLinked(
        `No IAM Identity Center user in ${this.#settings.identityStoreId} has ${email} as its ${what}`,
        `Ask an admin to set ${email} as your Identity Center ${what}, or to map you under identities.map in the policy. Nothing was requested.`,
      );
    }
    if (!SESSION_NAME.test(user.userName)) {
      throw misconfigured(
        `Your IAM Identity Center user name "${user.userName}" cannot be an AWS session name, so eks-access cannot tell your sessions apart`,
        'Nothing was requested. An admin has to map you under identities.map in the policy.',
      );
    }
    this.#users.set(key, { user, at: this.#clock.now() });
    return user;
  }

  async #role(accountId: string): Promise<PermissionSetRole> {
    const cached = this.#roles.get(accountId);
    if (cached && this.#clock.now() - cached.at < FOUND_TTL_MS) return cached.role;
    const found = new Map<string, PermissionSetRole>();
    try {
      let marker: string | undefined;
      do {
        const page = await this.#iam.send(
          new ListRolesCommand({ PathPrefix: RESERVED_SSO_PATH, ...(marker ? { Marker: marker } : {}) }),
        );
        for (const role of page.Roles ?? []) {
          const [, partition = '', , , account = ''] = (role.Arn ?? '').split(':');
          const permissionSet = role.RoleName ? permissionSetOfRole(role.RoleName) : undefined;
          // Only roles Identity Center provisioned: its path, the cluster's account, a set we accept.
          if (!permissionSet || !role.RoleName || account !== accountId) continue;
          if (!role.Path?.startsWith(RESERVED_SSO_PATH)) continue;
          if (this.#settings.permissionSets.includes(permissionSet)) {
            found.set(permissionSet, { roleName: role.RoleName, permissionSet, partition });
          }
        }
        marker = page.IsTruncated ? page.Marker : undefined;
      } while (marker);
    } catch (error) {
      throw new AccessError('unavailable', 'IAM did not answer while looking up your Identity Center role', {
        cause: error,
      });
    }
    // The policy's order is its preference: the first permission set provisioned in the account.
    const role = this.#settings.permissionSets.map((set) => found.get(set)).find((r) => r !== undefined);
    if (!role) {
      throw misconfigured(
        `None of the permission sets eks-access accepts (${this.#settings.permissionSets.join(', ')}) is provisioned in account ${accountId}, as far as eks-access can see`,
        `Nothing was requested. An admin has to assign one of them in account ${accountId} (IAM Identity Center → AWS accounts), or give eks-access iam:ListRoles in that account.`,
      );
    }
    this.#roles.set(accountId, { role, at: this.#clock.now() });
    return role;
  }
}
