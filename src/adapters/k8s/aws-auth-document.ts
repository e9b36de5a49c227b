// Pure edits of aws-auth's `mapRoles` text in every form aws-iam-authenticator reads: it turns the text
// into JSON with sigs.k8s.io/yaml (so a YAML block list, a flow list and JSON are all valid) and decodes
// a list of role mappings. Only our entries are touched, and by text splicing, so every other entry
// (node roles, comments, quoting, order, the form itself) keeps its exact bytes, and removing what we
// added gives back the text as it was. Refused, with the reason and changing nothing, is only what the
// authenticator itself cannot use: text that is not YAML, or YAML that is not a list.
import { isMap, isScalar, isSeq, type Node, parseDocument, type YAMLMap } from 'yaml';
import { authenticatorRoleArn, sameRole } from '../../domain/arn.js';
import { misconfigured } from '../../domain/errors.js';
import type { MappingEntry } from '../../ports/cluster.js';

export type MapRolesEdit = { kind: 'upsert'; entry: MappingEntry } | { kind: 'remove'; roleArn: string };

/** One list item that is a mapping (other items are kept as they are, and never ours). */
export interface ParsedEntry {
  roleArn: string;
  username: string;
  groups: string[];
}

interface Item {
  /** Undefined for items that are not mappings (the authenticator skips those). */
  entry: ParsedEntry | undefined;
  /** Block lists: [line start, after the last line). Flow lists: the item's own value range. */
  span: [number, number];
}

/** How the list is written; edits keep that form. */
type Layout =
  | { form: 'block'; indent: string }
  | { form: 'flow'; close: number }
  /** Blank, comments only, `null`/`~`, or a text the authenticator skips (`""`, `''`, two backticks). */
  | { form: 'empty'; blank: boolean };

interface ParsedList {
  layout: Layout;
  items: Item[];
}

const HINT_BY_HAND =
  'Fix the ConfigMap by hand (kubectl -n kube-system edit configmap aws-auth); eks-access changed nothing.';

/** aws-iam-authenticator treats these as "no mappings" before it parses anything (isSkippable). */
const SKIPPABLE = new Set(['', '``', '""', "''"]);

function scalarText(value: unknown): string {
  return isScalar(value) ? String(value.value ?? '') : '';
}

/**
 * A field as Go's encoding/json fills it from the authenticator's JSON: keys match case-insensitively,
 * a repeated key keeps its last value, and of several spellings the one sorting last is applied last.
 */
function field(map: YAMLMap, name: string): unknown {
  let chosen: { key: string; value: unknown } | undefined;
  for (const pair of map.items) {
    const key = scalarText(pair.key);
    if (key.toLowerCase() !== name) continue;
    if (!chosen || key >= chosen.key) chosen = { key, value: pair.value };
  }
  return chosen?.value;
}

function entryOf(node: unknown): ParsedEntry | undefined {
  if (!isMap(node)) return undefined;
  const groups = field(node, 'groups');
  return {
    roleArn: scalarText(field(node, 'rolearn')),
    username: scalarText(field(node, 'username')),
    groups: isSeq(groups) ? groups.items.map(scalarText) : [],
  };
}

/**
 * The last few documents parsed. Parsing is what an aws-auth edit costs (it grows with the document);
 * the same text is parsed by the preflight, the read-back and the edit of every grant in a burst, and
 * by each edit's before/after check. Results are never mutated, so sharing them is safe.
 */
const parsed = new Map<string, ParsedList>();
const PARSED_KEPT = 8;

function parseList(text: string, where: string): ParsedList {
  const known = parsed.get(text);
  if (known) return known;
  const list = parseListUncached(text, where);
  if (parsed.size >= PARSED_KEPT) parsed.delete(parsed.keys().next().value as string);
  parsed.set(text, list);
  return list;
}

function parseListUncached(text: string, where: string): ParsedList {
  if (SKIPPABLE.has(text.trim())) return { layout: { form: 'empty', blank: text.trim() === '' }, items: [] };
  // Repeated keys are legal for the authenticator (sigs.k8s.io/yaml keeps the last), so not an error here.
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length > 0) {
    throw misconfigured(
      `${where} mapRoles is not valid YAML: ${doc.errors[0]?.message.split('\n')[0] ?? ''}`,
      HINT_BY_HAND,
    );
  }
  const contents = doc.contents;
  if (contents === null || (isScalar(contents) && contents.value === null)) {
    // Blank: nothing but comments or markers, so a list can follow; `null`/`~` have to be replaced.
    const blank = !contents?.range || contents.range[0] === contents.range[1];
    return { layout: { form: 'empty', blank }, items: [] };
  }
  if (!isSeq(contents) || !contents.range) {
    throw misconfigured(
      `${where} mapRoles is not a list of role mappings, so the authenticator cannot use it either`,
      HINT_BY_HAND,
    );
  }
  const items: Item[] = [];
  for (const node of contents.items as (Node | null)[]) {
    if (!node?.range) continue; // an empty block item: nothing to keep apart, nothing to edit
    items.push({
      entry: entryOf(node),
      span: contents.flow ? [node.range[0], node.range[1]] : blockSpan(text, node.range[0], node.range[2]),
    });
  }
  if (contents.flow) return { layout: { form: 'flow', close: contents.range[1] - 1 }, items };
  const first = items[0];
  const indent = first ? (/^([ \t]*)-/.exec(text.slice(first.span[0]))?.[1] ?? '') : '';
  return { layout: { form: 'block', indent }, items };
}

