// The Directory port over Slack's Web API: users.info for profiles, usergroups.users.list for group
// membership. Group lists are cached briefly: an approval burst must not hit Slack's rate limits, and
// a membership change is honoured within a minute.
import type { webApi } from '@slack/bolt';
import type { Clock } from '../../domain/clock.js';
import { AccessError } from '../../domain/errors.js';
import type { Directory } from '../../ports/directory.js';
import type { SlackProfile } from '../../ports/identity.js';

export class SlackDirectory implements Directory {
  readonly #client: webApi.WebClient;
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #groups = new Map<string, { at: number; members: Promise<string[]> }>();

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

  async groupsOf(slackUserId: string, groups: readonly string[]): Promise<string[]> {
    const memberships = await Promise.all(
      groups.map(async (g) => ((await this.#members(g)).includes(slackUserId) ? g : undefined)),
    );
    return memberships.filter((g): g is string => g !== undefined);
  }

  async membersOf(group: string): Promise<string[]> {
    return this.#members(group).catch(() => []);
  }

  #members(group: string): Promise<string[]> {
    const cached = this.#groups.get(group);
    if (cached && this.#clock.now() - cached.at < this.#ttlMs) return cached.members;
    const members = this.#client.usergroups.users
      .list({ usergroup: group })
      .then((r) => r.users ?? [])
      .catch((error: unknown) => {
        this.#groups.delete(group);
        throw new AccessError('unavailable', `Slack did not list the members of user group ${group}`, {
          cause: error,
        });
      });
    this.#groups.set(group, { at: this.#clock.now(), members });
    return members;
  }
}
