// Slack user → AWS principal. First the policy's explicit map; then, only when the policy enables it,
// the person's IAM Identity Center session (identity-center.ts) or the IAM user whose tag (default
// `slack-email`) equals the person's Slack profile email. When neither
// finds the person, the error says exactly what an admin has to add. When two IAM users carry the
// same email the lookup refuses: picking one would hand a person's requests to whoever tagged the
// other (see docs/engine.md, "Who a person is on AWS").
import { IAMClient, ListUsersCommand, ListUserTagsCommand } from '@aws-sdk/client-iam';
import type { Env } from '../../config/env.js';
import type { Policy } from '../../config/policy.js';
import { isAcceptedIdentityCenterSession } from '../../config/policy.js';
import { identityCenterSessionOf, parseArn } from '../../domain/arn.js';
import { type Clock, systemClock } from '../../domain/clock.js';
import { identityMapEntry } from '../../domain/decisions.js';
import { AccessError, misconfigured, notLinked } from '../../domain/errors.js';
import { robotPrincipal } from '../../domain/robots.js';
import type { AwsIdentityResolver, SlackProfile } from '../../ports/identity.js';
import { type AwsClientEnv, awsClientOptions } from '../aws/client-options.js';
import type { AwsCredentials } from '../aws/eks-token.js';
import { IdentityCenterLookup, sdkIdentityStore } from './identity-center.js';

/**
 * The resolver the bot and the worker use: an IAM client only when the policy turns a lookup on (IAM
 * is global; the SDK still wants a region), the identity store client only with identityCenter, and
 * only once it is first asked. `credentials` defaults to the SDK's chain; `identityStoreEndpoint`
 * (tests) overrides the one the SDK finds (AWS_ENDPOINT_URL_IDENTITYSTORE is honoured by the SDK).
 */
export function identityResolverFor(
  policy: Policy,
  env: Pick<Env, 'AWS_ENDPOINT_URL_IAM' | 'AWS_REGION'> & AwsClientEnv,
  credentials?: AwsCredentials,
  identityStoreEndpoint?: string,
): PolicyIdentityResolver {
  const center = policy.identities.identityCenter;
  if (!policy.identities.emailTag?.enabled && !center?.enabled) return new PolicyIdentityResolver(policy);
  const iam = new IAMClient({
    region: env.AWS_REGION ?? 'us-east-1',
    ...awsClientOptions(env),
    ...(env.AWS_ENDPOINT_URL_IAM ? { endpoint: env.AWS_ENDPOINT_URL_IAM } : {}),
    ...(credentials ? { credentials } : {}),
  });
  const lookup = center?.enabled
    ? new IdentityCenterLookup(
        center,
        sdkIdentityStore(
          center.identityStoreId,
          (sdk) =>
            new sdk.IdentitystoreClient({
              region: center.region,
              ...awsClientOptions(env),
              ...(identityStoreEndpoint ? { endpoint: identityStoreEndpoint } : {}),
              ...(credentials ? { credentials } : {}),
            }),
        ),
        iam,
        systemClock,
      )
    : undefined;
  return new PolicyIdentityResolver(policy, iam, systemClock, lookup);
}

/** Found links are kept this long: the lookup walks every IAM user's tags, which is slow in big accounts. */
const FOUND_TTL_MS = 10 * 60_000;

export class PolicyIdentityResolver implements AwsIdentityResolver {
  readonly #policy: Policy;
  readonly #iam: IAMClient | undefined;
  readonly #clock: Clock;
  readonly #identityCenter: IdentityCenterLookup | undefined;
  /** email → principal ARN and when it was found. Misses are never cached, so an admin's fix works at once. */
  readonly #found = new Map<string, { arn: string; at: number }>();

  /** `iam` is needed only when the policy enables the email-tag lookup; `identityCenter` with identityCenter. */
  constructor(
    policy: Policy,
    iam?: IAMClient,
    clock: Clock = systemClock,
    identityCenter?: IdentityCenterLookup,
  ) {
    this.#policy = policy;
    this.#iam = iam;
    this.#clock = clock;
    this.#identityCenter = identityCenter;
  }

