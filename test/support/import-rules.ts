// The architecture's boundaries as rules over the import graph of src/ (read from the source text, so
// a rule holds for what the code does, not for what a comment says). Type-only imports are left out: they
// vanish at build time and cannot reach a client. Dynamic imports count like static ones.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

export interface ImportEdge {
  /** Repository-relative path of the importing file. */
  from: string;
  /** What it imports: a repository-relative .ts path, or a package name (`@scope/name`, `name`, `node:x`). */
  to: string;
}

/** Every value import of every .ts file under `dir` (repository-relative), as edges. */
export function importGraph(root: string, dir = 'src'): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of tsFiles(join(root, dir))) {
    const from = relative(root, file);
    for (const spec of valueImports(readFileSync(file, 'utf8'))) {
      edges.push({ from, to: spec.startsWith('.') ? localTarget(root, file, spec) : packageOf(spec) });
    }
  }
  return edges;
}

const IMPORT =
  /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[\w*{}\s,$]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function valueImports(text: string): string[] {
  const specs: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    if (m[2]) continue; // import type … / export type …
    const spec = m[3] ?? m[4];
    if (spec) specs.push(spec);
  }
  return specs;
}

function localTarget(root: string, file: string, spec: string): string {
  const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
  return relative(root, existsSync(target) ? target : resolve(dirname(file), spec));
}

function packageOf(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
}

function tsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The files `entry` reaches through value imports, each with the chain that reaches it. */
export function reachable(edges: readonly ImportEdge[], entry: string): Map<string, string[]> {
  const out = new Map<string, ImportEdge[]>();
  for (const e of edges) out.set(e.from, [...(out.get(e.from) ?? []), e]);
  const chains = new Map<string, string[]>([[entry, [entry]]]);
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.shift() as string;
    for (const edge of out.get(file) ?? []) {
      if (chains.has(edge.to)) continue;
      chains.set(edge.to, [...(chains.get(file) as string[]), edge.to]);
      if (edge.to.endsWith('.ts')) queue.push(edge.to);
    }
  }
  return chains;
}

export interface ImportRule {
  name: string;
  /** Why the rule exists, printed with every violation. */
  why: string;
  check(edges: readonly ImportEdge[]): string[];
}

/** Files matching `files` may import only what `allowed` accepts. */
export function onlyImports(
  name: string,
  why: string,
  files: (path: string) => boolean,
  allowed: (edge: ImportEdge) => boolean,
): ImportRule {
  return {
    name,
    why,
    check: (edges) =>
      edges.filter((e) => files(e.from) && !allowed(e)).map((e) => `${e.from} imports ${e.to}`),
  };
}

/**
 * Nothing `entry` reaches may be forbidden, unless it is reached only through an exception: a module
 * allowed to hold that one thing (`exceptions`: forbidden target → the only files that may import it).
 */
export function neverReaches(
  name: string,
  why: string,
  entry: string,
  forbidden: (target: string) => boolean,
  exceptions: Readonly<Record<string, readonly string[]>> = {},
): ImportRule {
  return {
    name,
    why,
    check: (edges) => {
      const problems: string[] = [];
      const reached = reachable(edges, entry);
      for (const [target, chain] of reached) {
        if (!forbidden(target)) continue;
        const importers = edges.filter((e) => e.to === target).map((e) => e.from);
        const allowedFrom = exceptions[target] ?? [];
        const reachedImporters = importers.filter((f) => reached.has(f));
        if (allowedFrom.length > 0 && reachedImporters.every((f) => allowedFrom.includes(f))) continue;
        problems.push(`${entry} reaches ${target} (${chain.join(' → ')})`);
      }
      return problems;
    },
  };
}

/** Every violation of every rule, one line each, naming the rule, the import and why the rule exists. */
export function violations(rules: readonly ImportRule[], edges: readonly ImportEdge[]): string[] {
  return rules.flatMap((rule) =>
    rule.check(edges).map((problem) => `[${rule.name}] ${problem} — ${rule.why}`),
  );
}
