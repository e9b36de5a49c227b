// An https.Agent that reaches hosts through an HTTP CONNECT proxy (the platform's AWS gateway) and trusts
// a test CA: how the bot's API verifier reaches "STS" (sts.<region>.amazonaws.com) in e2e tests, as
// the requester's own aws CLI and the authenticator do, with the real host name checked end to end.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import tls from 'node:tls';

export function proxyAgent(proxyUrl: string, caFile: string): https.Agent {
  const proxy = new URL(proxyUrl);
  const ca = readFileSync(caFile);
  const agent = new https.Agent({ ca, keepAlive: false });
  agent.createConnection = ((
    options: tls.ConnectionOptions & { host?: string; port?: number | string; servername?: string },
    callback: (error: Error | null, socket?: net.Socket) => void,
  ) => {
    const host = String(options.servername ?? options.host);
    const port = Number(options.port ?? 443);
    const connect = http.request({
      host: proxy.hostname,
      port: Number(proxy.port),
      method: 'CONNECT',
      path: `${host}:${port}`,
      headers: { host: `${host}:${port}` },
    });
    connect.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        callback(new Error(`proxy refused CONNECT ${host}:${port}: ${res.statusCode}`));
        return;
      }
      callback(null, tls.connect({ socket, servername: host, ca }));
    });
    connect.once('error', (error) => callback(error));
    connect.end();
    return undefined;
  }) as unknown as https.Agent['createConnection'];
  return agent;
}
