// Slack's side of Socket Mode: apps.connections.open hands out one-time ws:// URLs on the fake's own port;
// a client that connects gets `hello`, is pinged like Slack pings, and receives envelopes. send() resolves
// with the app's ack payload (Bolt acks with `{ envelope_id, payload }`), or rejects after Slack's
// three-second ack deadline.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { Obj } from './types.js';

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';

const PING_INTERVAL_MS = 10_000; // the client gives up after 30 s without a ping

export class SocketModeServer {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly tickets = new Set<string>();
  private readonly sockets: WebSocket[] = [];
  private readonly pendingAcks = new Map<string, (payload: Obj | undefined) => void>();
  private readonly connectionWaiters: Array<() => void> = [];

  private readonly baseWsUrl: () => string;
  private readonly appId: string;
  private readonly ackTimeoutMs: number;

  constructor(baseWsUrl: () => string, appId: string, ackTimeoutMs: number) {
    this.baseWsUrl = baseWsUrl;
    this.appId = appId;
    this.ackTimeoutMs = ackTimeoutMs;
  }

  /** What apps.connections.open returns: a URL that admits one connection. */
  connectionUrl(): string {
    const ticket = randomUUID();
    this.tickets.add(ticket);
    return `${this.baseWsUrl()}/link/?ticket=${ticket}&app_id=${this.appId}`;
  }

  /** Number of open Socket Mode connections. */
  get connections(): number {
    return this.sockets.length;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const ticket = new URL(req.url ?? '/', 'ws://x').searchParams.get('ticket') ?? '';
    if (!this.tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
  }

  private accept(ws: WebSocket): void {
    this.sockets.push(ws);
    const ping = setInterval(() => ws.ping(), PING_INTERVAL_MS);
    ping.unref();
    ws.on('message', (data) => {
      let message: { envelope_id?: string; payload?: Obj };
      try {
        message = JSON.parse(data.toString()) as typeof message;
      } catch {
        return;
      }
      const resolve = message.envelope_id ? this.pendingAcks.get(message.envelope_id) : undefined;
      if (resolve) resolve(message.payload);
    });
    ws.on('close', () => {
      clearInterval(ping);
      this.sockets.splice(this.sockets.indexOf(ws), 1);
    });
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: this.sockets.length,
        debug_info: { host: 'applink-fake', build_number: 1, approximate_connection_time: 18_060 },
        connection_info: { app_id: this.appId },
      }),
    );
    for (const wake of this.connectionWaiters.splice(0)) wake();
  }

  /** Resolves once an app is connected (at once if one already is). */
  waitForConnection(timeoutMs = 10_000): Promise<void> {
    if (this.sockets.length > 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no Socket Mode connection within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.connectionWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Delivers an envelope to the most recently connected app and resolves with its ack payload
   * (undefined for a bare ack). Rejects when no app is connected or no ack arrives in time.
   */
  send(type: EnvelopeType, payload: Obj, options: { ackTimeoutMs?: number } = {}): Promise<Obj | undefined> {
    const ws = this.sockets.at(-1);
    if (!ws) return Promise.reject(new Error('no Socket Mode connection: start the Bolt app first'));
    const envelope_id = randomUUID();
    const timeoutMs = options.ackTimeoutMs ?? this.ackTimeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingAcks.delete(envelope_id);
        reject(new Error(`the app did not ack ${type} envelope ${envelope_id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pendingAcks.set(envelope_id, (ack) => {
        clearTimeout(timer);
        this.pendingAcks.delete(envelope_id);
        resolve(ack !== undefined && Object.keys(ack).length > 0 ? ack : undefined);
      });
      ws.send(
        JSON.stringify({
          envelope_id,
          type,
          payload,
          accepts_response_payload: type !== 'events_api',
          ...(type === 'events_api' ? { retry_attempt: 0, retry_reason: '' } : {}),
        }),
      );
    });
  }

  /** Asks connected apps to reconnect, as Slack does before it rotates its servers. */
  requestRefresh(): void {
    for (const ws of this.sockets)
      ws.send(JSON.stringify({ type: 'disconnect', reason: 'refresh_requested' }));
  }

  /** Closes connections the way Slack does (a close frame), terminating any that do not finish in 1 s. */
  async close(): Promise<void> {
    await Promise.all(
      this.sockets.map(
        (ws) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => ws.terminate(), 1_000);
            ws.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            if (ws.readyState === WebSocket.OPEN) ws.close(1001, 'going away');
          }),
      ),
    );
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
