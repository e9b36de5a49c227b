// A regular-expression matcher that runs in time linear in the text (a Pike VM over a Thompson NFA), for
// the policy's ticket patterns: the bot matches every reason anyone types against them, and a
// backtracking engine (JS RegExp) can take exponential time on a pattern like `INC-(?:\d|\d?)+`. Here
// no pattern can do that: each search visits every (text position, program instruction) pair at most
// once, so a search costs O(text length × pattern size) whatever the pattern.
//
// The language is JS RegExp's with the `u` flag, minus what needs backtracking: backreferences (\1,
// \k<name>), lookahead and lookbehind. Matches are the ones JS would find (leftmost, then the first
// alternative and the greedy or lazy choice JS prefers), which a property test compares with RegExp.
// Pure: no I/O, no clock.
// One file, over the usual size, because the parser, compiler and VM share one private program
// representation that nothing else may depend on; only compileLinear, its types and limit are exported.

/** A pattern this engine cannot run, with the change that makes it runnable. */
export class UnsupportedPattern extends Error {
  override readonly name = 'UnsupportedPattern';
}

/** One match: `text.slice(start, end)` (UTF-16 indices, as String.prototype.slice takes them). */
export interface LinearMatch {
  start: number;
  end: number;
  text: string;
}

export interface LinearRegex {
  /** The leftmost match starting at or after `from`, or undefined. */
  exec(text: string, from?: number): LinearMatch | undefined;
  /** Whether the pattern matches anywhere in the text. */
  test(text: string): boolean;
  /** Every match, as `String.prototype.matchAll` with the `gu` flags finds them (empty ones included). */
  matchAll(text: string): LinearMatch[];
}

export interface LinearRegexOptions {
  /**
   * Whole-word: a match may not be glued to a letter or digit (Unicode L or N) on either side, as if the
   * pattern were wrapped in `(?<![\p{L}\p{N}])(?:…)(?![\p{L}\p{N}])`.
   */
  wholeWord?: boolean;
}

/**
 * Instructions after `{m,n}` counts are unrolled. A pattern that needs more (`(a{100}){100}`) is
 * refused: the program's size is the factor in every search's cost.
 */
export const MAX_PROGRAM_SIZE = 5_000;

type Assertion =
  | 'start'
  | 'end'
  | 'word-boundary'
  | 'not-word-boundary'
  | 'not-after-alnum'
  | 'not-before-alnum';
type Predicate = (codePoint: number) => boolean;

type Node =
  | { t: 'char'; pred: Predicate }
  | { t: 'seq'; items: Node[] }
  | { t: 'alt'; items: Node[] }
  | { t: 'repeat'; node: Node; min: number; max: number; greedy: boolean }
  | { t: 'assert'; kind: Assertion };

type Instruction =
  | { op: 'char'; pred: Predicate }
  | { op: 'split'; first: number; second: number }
  | { op: 'jmp'; to: number }
  | { op: 'assert'; kind: Assertion }
  | { op: 'match' };

const LINE_TERMINATORS = new Set([0x0a, 0x0d, 0x2028, 0x2029]);
const ALNUM = /[\p{L}\p{N}]/u;
const isAsciiWord = (cp: number) =>
  (cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) || cp === 0x5f;
const isAlnum = (cp: number) => cp >= 0 && ALNUM.test(String.fromCodePoint(cp));

/**
 * A predicate for one code point from JS's own syntax for it (a class like `[^a-z\d]`, an escape like
 * `\p{Lu}` or `\u{1F600}`): a RegExp without quantifiers tests one character in bounded time, and reusing
 * it keeps every class and escape exactly as JS reads them.
 */
function jsCharPredicate(source: string): Predicate {
  const re = new RegExp(`^(?:${source})$`, 'u');
  const seen = new Map<number, boolean>();
  return (cp) => {
    let hit = seen.get(cp);
    if (hit === undefined) {
      hit = re.test(String.fromCodePoint(cp));
      if (seen.size < 1024) seen.set(cp, hit);
    }
    return hit;
  };
}

class Parser {
  #at = 0;
  readonly #src: string;

