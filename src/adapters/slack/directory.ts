// The Directory port over Slack's Web API: users.info for profiles and who was deactivated,
// usergroups.users.list for group membership. Both are cached briefly: an approval burst must not hit
// Slack's rate limits, and a change is honoured within a minute. A failed lookup is an error (never an
// empty group): the caller retries or reports it.
import type { webApi } from '@slack/bolt';
import type { Clock } from '../../domain/clock.js';
import { AccessError } from '../../domain/errors.js';
import type { Directory } from '../../ports/directory.js';
import type { SlackProfile } from '../../ports/identity.js';
import { slackAccessError, slackErrorCode } from './errors.js';

export class SlackDirectory implements Directory {
  readonly #client: webApi.WebClient;
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #groups = new Map<string, { at: number; members: Promise<string[]> }>();
  readonly #people = new Map<string, { at: number; active: Promise<boolean> }>();

  constructor(client: webApi.WebClient, clock: Clock, ttlMs = 60_000) {
    this.#client = client;
    this.#clock = clock;
    this.#ttlMs = ttlMs;
  }

  async profile(slackUserId: string): Promise<SlackProfile> {
    try {
      const { user } = await this.#client.users.info({ user: slackUserId });
      const name = user?.profile?.display_name || user?.real_name || user?.name;
      const email = user?.profile?.email;
      const timeZone = user?.tz;
      return {
        slackUserId,
        ...(name ? { displayName: name } : {}),
        ...(email ? { email } : {}),
        ...(timeZone ? { timeZone } : {}),
      };
    } catch (error) {
      throw new AccessError('unavailable', 'Slack did not tell who you are (users.info)', { cause: error });
    }
  }

  async userByEmail(email: string): Promise<string | undefined> {
    try {
      const { user } = await this.#client.users.lookupByEmail({ email });
      return user?.id && !user.deleted ? user.id : undefined;
    } catch (error) {
      if (slackErrorCode(error) === 'users_not_found') return undefined;
      throw new AccessError('unavailable', 'Slack did not say whose email that is (users.lookupByEmail)', {
        cause: error,
      });
    }
  }

  async groupsOf(slackUserId: string, groups: readonly string[]): Promise<string[]> {
    const memberships = await Promise.all(
      groups.map(async (g) => ((await this.#members(g)).includes(slackUserId) ? g : undefined)),
    );
    return memberships.filter((g): g is string => g !== undefined);
  }

  async membersOf(group: string): Promise<string[]> {
    return this.#members(group);
  }

  async active(userIds: readonly string[]): Promise<string[]> {
    const flags = await Promise.all(userIds.map((id) => this.#isActive(id)));
    return userIds.filter((_, i) => flags[i]);
  }

  #isActive(userId: string): Promise<boolean> {
    const cached = this.#people.get(userId);
    if (cached && this.#clock.now() - cached.at < this.#ttlMs) return cached.active;
    const active = this.#client.users
      .info({ user: userId })
      .then(({ user }) => user?.deleted !== true)
      .catch((error: unknown) => {
        this.#people.delete(userId);
        // Nobody by that id (a typo in the policy): not someone to count or DM.
        if (slackErrorCode(error) === 'user_not_found') return false;
        throw (
          slackAccessError(error, `Slack did not say whether ${userId} is active (users.info)`) ??
          new AccessError('unavailable', `Slack did not say whether ${userId} is active`, { cause: error })
        );
      });
    this.#people.set(userId, { at: this.#clock.now(), active });
    return active;
  }

  #members(group: string): Promise<string[]> {
    const cached = this.#groups.get(group);
    if (cached && this.#clock.now() - cached.at < this.#ttlMs) return cached.members;
    const members = this.#client.usergroups.users
      .list({ usergroup: group })
      .then((r) => r.users ?? [])
      .catch((error: unknown) => {
        this.#groups.delete(group);
        if (slackErrorCode(error) === 'plan_upgrade_required')
          throw new AccessError(
            'misconfigured',
            `User groups are unavailable on this Slack workspace's plan: approver group ${group} has no members`,
            {
              hint: 'Name approvers by user id in the policy, or move the workspace to a paid plan.',
              cause: error,
            },
          );
        const mapped = slackAccessError(error, `Slack did not list the members of user group ${group}`);
        throw mapped?.kind === 'unavailable' || mapped?.kind === 'misconfigured'
          ? mapped
          : new AccessError('unavailable', `Slack did not list the members of user group ${group}`, {
              cause: error,
            });
      });
    this.#groups.set(group, { at: this.#clock.now(), members });
    return members;
  }
}
