// The README and docs/ are read in a clone: every link must lead to a file of the repository (and an
// anchor to a heading of it), never outside it — a link to ../shared/… was dead in every clone (issue #19).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const documents = [
  'README.md',
  ...readdirSync(join(repo, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** The text outside code blocks and inline code, where a `](` is a link. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

/** Link targets: inline links and images `[text](target)`, and reference definitions `[id]: target`. */
function linkTargets(markdown: string): string[] {
  const text = prose(markdown);
  const inline = [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1] as string);
  const references = [...text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*(\S+)/gm)].map((m) => m[1] as string);
  return [...inline, ...references];
}

/** The anchors GitHub gives a document's headings: lower case, punctuation dropped, spaces as hyphens. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, heading] of markdown
    .replace(/^```[\s\S]*?^```/gm, '')
    .matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = (heading as string)
      .replace(/<[^>]+>/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\- _]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** What is wrong with each link of `file` (a path relative to the repository), in words. */
function brokenLinks(file: string): string[] {
  const problems: string[] = [];
  for (const target of linkTargets(readFileSync(join(repo, file), 'utf8'))) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
      problems.push(`${file}: ${target} leads outside the repository`);
      continue;
    }
    const [path = '', anchor] = target.split('#');
    const resolved = path === '' ? join(repo, file) : resolve(dirname(join(repo, file)), decodeURI(path));
    const inside = relative(repo, resolved);
    if (inside.startsWith('..') || resolve(inside) === inside) {
      problems.push(`${file}: ${target} leads outside the repository`);
      continue;
    }
    if (!existsSync(resolved)) {
      problems.push(`${file}: ${target} names no file of the repository`);
      continue;
    }
    if (anchor !== undefined && statSync(resolved).isFile() && resolved.endsWith('.md')) {
      if (!headingAnchors(readFileSync(resolved, 'utf8')).has(anchor))
        problems.push(`${file}: ${target} names no heading of ${relative(repo, resolved)}`);
    }
  }
  return problems;
}

describe('links in README.md and docs/', () => {
  it.each(documents)('%s: every link resolves to a file (and heading) inside the repository', (file) => {
    expect(brokenLinks(file)).toEqual([]);
  });

  it('the checker finds what it must', () => {
    expect(linkTargets('[a](../shared/RUNBOOK.md) `[b](x)` ![c](img/x.png "t")\n[d]: docs/e.md')).toEqual([
      '../shared/RUNBOOK.md',
      'img/x.png',
      'docs/e.md',
    ]);
    expect([
      ...headingAnchors('# Try it: two commands\n## `npm test`, again\n## Try it: two commands'),
    ]).toEqual(['try-it-two-commands', 'npm-test-again', 'try-it-two-commands-1']);
  });
});