  constructor(source: string) {
    this.#src = source;
  }

  parse(): Node {
    const node = this.#alternation();
    // JS has already accepted the syntax, so the only thing left here is an unmatched `)`.
    if (this.#at < this.#src.length) throw new UnsupportedPattern(`unexpected "${this.#src[this.#at]}"`);
    return node;
  }

  #peek(offset = 0): string | undefined {
    return this.#src[this.#at + offset];
  }

  #alternation(): Node {
    const items = [this.#sequence()];
    while (this.#peek() === '|') {
      this.#at++;
      items.push(this.#sequence());
    }
    return items.length === 1 ? (items[0] as Node) : { t: 'alt', items };
  }

  #sequence(): Node {
    const items: Node[] = [];
    for (let c = this.#peek(); c !== undefined && c !== '|' && c !== ')'; c = this.#peek()) {
      items.push(this.#quantified(this.#atom()));
    }
    return { t: 'seq', items };
  }

  #quantified(atom: Node): Node {
    let min: number;
    let max: number;
    const c = this.#peek();
    if (c === '*') [min, max] = [0, Infinity];
    else if (c === '+') [min, max] = [1, Infinity];
    else if (c === '?') [min, max] = [0, 1];
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.#src.slice(this.#at));
      if (!m) return atom;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      this.#at += m[0].length - 1;
    } else return atom;
    this.#at++;
    const greedy = this.#peek() !== '?';
    if (!greedy) this.#at++;
    if (atom.t === 'assert') {
      throw new UnsupportedPattern('a quantifier after ^, $, \\b or \\B repeats nothing: remove it');
    }
    return { t: 'repeat', node: atom, min, max, greedy };
  }

  #atom(): Node {
    const c = this.#src.codePointAt(this.#at) as number;
    const ch = String.fromCodePoint(c);
    if (ch === '(') return this.#group();
    if (ch === '[') return { t: 'char', pred: jsCharPredicate(this.#classSource()) };
    if (ch === '\\') return this.#escape();
    this.#at += ch.length;
    if (ch === '.') return { t: 'char', pred: (cp) => !LINE_TERMINATORS.has(cp) };
    if (ch === '^') return { t: 'assert', kind: 'start' };
    if (ch === '$') return { t: 'assert', kind: 'end' };
    return { t: 'char', pred: (cp) => cp === c };
  }

  #group(): Node {
    const rest = this.#src.slice(this.#at);
    if (rest.startsWith('(?=') || rest.startsWith('(?!')) {
      throw new UnsupportedPattern(
        'lookahead (?=…) and (?!…) are not supported in ticket patterns: write what the reference contains instead (references are already matched as whole words)',
      );
    }
    if (rest.startsWith('(?<=') || rest.startsWith('(?<!')) {
      throw new UnsupportedPattern(
        'lookbehind (?<=…) and (?<!…) are not supported in ticket patterns: write what the reference contains instead (references are already matched as whole words)',
      );
    }
    const named = /^\(\?<[^>]+>/.exec(rest);
    if (rest.startsWith('(?:')) this.#at += 3;
    else if (named) this.#at += named[0].length;
    else if (rest.startsWith('(?')) {
      throw new UnsupportedPattern(
        'inline modifiers like (?i:…) are not supported in ticket patterns: spell out the cases, e.g. [Cc][Hh][Gg]',
      );
    } else this.#at += 1;
    const inner = this.#alternation();
    if (this.#peek() !== ')') throw new UnsupportedPattern('a group is not closed: add ")"');
    this.#at++;
    return inner;
  }

  /** The source of a class `[…]`, up to its first unescaped `]` (in `u` mode `[` inside is literal). */
  #classSource(): string {
    const start = this.#at;
    this.#at++;
    if (this.#peek() === '^') this.#at++;
    while (this.#at < this.#src.length && this.#peek() !== ']') {
      this.#at += this.#peek() === '\\' ? 2 : 1;
    }
    this.#at++;
    return this.#src.slice(start, this.#at);
  }

  #escape(): Node {
    const next = this.#peek(1) ?? '';
    if (/[1-9]/.test(next) || next === 'k') {
      throw new UnsupportedPattern(
        'backreferences (\\1, \\k<name>) are not supported in ticket patterns: write the repeated part out again',
      );
    }
    if (next === 'b' || next === 'B') {
      this.#at += 2;
      return { t: 'assert', kind: next === 'b' ? 'word-boundary' : 'not-word-boundary' };
    }
    const rest = this.#src.slice(this.#at);
    const found =
      /^\\[pP]\{[^}]*\}/.exec(rest) ??
      /^\\u\{[0-9a-fA-F]+\}/.exec(rest) ??
      /^\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}/.exec(rest) ??
      /^\\u[0-9a-fA-F]{4}/.exec(rest) ??
      /^\\x[0-9a-fA-F]{2}/.exec(rest) ??
      /^\\c[A-Za-z]/.exec(rest) ??
      /^\\[\s\S]/u.exec(rest);
    const source = (found as RegExpExecArray)[0];
    this.#at += source.length;
    return { t: 'char', pred: jsCharPredicate(source) };
  }
}

