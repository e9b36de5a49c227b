// What the engine needs from AWS and Kubernetes, per cluster: the personal IAM role, the identity
// mapping (aws-auth, access entries or nothing) and RBAC with SubjectAccessReview. Adapters translate
// SDK errors into AccessError kinds; everything here is idempotent unless a method says otherwise.
import type { PolicyRule } from '../config/policy.js';
import type { ProbeAttempt, ProbeCaller } from '../domain/login-probe.js';
import type {
  PermissionCheck,
  PersonalRolePlan,
  RoleBindingManifest,
  RoleManifest,
  TrustPolicy,
} from '../domain/plan.js';

/** One of our IAM roles as IAM reports it (from the role's tags). */
export interface ManagedRole {
  name: string;
  arn: string;
  createdAt: number;
  principalArn?: string;
  username?: string;
}

/** IAM in the cluster's account (through an assumed role for cross-account clusters). */
export interface IamRoles {
  /**
   * Creates the role with this trust policy, path and tags, or, when it exists, replaces its trust
   * policy and expiry tag. Idempotent. `exists`: the caller created it moments ago, so the trust is
   * renewed without trying CreateRole first (a role that is gone after all is still created).
   * `created`: this call made the role, so it has a new unique id (see IdentityMapping.upsert).
   * `trustOnly` (with `exists`): only the trust policy changes (the expiry tag is already right), one write.
   */
  ensureRole(
    role: PersonalRolePlan,
    options?: { exists?: boolean; trustOnly?: boolean },
  ): Promise<{ created: boolean }>;
  /**
   * Ends the role: trust closed (condition in the past), sessions issued before `now` denied, inline
   * policies deleted, role deleted. Idempotent; a missing role is success.
   */
  retireRole(
    name: string,
    principalArn: string,
    now: number,
    options?: { trustClosed?: boolean },
  ): Promise<void>;
  /**
   * Replaces the trust of an existing role, never creating one (taking access away): false when the role
   * is gone. Revocation closes the person's statement with it while the login probe proves the refusal.
   */
  replaceTrust(name: string, trust: TrustPolicy): Promise<boolean>;
  /** Our roles under `pathPrefix` (only those tagged as ours). */
  listRoles(pathPrefix: string): Promise<ManagedRole[]>;
}

export interface MappingEntry {
  roleArn: string;
  username: string;
  groups: string[];
}

/** How a personal role becomes a Kubernetes username on one cluster. */
export interface IdentityMapping {
  readonly mode: 'aws-auth' | 'access-entries' | 'none';
  /**
   * Adds or updates the entry for the role `roleArn` (full ARN; aws-auth writes it path-less). Idempotent
   * ("already exists" is success). `roleIsNew`: the role was created just now, so an entry already there
   * was made for an earlier role of the same ARN. EKS binds an access entry to the role's unique id, not
   * its ARN, so such an entry maps nobody: it is replaced. (aws-auth matches by ARN: nothing to do.)
   */
  upsert(entry: MappingEntry, options?: { roleIsNew?: boolean }): Promise<void>;
  /**
   * Removes our entry for the role `roleArn` (in any form it was written); a missing entry is success.
   * Never touches other entries.
   */
  remove(roleArn: string): Promise<void>;
  /** Reads only: throws `misconfigured` when the mapping cannot be edited safely (aws-auth unparseable). */
  preflight(): Promise<void>;
  /**
   * The entry the cluster's authenticator would use for a session of the role `roleArn`, as written
   * (foreign or ours), or undefined when none would match. Reads only; verification compares it.
   */
  effectiveEntry(roleArn: string): Promise<MappingEntry | undefined>;
  /** Our entries on this cluster, ARNs as written (see `isOurMapping`). Empty for `none`. */
  list(): Promise<MappingEntry[]>;
  /**
   * Access entries only: how many entries (anyone's) the cluster held at the last complete `list()`,
   * for EKS's per-cluster limit (domain/access-entry-limit.ts); undefined before one.
   */
  entriesSeen?(): number | undefined;
  /**
   * Access entries only: when our entry for `roleArn` was created (epoch ms), undefined when there is none.
   * EKS binds an entry to its role's unique id at creation, so an entry older than its role maps nobody.
   */
  entryCreatedAt?(roleArn: string): Promise<number | undefined>;
}

/**
 * A RoleBinding that looks like ours (by label), with what its labels and annotations say. Anyone who
 * may write RoleBindings can write those: nothing here may be used before the seal is verified
 * (`sealVerdict` in engine/sealed-bindings.ts).
 */
export interface ManagedBinding {
  namespace: string;
  name: string;
  /** The object's uid: a finding is reported once per object. */
  uid: string;
  grantId: string;
  level: string;
  /** The `eks-access.io/seal` annotation, if any. */
  seal?: string;
  userLabel: string;
  /** The `eks-access.io/installation` label, if any (bindings written before it have none). */
  installation?: string;
  username: string;
  principalArn: string;
  roleArn?: string;
  /** Epoch ms; NaN when the annotation is missing or unreadable (treated as expired). */
  expiresAt: number;
  roleRef: { kind: string; name: string };
  /** The `eks-access.io/requester` annotation (Slack user id), if any; sealed on bindings written since v0.x. */
  requester?: string;
  /** Who the object really binds (what a look-alike grants, whatever its annotations claim). */
  subjects?: { kind: string; name: string; namespace?: string }[];
}

