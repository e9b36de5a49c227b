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
  /** The IAM principal ARN for this person; throws not_found (with the fix) when there is none. */
  principalFor(profile: SlackProfile): Promise<string>;
}