/**
 * The ways a node can match, in the order backtracking tries them: runs that read at least one
 * character, and empty ways (possibly behind assertions). Of several empty ways only the first
 * unconditional one matters: a later one would try the same continuation from the same place again.
 */
type Segment = { consume: Node } | { empty: Node[] };

interface Budget {
  segments: number;
}

function segmentsOf(node: Node, budget: Budget): Segment[] {
  budget.segments++;
  if (budget.segments > MAX_PROGRAM_SIZE) throw tooLarge();
  switch (node.t) {
    case 'char':
      return [{ consume: node }];
    case 'assert':
      return [{ empty: [node] }];
    case 'alt':
      return pruned(node.items.flatMap((item) => segmentsOf(item, budget)));
    case 'seq': {
      const [first, ...rest] = node.items;
      if (first === undefined) return [{ empty: [] }];
      const restNode: Node = { t: 'seq', items: rest };
      let restSegments: Segment[] | undefined;
      const out: Segment[] = [];
      for (const segment of segmentsOf(first, budget)) {
        if ('consume' in segment) {
          out.push({ consume: { t: 'seq', items: [segment.consume, restNode] } });
          continue;
        }
        restSegments ??= segmentsOf(restNode, budget);
        for (const next of restSegments) {
          out.push(
            'consume' in next
              ? { consume: { t: 'seq', items: [...segment.empty, next.consume] } }
              : { empty: [...segment.empty, ...next.empty] },
          );
        }
      }
      return pruned(out);
    }
    case 'repeat': {
      const { min, max, greedy } = node;
      if (min > 0) {
        const remaining: Node = { t: 'repeat', node: node.node, min: min - 1, max: max - 1, greedy };
        return segmentsOf({ t: 'seq', items: [node.node, remaining] }, budget);
      }
      const body = max > 0 ? nonEmpty(node.node, budget) : undefined;
      if (body === undefined) return [{ empty: [] }];
      const again: Segment = {
        consume: { t: 'seq', items: [body, { t: 'repeat', node: node.node, min: 0, max: max - 1, greedy }] },
      };
      return greedy ? [again, { empty: [] }] : [{ empty: [] }, again];
    }
  }
}

function pruned(segments: Segment[]): Segment[] {
  const always = segments.findIndex((s) => 'empty' in s && s.empty.length === 0);
  return always < 0 ? segments : segments.filter((s, i) => i <= always || 'consume' in s);
}

/** The node's ways that read at least one character, in their order; undefined when it has none. */
function nonEmpty(node: Node, budget: Budget): Node | undefined {
  const runs = segmentsOf(node, budget).flatMap((s) => ('consume' in s ? [s.consume] : []));
  if (runs.length === 0) return undefined;
  return runs.length === 1 ? runs[0] : { t: 'alt', items: runs };
}

const tooLarge = () =>
  new UnsupportedPattern(
    'pattern is too large once its {m,n} counts are spelled out: use smaller counts (for "at least", {4,} instead of {4,400})',
  );

/** Thompson's construction: the program a Pike VM runs. */
class Compiler {
  readonly program: Instruction[] = [];

