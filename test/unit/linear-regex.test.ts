// The linear-time matcher behind ticket patterns: it finds what JS RegExp finds (a property test over
// random patterns and texts), refuses what needs backtracking with a message saying what to write, and
// cannot be made slow by any pattern.
import { describe, expect, it } from 'vitest';
import { compileLinear, UnsupportedPattern } from '../../src/domain/linear-regex.js';
import { seededRandom } from '../support/seeded.js';

const random = seededRandom;

const ATOMS = [
  'a',
  'b',
  '-',
  '1',
  '\\d',
  '\\w',
  '\\s',
  '.',
  '[ab]',
  '[^a]',
  '[0-9-]',
  '\\p{L}',
  'é',
  '\\b',
  '\\B',
];
const QUANTIFIERS = ['', '', '', '*', '+', '?', '{2}', '{1,2}', '{0,}', '*?', '+?', '??', '{1,3}?'];

function randomPattern(next: () => number, depth = 0): string {
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)] as T;
  const terms = 1 + Math.floor(next() * 3);
  const alternatives: string[] = [];
  for (let alt = 0; alt < (next() < 0.3 ? 2 : 1); alt++) {
    let seq = '';
    for (let i = 0; i < terms; i++) {
      const group = depth < 2 && next() < 0.3;
      const atom = group ? `(${next() < 0.5 ? '?:' : ''}${randomPattern(next, depth + 1)})` : pick(ATOMS);
      const quantifier = pick(QUANTIFIERS);
      // JS refuses a quantified assertion in `u` mode; so does our parser: keep the comparison on valid ones.
      seq += atom + (atom === '\\b' || atom === '\\B' ? '' : quantifier);
    }
    alternatives.push(seq);
  }
  return alternatives.join('|');
}

function randomText(next: () => number): string {
  // No characters outside the BMP here: V8 also tries to match between the two halves of one (an empty
  // match at a lone surrogate), which no reference can be; positions around them have their own test.
  const chars = ['a', 'b', '-', '1', '2', ' ', 'é', 'Z', '\n', '_'];
  let text = '';
  const length = Math.floor(next() * 12);
  for (let i = 0; i < length; i++) text += chars[Math.floor(next() * chars.length)];
  return text;
}

const jsMatches = (pattern: string, text: string) =>
  [...text.matchAll(new RegExp(pattern, 'gu'))].map((m) => [m.index, m.index + m[0].length]);
const ourMatches = (pattern: string, text: string, wholeWord = false) =>
  compileLinear(pattern, { wholeWord })
    .matchAll(text)
    .map((m) => [m.start, m.end]);

describe('the linear-time matcher', () => {
  // About 1.5 s on an idle machine; the timeout leaves room for a loaded one.
  it('finds exactly what JS RegExp finds, on 3 000 random patterns and texts', { timeout: 60_000 }, () => {
    const next = random(18);
    for (let i = 0; i < 3_000; i++) {
      const pattern = randomPattern(next);
      const text = randomText(next);
      const context = { pattern, text };
      expect({ ...context, matches: ourMatches(pattern, text) }).toEqual({
        ...context,
        matches: jsMatches(pattern, text),
      });
      // And as a whole word, the way ticket references are matched.
      const wrapped = `(?<![\\p{L}\\p{N}])(?:${pattern})(?![\\p{L}\\p{N}])`;
      expect({ ...context, whole: ourMatches(pattern, text, true) }).toEqual({
        ...context,
        whole: jsMatches(wrapped, text),
      });
    }
  });

  it('runs the pattern that hangs a backtracking engine in a few milliseconds', () => {
    const pattern = 'INC-(?:\\d|\\d?)+';
    // 33 characters: JS RegExp, with the whole-word wrapping, backtracks for seconds on this reason.
    const reason = `INC-${'1'.repeat(28)}x`;
    expect(reason).toHaveLength(33);
    const compiled = compileLinear(pattern, { wholeWord: true });
    expect(compiled.test(reason)).toBe(false);
    expect(compiled.test(`see INC-${'1'.repeat(25)} now`)).toBe(true);
    // The fastest of five runs, so a busy machine's scheduling does not count.
    const fastest = (run: () => unknown) =>
      Math.min(
        ...Array.from({ length: 5 }, () => {
          const started = performance.now();
          run();
          return performance.now() - started;
        }),
      );
    expect(fastest(() => compiled.test(reason))).toBeLessThan(50);
    // The longest reason a request may carry (500 characters), against the classic (a+)+ shape.
    const nested = compileLinear('(?:a+)+b', { wholeWord: true });
    const long = 'a'.repeat(500);
    expect(nested.matchAll(long)).toEqual([]);
    expect(fastest(() => nested.matchAll(long))).toBeLessThan(1_000);
  });

  it('refuses what needs backtracking, saying what to write instead', () => {
    const refusal = (pattern: string) => {
      try {
        compileLinear(pattern);
      } catch (error) {
        expect(error).toBeInstanceOf(UnsupportedPattern);
        return (error as Error).message;
      }
      throw new Error(`expected ${pattern} to be refused`);
    };
    expect(refusal('(CHG)-\\1')).toContain('backreferences');
    expect(refusal('(?<t>CHG)-\\k<t>')).toContain('write the repeated part out again');
    expect(refusal('CHG-(?=\\d)\\d+')).toContain('lookahead');
    expect(refusal('(?<!X)CHG-\\d+')).toContain('lookbehind');
    expect(refusal('(a{100}){100}')).toContain('use smaller counts');
    expect(() => compileLinear('CHG-(')).toThrow(SyntaxError);
  });

  it('reports UTF-16 positions as String.prototype.slice takes them', () => {
    const found = compileLinear('\\p{L}+-\\d+', { wholeWord: true }).matchAll('😀 ÉTÉ-12, x1-2 ab-3');
    expect(found.map((m) => [m.text, m.start])).toEqual([
      ['ÉTÉ-12', 3],
      ['ab-3', 16],
    ]);
  });
});
