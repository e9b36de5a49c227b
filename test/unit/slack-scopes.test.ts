// Every Web API method the code calls must be granted by slack-manifest.yml, or real Slack answers
// missing_scope in production while tests pass. The methods are derived from the source (every
// `client.<group>.<method>(` call), so a new call without its scope fails here first.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config/load.js';
import { requiredSlackScopes } from '../../src/operator/doctor.js';
import { readManifest } from '../support/slack/fake-slack.js';
import { METHOD_SCOPES, SCOPELESS_METHODS } from '../support/slack/web-api.js';

const SRC = new URL('../../src/', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Web API client wrappers and the methods each calls (files.uploadV2: get an upload URL, then complete). */
const WRAPPERS: Readonly<Record<string, readonly string[]>> = {
  filesUploadV2: ['files.getUploadURLExternal', 'files.completeUploadExternal'],
};

/** `client.chat.postMessage(`, `client.usergroups.users\n  .list(`, `app.client.auth.test(` → method names. */
function calledMethods(files: readonly string[]): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const call = /\bclient\s*\.\s*([a-z]+)\s*\.\s*([a-zA-Z]+)(?:\s*\.\s*([a-zA-Z]+))?\s*\(/g;
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(call)) {
      const method = [match[1], match[2], match[3]].filter(Boolean).join('.');
      found.set(method, [...(found.get(method) ?? []), file.slice(SRC.length)]);
    }
    // web-api's wrappers call several methods for one client call.
    for (const [wrapper, methods] of Object.entries(WRAPPERS)) {
      if (!new RegExp(`\\bclient\\s*\\.\\s*${wrapper}\\s*\\(`).test(text)) continue;
      for (const method of methods) found.set(method, [...(found.get(method) ?? []), file.slice(SRC.length)]);
    }
  }
  return found;
}

describe('slack-manifest.yml grants every Web API method the code calls', () => {
  const methods = calledMethods(sourceFiles(SRC));
  const scopes = new Set(readManifest().oauth_config?.scopes?.bot ?? []);

  it('finds the calls (the scan itself works)', () => {
    expect([...methods.keys()]).toEqual(
      expect.arrayContaining([
        'chat.postMessage',
        'users.info',
        'usergroups.users.list',
        'views.open',
        'files.completeUploadExternal',
      ]),
    );
  });

  it.each([...methods.keys()].sort())('%s is known and its scope is in the manifest', (method) => {
    const needed = METHOD_SCOPES[method];
    if (!needed) {
      // A method outside both lists: look up its scopes on api.slack.com and add it to web-api.ts.
      expect(SCOPELESS_METHODS, `${method} (called in ${methods.get(method)?.join(', ')})`).toContain(method);
      return;
    }
    expect(
      needed.some((scope) => scopes.has(scope)),
      `${method} needs one of ${needed.join(', ')}`,
    ).toBe(true);
  });

  it('declares every scope doctor requires (with the email lookup on)', () => {
    const { policy } = parsePolicy(
      readFileSync(new URL('../../policy.example.yaml', import.meta.url), 'utf8'),
    );
    const withEmail = { ...policy, identities: { ...policy.identities, emailTag: { enabled: true } } };
    for (const scope of requiredSlackScopes(withEmail as typeof policy)) expect([...scopes]).toContain(scope);
  });
});

/** The value at a path in parsed YAML (undefined when any step is missing). */
const at = (value: unknown, ...path: Array<string | number>): unknown =>
  path.reduce<unknown>((v, key) => (v as Record<string | number, unknown> | undefined)?.[key], value);

describe('slack-manifest.http.yml', () => {
  it('is the same app as slack-manifest.yml, with request URLs instead of Socket Mode', () => {
    const socket = readManifest();
    const http = readManifest(new URL('../../slack-manifest.http.yml', import.meta.url));
    expect(at(http, 'oauth_config')).toEqual(at(socket, 'oauth_config'));
    expect(at(http, 'features', 'app_home')).toEqual(at(socket, 'features', 'app_home'));
    expect(at(http, 'settings', 'socket_mode_enabled')).toBe(false);
    expect(at(http, 'settings', 'event_subscriptions', 'request_url')).toMatch(
      /^https:\/\/.+\/slack\/events$/,
    );
    expect(at(http, 'settings', 'interactivity', 'request_url')).toMatch(/\/slack\/events$/);
    expect(at(http, 'features', 'slash_commands', 0, 'url')).toMatch(/\/slack\/events$/);
    // People cannot write to a bot that never answers.
    expect(at(socket, 'features', 'app_home', 'messages_tab_read_only_enabled')).toBe(true);
  });
});