  #emit(instruction: Instruction): number {
    if (this.program.length >= MAX_PROGRAM_SIZE) throw tooLarge();
    this.program.push(instruction);
    return this.program.length - 1;
  }

  #split(): number {
    return this.#emit({ op: 'split', first: -1, second: -1 });
  }

  compile(node: Node): void {
    switch (node.t) {
      case 'char':
        this.#emit({ op: 'char', pred: node.pred });
        return;
      case 'assert':
        this.#emit({ op: 'assert', kind: node.kind });
        return;
      case 'seq':
        for (const item of node.items) this.compile(item);
        return;
      case 'alt': {
        // split L1, L2; L1: first; jmp end; L2: split L2a, L3; …; the last alternative without a split.
        const jumps: number[] = [];
        node.items.forEach((item, i) => {
          if (i === node.items.length - 1) {
            this.compile(item);
            return;
          }
          const split = this.program[this.#split()] as { first: number; second: number };
          split.first = this.program.length;
          this.compile(item);
          jumps.push(this.#emit({ op: 'jmp', to: -1 }));
          split.second = this.program.length;
        });
        for (const jump of jumps) (this.program[jump] as { to: number }).to = this.program.length;
        return;
      }
      case 'repeat':
        this.#repeat(node);
        return;
    }
  }

  #repeat(node: Extract<Node, { t: 'repeat' }>): void {
    for (let i = 0; i < node.min; i++) this.compile(node.node);
    if (node.max === node.min) return;
    // JS refuses an optional iteration that matches nothing (ECMA-262 RepeatMatcher), so only the body's
    // non-empty ways can repeat; no loop can then come back to itself without reading a character, and
    // a Pike VM keeping one thread per instruction finds what backtracking finds.
    const body = nonEmpty(node.node, { segments: 0 });
    if (body === undefined) return;
    if (node.max === Infinity) {
      // L: split body, out; body; jmp L
      const split = this.#split();
      const start = this.program.length;
      this.compile(body);
      this.#emit({ op: 'jmp', to: split });
      this.#choose(split, start, this.program.length, node.greedy);
      return;
    }
    // Each optional copy: split body, out (all the outs go to the end).
    const splits: number[] = [];
    for (let i = node.min; i < node.max; i++) {
      const split = this.#split();
      splits.push(split);
      this.compile(body);
      this.#choose(split, split + 1, -1, node.greedy);
    }
    const end = this.program.length;
    for (const split of splits) {
      const s = this.program[split] as { first: number; second: number };
      if (s.first === -1) s.first = end;
      else s.second = end;
    }
  }

  /** Greedy prefers the body, lazy the way out. */
  #choose(split: number, body: number, out: number, greedy: boolean): void {
    const s = this.program[split] as { first: number; second: number };
    s.first = greedy ? body : out;
    s.second = greedy ? out : body;
  }
}

const codePointBefore = (text: string, at: number): number => {
  if (at <= 0) return -1;
  const low = text.charCodeAt(at - 1);
  if (low >= 0xdc00 && low <= 0xdfff && at >= 2) {
    const high = text.charCodeAt(at - 2);
    if (high >= 0xd800 && high <= 0xdbff) return text.codePointAt(at - 2) as number;
  }
  return low;
};

function holds(kind: Assertion, text: string, at: number): boolean {
  const before = codePointBefore(text, at);
  const after = at < text.length ? (text.codePointAt(at) as number) : -1;
  switch (kind) {
    case 'start':
      return at === 0;
    case 'end':
      return at === text.length;
    case 'word-boundary':
      return isAsciiWord(before) !== isAsciiWord(after);
    case 'not-word-boundary':
      return isAsciiWord(before) === isAsciiWord(after);
    case 'not-after-alnum':
      return !isAlnum(before);
    case 'not-before-alnum':
      return !isAlnum(after);
  }
}

/** One list of threads (program counters with the start of their match), in priority order. */
class Threads {
  readonly pcs: number[] = [];
  readonly starts: number[] = [];
  readonly #mark: Int32Array;
  #generation = 0;