/** Parses mapRoles; throws `misconfigured` (naming the ConfigMap) when the authenticator could not use it. */
export function parseMapRoles(text: string, where: string): ParsedEntry[] {
  return parseList(text, where).items.flatMap((item) => (item.entry ? [item.entry] : []));
}

function blockSpan(text: string, start: number, end: number): [number, number] {
  const lineStart = text.lastIndexOf('\n', start - 1) + 1;
  let lineEnd = end;
  // The node ends at its last value; take the rest of that line (trailing comment, newline) too.
  if (lineEnd > 0 && text[lineEnd - 1] !== '\n') {
    const newline = text.indexOf('\n', lineEnd);
    lineEnd = newline === -1 ? text.length : newline + 1;
  }
  return [lineStart, lineEnd];
}

/**
 * The entry aws-iam-authenticator uses for a session of `roleArn`: it keys entries by the lower-cased
 * `rolearn` (later entries replace earlier ones) and looks up the session's canonical, path-less ARN.
 */
export function effectiveMapping(entries: readonly ParsedEntry[], roleArn: string): ParsedEntry | undefined {
  const session = authenticatorRoleArn(roleArn)?.toLowerCase();
  return entries.findLast((e) => e.roleArn !== '' && e.roleArn.toLowerCase() === session);
}

/** The text of one of our entries as a block-list item, indented like the list it joins. */
export function renderEntry(entry: MappingEntry, indent: string): string {
  const groups =
    entry.groups.length === 0 ? '[]' : `[${entry.groups.map((g) => JSON.stringify(g)).join(', ')}]`;
  return (
    `${indent}- rolearn: ${entry.roleArn}\n` +
    `${indent}  username: ${JSON.stringify(entry.username)}\n` +
    `${indent}  groups: ${groups}\n`
  );
}

/** The same entry as a JSON object: valid in a YAML flow list and in JSON alike. */
export function renderFlowEntry(entry: MappingEntry): string {
  return `{"rolearn": ${JSON.stringify(entry.roleArn)}, "username": ${JSON.stringify(entry.username)}, "groups": ${JSON.stringify(entry.groups)}}`;
}

const sameEntry = (a: ParsedEntry, b: MappingEntry) =>
  a.roleArn === b.roleArn &&
  a.username === b.username &&
  a.groups.length === b.groups.length &&
  a.groups.every((g, i) => g === b.groups[i]);

/** Tells our entries from foreign ones (see `isOurMapping`): only ours are ever cut or rewritten. */
export type IsOurs = (entry: { roleArn: string; username: string }) => boolean;

/** Adds our entry at the end of the list, in the list's own form. */
function append(text: string, layout: Layout, items: readonly Item[], entry: MappingEntry): string {
  if (layout.form === 'flow') {
    const last = items[items.length - 1];
    return last
      ? `${text.slice(0, last.span[1])}, ${renderFlowEntry(entry)}${text.slice(last.span[1])}`
      : `${text.slice(0, layout.close)}${renderFlowEntry(entry)}${text.slice(layout.close)}`;
  }
  // `null`, `~` or a skippable string cannot take a list item after it: the list replaces it (same
  // meaning, no mappings; removing our entry later leaves an empty text).
  if (layout.form === 'empty' && !layout.blank) return renderEntry(entry, '');
  const block = renderEntry(entry, layout.form === 'block' ? layout.indent : '');
  // Without a final newline, the entry goes after a new one and ends without its own, so that
  // cutting it gives back the very same bytes.
  return text === '' || text.endsWith('\n') ? text + block : `${text}\n${block.slice(0, -1)}`;
}