  async principalFor(profile: SlackProfile, target?: { accountId: string }): Promise<string> {
    const mapped = this.#policy.identities.map[profile.slackUserId];
    if (mapped) return mapped;
    // A CI role asking through the API is its own requester while an auto-approve rule names it.
    const robot = robotPrincipal(this.#policy, profile.slackUserId);
    if (robot) return robot;
    if (this.#identityCenter && this.#policy.identities.identityCenter?.enabled) {
      const accountId = target?.accountId ?? Object.values(this.#policy.clusters)[0]?.accountId ?? '';
      return this.#identityCenter.principalFor(profile, accountId);
    }
    const emailTag = this.#policy.identities.emailTag;
    if (!emailTag?.enabled || !this.#iam) throw this.#unmapped(profile, undefined);
    if (!profile.email) {
      throw notLinked(
        'eks-access cannot see your Slack email, so it cannot find your AWS user',
        `An admin has to add \`${profile.slackUserId}: arn:aws:iam::<account>:user/<you>\` under identities.map in the policy, or give the Slack app the users:read.email scope.`,
      );
    }
    const key = profile.email.toLowerCase();
    const cached = this.#found.get(key);
    if (cached && this.#clock.now() - cached.at < FOUND_TTL_MS) return cached.arn;
    const arn = await this.#byTag(emailTag.tagKey, profile.email);
    if (arn) {
      this.#found.set(key, { arn, at: this.#clock.now() });
      return arn;
    }
    throw this.#unmapped(profile, emailTag.tagKey);
  }

  async emailsOf(principalArn: string): Promise<string[]> {
    const center = this.#policy.identities.identityCenter;
    if (
      this.#identityCenter &&
      center?.enabled &&
      isAcceptedIdentityCenterSession(this.#policy.identities, principalArn)
    ) {
      const session = identityCenterSessionOf(principalArn);
      return session ? this.#identityCenter.emailsOfUserName(session.userName) : [];
    }
    const emailTag = this.#policy.identities.emailTag;
    const parsed = parseArn(principalArn);
    const [kind, ...path] = (parsed?.resource ?? '').split('/');
    const userName = path.at(-1);
    if (!emailTag?.enabled || !this.#iam || parsed?.service !== 'iam' || kind !== 'user' || !userName)
      return [];
    try {
      const tags = await this.#iam.send(new ListUserTagsCommand({ UserName: userName }));
      return (tags.Tags ?? []).flatMap((t) => (t.Key === emailTag.tagKey && t.Value ? [t.Value] : []));
    } catch (error) {
      if ((error as { name?: string }).name === 'NoSuchEntity') return [];
      throw new AccessError('unavailable', "IAM did not answer while looking up a user's email tag", {
        cause: error,
      });
    }
  }

  #unmapped(profile: SlackProfile, tagKey: string | undefined): AccessError {
    const byMap = `add ${identityMapEntry(profile.slackUserId)}`;
    const byTag = tagKey && profile.email ? `, or tag your IAM user with \`${tagKey}=${profile.email}\`` : '';
    return notLinked(
      `Your Slack account (${profile.slackUserId}) is not linked to an AWS user`,
      `Ask an admin to ${byMap}${byTag}. Nothing was requested.`,
    );
  }

  async #byTag(tagKey: string, email: string): Promise<string | undefined> {
    const iam = this.#iam as IAMClient;
    const wanted = email.toLowerCase();
    const matches: string[] = [];
    try {
      // Every user is read, not just up to the first match: a second one must be seen to be refused.
      let marker: string | undefined;
      do {
        const page = await iam.send(new ListUsersCommand({ ...(marker ? { Marker: marker } : {}) }));
        for (const user of page.Users ?? []) {
          if (!user.UserName || !user.Arn) continue;
          const tags = await iam.send(new ListUserTagsCommand({ UserName: user.UserName }));
          if (tags.Tags?.some((t) => t.Key === tagKey && t.Value?.toLowerCase() === wanted)) {
            matches.push(user.Arn);
          }
        }
        marker = page.IsTruncated ? page.Marker : undefined;
      } while (marker);
    } catch (error) {
      throw new AccessError('unavailable', 'IAM did not answer while looking up your AWS user', {
        cause: error,
      });
    }
    if (matches.length > 1) {
      throw misconfigured(
        `Your email is the \`${tagKey}\` tag of ${matches.length} IAM users (${matches.join(', ')}), so eks-access cannot tell which one is you`,
        `Nothing was requested. An admin has to remove the \`${tagKey}\` tag from every IAM user that is not yours, find out who set it, or map you under identities.map in the policy.`,
        { identity: 'ambiguous-email', tagKey, principals: matches.join(' ') },
      );
    }
    return matches[0];
  }
}
