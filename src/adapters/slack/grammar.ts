// The `/eks-access` command language. Forgiving where that is safe (keywords in any order, a bare
// duration, `in` for `on`, `reason:` for `because`), strict where guessing could grant the wrong thing.

import { parseDuration } from '../../domain/duration.js';
import { badInput } from '../../domain/errors.js';
import { GRANT_ID } from '../../domain/grant.js';

export type Command =
  | { kind: 'help' }
  | { kind: 'request-modal' }
  | {
      kind: 'request';
      namespace: string;
      cluster?: string;
      level?: string;
      duration?: string;
      reason?: string;
      /** A scheduled window's start as typed (`22:00`, `tomorrow 9:00`, `+2h`). */
      start?: string;
    }
  | { kind: 'list' }
  | { kind: 'approvals' }
  | { kind: 'whoami' }
  /** An approver ends someone's access; the reason (after `because`) reaches them. */
  | { kind: 'revoke'; id: string; reason?: string }
  | { kind: 'done'; id: string }
  /** `done all`: give back every grant of mine, active or approved (all targets of a request, …). */
  | { kind: 'done-all' }
  /** Break-glass: access at once under a policy rule, announced loudly, reviewed afterwards. */
  | {
      kind: 'breakglass';
      namespace: string;
      cluster?: string;
      level?: string;
      duration?: string;
      incident: string;
    }
  | { kind: 'cancel'; id: string }
  /** An approver approves from the command line, optionally shorter and with a reason. */
  | { kind: 'approve'; id: string; duration?: string; reason?: string }
  | { kind: 'extend'; id: string; duration?: string };

/** The subcommands; each has exactly one parser below (a missing one does not compile). */
const SUBCOMMANDS = [
  'help',
  'request',
  'list',
  'approvals',
  'whoami',
  'revoke',
  'extend',
  'done',
  'cancel',
  'approve',
  'breakglass',
] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

/**
 * Every Command kind comes from a subcommand (or is one's variant: a bare `request` opens the form, `done
 * all` ends everything): a kind added to Command without a subcommand to parse it does not compile.
 */
type Unparsed = Exclude<Command['kind'], Subcommand | 'request-modal' | 'done-all'>;
const everyKindParsed: [Unparsed] extends [never] ? true : Unparsed = true;
void everyKindParsed;

const SUBCOMMAND_ALIASES: Readonly<Record<string, Subcommand>> = {
  ...(Object.fromEntries(SUBCOMMANDS.map((s) => [s, s])) as Record<Subcommand, Subcommand>),
  req: 'request',
  ask: 'request',
  ls: 'list',
  mine: 'list',
  pending: 'approvals',
  release: 'done',
  withdraw: 'cancel',
  'break-glass': 'breakglass',
  emergency: 'breakglass',
  '?': 'help',
};

const KEYWORDS: Readonly<Record<string, 'cluster' | 'level' | 'duration' | 'reason' | 'start'>> = {
  from: 'start',
  starting: 'start',
  on: 'cluster',
  in: 'cluster',
  cluster: 'cluster',
  as: 'level',
  level: 'level',
  with: 'level',
  for: 'duration',
  duration: 'duration',
  because: 'reason',
  reason: 'reason',
  'reason:': 'reason',
};

const HELP_HINT = 'Type `/eks-access help` for the full list.';
const BREAK_GLASS_USAGE =
  'Write `breakglass <namespace> [on <cluster>] [as <level>] [for <duration>] because <incident…>`.';
const DAY = /^(today|tomorrow|\d{4}-\d{2}-\d{2})$/i;
const CLOCK_TIME = /^\d{1,2}[:.h]\d{2}$/;

/** Parses the text after `/eks-access`; throws bad_input saying what was expected. */
export function parseCommand(text: string): Command {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const first = words.shift()?.toLowerCase();
  if (first === undefined) return { kind: 'help' };
  const sub = SUBCOMMAND_ALIASES[first];
  if (sub === undefined) throw badInput(`"${first}" is not an eks-access command`, HELP_HINT);
  return PARSERS[sub](words);
}

