// The sandbox's web page on 127.0.0.1: the workspace as its people see it — approval and audit channels,
// each person's DMs and App Home, their ephemeral replies and open modals, and a composer for
// `/eks-access …` — rendered on the server as plain HTML. A Server-Sent Events stream tells the page when
// the fake Slack saw a call, and the page re-fetches its live part; every button is a form post. What a
// person does becomes exactly the payload Slack would send (FakeSlack builds it) over Socket Mode.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { blocksText, type Obj } from '../test/support/slack/index.js';
import { escapeHtml, mrkdwn, renderBlocks, type Target, type Viewer } from './blocks.js';
import type { Person } from './policy.js';
import { GENERAL_CHANNEL, type Sandbox } from './sandbox.js';

interface Ephemeral {
  user: string;
  text?: string;
  blocks?: Obj[];
  /** Set for ephemerals the fake stored (their buttons can be clicked). */
  channel?: string;
  ts?: string;
}

export interface Page {
  url: string;
  close(): Promise<void>;
}

const ROLE_WORDS = { requester: 'requester', approver: 'approver', bystander: 'not an approver' } as const;

/** How many of a person's replies the page shows (newest first): older ones go, as they scroll away in Slack. */
const REPLIES_SHOWN = 3;

/** The viewer's time zone, which the page's script puts in a cookie (dates are shown in it, as in Slack). */
function timeZoneOf(req: IncomingMessage): string | undefined {
  const match = /(?:^|;\s*)tz=([^;]+)/.exec(req.headers.cookie ?? '');
  if (!match?.[1]) return undefined;
  try {
    const zone = decodeURIComponent(match[1]);
    new Intl.DateTimeFormat('en-US', { timeZone: zone }); // throws for a zone Intl does not know
    return zone;
  } catch {
    return undefined;
  }
}