  constructor(size: number) {
    this.#mark = new Int32Array(size);
  }

  clear(): void {
    this.pcs.length = 0;
    this.starts.length = 0;
    this.#generation++;
  }

  /** Marks pc as taken for this list; false when a thread of higher priority already took it. */
  take(pc: number): boolean {
    if (this.#mark[pc] === this.#generation) return false;
    this.#mark[pc] = this.#generation;
    return true;
  }
}

class PikeVm implements LinearRegex {
  readonly #program: Instruction[];
  readonly #stack: number[] = [];
  readonly #current: Threads;
  readonly #next: Threads;

  constructor(program: Instruction[]) {
    this.#program = program;
    this.#current = new Threads(program.length);
    this.#next = new Threads(program.length);
  }

  /** Follows jumps, splits and assertions from pc (in priority order) and adds the threads that wait. */
  #add(list: Threads, pc: number, start: number, text: string, at: number): void {
    const stack = this.#stack;
    stack.length = 0;
    stack.push(pc);
    while (stack.length > 0) {
      const here = stack.pop() as number;
      if (!list.take(here)) continue;
      const instruction = this.#program[here] as Instruction;
      if (instruction.op === 'jmp') stack.push(instruction.to);
      else if (instruction.op === 'split') stack.push(instruction.second, instruction.first);
      else if (instruction.op === 'assert') {
        if (holds(instruction.kind, text, at)) stack.push(here + 1);
      } else {
        list.pcs.push(here);
        list.starts.push(start);
      }
    }
  }

  exec(text: string, from = 0): LinearMatch | undefined {
    let current = this.#current;
    let next = this.#next;
    current.clear();
    let found: { start: number; end: number } | undefined;
    for (let at = from; ; ) {
      // Leftmost: a new attempt starts here only while nothing has matched, at the lowest priority.
      if (found === undefined) this.#add(current, 0, at, text, at);
      else if (current.pcs.length === 0) break;
      const cp = at < text.length ? (text.codePointAt(at) as number) : -1;
      const step = cp > 0xffff ? 2 : 1;
      next.clear();
      for (let i = 0; i < current.pcs.length; i++) {
        const pc = current.pcs[i] as number;
        const instruction = this.#program[pc] as Instruction;
        if (instruction.op === 'match') {
          // Every thread after this one has lower priority: drop them.
          found = { start: current.starts[i] as number, end: at };
          break;
        }
        if (instruction.op === 'char' && cp >= 0 && instruction.pred(cp)) {
          this.#add(next, pc + 1, current.starts[i] as number, text, at + step);
        }
      }
      if (at >= text.length) break;
      [current, next] = [next, current];
      at += step;
    }
    return found && { ...found, text: text.slice(found.start, found.end) };
  }

  test(text: string): boolean {
    return this.exec(text) !== undefined;
  }

  matchAll(text: string): LinearMatch[] {
    const matches: LinearMatch[] = [];
    for (let at = 0; at <= text.length; ) {
      const match = this.exec(text, at);
      if (!match) break;
      matches.push(match);
      // As RegExp's lastIndex: after an empty match, one code point further.
      at =
        match.end > match.start
          ? match.end
          : match.end + ((text.codePointAt(match.end) ?? 0) > 0xffff ? 2 : 1);
    }
    return matches;
  }
}

/**
 * Compiles a pattern (JS syntax, `u` flag semantics). Throws a SyntaxError for what JS itself refuses,
 * and UnsupportedPattern (saying what to write instead) for backreferences, lookaround, inline modifiers
 * and patterns too large once their counts are unrolled.
 */
export function compileLinear(pattern: string, options: LinearRegexOptions = {}): LinearRegex {
  new RegExp(pattern, 'u');
  let node = new Parser(pattern).parse();
  if (options.wholeWord) {
    node = {
      t: 'seq',
      items: [{ t: 'assert', kind: 'not-after-alnum' }, node, { t: 'assert', kind: 'not-before-alnum' }],
    };
  }
  const compiler = new Compiler();
  compiler.compile(node);
  compiler.program.push({ op: 'match' });
  return new PikeVm(compiler.program);
}
