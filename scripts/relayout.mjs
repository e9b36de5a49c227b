#!/usr/bin/env node
// One-time relayout of src/ (issue #21): the folders say which process runs a use case, and so what it
// may touch — src/bot/ (the bot: Slack-facing, Redis only), src/engine/ (the worker: the only writer to
// clusters and IAM), src/operator/ (the CLI), src/shared/ (more than one process, the bot among them).
//
// Run it from the repository, on main, after merging every branch that edits src/:
//   node scripts/relayout.mjs             move, rewrite, merge the architecture test, splice the README
//   node scripts/relayout.mjs --dry-run   say what it would do, change nothing
// Then: npx tsc --noEmit && npx vitest run --project unit && npx biome check --diagnostic-level=error .
//
// What it does:
//  1. `git mv`s every file in MOVES (a line whose source does not exist is skipped; one whose
//     destination already exists, with the source gone, is done).
//  2. Rewrites every relative specifier that names a moved file, or that sits in a moved file (imports,
//     `export … from`, `import()`, `vi.mock()`, any quoted './…' or '../…' that resolves to a file), in
//     every text file of the repository; and every path that names a moved file in text
//     (`src/services/activate.ts`, `services/activate.ts`, `dist/bin/runtime.js`, `../src/…`): docs,
//     README, comments, package.json, scripts.
//  3. Applies TEXT_EDITS (sentences that name a whole folder, which no path rewrite can get right).
//  4. Merges scripts/relayout-architecture.test.txt (the boundary rules for the new tree) into
//     test/unit/architecture.test.ts, and scripts/relayout-readme.md into README.md's "Layout of the
//     code" section: three-way, against the versions at BASE, so changes made on main since BASE stay.
//  5. Formats the rewritten TypeScript (biome: formatter and import sorting only, no lint fixes).
//  6. Reports, and exits non-zero for, any file left in a folder it empties (add a line to MOVES and run
//     it again), any conflict, and lists the text that still names an emptied folder.
//
// Running it twice is a no-op the second time. Delete it, and scripts/relayout-*, once it has run.

import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';

/** From → to. A file someone adds to an emptied folder is one more line here. */
const MOVES = [
  // The bot's use cases: Slack-facing, they decide and record in Redis, never write to a cluster or IAM.
  ['src/services/submit.ts', 'src/bot/submit.ts'],
  ['src/services/approved.ts', 'src/bot/approved.ts'],
  ['src/services/decide.ts', 'src/bot/decide.ts'],
  ['src/services/break-glass.ts', 'src/bot/break-glass.ts'],
  ['src/services/cancel.ts', 'src/bot/cancel.ts'],
  ['src/services/request-extension.ts', 'src/bot/request-extension.ts'],
  ['src/services/end-access.ts', 'src/bot/end-access.ts'],
  ['src/services/deps.ts', 'src/bot/deps.ts'],
  // The worker's engine: the only writer to clusters and IAM (the CLI runs it too).
  ['src/services/activate.ts', 'src/engine/activate.ts'],
  ['src/services/activation-guards.ts', 'src/engine/activation-guards.ts'],
  ['src/services/revoke.ts', 'src/engine/revoke.ts'],
  ['src/services/extend-grant.ts', 'src/engine/extend-grant.ts'],
  ['src/services/reconcile.ts', 'src/engine/reconcile.ts'],
  ['src/services/verify.ts', 'src/engine/verify.ts'],
  ['src/services/forged.ts', 'src/engine/forged.ts'],
  ['src/services/ledger.ts', 'src/engine/ledger.ts'], // the single-use ledger (issue #18), if merged
  ['src/services/rebuild.ts', 'src/engine/rebuild.ts'], // rebuilt records after Redis loss, if merged
  ['src/services/break-glass-counts.ts', 'src/engine/break-glass-counts.ts'], // reconcile restores them
  // The operator's CLI.
  ['src/services/doctor.ts', 'src/operator/doctor.ts'],
  ['src/services/plan.ts', 'src/operator/plan.ts'],
  ['src/services/render-permissions.ts', 'src/operator/render-permissions.ts'],
  // What more than one process runs (the bot among them: Redis only, like the bot).
  ['src/services/engine.ts', 'src/shared/grant-records.ts'], // to be split next: see SPLIT below
  ['src/services/end-grant.ts', 'src/shared/end-grant.ts'],
  ['src/services/reminders.ts', 'src/shared/reminders.ts'],
  ['src/services/home.ts', 'src/shared/home.ts'], // bot (list, App Home) and worker (the outbox's refresh)
  ['src/services/report.ts', 'src/shared/report.ts'], // CLI (report) and worker (weekly summary)
  ['src/services/weekly-summary.ts', 'src/shared/weekly-summary.ts'],
  ['src/services/audit-history.ts', 'src/shared/audit-history.ts'], // report's source (CLI and worker)
  // Composition roots: the runtime that holds the cluster and IAM clients says so.
  ['src/bin/runtime.ts', 'src/bin/engine-runtime.ts'],
];