/** Removes item `index` and the separator that came with it. */
function cut(text: string, layout: Layout, items: readonly Item[], index: number): string {
  const item = items[index] as Item;
  let [from, to] = item.span;
  if (layout.form === 'flow') {
    const before = items[index - 1];
    const after = items[index + 1];
    if (before) from = before.span[1];
    else if (after) to = after.span[0];
  } else if (to === text.length && !text.endsWith('\n') && from > 0) {
    from -= 1; // the newline `append` put in front of it
  }
  return text.slice(0, from) + text.slice(to);
}

/**
 * The parse of `after` from the parse of `before`, when one whole block-list item was cut or appended
 * and both texts end with a newline: items before the change keep their spans, items after move by
 * the length removed, an appended item spans the appended text. Anything else (flow lists, an empty
 * list taking its first item, a text without a final newline) returns undefined: parse again.
 */
function tracked(
  list: ParsedList,
  before: string,
  after: string,
  change: { cut: Item } | { append: MappingEntry },
): ParsedList | undefined {
  if (list.layout.form !== 'block' || !before.endsWith('\n') || !after.endsWith('\n')) return undefined;
  if ('append' in change) {
    const { roleArn, username, groups } = change.append;
    const item: Item = {
      entry: { roleArn, username, groups: [...groups] },
      span: [before.length, after.length],
    };
    return { layout: list.layout, items: [...list.items, item] };
  }
  const removed = before.length - after.length;
  const end = change.cut.span[1];
  return {
    layout: list.layout,
    items: list.items
      .filter((item) => item !== change.cut)
      .map((item) =>
        item.span[0] >= end ? { ...item, span: [item.span[0] - removed, item.span[1] - removed] } : item,
      ),
  };
}

const foreignOf = (text: string, where: string, isOurs: IsOurs) =>
  parseList(text, where).items.map((item) =>
    item.entry && isOurs(item.entry) ? undefined : JSON.stringify(item.entry ?? null),
  );

/**
 * Applies edits in order; returns the new text, or undefined when nothing changed (no write needed).
 * An edit touches only our entries for the same role (compared with `sameRole`: any path, any case), so
 * an upsert also replaces an entry of ours written with the role's path. An upsert that is not ours
 * itself, or whose role a foreign entry already maps, is refused: two mappings for one role would leave
 * the authenticator to pick one.
 */
export function editMapRoles(
  text: string,
  edits: readonly MapRolesEdit[],
  where: string,
  isOurs: IsOurs,
): string | undefined {
  let current = text;
  let changed = false;
  // The parse of `current`, carried from edit to edit while it can be (see `tracked`): a batch of k
  // edits then parses once, not k times.
  let known: ParsedList | undefined;
  for (const edit of edits) {
    const arn = edit.kind === 'upsert' ? edit.entry.roleArn : edit.roleArn;
    if (edit.kind === 'upsert' && !isOurs(edit.entry)) {
      throw misconfigured(`refusing to write an aws-auth entry that is not ours (${arn})`);
    }
    const { layout, items } = known ?? parseList(current, where);
    known = { layout, items };
    const forRole = items.filter((item) => item.entry && sameRole(item.entry.roleArn, arn));
    const foreign = forRole.find((item) => !isOurs(item.entry as ParsedEntry))?.entry;
    if (edit.kind === 'upsert' && foreign) {
      throw misconfigured(
        `${where} already maps ${foreign.roleArn} to "${foreign.username}", an entry eks-access did not write`,
        'Remove that entry by hand; eks-access changed nothing.',
      );
    }
    const ours = forRole.filter((item) => isOurs(item.entry as ParsedEntry));
    const only = ours[0];
    if (
      edit.kind === 'upsert' &&
      ours.length === 1 &&
      only &&
      sameEntry(only.entry as ParsedEntry, edit.entry)
    ) {
      continue;
    }
    // Cut every entry of ours for this role (duplicates and old forms included), back to front so
    // the spans of the items before stay valid.
    for (const item of [...ours].reverse()) {
      const next = cut(current, layout, items, items.indexOf(item));
      known = known && tracked(known, current, next, { cut: item });
      current = next;
      changed = true;
    }
    if (edit.kind === 'upsert') {
      const after = known ?? parseList(current, where);
      const next = append(current, after.layout, after.items, edit.entry);
      known = tracked(after, current, next, { append: edit.entry });
      current = next;
      changed = true;
    }
  }
  if (!changed) return undefined;
  // Belt and braces: the result must parse, and to the same foreign items in the same order.
  const keep = (list: (string | undefined)[]) => list.filter((x) => x !== undefined);
  if (
    JSON.stringify(keep(foreignOf(current, where, isOurs))) !==
    JSON.stringify(keep(foreignOf(text, where, isOurs)))
  ) {
    throw misconfigured(`${where} mapRoles could not be edited without changing other entries`, HINT_BY_HAND);
  }
  return current;
}
