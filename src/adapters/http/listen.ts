// Starting and stopping the bot's HTTP listeners (health/metrics, the API) the same way.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Listening {
  /** The port it listens on (the one asked for, or the one the system chose for 0). */
  port: number;
  /** Stops accepting, and ends open keep-alive connections so the process can exit. */
  close(): Promise<void>;
}

/** Listens on `port` (0: any free one) at `host`; rejects when the port cannot be had. */
export async function listen(server: Server, port: number, host = '0.0.0.0'): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
