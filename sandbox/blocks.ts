// Block Kit as HTML for the sandbox page: sections (text, fields, accessory), actions, context, header,
// divider, input and rich text, with Slack's mrkdwn as Slack shows it (bold, italic, strike, code, code
// blocks, links, people by name, user groups by handle, `<!date^…>` in the viewer's time zone). Every
// button and select is a small form that posts to the page's server, which hands Slack's block_actions
// payload to the bot; a button's `confirm` opens Slack's confirmation dialog first. Pure functions;
// everything is escaped.

type Obj = Record<string, unknown>;

/** What rendering needs to know of the workspace and the viewer, as Slack's client knows it. */
export interface Viewer {
  /** People's names by Slack id (`<@U…>` shows the name). */
  users?: ReadonlyMap<string, string>;
  /** User groups' handles by id, without the `@` (`<!subteam^S…>` shows `@handle`). */
  groups?: ReadonlyMap<string, string>;
  /** The viewer's IANA time zone (`<!date^…>` shows their local time); UTC when unknown or invalid. */
  timeZone?: string;
  /** Now, for Today/Yesterday/Tomorrow and `{ago}` (epoch ms). */
  now?: number;
}

/** Where an element was clicked: a message (channel + ts) or a view (modal, App Home). */
export type Target = { channel: string; ts: string } | { viewId: string };

export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** Slack mrkdwn → HTML. Slack's own escapes (&amp; &lt; &gt;) are undone first, then all is escaped. */
export function mrkdwn(text: string, viewer: Viewer = {}): string {
  const blocks: string[] = [];
  // Code blocks first: nothing inside them is formatted.
  let out = text.replace(/```([\s\S]*?)```/g, (_, code: string) => {
    blocks.push(`<pre>${escapeHtml(unescapeSlack(code.replace(/^\n/, '')))}</pre>`);
    return `\uE000${blocks.length - 1}\uE000`;
  });
  const inline: string[] = [];
  out = out.replace(/`([^`\n]+)`/g, (_, code: string) => {
    inline.push(`<code>${escapeHtml(unescapeSlack(code))}</code>`);
    return `\uE001${inline.length - 1}\uE001`;
  });
  const links: string[] = [];
  out = out.replace(/<([^>|]+)(?:\|([^>]*))?>/g, (_, target: string, label: string | undefined) => {
    links.push(special(target, label, viewer));
    return `\uE002${links.length - 1}\uE002`;
  });
  out = escapeHtml(unescapeSlack(out))
    .replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,:;!?])/g, '$1<b>$2</b>')
    .replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s).,:;!?])/g, '$1<i>$2</i>')
    .replace(/(^|[\s(])~([^~\n]+)~(?=$|[\s).,:;!?])/g, '$1<s>$2</s>')
    .replace(/^&gt; ?(.*)$/gm, '<span class="quote">$1</span>')
    .replace(/:([a-z0-9_+-]+):/g, (whole, name: string) => EMOJI[name] ?? whole)
    .replace(/\n/g, '<br>');
  return out
    .replace(/\uE002(\d+)\uE002/g, (_, i: string) => links[Number(i)] ?? '')
    .replace(/\uE001(\d+)\uE001/g, (_, i: string) => inline[Number(i)] ?? '')
    .replace(/\uE000(\d+)\uE000/g, (_, i: string) => blocks[Number(i)] ?? '');
}

/** One `<…>` of mrkdwn: a person, a channel, a user group, a special mention, a date or a link. */
function special(target: string, label: string | undefined, viewer: Viewer): string {
  const mention = (words: string) => `<b class="mention">${escapeHtml(words)}</b>`;
  if (target.startsWith('@')) {
    const id = target.slice(1);
    return mention(`@${viewer.users?.get(id) ?? label ?? id}`);
  }
  if (target.startsWith('#')) return mention(`#${label ?? target.slice(1)}`);
  if (target.startsWith('!subteam^')) {
    const id = target.slice('!subteam^'.length);
    const handle = label?.replace(/^@/, '') ?? viewer.groups?.get(id) ?? id;
    return mention(`@${handle}`);
  }
  if (target.startsWith('!date^')) {
    const [, epoch = '', format = '', link] = target.split('^');
    const seconds = Number(epoch);
    if (!/^\d+$/.test(epoch)) return escapeHtml(unescapeSlack(label ?? target));
    const shown = escapeHtml(slackDate(seconds, unescapeSlack(format), viewer));
    const iso = new Date(seconds * 1000).toISOString();
    return link
      ? `<a href="${escapeHtml(unescapeSlack(link))}"><time datetime="${iso}">${shown}</time></a>`
      : `<time datetime="${iso}" title="${iso}">${shown}</time>`;
  }
  if (target.startsWith('!')) return mention(`@${label ?? target.slice(1)}`);
  return `<a href="${escapeHtml(unescapeSlack(target))}">${escapeHtml(unescapeSlack(label ?? target))}</a>`;
}

