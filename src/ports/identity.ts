// Who a Slack user is on AWS. Resolution failures are `not_found` with a hint saying exactly what an
// admin has to add to the policy (or which IAM tag to set).
export interface SlackProfile {
  slackUserId: string;
  displayName?: string;
  email?: string;
  /** IANA time zone from the chat profile (`Europe/Berlin`): times a person types are read in it. */
  timeZone?: string;
}

export interface AwsIdentityResolver {
  /**
   * The IAM principal ARN for this person; throws not_found (with the fix) when there is none.
   * `target.accountId`: the account of the cluster asked for. An Identity Center person is a session
   * of a role provisioned per account, so their principal depends on it; without a target (whoami)
   * the policy's first cluster's account is used. Other principals are the same everywhere.
   */
  principalFor(profile: SlackProfile, target?: { accountId: string }): Promise<string>;
  /**
   * The emails an identity source gives this principal, to find its person in the chat (the API's
   * callers, bot/api-caller.ts): an IAM user's email tag, an Identity Center session's user's emails.
   * Empty when no source enabled in the policy knows it. A candidate only: the caller confirms it
   * forward with principalFor. Throws `unavailable` when the source does not answer.
   */
  emailsOf(principalArn: string): Promise<string[]>;
}