// SPLIT (by hand, after this script, in its own commit): services/engine.ts holds four things, and the
// bot reaches it (updateGrant, changeGrant, audit), so it lands whole in shared/ and is then split:
//   shared/grant-records.ts   requireGrant, updateGrant, changeGrant, notifySafely, audit, isLive, and a
//                             new `RecordDeps` { store, audit, scheduler, notifier, clock, logger };
//                             shared/end-grant.ts and shared/reminders.ts take RecordDeps (or a Pick)
//   engine/deps.ts            EngineStep, EngineDeps (extends RecordDeps: locks, clusters, policy, seal,
//                             identity, afterStep), step
//   engine/sealed-bindings.ts sealVerdict, isSealed, sealedRoleBinding, liveSealedBindings
//   engine/identity-sync.ts   Person, identityLockKey, roleIdentityLockKey, IdentitySync, syncIdentity,
//                             withLiveGrants, retireIdentity, withIdentityLock, withLockOn
// then update the paths docs/engine.md, docs/reliability.md, chaos/ and bench/ give for them.

/** Folders the moves empty: a file left in one is reported, and the script exits non-zero. */
const EMPTIED = ['src/services'];

/** Sentences that name a whole folder: [file, text, replacement]. Missing text is reported, not fatal. */
const TEXT_EDITS = [
  [
    'docs/engine.md',
    'The Slack flow, the CLI and the tests all call the same functions\n(`src/services/`), with a `deps` object built by',
    'The worker, the CLI and the tests all call the same functions\n(`src/engine/`; `endGrant`, which the bot calls too, in `src/shared/`), with a `deps` object\nbuilt by',
  ],
  ['docs/slack.md', 'calls one use case in `src/services/`:', 'calls one use case in `src/bot/`:'],
  [
    'docs/slack.md',
    'worker applies it in `extend-grant.ts`)',
    'worker applies it in `src/engine/extend-grant.ts`)',
  ],
  [
    'src/adapters/slack/handlers/register.ts',
    'calls one use case in src/services/ and renders.',
    'calls one use case in src/bot/ and renders.',
  ],
  [
    'src/ports/cluster.ts',
    '(`bindingSealVerdict` in services/seal-check.ts)',
    '(`sealVerdict` in shared/grant-records.ts)',
  ],
];

/** The main commit the architecture test and README templates were written against (three-way base). */
const BASE = 'e727ab3cddbae646270a16931202d8b29929fc49';
const ARCHITECTURE_TEST = 'test/unit/architecture.test.ts';
const ARCHITECTURE_TEMPLATE = 'scripts/relayout-architecture.test.txt';
/** Present in the architecture test once it holds the new tree's rules. */
const ARCHITECTURE_MARK = 'const PROCESS_FOLDERS';
const README = 'README.md';
const README_TEMPLATE = 'scripts/relayout-readme.md';
const README_HEADING = '## Layout of the code';