/** The viewer's time zone if Intl knows it, else UTC. */
function zoneOf(viewer: Viewer): string {
  const zone = viewer.timeZone ?? 'UTC';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone;
  } catch {
    return 'UTC';
  }
}

function ordinal(day: number): string {
  const tens = day % 100;
  const suffix =
    tens >= 11 && tens <= 13
      ? 'th'
      : (({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[day % 10] ?? 'th');
  return `${day}${suffix}`;
}

/**
 * `<!date^epoch^format|fallback>`'s format as Slack's client fills it in, in the viewer's time zone
 * (Slack's tokens: {date_num} {date} {date_short} {date_long}, their `_pretty` forms, which say
 * Today/Yesterday/Tomorrow, {time} {time_secs} and {ago}); en-US words, as Slack's English client.
 */
export function slackDate(epochSeconds: number, format: string, viewer: Viewer = {}): string {
  const timeZone = zoneOf(viewer);
  const now = viewer.now ?? Date.now();
  const at = new Date(epochSeconds * 1000);
  const fields = (date: Date) => {
    const parts = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: 'long',
      day: 'numeric',
      weekday: 'long',
    }).formatToParts(date);
    const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
    return { year: part('year'), month: part('month'), day: Number(part('day')), weekday: part('weekday') };
  };
  const f = fields(at);
  const monthNumber = new Intl.DateTimeFormat('en-US', { timeZone, month: '2-digit' }).format(at);
  const sameDay = (offsetDays: number) => {
    const other = fields(new Date(now + offsetDays * 86_400_000));
    return other.year === f.year && other.month === f.month && other.day === f.day;
  };
  const relative = sameDay(0) ? 'Today' : sameDay(-1) ? 'Yesterday' : sameDay(1) ? 'Tomorrow' : undefined;
  const time = (seconds: boolean) =>
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      hour: 'numeric',
      minute: '2-digit',
      ...(seconds ? { second: '2-digit' } : {}),
    }).format(at);
  const date = `${f.month} ${ordinal(f.day)}, ${f.year}`;
  const short = `${f.month.slice(0, 3)} ${f.day}, ${f.year}`;
  const long = `${f.weekday}, ${date}`;
  const tokens: Record<string, string> = {
    date_num: `${f.year}-${monthNumber}-${String(f.day).padStart(2, '0')}`,
    date,
    date_short: short,
    date_long: long,
    date_pretty: relative ?? date,
    date_short_pretty: relative ?? short,
    date_long_pretty: relative ?? long,
    time: time(false),
    time_secs: time(true),
    ago: ago(epochSeconds * 1000 - now),
  };
  return format.replace(/\{(\w+)\}/g, (whole, token: string) => tokens[token] ?? whole);
}

/** `{ago}`: "3 minutes ago", "in 2 hours". */
function ago(deltaMs: number): string {
  const units = [
    ['day', 86_400_000],
    ['hour', 3_600_000],
    ['minute', 60_000],
  ] as const;
  const size = Math.abs(deltaMs);
  const [unit, ms] = units.find(([, ms]) => size >= ms) ?? ['second', 1_000];
  const n = Math.max(1, Math.round(size / ms));
  const words = `${n} ${unit}${n === 1 ? '' : 's'}`;
  return deltaMs < 0 ? `${words} ago` : `in ${words}`;
}

