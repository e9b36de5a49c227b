// A grant record rebuilt from a sealed RoleBinding (or an access-policy grant's sealed tag), for when Redis lost the original (FLUSHALL, a lost
// volume) while the access lives on: the requester sees it in `list` and App Home again, can end it
// with `done`, and hears when it ends. Only facts the binding's seal covers go in; everything else is
// unknown and says so. It is `active` and flagged `rebuilt`, so it can only end (grant.ts `transition`).
import type { Grant } from './grant.js';
import type { BindingFacts } from './seal.js';

/** What a sealed binding proves about its grant (verified by the caller, requester included). */
export type SealedGrantFacts = Pick<
  BindingFacts,
  'grantId' | 'cluster' | 'namespace' | 'level' | 'username' | 'principalArn' | 'expiresAt'
> & { requester: string };

/** Shown where the record has no reason of its own. */
export const REBUILT_REASON = 'unknown: rebuilt from the cluster after Redis lost its data';

export function rebuiltGrant(
  facts: SealedGrantFacts,
  now: number,
  from: 'role-binding' | 'access-entry-tag' = 'role-binding',
): Grant {
  return {
    id: facts.grantId,
    version: 1,
    status: 'active',
    requester: {
      slackUserId: facts.requester,
      principalArn: facts.principalArn,
      kubernetesUsername: facts.username,
    },
    cluster: facts.cluster,
    namespace: facts.namespace,
    level: facts.level,
    // Unknown: what remains of it is all that can be told. Nothing reads it to decide anything,
    // since a rebuilt record can never be extended or activated.
    durationSeconds: Math.max(0, Math.round((facts.expiresAt - now) / 1000)),
    reason: REBUILT_REASON,
    requiredApprovals: 0,
    approvals: [],
    createdAt: now,
    pendingUntil: now,
    expiresAt: facts.expiresAt,
    extensions: [],
    rebuilt: { at: now, from },
  };
}