const DRY = process.argv.includes('--dry-run');
const git = (...args) => execFileSync('git', args, { encoding: 'utf8', maxBuffer: 1 << 28 });
process.chdir(git('rev-parse', '--show-toplevel').trim());

const unmerged = git('diff', '--name-only', '--diff-filter=U').trim();
if (unmerged) {
  console.error(`Resolve the merge first; these files have conflicts:\n${unmerged}`);
  process.exit(2);
}

const problems = [];
const notes = [];

// ---- which moves apply ---------------------------------------------------------------------------

const listed = git('ls-files', '-z', '--cached', '--others', '--exclude-standard').split('\0');
const files = [...new Set(listed)].filter((f) => f && existsSync(f) && !isDirectory(f));
const fileSet = new Set(files);

/** Moves to make now (source present, destination free). */
const pending = new Map();
/** Every move whose old path text may still name (pending or already made). */
const renamed = new Map();
for (const [from, to] of MOVES) {
  const hasFrom = fileSet.has(from);
  const hasTo = fileSet.has(to);
  if (hasFrom && hasTo) {
    problems.push(`${from} and ${to} both exist: move or merge one by hand, then run again`);
    continue;
  }
  if (hasFrom) pending.set(from, to);
  renamed.set(from, to);
}
const newPath = (p) => pending.get(p) ?? p;

// ---- rewrites ------------------------------------------------------------------------------------

const SELF = (f) => f.startsWith('scripts/relayout');
const CODE = /\.(ts|mts|cts|tsx|js|mjs|cjs)$/;
const changed = new Map(); // file (old path) → new text

for (const file of files) {
  if (SELF(file) || file === 'package-lock.json') continue;
  const text = readText(file);
  if (text === undefined) continue;
  let next = CODE.test(file) ? rewriteSpecifiers(file, text) : text;
  next = rewritePaths(next);
  for (const [target, from, to] of TEXT_EDITS) if (target === file) next = next.split(from).join(to);
  if (next !== text) changed.set(file, next);
}
for (const [target, from, to] of TEXT_EDITS) {
  const text = changed.get(target) ?? readText(target) ?? '';
  if (!text.includes(to) && !text.includes(from)) notes.push(`TEXT_EDITS: ${target} no longer says "${from}"`);
}