/** The emoji eks-access's messages use (Slack shows the picture; unknown names stay as typed). */
const EMOJI: Readonly<Record<string, string>> = {
  warning: '\u26a0\ufe0f',
  stopwatch: '\u23f1\ufe0f',
  white_check_mark: '\u2705',
  x: '\u274c',
  no_entry_sign: '\ud83d\udeab',
  no_entry: '\u26d4',
  hourglass_flowing_sand: '\u23f3',
  hourglass: '\u231b',
  zzz: '\ud83d\udca4',
  wave: '\ud83d\udc4b',
  leftwards_arrow_with_hook: '\u21a9\ufe0f',
  large_green_circle: '\ud83d\udfe2',
  checkered_flag: '\ud83c\udfc1',
  alarm_clock: '\u23f0',
};

function unescapeSlack(text: string): string {
  return text.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
}

function textOf(value: unknown, viewer: Viewer): string {
  const t = value as { type?: string; text?: string } | undefined;
  if (!t || typeof t.text !== 'string') return '';
  return t.type === 'mrkdwn' ? mrkdwn(t.text, viewer) : escapeHtml(t.text).replace(/\n/g, '<br>');
}

function hidden(name: string, value: string): string {
  return `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`;
}

function targetFields(as: string, target: Target): string {
  return (
    hidden('as', as) +
    ('viewId' in target
      ? hidden('view_id', target.viewId)
      : hidden('channel', target.channel) + hidden('ts', target.ts))
  );
}

function optionsOf(element: Obj): Array<{ text: string; value: string }> {
  const groups = (element['option_groups'] as Array<{ options: Obj[] }> | undefined) ?? [];
  const options = [...((element['options'] as Obj[] | undefined) ?? []), ...groups.flatMap((g) => g.options)];
  return options.map((o) => ({
    text: String((o['text'] as { text?: string } | undefined)?.text ?? o['value']),
    value: String(o['value'] ?? ''),
  }));
}

/** An interactive element (button, select) as a form posting a block action; other elements as text. */
function element(el: Obj, as: string, target: Target, viewer: Viewer): string {
  const actionId = String(el['action_id'] ?? '');
  if (el['type'] === 'button') {
    const style = el['style'] === 'primary' || el['style'] === 'danger' ? ` ${el['style']}` : '';
    const url = el['url'];
    if (typeof url === 'string')
      return `<a class="button" href="${escapeHtml(url)}">${textOf(el['text'], viewer)}</a>`;
    const confirm = el['confirm'] as Obj | undefined;
    const label = textOf(el['text'], viewer);
    const attributes = `class="button${style}" data-action="${escapeHtml(actionId)}"`;
    return (
      `<form method="post" action="/action" class="inline">${targetFields(as, target)}` +
      hidden('action_id', actionId) +
      (confirm
        ? // Slack asks first and sends the click only on confirm; the page opens this dialog instead.
          `<button type="button" ${attributes} onclick="this.nextElementSibling.showModal()">${label}</button>${confirmDialog(confirm, viewer)}</form>`
        : `<button type="submit" ${attributes}>${label}</button></form>`)
    );
  }
  if (el['type'] === 'static_select' || el['type'] === 'overflow') {
    const options = optionsOf(el)
      .map((o) => `<option value="${escapeHtml(o.value)}">${escapeHtml(o.text)}</option>`)
      .join('');
    return (
      `<form method="post" action="/action" class="inline">${targetFields(as, target)}` +
      hidden('action_id', actionId) +
      `<select name="selected">${options}</select> <button type="submit" class="button">Choose</button></form>`
    );
  }
  if (el['type'] === 'image')
    return `<span class="muted">[image: ${escapeHtml(String(el['alt_text'] ?? ''))}]</span>`;
  return textOf(el, viewer);
}

/** A button's `confirm` object as Slack shows it: title, text, and its confirm and deny buttons. */
function confirmDialog(confirm: Obj, viewer: Viewer): string {
  const words = (key: string, fallback: string) => textOf(confirm[key], viewer) || escapeHtml(fallback);
  const style = confirm['style'] === 'danger' ? ' danger' : ' primary';
  return (
    `<dialog class="confirm"><h3>${words('title', 'Are you sure?')}</h3><div class="block">${words('text', '')}</div>` +
    `<div class="buttons"><button type="button" class="button" data-confirm="deny" onclick="this.closest('dialog').close()">${words('deny', 'Cancel')}</button> ` +
    `<button type="submit" class="button${style}" data-confirm="confirm">${words('confirm', 'Yes')}</button></div></dialog>`
  );
}

