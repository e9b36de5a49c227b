// Loads and validates configuration once, reporting every problem together with its path and a hint.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { AccessError } from '../domain/errors.js';
import { type Env, envSchema } from './env.js';
import { levelWarnings, type Policy, policySchema } from './policy.js';

export interface LoadedPolicy {
  policy: Policy;
  /** Non-fatal findings worth showing to whoever wrote the policy (doctor, start-up log). */
  warnings: string[];
  source: string;
}

function describeIssues(issues: readonly z.core.$ZodIssue[], source: string): string {
  return issues
    .map((issue) => {
      const where = issue.path.length > 0 ? issue.path.map(String).join('.') : '(top level)';
      return `  ${source}: ${where}: ${issue.message}`;
    })
    .join('\n');
}

export function parseEnv(raw: Record<string, string | undefined>): Env {
  const result = envSchema.safeParse(raw);
  if (!result.success) {
    throw new AccessError(
      'misconfigured',
      `The environment is not valid:\n${describeIssues(result.error.issues, 'env')}`,
    );
  }
  return Object.freeze(result.data);
}

/** Parses policy YAML text; throws one `misconfigured` error listing every problem. */
export function parsePolicy(text: string, source = 'policy'): LoadedPolicy {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new AccessError(
      'misconfigured',
      `${source} is not valid YAML:\n${doc.errors.map((e) => `  ${e.message}`).join('\n')}`,
    );
  }
  const result = policySchema.safeParse(doc.toJS() ?? {});
  if (!result.success) {
    throw new AccessError(
      'misconfigured',
      `${source} has ${result.error.issues.length} problem(s):\n${describeIssues(result.error.issues, source)}`,
    );
  }
  const policy = deepFreeze(result.data);
  const warnings = Object.entries(policy.levels).flatMap(([name, level]) => levelWarnings(name, level));
  return { policy, warnings, source };
}

/** The policy file: POLICY_FILE, else ./policy.yaml, else the shipped policy.example.yaml. */
export function resolvePolicyPath(env: Pick<Env, 'POLICY_FILE'>, cwd = process.cwd()): string {
  if (env.POLICY_FILE) return resolve(cwd, env.POLICY_FILE);
  const local = resolve(cwd, 'policy.yaml');
  return existsSync(local) ? local : resolve(cwd, 'policy.example.yaml');
}

export function loadPolicyFile(path: string): LoadedPolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new AccessError('misconfigured', `Cannot read the policy file ${path}`, {
      hint: 'Set POLICY_FILE, or copy policy.example.yaml to policy.yaml.',
      cause: error,
    });
  }
  return parsePolicy(text, path);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