/** One parser per subcommand, given the words after it. */
const PARSERS: { readonly [S in Subcommand]: (words: string[]) => Command } = {
  help: () => ({ kind: 'help' }),
  list: () => ({ kind: 'list' }),
  approvals: () => ({ kind: 'approvals' }),
  whoami: () => ({ kind: 'whoami' }),
  request: (words) => (words.length === 0 ? { kind: 'request-modal' } : parseRequest(words)),
  breakglass: (words) => {
    if (words.length === 0) {
      throw badInput('`breakglass` needs a namespace and the incident', BREAK_GLASS_USAGE);
    }
    const parsed = parseRequest(words);
    if (parsed.kind !== 'request') throw badInput('I did not understand that', BREAK_GLASS_USAGE);
    if (parsed.start)
      throw badInput('Break-glass is for now; a window is a `request … from …`', BREAK_GLASS_USAGE);
    const { kind: _, reason, start: _start, ...where } = parsed;
    if (!reason?.trim()) throw badInput('Break-glass needs the incident after `because`', BREAK_GLASS_USAGE);
    return { kind: 'breakglass', ...where, incident: reason };
  },
  done: (words) =>
    words.length === 1 && words[0]?.toLowerCase() === 'all'
      ? { kind: 'done-all' }
      : { kind: 'done', id: grantIdFrom('done', words) },
  revoke: (words) => {
    const because = words.findIndex((w) => ['because', 'reason', 'reason:'].includes(w.toLowerCase()));
    const reason =
      because === -1
        ? ''
        : words
            .slice(because + 1)
            .join(' ')
            .trim();
    const id = grantIdFrom('revoke', because === -1 ? words : words.slice(0, because));
    return { kind: 'revoke', id, ...(reason ? { reason } : {}) };
  },
  cancel: (words) => ({ kind: 'cancel', id: grantIdFrom('cancel', words) }),
  approve: (words) => {
    const id = grantIdFrom('extend', words.slice(0, 1));
    const rest = words.slice(1);
    const because = rest.findIndex((w) => ['because', 'reason', 'reason:'].includes(w.toLowerCase()));
    const head = because === -1 ? rest : rest.slice(0, because);
    const reason = because === -1 ? undefined : rest.slice(because + 1).join(' ');
    const duration = head.filter((w) => w.toLowerCase() !== 'for');
    if (duration.length > 1 || (duration[0] !== undefined && parseDuration(duration[0]) === undefined)) {
      throw badInput(
        `I did not understand "${head.join(' ')}"`,
        'Write `approve <id> [for <shorter duration>] [because <reason…>]`.',
      );
    }
    return {
      kind: 'approve',
      id,
      ...(duration[0] ? { duration: duration[0] } : {}),
      ...(reason ? { reason } : {}),
    };
  },
  extend: (words) => {
    const id = grantIdFrom('extend', words.slice(0, 1));
    const rest = words.slice(1).filter((w) => w.toLowerCase() !== 'for');
    if (rest.length > 1)
      throw badInput(`I did not understand "${rest.join(' ')}"`, 'Write `extend <id> for 1h`.');
    return rest[0] ? { kind: 'extend', id, duration: rest[0] } : { kind: 'extend', id };
  },
};

function grantIdFrom(sub: string, words: string[]): string {
  const id = words[0]?.toLowerCase();
  if (!id) throw badInput(`\`${sub}\` needs a request id`, `Write \`${sub} ea-…\`; \`list\` shows your ids.`);
  if (!GRANT_ID.test(id)) {
    throw badInput(
      `"${words[0]}" is not a request id`,
      'Request ids look like ea-7k2m9xab; `list` shows yours.',
    );
  }
  if (words.length > 1 && sub !== 'extend') {
    throw badInput(`\`${sub}\` takes only a request id`, `Write \`${sub} ${id}\`.`);
  }
  return id;
}

function parseRequest(words: string[]): Command {
  const [namespace, ...rest] = words;
  const found: { cluster?: string; level?: string; duration?: string; reason?: string; start?: string } = {};
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i] as string;
    const key = KEYWORDS[word.toLowerCase()];
    if (key === 'reason') {
      found.reason = rest.slice(i + 1).join(' ');
      break;
    }
    if (key) {
      const value = rest[i + 1];
      if (value === undefined) throw badInput(`"${word}" needs a value after it`, HELP_HINT);
      if (found[key] !== undefined) throw badInput(`${key} is given twice`, HELP_HINT);
      // A day and a time are two words: `from tomorrow 9:00`, `from 2026-12-01 22:00`.
      const time = rest[i + 2];
      if (key === 'start' && DAY.test(value) && time !== undefined && CLOCK_TIME.test(time)) {
        found.start = `${value} ${time}`;
        i += 2;
        continue;
      }
      found[key] = value;
      i += 1;
      continue;
    }
    // A bare `2h` is unambiguous: no namespace, cluster or level looks like a duration.
    if (found.duration === undefined && parseDuration(word) !== undefined) {
      found.duration = word;
      continue;
    }
    throw badInput(
      `I did not understand "${word}"`,
      'Write `request <namespace> [on <cluster>] [as <level>] [from <start>] [for <duration>] [because <reason…>]`.',
    );
  }
  return { kind: 'request', namespace: (namespace as string).toLowerCase(), ...found };
}