function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > 100_000) req.destroy(new Error('form too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

/** The commands of the DM's code block (the last DM that has one), one per line. */
export function dmCommands(text: string): string[] {
  const blocks = [...text.matchAll(/```([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  const withCommands = blocks.filter((b) => b.includes('aws eks update-kubeconfig')).at(-1);
  return (withCommands ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

export async function startPage(sandbox: Sandbox, port: number): Promise<Page> {
  const { slack, people } = sandbox;
  const users = new Map(people.map((p) => [p.id, p.name]));
  const groups = new Map(Object.entries(sandbox.world.groupHandles));
  const viewerOf = (req: IncomingMessage): Viewer => {
    const timeZone = timeZoneOf(req);
    return { users, groups, now: Date.now(), ...(timeZone ? { timeZone } : {}) };
  };
  /** Per person, how many of `replies` they dismissed. */
  const dismissed = new Map<string, number>();
  /** What each person alone sees, oldest first: the fake's ephemerals and the bot's acks with text. */
  const replies: Ephemeral[] = [];
  let ephemeralsSeen = 0;
  const syncEphemerals = () => {
    for (; ephemeralsSeen < slack.ephemerals.length; ephemeralsSeen++) {
      const e = slack.ephemerals[ephemeralsSeen];
      if (!e) continue;
      replies.push({
        user: e.user,
        channel: e.channel,
        ts: e.message_ts,
        ...(e.text !== undefined ? { text: e.text } : {}),
        ...(e.blocks ? { blocks: e.blocks as Obj[] } : {}),
      });
    }
  };
  const reply = (e: Ephemeral) => {
    syncEphemerals();
    replies.push(e);
  };
  /** Modals by view id → the person they were opened for (the one who acted last, as with trigger ids). */
  const modals = new Map<string, { user: string; errors?: Record<string, string> }>();
  let lastActor = people[0]?.id ?? '';
  const streams = new Set<ServerResponse>();
  let pending: NodeJS.Timeout | undefined;
  const changed = () => {
    pending ??= setTimeout(() => {
      pending = undefined;
      for (const res of streams) res.write('data: change\n\n');
    }, 100);
  };
  const stopNotices = sandbox.onNotice(() => changed());
  const stopListening = slack.onCall((call) => {
    syncEphemerals();
    if ((call.method === 'views.open' || call.method === 'views.push') && call.response['ok'] === true) {
      modals.set(String((call.response['view'] as { id: string }).id), { user: lastActor });
    }
    changed();
  });
  const homeOpened = new Map<string, number>();

  const personOf = (id: string | null): Person => people.find((p) => p.id === id) ?? (people[0] as Person);

  async function deliver(as: string, kind: 'slash_commands' | 'interactive', payload: Obj) {
    lastActor = as;
    try {
      const ack = await slack.socket.send(kind, payload);
      if (ack && (typeof ack['text'] === 'string' || Array.isArray(ack['blocks'])))
        reply({ user: as, ...(ack as Pick<Ephemeral, 'text' | 'blocks'>) });
      return ack;
    } catch (error) {
      reply({ user: as, text: `The sandbox could not deliver this to the bot: ${String(error)}` });
      return undefined;
    } finally {
      changed();
    }
  }

  async function openHome(as: string) {
    // Slack sends app_home_opened each time a person opens the tab; the page counts a full load as that.
    if (Date.now() - (homeOpened.get(as) ?? 0) < 5_000) return;
    homeOpened.set(as, Date.now());
    await slack.socket
      .send(
        'events_api',
        slack.eventCallback({ type: 'app_home_opened', user: as, tab: 'home', channel: `D${as.slice(1)}` }),
      )
      .catch(() => undefined);
  }

  function message(
    m: { text?: string; blocks?: Obj[]; thread_ts?: string },
    as: string,
    target: Target,
    viewer: Viewer,
    from = 'eks-access',
  ) {
    const body =
      m.blocks && m.blocks.length > 0
        ? renderBlocks(m.blocks, as, target, viewer)
        : `<div class="block">${mrkdwn(m.text ?? '', viewer)}</div>`;
    const ts = 'ts' in target ? ` data-ts="${escapeHtml(target.ts)}"` : '';
    const inThread = m.thread_ts ? ' reply' : '';
    const where = m.thread_ts ? ' <span class="muted">in the thread</span>' : '';
    return `<div class="message${inThread}"${ts}><div class="from">${escapeHtml(from)}${where}</div>${body}</div>`;
  }

  function live(as: string, viewer: Viewer): string {
    const person = personOf(as);
    const parts: string[] = [];
    syncEphemerals();
    const notices = sandbox.notices.slice(-5);
    if (notices.length > 0) {
      const time = (at: number) =>
        new Intl.DateTimeFormat('en-GB', { timeStyle: 'medium', timeZone: viewer.timeZone ?? 'UTC' }).format(
          at,
        );
      parts.push(
        `<section id="sandbox-notices"><h3>The sandbox</h3>${notices
          .map((n) => `<p class="notice"><span class="muted">${time(n.at)}</span> ${escapeHtml(n.text)}</p>`)
          .join('')}</section>`,
      );
    }
    const mine = replies.slice(dismissed.get(as) ?? 0).filter((e) => e.user === as);
    const ephemerals = mine.slice(-REPLIES_SHOWN).reverse();
    const older = mine.length - ephemerals.length;
    parts.push(
      `<section id="ephemerals"><h3>Only visible to you${
        mine.length > 0
          ? ` <form method="post" action="/dismiss" class="inline"><input type="hidden" name="as" value="${escapeHtml(as)}"><button type="submit" class="button small" id="dismiss">Dismiss</button></form>`
          : ''
      }</h3>${
        ephemerals
          .map((e) =>
            message(
              e,
              as,
              e.channel && e.ts ? { channel: e.channel, ts: e.ts } : { viewId: '-' },
              viewer,
              'eks-access (only you)',
            ),
          )
          .join('') || '<p class="muted">Replies to your commands appear here.</p>'
      }${older > 0 ? `<p class="muted">and ${older} older</p>` : ''}</section>`,
    );
    // The form on top, as Slack shows it: over the page, the last one opened (a pushed view hides the one below).
    const open = [...modals].filter(([viewId, modal]) => modal.user === as && slack.view(viewId)).at(-1);
    if (open) {
      const [viewId, modal] = open;
      const view = slack.view(viewId) as NonNullable<ReturnType<typeof slack.view>>;
      const title = String((view['title'] as { text?: string } | undefined)?.text ?? 'Form');
      const submit = String((view['submit'] as { text?: string } | undefined)?.text ?? 'Submit');
      const close = String((view['close'] as { text?: string } | undefined)?.text ?? 'Cancel');
      const errors = modal.errors ?? {};
      const blockIds = new Set(view.blocks.map((b) => String(b['block_id'] ?? '')));
      // An error for a block the form does not show has no field to stand under: shown at the top, words only.
      const loose = Object.entries(errors)
        .filter(([block]) => !blockIds.has(block))
        .map(([, words]) => `<p class="error">${escapeHtml(words)}</p>`)
        .join('');
      parts.push(
        `<div class="overlay"><section class="modal" role="dialog" aria-modal="true" data-view="${escapeHtml(viewId)}"><h3>${escapeHtml(title)}</h3>${loose}` +
          `<form method="post" action="/submit"><input type="hidden" name="as" value="${escapeHtml(as)}">` +
          `<input type="hidden" name="view_id" value="${escapeHtml(viewId)}">` +
          // First in the form, so Enter in a text field submits the form rather than an Update button.
          '<button type="submit" class="default-submit" tabindex="-1" aria-hidden="true"></button>' +
          `${renderBlocks(view.blocks, as, { viewId }, viewer, errors).replace(/<form[^>]*>|<\/form>/g, '')}` +
          `<div class="buttons"><button type="submit" name="close" value="1" class="button">${escapeHtml(close)}</button> ` +
          `<button type="submit" class="button primary">${escapeHtml(submit)}</button></div></form></section></div>`,
      );
    }
    const channels = sandbox.world.channels
      .map((channel) => {
        const messages = slack.messages(channel);
        const audit = channel === sandbox.world.policy.settings.auditChannel;
        return (
          `<section class="channel" id="channel-${escapeHtml(channel)}"><h3>#${escapeHtml(channel)} <span class="muted">${audit ? 'audit' : 'approvals'}</span></h3>` +
          (messages.map((m) => message(m, as, { channel, ts: m.ts }, viewer)).join('') ||
            '<p class="muted">No messages yet.</p>') +
          '</section>'
        );
      })
      .join('');
    const dmChannel = `D${as.slice(1)}`;
    const dms = slack.messages(dmChannel);
    const home = slack.homeOf(as);
    const terminal = sandbox.terminals.get(as);
    const commands = dmCommands(dms.map((m) => `${m.text ?? ''}\n${blocksText(m.blocks)}`).join('\n'));
    const terminalHtml = terminal
      ? `<section id="terminal"><h3>${escapeHtml(person.name)}'s terminal</h3>` +
        `<p>Your environment (your IAM user's keys, AWS through the sandbox's gateway, your own kubeconfig):</p>` +
        `<pre id="env-source">source <span id="env-file">${escapeHtml(terminal.envFile)}</span></pre>` +
        `<p class="muted">kubectl: ${escapeHtml(terminal.kubectl)}<br>aws: ${escapeHtml(terminal.aws)}</p>` +
        (commands.length > 0
          ? `<p>Then the commands from your DM (they work while the grant is active):</p><pre class="commands">${escapeHtml(commands.join('\n'))}</pre>`
          : '<p class="muted">The commands appear here once a grant of yours is active.</p>') +
        '</section>'
      : '';
    parts.push(
      `<div class="columns"><div>${channels}</div><div>` +
        `<section id="dms"><h3>Direct messages with eks-access</h3>${
          dms.map((m) => message(m, as, { channel: dmChannel, ts: m.ts }, viewer)).join('') ||
          '<p class="muted">No DMs yet.</p>'
        }</section>${terminalHtml}` +
        `<section id="home"><h3>App Home</h3>${
          home
            ? renderBlocks(home.blocks, as, { viewId: home.id }, viewer)
            : '<p class="muted">Not published yet.</p>'
        }</section></div></div>`,
    );
    return parts.join('');
  }

  function page(as: string, viewer: Viewer): string {
    const person = personOf(as);
    const picker = people
      .map(
        (p) =>
          `<a class="person${p.id === person.id ? ' current' : ''}" data-id="${escapeHtml(p.id)}" href="/?as=${encodeURIComponent(p.id)}">` +
          `${escapeHtml(p.name)} <span class="muted">(${ROLE_WORDS[p.role]})</span></a>`,
      )
      .join(' ');
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>eks-access sandbox — ${escapeHtml(person.name)}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1d1c1d; background: #f8f8f8; }
header { background: #3f0e40; color: #fff; padding: 10px 16px; position: sticky; top: 0; z-index: 1; }
header h1 { font-size: 16px; margin: 0 0 6px; } header .muted { color: #d9c7da; }
a.person { color: #fff; margin-right: 12px; text-decoration: none; padding: 2px 6px; border-radius: 4px; }
a.person.current { background: #1164a3; }
#composer-form { margin-top: 8px; display: flex; gap: 8px; }
#composer { flex: 1; font: 14px monospace; padding: 6px; }
main { padding: 12px 16px; }
.columns { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
section { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; margin-bottom: 12px; }
section h3 { margin: 0 0 8px; font-size: 15px; }
.message { border-top: 1px solid #eee; padding: 6px 0; } .message.reply { margin-left: 24px; } .from { font-weight: 700; font-size: 13px; }
.block { margin: 4px 0; } .section { display: flex; gap: 8px; justify-content: space-between; }
.fields { display: grid; grid-template-columns: 1fr 1fr; gap: 2px 12px; margin-top: 4px; }
.context { color: #616061; font-size: 12px; } .muted { color: #777; font-size: 12px; }
pre { background: #f4f4f4; border: 1px solid #ddd; padding: 6px; white-space: pre-wrap; word-break: break-all; font-size: 12px; }
code { background: #f4f4f4; padding: 0 3px; color: #c01343; font-size: 12px; }
.quote { border-left: 3px solid #ddd; padding-left: 6px; display: inline-block; }
form.inline { display: inline; }
.button { font: inherit; border: 1px solid #bbb; background: #fff; border-radius: 4px; padding: 3px 10px; cursor: pointer; }
.button.primary { background: #007a5a; color: #fff; border-color: #007a5a; }
.button.danger { background: #e01e5a; color: #fff; border-color: #e01e5a; }
.overlay { position: fixed; inset: 0; background: rgba(29, 28, 29, 0.55); display: flex; align-items: flex-start; justify-content: center; padding-top: 8vh; z-index: 2; }
.modal { width: min(560px, 92vw); max-height: 80vh; overflow: auto; box-shadow: 0 8px 32px rgba(0,0,0,.35); margin: 0; }
.modal .buttons, dialog .buttons { text-align: right; margin-top: 12px; } .input label { display: block; font-weight: 600; }
.input.invalid input, .input.invalid select, .input.invalid textarea { border: 1px solid #e01e5a; }
dialog.confirm { border: 0; border-radius: 8px; width: min(440px, 90vw); box-shadow: 0 8px 32px rgba(0,0,0,.35); }
dialog.confirm::backdrop { background: rgba(29, 28, 29, 0.55); } dialog.confirm h3 { margin-top: 0; }
.button.small { font-size: 12px; padding: 0 6px; margin-left: 8px; } #sandbox-notices { border-color: #ecb22e; }
.input input, .input textarea, .input select { width: 100%; box-sizing: border-box; }
.error { color: #e01e5a; } .default-submit { position: absolute; left: -9999px; }
/* A select that Slack reports at once posts itself on change (its Update button, clicked by script). */
.button.dispatch { display: none; }
</style></head><body>
<header><h1>eks-access sandbox <span class="muted">— no Slack workspace, no AWS account: everything runs on this machine</span></h1>
<nav>You are: ${picker}</nav>
<form id="composer-form" method="post" action="/command"><input type="hidden" name="as" value="${escapeHtml(person.id)}">
<input id="composer" name="text" autocomplete="off" placeholder="/eks-access request … (as ${escapeHtml(person.name)})">
<button class="button primary" type="submit">Send</button></form></header>
<main id="live" data-tz="${escapeHtml(viewer.timeZone ?? '')}">${live(person.id, viewer)}</main>
<script>
// The viewer's time zone, for dates as Slack shows them (in a cookie: the server renders the page).
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
document.cookie = 'tz=' + encodeURIComponent(zone) + '; path=/; SameSite=Strict';
// Live updates: the server says "change", the page fetches its live part again. Not while a confirmation
// is open (it would vanish); what is typed into an open form is kept. Only the sections that changed are
// replaced, so a form or button someone is about to click keeps its element when a notice elsewhere
// arrives (a whole-page swap detached it under the click). One refresh at a time: a change during a fetch
// asks for one more afterwards, never for a second fetch racing the first.
const live = document.getElementById('live');
let waiting = false;
let inFlight = null;
let again = false;
let shown = null;
function refresh() {
  if (inFlight) { again = true; return inFlight; }
  inFlight = (async () => {
    try {
      do { again = false; await refreshOnce(); } while (again);
    } finally {
      inFlight = null;
    }
  })();
  return inFlight;
}
// Keys: a section's id, a message's ts, a form's view id. A keyed element whose content changed is patched in
// place (its unchanged messages keep their elements); anything else that changed is replaced whole, so a
// button never turns into another button under a click (a replaced one is detached and found again).
const keyOf = (n) => (n.nodeType === 1 && (n.id || n.dataset.ts || n.dataset.view)) || '';
function patch(into, from) {
  const before = [...into.childNodes];
  const byKey = new Map(before.filter(keyOf).map((n) => [keyOf(n), n]));
  const unkeyed = before.filter((n) => !keyOf(n));
  let position = 0;
  const after = [...from.childNodes].map((n) => {
    const key = keyOf(n);
    const old = key ? byKey.get(key) : unkeyed[position++];
    byKey.delete(key); // a key seen twice matches once
    if (!old || old.nodeName !== n.nodeName) return n;
    if (n.nodeType !== 1) return old.nodeValue === n.nodeValue ? old : n;
    if (old.outerHTML === n.outerHTML) return old;
    if (!key && ![...n.children].some(keyOf)) return n;
    for (const { name } of [...old.attributes]) if (!n.hasAttribute(name)) old.removeAttribute(name);
    for (const { name, value } of [...n.attributes]) if (old.getAttribute(name) !== value) old.setAttribute(name, value);
    patch(old, n);
    return old;
  });
  const staying = new Set(after);
  for (const n of before) if (!staying.has(n)) n.remove();
  after.forEach((n, i) => { if (into.childNodes[i] !== n) into.insertBefore(n, into.childNodes[i] ?? null); });
}
async function refreshOnce() {
  if (document.querySelector('dialog[open]')) { waiting = true; return; }
  let html;
  try {
    const response = await fetch('/live' + location.search);
    if (!response.ok) return;
    html = await response.text();
  } catch {
    return; // the sandbox is stopping or restarting; the event stream's reconnect asks again
  }
  // A confirmation opened while the fetch was under way must not be swept away with the old page either.
  if (document.querySelector('dialog[open]')) { waiting = true; return; }
  if (html === shown) return;
  shown = html;
  const fields = () => [...live.querySelectorAll('.modal input[type=text], .modal textarea')];
  const key = (f) => f.closest('.modal').dataset.view + ' ' + f.name;
  const typed = new Map(fields().map((f) => [key(f), f.value]));
  const next = document.createElement('template');
  next.innerHTML = html;
  patch(live, next.content);
  for (const f of fields()) if (typed.has(key(f))) f.value = typed.get(key(f));
}
document.addEventListener('close', () => { if (waiting) { waiting = false; refresh(); } }, true);
const events = new EventSource('/events');
events.onmessage = refresh;
// A change between this page's render and the subscription (or while reconnecting) sends no event: ask once.
events.onopen = refresh;
if (live.dataset.tz !== zone) refresh();
</script>
</body></html>`;
  }

  function back(res: ServerResponse, as: string) {
    res.writeHead(303, { location: `/?as=${encodeURIComponent(as)}` });
    res.end();
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    // Only this page may drive it: another site open in the same browser could otherwise post clicks to
    // 127.0.0.1 (no Origin of ours) or reach it through a DNS name rebound to 127.0.0.1 (no Host of ours).
    const port = (server.address() as AddressInfo).port;
    const hosts = [`127.0.0.1:${port}`, `localhost:${port}`];
    const origin = req.headers.origin;
    const fromElsewhere = origin !== undefined && !hosts.some((h) => origin === `http://${h}`);
    if (!hosts.includes(req.headers.host ?? '') || (req.method === 'POST' && fromElsewhere)) {
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end(`the sandbox answers only its own page at http://127.0.0.1:${port}/`);
      return;
    }
    const html = (body: string) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method === 'GET' && url.pathname === '/') {
      const as = personOf(url.searchParams.get('as')).id;
      await openHome(as);
      return html(page(as, viewerOf(req)));
    }
    if (req.method === 'GET' && url.pathname === '/live')
      return html(live(personOf(url.searchParams.get('as')).id, viewerOf(req)));
    if (req.method === 'GET' && url.pathname === '/events') {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      res.write(': connected\n\n');
      streams.add(res);
      req.on('close', () => streams.delete(res));
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    const form = await readForm(req);
    const as = personOf(form.get('as')).id;
    if (url.pathname === '/command') {
      const typed = (form.get('text') ?? '').trim();
      const text = typed.replace(/^\/eks-access\b\s*/, '');
      if (typed.startsWith('/') && !typed.startsWith('/eks-access')) {
        reply({
          user: as,
          text: `Only /eks-access is installed in this workspace (you typed ${typed}).`,
        });
        changed();
      } else {
        await deliver(
          as,
          'slash_commands',
          slack.slashCommand({ command: '/eks-access', text, user_id: as, channel_id: GENERAL_CHANNEL }),
        );
      }
      return back(res, as);
    }
    if (url.pathname === '/dismiss') {
      dismissed.set(as, replies.length);
      changed();
      return back(res, as);
    }
    if (url.pathname === '/action') {
      const actionId = form.get('action_id') ?? '';
      const selected = form.get('selected');
      const fields = { user_id: as, action_id: actionId, ...(selected ? { selected } : {}) };
      const viewId = form.get('view_id');
      let payload: Obj;
      try {
        payload =
          viewId && viewId !== '-'
            ? slack.blockActions({ ...fields, view_id: viewId })
            : slack.blockActions({
                ...fields,
                channel: form.get('channel') ?? '',
                message_ts: form.get('ts') ?? '',
              });
      } catch (error) {
        reply({ user: as, text: `That is no longer there: ${String(error)}` });
        changed();
        return back(res, as);
      }
      await deliver(as, 'interactive', payload);
      return back(res, as);
    }
    if (url.pathname === '/submit') {
      const viewId = form.get('view_id') ?? '';
      const modal = modals.get(viewId);
      if (form.get('close') === '1' || !slack.view(viewId)) {
        modals.delete(viewId);
        changed();
        return back(res, as);
      }
      const values: Record<string, Record<string, Obj>> = {};
      for (const [key, value] of form) {
        const [marker, blockId, actionId, type] = key.split(':');
        if (marker !== 'v' || !blockId || !actionId) continue;
        const entry: Obj =
          type === 'static_select'
            ? { type, selected_option: value ? { text: { type: 'plain_text', text: value }, value } : null }
            : { type, value: value === '' ? null : value };
        values[blockId] = { ...(values[blockId] ?? {}), [actionId]: entry };
      }
      const dispatch = form.get('dispatch');
      if (dispatch) {
        // A changed select with dispatch_action: the block action Slack sends, with the form's state.
        const [blockId = '', actionId = ''] = dispatch.split(':');
        const chosen = (values[blockId]?.[actionId]?.['selected_option'] as { value?: string } | null)?.value;
        await deliver(
          as,
          'interactive',
          slack.blockActions({
            user_id: as,
            view_id: viewId,
            action_id: actionId,
            values,
            ...(chosen ? { selected: chosen } : {}),
          }),
        );
        return back(res, as);
      }
      const ack = await deliver(
        as,
        'interactive',
        slack.viewSubmission({ user_id: as, view_id: viewId, values }),
      );
      if (ack?.['response_action'] === 'errors' && modal) {
        modal.errors = ack['errors'] as Record<string, string>;
      } else if (ack?.['response_action'] !== 'update' && ack?.['response_action'] !== 'push') {
        modals.delete(viewId);
      }
      changed();
      return back(res, as);
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  }

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    async close() {
      stopListening();
      stopNotices();
      clearTimeout(pending);
      for (const res of streams) res.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
