// Who people are in the chat workspace: profiles (for identity resolution) and user-group membership
// (for approver and auto-approve checks). Read through the chat's API with the bot's token only.
import type { SlackProfile } from './identity.js';

export interface Directory {
  /** Display name and email of a user; fields are absent when the workspace does not share them. */
  profile(slackUserId: string): Promise<SlackProfile>;
  /**
   * Which of `groups` the user belongs to. Throws `unavailable` when the chat cannot answer, so an
   * approval is refused rather than decided on partial data.
   */
  groupsOf(slackUserId: string, groups: readonly string[]): Promise<string[]>;
  /**
   * Members of a user group (approvers' DMs and App Home). Never "nobody" for a failure: throws
   * `unavailable` when the chat cannot answer now (retry), `misconfigured` when it never will (a plan
   * without user groups, an unknown group).
   */
  membersOf(group: string): Promise<string[]>;
  /**
   * Those of `userIds` still in the workspace (deactivated people dropped), in order. Throws
   * `unavailable` when the chat cannot answer.
   */
  active(userIds: readonly string[]): Promise<string[]>;
  /**
   * The active user whose profile email this is (case-insensitive), or undefined when there is none.
   * Throws `unavailable` when the chat cannot answer.
   */
  userByEmail(email: string): Promise<string | undefined>;
}
