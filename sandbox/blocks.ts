// Block Kit as HTML for the sandbox page: sections (text, fields, accessory), actions, context, header,
// divider, input and rich text, with Slack's mrkdwn (bold, italic, strike, code, code blocks, links, user
// and channel mentions). Every button and select is a small form that posts to the page's server, which
// hands Slack's block_actions payload to the bot. Pure functions; everything is escaped.

type Obj = Record<string, unknown>;

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
export function mrkdwn(text: string, names: ReadonlyMap<string, string> = new Map()): string {
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
  out = out.replace(/<([^>|]+)(?:\|([^>]+))?>/g, (_, target: string, label: string | undefined) => {
    let html: string;
    if (target.startsWith('@')) html = `<b>@${escapeHtml(names.get(target.slice(1)) ?? target.slice(1))}</b>`;
    else if (target.startsWith('#')) html = `<b>#${escapeHtml(label ?? target.slice(1))}</b>`;
    else if (target.startsWith('!')) html = `<b>@${escapeHtml(label ?? target.slice(1))}</b>`;
    else
      html = `<a href="${escapeHtml(unescapeSlack(target))}">${escapeHtml(unescapeSlack(label ?? target))}</a>`;
    links.push(html);
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

function textOf(value: unknown, names: ReadonlyMap<string, string>): string {
  const t = value as { type?: string; text?: string } | undefined;
  if (!t || typeof t.text !== 'string') return '';
  return t.type === 'mrkdwn' ? mrkdwn(t.text, names) : escapeHtml(t.text).replace(/\n/g, '<br>');
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
function element(el: Obj, as: string, target: Target, names: ReadonlyMap<string, string>): string {
  const actionId = String(el['action_id'] ?? '');
  if (el['type'] === 'button') {
    const style = el['style'] === 'primary' || el['style'] === 'danger' ? ` ${el['style']}` : '';
    const url = el['url'];
    if (typeof url === 'string')
      return `<a class="button" href="${escapeHtml(url)}">${textOf(el['text'], names)}</a>`;
    return (
      `<form method="post" action="/action" class="inline">${targetFields(as, target)}` +
      hidden('action_id', actionId) +
      `<button type="submit" class="button${style}" data-action="${escapeHtml(actionId)}">${textOf(el['text'], names)}</button></form>`
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
  return textOf(el, names);
}

/** An input block's field, named `v:<block_id>:<action_id>:<type>` for the submission's state.values. */
function input(block: Obj, names: ReadonlyMap<string, string>): string {
  const el = (block['element'] ?? {}) as Obj;
  const name = escapeHtml(`v:${block['block_id'] ?? ''}:${el['action_id'] ?? ''}:${el['type'] ?? ''}`);
  const label = `<label>${textOf(block['label'], names)}${block['optional'] ? ' <span class="muted">(optional)</span>' : ''}</label>`;
  let field: string;
  if (el['type'] === 'static_select') {
    const initial = (el['initial_option'] as { value?: string } | undefined)?.value;
    // dispatch_action: Slack tells the app at once when the choice changes (the form re-renders). Here
    // the change clicks the button after the select, which posts the form as that block action.
    const dispatch = block['dispatch_action'] === true;
    const onChange = dispatch ? ' onchange="this.nextElementSibling.click()"' : '';
    const update = dispatch
      ? `<button type="submit" class="button" name="dispatch" value="${escapeHtml(`${block['block_id'] ?? ''}:${el['action_id'] ?? ''}`)}">Update</button>`
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
  const hint = block['hint'] ? `<div class="muted">${textOf(block['hint'], names)}</div>` : '';
  return `<div class="block input">${label}${field}${hint}</div>`;
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
  names: ReadonlyMap<string, string> = new Map(),
): string {
  return (blocks ?? [])
    .map((block) => {
      switch (block['type']) {
        case 'header':
          return `<h4 class="block header">${textOf(block['text'], names)}</h4>`;
        case 'divider':
          return '<hr>';
        case 'section': {
          const fields = (block['fields'] as Obj[] | undefined) ?? [];
          const accessory = block['accessory'] as Obj | undefined;
          return (
            `<div class="block section"><div class="body">${textOf(block['text'], names)}` +
            (fields.length > 0
              ? `<div class="fields">${fields.map((f) => `<div>${textOf(f, names)}</div>`).join('')}</div>`
              : '') +
            `</div>${accessory ? `<div class="accessory">${element(accessory, as, target, names)}</div>` : ''}</div>`
          );
        }
        case 'actions':
          return `<div class="block actions">${((block['elements'] as Obj[] | undefined) ?? [])
            .map((el) => element(el, as, target, names))
            .join(' ')}</div>`;
        case 'context':
          return `<div class="block context">${((block['elements'] as Obj[] | undefined) ?? [])
            .map((el) => `<span>${textOf(el, names)}</span>`)
            .join(' ')}</div>`;
        case 'input':
          return input(block, names);
        case 'rich_text':
          return `<div class="block">${richText(block['elements'])}</div>`;
        default:
          return `<div class="block muted">[${escapeHtml(String(block['type']))} block]</div>`;
      }
    })
    .join('\n');
}
