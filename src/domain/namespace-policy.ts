// Namespace policy lookup: which clusters offer a namespace and which namespace policy governs a grant,
// the one answer every other rule starts from.

import type { ClusterPolicy, NamespacePolicy, Policy } from '../config/policy.js';

/** `team-*` matches `team-a`; exact names match themselves. */
export function namespaceMatches(pattern: string, namespace: string): boolean {
  if (!pattern.includes('*')) return pattern === namespace;
  const regex = new RegExp(`^${pattern.split('*').map(escapeRegex).join('[a-z0-9-]*')}$`);
  return regex.test(namespace);
}
const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function namespacePolicyFor(cluster: ClusterPolicy, namespace: string): NamespacePolicy | undefined {
  // Exact names win over patterns, so a specific entry can tighten a broad one.
  return (
    cluster.namespaces.find((ns) => ns.name === namespace) ??
    cluster.namespaces.find((ns) => namespaceMatches(ns.name, namespace))
  );
}

/** The policy entry of the namespace a grant (or request) is in, if the policy still offers it. */
export function namespacePolicyOf(
  policy: Policy,
  where: { cluster: string; namespace: string },
): NamespacePolicy | undefined {
  const cluster = policy.clusters[where.cluster];
  return cluster ? namespacePolicyFor(cluster, where.namespace) : undefined;
}

/** Clusters (by name) that offer this namespace. */
export function clustersOffering(policy: Policy, namespace: string): string[] {
  return Object.entries(policy.clusters)
    .filter(([, c]) => namespacePolicyFor(c, namespace))
    .map(([name]) => name);
}

export function requestableNamespaces(policy: Policy): { cluster: string; namespace: string }[] {
  return Object.entries(policy.clusters).flatMap(([cluster, c]) =>
    c.namespaces.map((ns) => ({ cluster, namespace: ns.name })),
  );
}

export function requestableHint(policy: Policy): string {
  const list = requestableNamespaces(policy)
    .map(({ cluster, namespace }) => `${namespace} (${cluster})`)
    .join(', ');
  return `You can request: ${list}.`;
}