/** RBAC and authorization questions on one cluster. */
export interface ClusterRbac {
  /**
   * Creates or replaces the Role. Idempotent. Every call changes the stored object (so a concurrent
   * deleteRoleIfUnused that read it before fails); callers write the RoleBinding that uses the Role
   * first, so either that check sees the binding or the Role is written again after its delete.
   */
  applyRole(role: RoleManifest): Promise<void>;
  /**
   * Creates or replaces the RoleBinding. Idempotent. `exists`: the caller wrote it moments ago, so it
   * is replaced first (one call; created if it is gone after all).
   */
  applyRoleBinding(binding: RoleBindingManifest, options?: { exists?: boolean }): Promise<void>;
  /**
   * Deletes; a missing object (or namespace) is success. With `uid`, only that very object: one
   * replaced since (another uid) is left alone (also success).
   */
  deleteRoleBinding(namespace: string, name: string, options?: { uid?: string }): Promise<void>;
  /**
   * Deletes the Role unless a RoleBinding in its namespace still refers to it, and only if nobody
   * applied it since this call read it. Returns whether it is gone. Safe to call concurrently.
   */
  deleteRoleIfUnused(namespace: string, name: string): Promise<boolean>;
  /**
   * RoleBindings labelled as ours cluster-wide, optionally for one user label only (the one
   * cluster-wide read). Sealed or not: the caller verifies.
   */
  listBindings(userLabel?: string): Promise<ManagedBinding[]>;
  /** The rules of a ClusterRole; undefined when it does not exist. */
  clusterRoleRules(name: string): Promise<PolicyRule[] | undefined>;
  /** The rules of a Role in a namespace (a kept Role the platform team applied); undefined when it does not exist (or may not be read). */
  roleRules(namespace: string, name: string): Promise<PolicyRule[] | undefined>;
  /** SubjectAccessReview: may `username` (with `groups`) do `check`? */
  allowed(username: string, groups: readonly string[], check: PermissionCheck): Promise<boolean>;
  /** Whether the namespace exists (activation into a missing namespace fails with a clear reason). */
  namespaceExists(namespace: string): Promise<boolean>;
}

/**
 * Logging in as the person will (domain/login-probe.ts): clusters reached through a personal role whose
 * policy entry asks for it (`loginProbe`, on by default for EKS connections).
 */
export interface LoginProbe {
  /** Who the worker is to IAM (sts:GetCallerIdentity, read once), for the probe's trust statement. */
  caller(): Promise<ProbeCaller>;
  /**
   * One login: a new session of `roleArn` (session name PROBE_SESSION_NAME), a new EKS token, then the
   * cluster's SelfSubjectReview and a SelfSubjectAccessReview per check. `refused` when STS will not
   * issue the session or the cluster does not accept the token (not propagated yet, or taken away);
   * other failures (throttling, the network) throw, to be retried as any step.
   */
  attempt(roleArn: string, checks: readonly PermissionCheck[]): Promise<ProbeAttempt>;
}

/** An access entry of ours with what EKS reports about it: tags and associated policies (untrusted). */
export interface PolicyEntry {
  /** The personal role's full ARN (the entry's principal). */
  roleArn: string;
  username: string;
  /** As EKS reports them now (ListTagsForResource): nothing here is trusted before its seal is checked. */
  tags: Record<string, string>;
  associations: { policyArn: string; namespaces: string[]; scope: 'cluster' | 'namespace' }[];
}

/**
 * The access-policy side of a person's access entry (access-policy levels): its grant tags, which seal
 * what each grant was given (domain/access-policy-tags.ts), and its associated policies. The entry itself
 * is created and deleted through IdentityMapping (access entries).
 */
export interface AccessPolicyEntries {
  /** The entry of `roleArn` with tags and associations; undefined when there is none. Reads only. */
  read(roleArn: string): Promise<PolicyEntry | undefined>;
  /** Adds or replaces tags on the entry. Throws not_found when the entry is gone. */
  tag(roleArn: string, tags: Record<string, string>): Promise<void>;
  /** Removes tags; a missing entry or tag is success. */
  untag(roleArn: string, keys: readonly string[]): Promise<void>;
  /**
   * Associates `policyArn` scoped to exactly these namespaces (EKS replaces the scope of an existing
   * association). Never cluster-wide: an empty list is refused here.
   */
  associate(roleArn: string, policyArn: string, namespaces: readonly string[]): Promise<void>;
  /** Removes the association; a missing entry or association is success. */
  disassociate(roleArn: string, policyArn: string): Promise<void>;
  /** Our entries on the cluster (as IdentityMapping.list finds them), each read whole. */
  listOurs(): Promise<PolicyEntry[]>;
}

export interface ClusterBackends {
  iam: IamRoles;
  mapping: IdentityMapping;
  /**
   * On a cluster that offers access-policy levels the worker holds no Kubernetes access: every call
   * throws `misconfigured` (the engine never makes one there).
   */
  rbac: ClusterRbac;
  /** Present on clusters that offer access-policy levels (their mapping is access entries). */
  accessPolicies?: AccessPolicyEntries;
  /** Absent where no login can be proven: `identityMapping: none`, or `loginProbe: false`. */
  probe?: LoginProbe;
  /**
   * On an `identityMapping: auto` cluster that now reads access entries: the aws-auth entries of grants
   * made while it read only aws-auth. Taken away with the grant's identity (and by the reconciler), never
   * written: revocation removes whatever form a grant has.
   */
  formerMapping?: Pick<IdentityMapping, 'remove' | 'list'>;
}

/** Connections by policy cluster name; built lazily and cached (tokens refresh inside). */
export interface ClusterConnections {
  /** Throws not_found for a cluster the policy does not name. */
  forCluster(cluster: string): Promise<ClusterBackends>;
}
