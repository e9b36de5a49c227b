// The aws-iam-authenticator reads aws-auth through an informer (a LIST, then a WATCH), so on EKS a change
// reaches it after a watch event, not when the write returns. On one quiet machine that is a millisecond;
// on EKS it is longer and unbounded. This TCP proxy sits between the authenticator and kube-apiserver and
// holds what the apiserver sends by a seeded 1–4 s per chunk, in order (a watch is ordered, so lag never
// reorders events), while the authenticator's own requests pass at once. TLS passes through untouched, so
// the apiserver's certificate still verifies.
import { once } from 'node:events';
import net from 'node:net';
import { seededRandom } from '../support/seeded.js';
import type { Propagation } from './access-entries-sync.js';

export interface WatchLagProxy {
  /** 127.0.0.1:PORT to give the client in place of the server's address. */
  port: number;
  close(): Promise<void>;
}

export async function startWatchLagProxy(
  upstreamPort: number,
  propagation: Propagation | undefined,
): Promise<WatchLagProxy> {
  const random = seededRandom((propagation?.seed ?? 0) + 2); // its own stream (see iam-propagation.ts)
  const delay = () =>
    propagation ? propagation.minMs + random() * (propagation.maxMs - propagation.minMs) : 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    // Each chunk leaves no earlier than the one before it, and no earlier than its own delay.
    let lastDue = 0;
    upstream.on('data', (chunk: Buffer) => {
      const due = Math.max(lastDue, Date.now() + delay());
      lastDue = due;
      setTimeout(() => {
        if (!client.destroyed) client.write(chunk);
      }, due - Date.now()).unref();
    });
    upstream.on('end', () => {
      setTimeout(() => client.end(), Math.max(0, lastDue - Date.now())).unref();
    });
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', () => {
      if (Date.now() >= lastDue) drop();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  server.unref(); // a start that fails after this point must not keep the process alive
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
