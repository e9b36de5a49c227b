// The policy's `api` section: the HTTPS API that `kubectl eks-access` and CI jobs use (docs/api.md).
// Off unless enabled. Its callers prove who they are with a presigned STS GetCallerIdentity request
// (domain/caller-token.ts); what this section adds is whom that proof may name and where it may go.
import { z } from 'zod';
import { defaultStsHosts } from '../domain/caller-token.js';

const ACCOUNT_ID = /^\d{12}$/;
/** A host name as STS's endpoints are spelled: lower case, dots, no port, no scheme. */
const STS_HOST = /^sts(\.[a-z0-9-]+)*\.amazonaws\.com(\.cn)?$/;

export const apiSettings = z
  .object({
    enabled: z.boolean().default(false),
    /**
     * AWS accounts whose principals may call the API. Default: the accounts the clusters live in.
     * A principal of any other account is refused before anything else is looked at.
     */
    accounts: z.array(z.string().regex(ACCOUNT_ID, 'a 12-digit AWS account id')).optional(),
    /**
     * The exact STS host names a caller's token may point at; the bot sends the token there and to
     * nowhere else. Default: sts.amazonaws.com and sts.<region>.amazonaws.com of every cluster's region.
     * Only AWS's own STS names are accepted here, so no configuration can make the bot fetch another host.
     */
    stsHosts: z
      .array(z.string().regex(STS_HOST, 'an STS endpoint host like sts.eu-west-1.amazonaws.com'))
      .min(1)
      .optional(),
  })
  .strict();
export type ApiSettings = z.infer<typeof apiSettings>;

/** The API's rules with their defaults filled in from the clusters. */
export interface ApiRules {
  accounts: string[];
  stsHosts: string[];
  /** The value of the audience header a token must be signed with: settings.installation. */
  audience: string;
}

export function apiRulesOf(policy: {
  api?: ApiSettings | undefined;
  settings: { installation: string };
  clusters: Record<string, { accountId: string; region: string }>;
}): ApiRules {
  const clusters = Object.values(policy.clusters);
  return {
    accounts: policy.api?.accounts ?? [...new Set(clusters.map((c) => c.accountId))],
    stsHosts: policy.api?.stsHosts ?? defaultStsHosts([...new Set(clusters.map((c) => c.region))]),
    audience: policy.settings.installation,
  };
}
