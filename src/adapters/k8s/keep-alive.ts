// client-node 1.x builds a new https.Agent for every request (KubeConfig.createAgent, called from
// applySecurityAuthentication), so every API call opened a new TCP connection and paid a full TLS
// handshake on both ends. Measured on the 200-grant burst this was most of the CPU the worker and
// kube-apiserver spent. Here a KubeConfig reuses one keep-alive agent for as long as what the agent
// is built from (CA, client certificate and key, server name, verification) stays the same.
import type { Agent } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';

type CreateAgent = (cluster: unknown, options: Record<string, unknown>) => Agent;

/** What an agent depends on; a changed client certificate (exec plugins rotate them) gets a new agent. */
function fingerprint(options: Record<string, unknown>): string {
  return ['ca', 'cert', 'key', 'pfx', 'passphrase', 'servername', 'rejectUnauthorized']
    .map((k) => String(options[k] ?? ''))
    .join('\u0000');
}

/** One keep-alive agent, shared by the KubeConfigs of one cluster (EKS builds one per token). */
export class AgentPool {
  #current: { key: string; agent: Agent } | undefined;

  agentFor(create: CreateAgent, cluster: unknown, options: Record<string, unknown>): Agent {
    const key = fingerprint(options);
    if (this.#current?.key !== key) {
      this.#current?.agent.destroy();
      this.#current = { key, agent: create(cluster, { ...options, keepAlive: true }) };
    }
    return this.#current.agent;
  }
}

/** Makes `kc` keep its connections open between requests, in `pool`. Returns `kc`. */
export function reuseConnections(kc: KubeConfig, pool = new AgentPool()): KubeConfig {
  // createAgent is private in client-node's types but the one place its agents are made.
  const target = kc as unknown as { createAgent: CreateAgent };
  const create = target.createAgent.bind(kc);
  target.createAgent = (cluster, options) => pool.agentFor(create, cluster, options);
  return kc;
}
