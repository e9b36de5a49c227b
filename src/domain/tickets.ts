// Ticket references in a request's reason: which ticket systems a namespace or level requires, whether a
// reason names one, and where each reference sits in the text so a chat adapter can link it.
// Pure: the policy says what a reference looks like; nothing here knows Slack or HTTP.
import { compileLinear, type LinearRegex, UnsupportedPattern } from './linear-regex.js';

/** A ticket system as the policy declares it (`tickets.<name>`). */
export interface TicketSystem {
  /** A regular expression for one reference, e.g. `CHG-[0-9]{4,}` (matched whole-word, case-sensitive). */
  pattern: string;
  /** A reference that matches, shown to people who got it wrong. */
  example: string;
  /** Link template with `{ref}`, e.g. `https://jira.example.com/browse/{ref}`. */
  url?: string | undefined;
}

/** One reference found in a text: `text.slice(start, end) === ref`. */
export interface TicketReference {
  system: string;
  ref: string;
  start: number;
  end: number;
  url?: string;
}

/** One requirement that applies to a request: a reference from any of these systems. */
export interface TicketRequirement {
  systems: readonly string[];
  /** Where it comes from, for the message: `namespace payments on prod` or `level admin`. */
  source: string;
}

/** Compiled matchers by pattern: a policy has a handful, and every reason is matched against them. */
const compiled = new Map<string, LinearRegex>();

/**
 * A whole-word matcher for a pattern: a reference is not glued to letters or digits on either side,
 * so `CHG-12` does not count inside `XCHG-12` or `CHG-12a`. It runs in time linear in the reason
 * whatever the pattern (src/domain/linear-regex.ts): a policy author cannot write a pattern that
 * stalls the bot, which matches every reason anyone types.
 */
function matcher(pattern: string): LinearRegex {
  let found = compiled.get(pattern);
  if (!found) {
    found = compileLinear(pattern, { wholeWord: true });
    if (compiled.size >= 256) compiled.clear();
    compiled.set(pattern, found);
  }
  return found;
}

/** What is wrong with a ticket system's declaration, as messages (the policy validator reports them). */
export function ticketSystemProblems(system: TicketSystem): string[] {
  const problems: string[] = [];
  let whole: LinearRegex;
  try {
    whole = matcher(system.pattern);
  } catch (error) {
    if (error instanceof UnsupportedPattern) return [error.message];
    return [`pattern is not a valid regular expression: ${(error as Error).message}`];
  }
  if (compileLinear(`^(?:${system.pattern})$`).test('')) {
    problems.push('pattern matches the empty text, so it would accept any reason');
  }
  if (/^\^|\$$/.test(system.pattern)) {
    problems.push('pattern is found anywhere in the reason: leave out ^ and $');
  }
  const found = whole.matchAll(system.example).map((m) => m.text);
  if (found[0] !== system.example) {
    problems.push(`example "${system.example}" is not a whole reference matching the pattern`);
  }
  if (system.url !== undefined && !system.url.includes('{ref}')) {
    problems.push('url must contain {ref}, where the reference goes');
  }
  return problems;
}

/** Every reference to any known system in a text, in order, without overlaps (first system wins). */
export function ticketReferences(
  text: string,
  systems: Readonly<Record<string, TicketSystem>>,
): TicketReference[] {
  const found: TicketReference[] = [];
  for (const [name, system] of Object.entries(systems)) {
    for (const { start, end, text: ref } of matcher(system.pattern).matchAll(text)) {
      if (ref === '' || found.some((f) => start < f.end && f.start < end)) continue;
      found.push({
        system: name,
        ref,
        start,
        end,
        ...(system.url ? { url: system.url.replaceAll('{ref}', encodeURIComponent(ref)) } : {}),
      });
    }
  }
  return found.sort((a, b) => a.start - b.start);
}

/** Splits a text into plain runs and references, for an adapter that links the references. */
export function splitByReferences(
  text: string,
  systems: Readonly<Record<string, TicketSystem>>,
): ({ text: string } | { reference: TicketReference })[] {
  const parts: ({ text: string } | { reference: TicketReference })[] = [];
  let at = 0;
  for (const reference of ticketReferences(text, systems)) {
    if (reference.start > at) parts.push({ text: text.slice(at, reference.start) });
    parts.push({ reference });
    at = reference.end;
  }
  if (at < text.length) parts.push({ text: text.slice(at) });
  return parts;
}

/**
 * The first requirement the reason does not meet, or undefined when it meets all of them. Every
 * requirement that applies must hold (a namespace's and a level's both), each by a reference from
 * one of its systems; one reference may satisfy several.
 */
export function unmetTicketRequirement(
  reason: string,
  requirements: readonly TicketRequirement[],
  systems: Readonly<Record<string, TicketSystem>>,
): TicketRequirement | undefined {
  // Each system on its own: a broad pattern listed first must not hide a narrower one's reference.
  const names = (system: string) => {
    const declared = systems[system];
    return declared !== undefined && matcher(declared.pattern).test(reason);
  };
  return requirements.find((req) => !req.systems.some(names));
}
