// "STS" for the API's caller verifier in tests: a TLS endpoint with a test CA's certificate for AWS's
// STS host names, which forwards each request unchanged (method, path, query, Host and signed headers)
// to an emulator, and an https.Agent that dials it whatever host a URL names. The verifier's production
// code runs unchanged: its allow-list checks the real host name, TLS verifies the certificate for it, and
// only the TCP connection goes elsewhere. Requests for any other host are answered by `impostor` (a
// server that claims to be STS and names whoever an attacker likes) and recorded, so a test can show that
// the verifier never asked it.
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { makeCa, makeServingCert } from '../platform/certs.js';

export interface StsFront {
  /** Dials the front for every host (give it to the verifier's httpsGet). */
  agent: https.Agent;
  /** Hosts of the requests the impostor answered. */
  impostorHits: string[];
  close(): Promise<void>;
}

export async function startStsFront(
  dir: string,
  emulator: string,
  options: { stsHosts: readonly string[]; impostorHosts: readonly string[]; impostorAnswer: string },
): Promise<StsFront> {
  const ca = await makeCa(join(dir, 'pki-sts-front'));
  const serving = await makeServingCert(join(dir, 'pki-sts-front'), ca, 'sts-front', {
    ips: [],
    dns: [...options.stsHosts, ...options.impostorHosts],
  });
  const impostorHits: string[] = [];
  const server = https.createServer(
    { cert: await readFile(serving.certFile), key: await readFile(serving.keyFile) },
    (req, res) => {
      const host = (req.headers.host ?? '').toLowerCase();
      if (!options.stsHosts.includes(host)) {
        impostorHits.push(host);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(options.impostorAnswer);
        return;
      }
      const target = new URL(emulator);
      const forward = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', (error) => {
        res.writeHead(502);
        res.end(String(error));
      });
      req.pipe(forward);
    },
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const caPem = await readFile(ca.certFile);
  const agent = new https.Agent({ ca: caPem, keepAlive: false });
  // The connection goes to the front; the name TLS checks (servername) stays the URL's host.
  agent.createConnection = (opts: https.RequestOptions & tls.ConnectionOptions) =>
    tls.connect({
      ...opts,
      host: '127.0.0.1',
      port,
      ca: caPem,
      servername: String(opts.servername ?? opts.host),
    });
  return {
    agent,
    impostorHits,
    close: async () => {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
