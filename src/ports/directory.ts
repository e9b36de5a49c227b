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
  /** Members of a user group (for refreshing approvers' App Home); empty when unknown. */
  membersOf(group: string): Promise<string[]>;
}