/** An input block's field, named `v:<block_id>:<action_id>:<type>` for the submission's state.values. */
function input(block: Obj, viewer: Viewer, errors: Readonly<Record<string, string>>): string {
  const el = (block['element'] ?? {}) as Obj;
  const name = escapeHtml(`v:${block['block_id'] ?? ''}:${el['action_id'] ?? ''}:${el['type'] ?? ''}`);
  const label = `<label>${textOf(block['label'], viewer)}${block['optional'] ? ' <span class="muted">(optional)</span>' : ''}</label>`;
  let field: string;
  if (el['type'] === 'static_select') {
    const initial = (el['initial_option'] as { value?: string } | undefined)?.value;
    // dispatch_action: Slack tells the app at once when the choice changes (the form re-renders). Here
    // the change clicks the button after the select, which posts the form as that block action.
    const dispatch = block['dispatch_action'] === true;
    const onChange = dispatch ? ' onchange="this.nextElementSibling.click()"' : '';
    const update = dispatch
      ? `<button type="submit" class="button dispatch" name="dispatch" value="${escapeHtml(`${block['block_id'] ?? ''}:${el['action_id'] ?? ''}`)}">Update</button>`
      : '';
    field = `<select name="${name}"${onChange}><option value=""></option>${optionsOf(el)
      .map(
        (o) =>
          `<option value="${escapeHtml(o.value)}"${o.value === initial ? ' selected' : ''}>${escapeHtml(o.text)}</option>`,
      )
      .join('')}</select>${update}`;
  } else {
    const initial = escapeHtml(String(el['initial_value'] ?? ''));
    field =
      el['multiline'] === true
        ? `<textarea name="${name}">${initial}</textarea>`
        : `<input type="text" name="${name}" value="${initial}">`;
  }
  const hint = block['hint'] ? `<div class="muted">${textOf(block['hint'], viewer)}</div>` : '';
  // A view_submission's errors are keyed by block id; Slack shows each under its field, words only.
  const error = errors[String(block['block_id'] ?? '')];
  const problem = error === undefined ? '' : `<div class="error field-error">${escapeHtml(error)}</div>`;
  return `<div class="block input${problem ? ' invalid' : ''}">${label}${field}${problem}${hint}</div>`;
}

function richText(value: unknown): string {
  if (Array.isArray(value)) return value.map(richText).join('');
  if (!value || typeof value !== 'object') return '';
  const v = value as Obj;
  if (typeof v['text'] === 'string') return escapeHtml(v['text']);
  if (v['type'] === 'rich_text_preformatted') return `<pre>${richText(v['elements'])}</pre>`;
  return richText(v['elements']);
}

export function renderBlocks(
  blocks: readonly Obj[] | undefined,
  as: string,
  target: Target,
  viewer: Viewer = {},
  errors: Readonly<Record<string, string>> = {},
): string {
  return (blocks ?? [])
    .map((block) => {
      switch (block['type']) {
        case 'header':
          return `<h4 class="block header">${textOf(block['text'], viewer)}</h4>`;
        case 'divider':
          return '<hr>';
        case 'section': {
          const fields = (block['fields'] as Obj[] | undefined) ?? [];
          const accessory = block['accessory'] as Obj | undefined;
          return (
            `<div class="block section"><div class="body">${textOf(block['text'], viewer)}` +
            (fields.length > 0
              ? `<div class="fields">${fields.map((f) => `<div>${textOf(f, viewer)}</div>`).join('')}</div>`
              : '') +
            `</div>${accessory ? `<div class="accessory">${element(accessory, as, target, viewer)}</div>` : ''}</div>`
          );
        }
        case 'actions':
          return `<div class="block actions">${((block['elements'] as Obj[] | undefined) ?? [])
            .map((el) => element(el, as, target, viewer))
            .join(' ')}</div>`;
        case 'context':
          return `<div class="block context">${((block['elements'] as Obj[] | undefined) ?? [])
            .map((el) => `<span>${textOf(el, viewer)}</span>`)
            .join(' ')}</div>`;
        case 'input':
          return input(block, viewer, errors);
        case 'rich_text':
          return `<div class="block">${richText(block['elements'])}</div>`;
        default:
          return `<div class="block muted">[${escapeHtml(String(block['type']))} block]</div>`;
      }
    })
    .join('\n');
}
