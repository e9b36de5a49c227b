// Pure edits of aws-auth's `mapRoles` text. Only our entries are touched, and by text splicing, so every
// other entry (node roles, comments, quoting, order) keeps its exact bytes. A document that does not
// parse, or is not a list of mappings, is refused: we never rewrite what we do not understand.
import { isMap, isScalar, isSeq, parseDocument, type YAMLMap } from 'yaml';
import { sameRole } from '../../domain/arn.js';
import { misconfigured } from '../../domain/errors.js';
import type { MappingEntry } from '../../ports/cluster.js';

export type MapRolesEdit = { kind: 'upsert'; entry: MappingEntry } | { kind: 'remove'; roleArn: string };

interface ParsedEntry {
  roleArn: string;
  username: string;
  groups: string[];
  /** [start, end) of the entry's whole text, from its line start to after its last line. */
  span: [number, number];
}

function scalarText(value: unknown): string {
  return isScalar(value) ? String(value.value ?? '') : '';
}

/** Parses mapRoles; throws `misconfigured` (naming the ConfigMap) when it is not a YAML list of maps. */
export function parseMapRoles(text: string, where: string): ParsedEntry[] {
  const doc = parseDocument(text, { keepSourceTokens: false });
  if (doc.errors.length > 0) {
    throw misconfigured(
      `${where} mapRoles is not valid YAML: ${doc.errors[0]?.message.split('\n')[0] ?? ''}`,
      'Fix the ConfigMap by hand (kubectl -n kube-system edit configmap aws-auth); eks-access changed nothing.',
    );
  }
  if (doc.contents === null) return [];
  if (!isSeq(doc.contents) || doc.contents.flow) {
    throw misconfigured(
      `${where} mapRoles is not a block list of role mappings`,
      'eks-access only edits mapRoles written as a YAML block list ("- rolearn: ..."); it changed nothing.',
    );
  }
  return doc.contents.items.map((item) => {
    if (!isMap(item) || !item.range) {
      throw misconfigured(
        `${where} mapRoles has an entry that is not a mapping`,
        'eks-access changed nothing.',
      );
    }
    const map = item as YAMLMap;
    const groups = map.get('groups', true);
    return {
      roleArn: scalarText(map.get('rolearn', true)),
      username: scalarText(map.get('username', true)),
      groups: isSeq(groups) ? groups.items.map(scalarText) : [],
      span: entrySpan(text, item.range[0], item.range[2]),
    };
  });
}

function entrySpan(text: string, start: number, end: number): [number, number] {
  const lineStart = text.lastIndexOf('\n', start - 1) + 1;
  let lineEnd = end;
  // The node ends at its last value; take the rest of that line (trailing comment, newline) too.
  if (lineEnd > 0 && text[lineEnd - 1] !== '\n') {
    const newline = text.indexOf('\n', lineEnd);
    lineEnd = newline === -1 ? text.length : newline + 1;
  }
  return [lineStart, lineEnd];
}

/** The text of one of our entries, indented like the list it joins. */
export function renderEntry(entry: MappingEntry, indent: string): string {
  const groups =
    entry.groups.length === 0 ? '[]' : `[${entry.groups.map((g) => JSON.stringify(g)).join(', ')}]`;
  return (
    `${indent}- rolearn: ${entry.roleArn}\n` +
    `${indent}  username: ${JSON.stringify(entry.username)}\n` +
    `${indent}  groups: ${groups}\n`
  );
}

const sameEntry = (a: ParsedEntry, b: MappingEntry) =>
  a.roleArn === b.roleArn &&
  a.username === b.username &&
  a.groups.length === b.groups.length &&
  a.groups.every((g, i) => g === b.groups[i]);

/** Tells our entries from foreign ones (see `isOurMapping`): only ours are ever cut or rewritten. */
export type IsOurs = (entry: { roleArn: string; username: string }) => boolean;

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
  for (const edit of edits) {
    const arn = edit.kind === 'upsert' ? edit.entry.roleArn : edit.roleArn;
    if (edit.kind === 'upsert' && !isOurs(edit.entry)) {
      throw misconfigured(`refusing to write an aws-auth entry that is not ours (${arn})`);
    }
    const entries = parseMapRoles(current, where);
    const forRole = entries.filter((e) => sameRole(e.roleArn, arn));
    const foreign = forRole.find((e) => !isOurs(e));
    if (edit.kind === 'upsert' && foreign) {
      throw misconfigured(
        `${where} already maps ${foreign.roleArn} to "${foreign.username}", an entry eks-access did not write`,
        'Remove that entry by hand; eks-access changed nothing.',
      );
    }
    const existing = forRole.filter((e) => isOurs(e));
    if (
      edit.kind === 'upsert' &&
      existing.length === 1 &&
      sameEntry(existing[0] as ParsedEntry, edit.entry)
    ) {
      continue;
    }
    const indent = indentOf(current, entries);
    // Cut every entry of ours for this role (duplicates and old forms included), back to front so
    // offsets stay valid.
    for (const entry of [...existing].reverse()) {
      current = current.slice(0, entry.span[0]) + current.slice(entry.span[1]);
      changed = true;
    }
    if (edit.kind === 'upsert') {
      if (current.length > 0 && !current.endsWith('\n')) current += '\n';
      current += renderEntry(edit.entry, indent);
      changed = true;
    }
  }
  if (!changed) return undefined;
  // Belt and braces: the result must parse back to the same foreign entries.
  parseMapRoles(current, where);
  return current;
}

function indentOf(text: string, entries: readonly ParsedEntry[]): string {
  const first = entries[0];
  if (!first) return '';
  const line = text.slice(first.span[0]);
  return /^(\s*)-/.exec(line)?.[1] ?? '';
}