/** Quoted relative specifiers ('./x.js', "../../src/y.js", `../z.ts`), without interpolation. */
function rewriteSpecifiers(file, text) {
  const dir = posix.dirname(file);
  const newDir = posix.dirname(newPath(file));
  return text.replace(/(['"`])(\.\.?\/[^'"`\s$]*)\1/g, (whole, quote, spec) => {
    const target = resolveSpecifier(dir, spec);
    if (!target) return whole;
    const moved = newPath(target.file);
    if (moved === target.file && newDir === dir) return whole;
    let next = posix.relative(newDir, moved);
    if (target.swap) next = next.slice(0, -target.swap[0].length) + target.swap[1];
    if (!next.startsWith('.')) next = `./${next}`;
    return `${quote}${next}${quote}`;
  });
}

/** The file a specifier names: itself, or the .ts behind a .js (NodeNext imports name the output). */
function resolveSpecifier(dir, spec) {
  const path = posix.normalize(posix.join(dir, spec));
  if (fileSet.has(path)) return { file: path };
  for (const [js, ts] of [
    ['.js', '.ts'],
    ['.mjs', '.mts'],
    ['.cjs', '.cts'],
    ['.jsx', '.tsx'],
  ]) {
    const source = path.slice(0, -js.length) + ts;
    if (path.endsWith(js) && fileSet.has(source)) return { file: source, swap: [ts, js] };
  }
  return undefined;
}

/** Paths in prose and strings: `src/services/x.ts`, `services/x.ts`, `dist/bin/runtime.js`, `../src/…`. */
function rewritePaths(text) {
  let next = text;
  for (const [from, to] of renamed) {
    const oldTail = from.replace(/^src\//, '').replace(/\.ts$/, '');
    const newTail = to.replace(/^src\//, '').replace(/\.ts$/, '');
    const pattern = new RegExp(
      `(?<![\\w./-])((?:\\.\\./)*(?:src|dist)/)?${escape(oldTail)}\\.(ts|js)(?![\\w-])`,
      'g',
    );
    next = next.replace(pattern, (_whole, prefix = '', extension) => `${prefix}${newTail}.${extension}`);
  }
  return next;
}

// ---- the architecture test and the README section: three-way merges against BASE ------------------

const architecture = changed.get(ARCHITECTURE_TEST) ?? readText(ARCHITECTURE_TEST);
if (architecture === undefined) {
  problems.push(`${ARCHITECTURE_TEST} is missing: copy ${ARCHITECTURE_TEMPLATE} there`);
} else if (!architecture.includes(ARCHITECTURE_MARK)) {
  const base = baseText(ARCHITECTURE_TEST);
  const template = readFileSync(ARCHITECTURE_TEMPLATE, 'utf8');
  changed.set(ARCHITECTURE_TEST, mergeThreeWay(ARCHITECTURE_TEST, architecture, base && rewritePaths(base), template));
}

const readme = changed.get(README) ?? readText(README) ?? '';
const readmeSection = section(readme);
const newSection = readFileSync(README_TEMPLATE, 'utf8');
if (!readmeSection) {
  problems.push(`${README} has no "${README_HEADING}" section: add ${README_TEMPLATE} by hand`);
} else if (readmeSection.text !== newSection) {
  const markLine = newSection.split('\n').find((l, i) => i > 0 && l.trim() !== '');
  if (!readmeSection.text.includes(markLine)) {
    const baseReadme = baseText(README);
    const base = baseReadme === undefined ? undefined : (section(rewritePaths(baseReadme))?.text ?? '');
    const merged = mergeThreeWay(`${README} (${README_HEADING})`, readmeSection.text, base, newSection);
    changed.set(README, readme.slice(0, readmeSection.start) + merged + readme.slice(readmeSection.end));
  }
}

/** The section from its heading to the next `## ` heading (or the end). */
function section(text) {
  const start = text.indexOf(`\n${README_HEADING}\n`);
  if (start < 0) return undefined;
  const next = text.indexOf('\n## ', start + 1);
  const end = next < 0 ? text.length : next + 1;
  return { start: start + 1, end, text: text.slice(start + 1, end) };
}

function baseText(file) {
  const shown = spawnSync('git', ['show', `${BASE}:${file}`], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (shown.status === 0) return shown.stdout;
  return undefined;
}

/** Ours (the template) merged with what changed on main since BASE; conflicts left marked and reported. */
function mergeThreeWay(name, current, base, ours) {
  if (current === base || current === ours) return ours;
  if (base === undefined) {
    problems.push(
      `${name}: commit ${BASE.slice(0, 8)} is not here, so it was replaced by the template; re-apply by hand ` +
        `what main changed there since (git log -p ${BASE.slice(0, 8)}.. -- ${name.split(' ')[0]})`,
    );
    return ours;
  }
  const dir = mkdtempSync(join(tmpdir(), 'relayout-'));
  try {
    const paths = ['current', 'base', 'relayout'].map((n) => join(dir, n));
    [current, base, ours].forEach((text, i) => writeFileSync(paths[i], text));
    const merged = spawnSync(
      'git',
      ['merge-file', '-p', '-L', 'relayout', '-L', 'main at BASE', '-L', 'main now', paths[2], paths[1], paths[0]],
      { encoding: 'utf8' },
    );
    if (merged.status === null || merged.status < 0) throw new Error(`git merge-file failed: ${merged.stderr}`);
    if (merged.status > 0) problems.push(`${name}: ${merged.status} merge conflict(s) marked, resolve by hand`);
    else notes.push(`${name}: merged with the changes made on main since ${BASE.slice(0, 8)}`);
    return merged.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- leftovers: files in an emptied folder, text that still names one ----------------------------

const leftovers = files.filter((f) => EMPTIED.some((d) => f.startsWith(`${d}/`)) && !pending.has(f));
for (const f of leftovers) {
  problems.push(
    `${f} is not in MOVES and stays in ${posix.dirname(f)}/: add a line ` +
      `['${f}', 'src/<bot|engine|operator|shared>/${posix.basename(f)}'] and run again`,
  );
}

const stale = [];
for (const file of files) {
  if (SELF(file) || file === 'package-lock.json') continue;
  const text = changed.get(file) ?? readText(file);
  if (text === undefined) continue;
  text.split('\n').forEach((line, i) => {
    for (const dir of EMPTIED) {
      const tail = dir.replace(/^src\//, '');
      if (new RegExp(`(?<![\\w-])(src/)?${escape(tail)}/(?=[\\w\`'"\\s)]|$)`).test(line)) {
        stale.push(`${newPath(file)}:${i + 1}: ${line.trim().slice(0, 140)}`);
      }
    }
  });
}

// ---- apply ---------------------------------------------------------------------------------------

console.log(
  `${DRY ? 'would move' : 'moving'} ${pending.size} file(s), ${DRY ? 'would rewrite' : 'rewriting'} ${changed.size}`,
);
for (const [from, to] of pending) console.log(`  ${from} → ${to}`);
if (DRY) {
  for (const file of changed.keys()) console.log(`  rewrite ${file}`);
} else {
  for (const [file, text] of changed) writeFileSync(file, text);
  const tracked = new Set(git('ls-files', '-z').split('\0'));
  for (const [from, to] of pending) {
    mkdirSync(posix.dirname(to), { recursive: true });
    if (tracked.has(from)) git('mv', from, to);
    else execFileSync('mv', [from, to]);
  }
  for (const dir of EMPTIED) if (existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
  format([...changed.keys()].map(newPath).filter((f) => /\.(ts|mts)$/.test(f)));
}

for (const note of notes) console.log(`note: ${note}`);
if (stale.length > 0) {
  console.log(`\nText that still names ${EMPTIED.join(', ')} (reword by hand where it matters):`);
  for (const line of stale) console.log(`  ${line}`);
}
if (problems.length > 0) {
  console.error(`\n${problems.length} problem(s):`);
  for (const p of problems) console.error(`  - ${p}`);
  process.exit(2);
}
if (pending.size + changed.size === 0) console.log('nothing to do: already laid out');
else if (!DRY) {
  console.log('done; now: npx tsc --noEmit && npx vitest run --project unit && npx biome check --diagnostic-level=error .');
  console.log('then split src/shared/grant-records.ts as SPLIT at the top of this script says');
}

// ---- helpers -------------------------------------------------------------------------------------

/** Formatter and import order only (a moved import sorts differently); lint fixes are not ours to make. */
function format(paths) {
  const biome = 'node_modules/.bin/biome';
  if (paths.length === 0) return;
  if (!existsSync(biome)) {
    notes.push(`no ${biome}: run \`npx biome check --write --linter-enabled=false\` on the rewritten files`);
    return;
  }
  const run = spawnSync(biome, ['check', '--write', '--linter-enabled=false', '--no-errors-on-unmatched', ...paths], {
    encoding: 'utf8',
  });
  if (run.status !== 0) {
    const summary = `${run.stdout}${run.stderr}`.split('\n').filter((l) => /^\S.*:\d+:\d+ |^Found /.test(l) && !l.includes('DEPRECATED'));
    notes.push(`biome could not format everything (npx biome check shows why):\n  ${summary.join('\n  ')}`);
  }
}

function readText(file) {
  if (!existsSync(file)) return undefined;
  const bytes = readFileSync(file);
  if (bytes.includes(0)) return undefined;
  return bytes.toString('utf8');
}

function isDirectory(path) {
  try {
    readdirSync(path);
    return true;
  } catch {
    return false;
  }
}

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
