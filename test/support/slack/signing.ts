// Requests into a Bolt HTTP receiver, signed as Slack signs them:
//   X-Slack-Request-Timestamp: <unix seconds>
//   X-Slack-Signature: v0=hex(HMAC-SHA256(signing secret, "v0:" + timestamp + ":" + raw body))
// with knobs to forge the signature or age the timestamp, to prove the receiver refuses both.
import { createHmac } from 'node:crypto';
import type { Obj } from './types.js';

export interface SigningOptions {
  signingSecret: string;
  /** Seconds to move the timestamp into the past (Bolt refuses requests older than 5 minutes). */
  ageSeconds?: number;
  /** Sign with this secret instead (a forged request). */
  forgeWithSecret?: string;
}

export interface SlackHttpResponse {
  status: number;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON (Bolt acks with an empty body). */
  json: Obj | undefined;
}

export function slackSignature(signingSecret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export async function postSigned(
  url: string,
  body: string,
  contentType: 'application/x-www-form-urlencoded' | 'application/json',
  options: SigningOptions,
): Promise<SlackHttpResponse> {
  const timestamp = Math.floor(Date.now() / 1000) - (options.ageSeconds ?? 0);
  const secret = options.forgeWithSecret ?? options.signingSecret;
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': contentType,
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': slackSignature(secret, timestamp, body),
      'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
    },
    body,
  });
  const text = await response.text();
  let json: Obj | undefined;
  try {
    json = text ? (JSON.parse(text) as Obj) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json };
}

/** A slash command, form-encoded like Slack's. */
export function sendSlashCommand(
  url: string,
  payload: Record<string, string>,
  options: SigningOptions,
): Promise<SlackHttpResponse> {
  return postSigned(
    url,
    new URLSearchParams(payload).toString(),
    'application/x-www-form-urlencoded',
    options,
  );
}

/** An interactivity payload (block_actions, view_submission, ...): form field `payload` holding JSON. */
export function sendInteraction(
  url: string,
  payload: Obj,
  options: SigningOptions,
): Promise<SlackHttpResponse> {
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  return postSigned(url, body, 'application/x-www-form-urlencoded', options);
}

/** An Events API callback, as JSON. */
export function sendEvent(url: string, payload: Obj, options: SigningOptions): Promise<SlackHttpResponse> {
  return postSigned(url, JSON.stringify(payload), 'application/json', options);
}
