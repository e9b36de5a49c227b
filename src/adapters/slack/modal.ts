// The request modal: cluster → namespace → level → duration → reason, every choice from the policy.
// Changing a choice re-renders the modal in place (views.update) with the dependent choices and the
// dry-run preview. Pure builders plus a reader of the submitted state.
import type { Policy } from '../../config/policy.js';
import { approvalNeed, MAX_REASON_LENGTH } from '../../domain/decisions.js';
import { formatDuration, parseDuration } from '../../domain/duration.js';
import { levelWarningsFor } from '../../domain/plan.js';
import { approvalNeedText } from '../../domain/text.js';
import { type Block, context, cut, LIMITS, section } from './blocks.js';

export const REQUEST_MODAL = 'request_modal';
export const MODAL_ACTIONS = {
  cluster: 'req_cluster',
  namespace: 'req_namespace',
  level: 'req_level',
  duration: 'req_duration',
  reason: 'req_reason',
  start: 'req_start',
} as const;

export interface ModalState {
  cluster?: string | undefined;
  namespace?: string | undefined;
  level?: string | undefined;
  duration?: string | undefined;
  reason?: string | undefined;
  /** A window's start as an ISO time (from the date-time picker); absent for access now. */
  start?: string | undefined;
}

const plain = (text: string, max: number) => ({
  type: 'plain_text' as const,
  text: cut(text, max),
  emoji: true,
});
const option = (value: string, label = value) => ({
  text: plain(label, LIMITS.option),
  value: cut(value, 150),
});

/** Slack shows at most 100 options in a static select; past that, choices come from a search. */
export const MAX_STATIC_OPTIONS = 100;

/**
 * A cluster's namespaces matching what the person typed (case-insensitive, anywhere in the name):
 * exact and prefix matches first, then alphabetical, at most Slack's 100. For the external select.
 */
export function namespaceOptions(policy: Policy, cluster: string | undefined, query: string) {
  const q = query.trim().toLowerCase();
  const names = (cluster ? (policy.clusters[cluster]?.namespaces ?? []) : []).map((n) => n.name);
  const rank = (name: string) => (name === q ? 0 : name.startsWith(q) ? 1 : 2);
  return names
    .filter((name) => name.includes(q))
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    .slice(0, MAX_STATIC_OPTIONS)
    .map((name) => option(name));
}

/**
 * The namespace choice: a static select while Slack can show them all, a search (external_select,
 * answered by namespaceOptions) beyond 100, so no namespace silently disappears from the form.
 */
function namespaceSelect(names: string[], initial: string | undefined): Block {
  if (names.length <= MAX_STATIC_OPTIONS)
    return select(
      MODAL_ACTIONS.namespace,
      'Namespace',
      names.map((value) => ({ value })),
      initial,
      true,
    );
  return {
    type: 'input',
    block_id: MODAL_ACTIONS.namespace,
    dispatch_action: true,
    label: plain('Namespace', 2000),
    hint: plain(`${names.length} namespaces: type part of a name to search.`, 2000),
    element: {
      type: 'external_select',
      action_id: MODAL_ACTIONS.namespace,
      placeholder: plain('Type to search namespaces', 150),
      min_query_length: 0,
      ...(initial && names.includes(initial) ? { initial_option: option(initial) } : {}),
    },
  };
}

function select(
  blockId: string,
  label: string,
  options: { value: string; label?: string }[],
  initial: string | undefined,
  dispatch: boolean,
): Block {
  const opts = options.slice(0, MAX_STATIC_OPTIONS).map((o) => option(o.value, o.label));
  const initialOption = opts.find((o) => o.value === initial);
  return {
    type: 'input',
    block_id: blockId,
    dispatch_action: dispatch,
    label: plain(label, 2000),
    element: {
      type: 'static_select',
      action_id: blockId,
      placeholder: plain(`Choose a ${label.toLowerCase()}`, 150),
      options: opts,
      ...(initialOption ? { initial_option: initialOption } : {}),
    },
  };
}

/** Durations offered for a level: common steps up to its maximum, plus its default. */
export function durationChoices(defaultDuration: string, maxDuration: string): string[] {
  const max = parseDuration(maxDuration) ?? 0;
  const steps = [900, 1800, 3600, 7200, 14_400, 28_800, 43_200, 86_400].filter((s) => s <= max);
  const all = new Set([...steps, parseDuration(defaultDuration) ?? 3600, max]);
  return [...all].sort((a, b) => a - b).map(formatDuration);
}

/** Fills in what the policy makes obvious (one cluster, one namespace, the level's default duration). */
export function normalizeState(
  policy: Policy,
  state: ModalState,
): Required<Omit<ModalState, 'reason' | 'start'>> & { reason: string; start?: string | undefined } {
  const clusters = Object.keys(policy.clusters);
  const cluster =
    state.cluster && policy.clusters[state.cluster]
      ? state.cluster
      : clusters.length === 1
        ? clusters[0]
        : undefined;
  const namespaces = cluster ? (policy.clusters[cluster]?.namespaces ?? []) : [];
  const namespace = namespaces.some((n) => n.name === state.namespace)
    ? state.namespace
    : namespaces.length === 1
      ? namespaces[0]?.name
      : undefined;
  const levels = namespaces.find((n) => n.name === namespace)?.levels ?? [];
  const level = state.level && levels.includes(state.level) ? state.level : levels[0];
  const levelPolicy = level ? policy.levels[level] : undefined;
  const choices = levelPolicy ? durationChoices(levelPolicy.defaultDuration, levelPolicy.maxDuration) : [];
  const duration =
    state.duration && choices.includes(state.duration)
      ? state.duration
      : levelPolicy
        ? formatDuration(parseDuration(levelPolicy.defaultDuration) ?? 0)
        : undefined;
  return {
    cluster: cluster as string,
    namespace: namespace as string,
    level: level as string,
    duration: duration as string,
    ...(state.start ? { start: state.start } : {}),
    reason: state.reason ?? '',
  };
}

/** Who fills in the form, as far as an auto-approve rule asks (the groups the bot looked up). */
export interface FormRequester {
  slackUserId: string;
  memberOfGroups: readonly string[];
}

/**
 * What the chosen request needs, from the same approvalNeed the command, the approval message and the
 * worker use: the count and why, a privileged level's warning, and when a rule would approve it at
 * once (or would for a shorter duration).
 */
function approvalBlocks(
  policy: Policy,
  state: { cluster: string; namespace: string; level: string; duration: string },
  channel: string,
  requester: FormRequester | undefined,
): Block[] {
  const request = { ...state, durationSeconds: parseDuration(state.duration) ?? 0 };
  const need = approvalNeed(policy, request, requester);
  const blocks: Block[] = [
    section(
      need.auto
        ? `*Approval:* ${approvalNeedText(need, state.level)}.`
        : `*Approval:* ${approvalNeedText(need, state.level)} in <#${channel}>.`,
    ),
  ];
  const level = policy.levels[state.level];
  if (need.privileged && level) {
    blocks.push(
      section(`:warning: ${levelWarningsFor(state.level, level).join(' ')} Approvers are asked to confirm.`),
    );
  }
  if (!need.auto && requester) {
    const shortest = durationChoices(level?.defaultDuration ?? '0s', level?.maxDuration ?? '0s')[0];
    const shorter = approvalNeed(
      policy,
      { ...request, durationSeconds: parseDuration(shortest ?? '') ?? 0 },
      requester,
    );
    if (shorter.auto) {
      blocks.push(
        context(
          `For up to ${shorter.auto.rule.maxDuration} the policy approves ${state.level} here at once (auto-approve rule ${shorter.auto.actor}).`,
        ),
      );
    }
  }
  return blocks;
}

export function requestModal(
  policy: Policy,
  input: ModalState,
  preview: string | undefined,
  requester?: FormRequester,
): Record<string, unknown> {
  const state = normalizeState(policy, input);
  const blocks: Block[] = [
    select(
      MODAL_ACTIONS.cluster,
      'Cluster',
      Object.entries(policy.clusters).map(([name, c]) => ({ value: name, label: `${name} (${c.region})` })),
      state.cluster,
      true,
    ),
  ];
  const cluster = state.cluster ? policy.clusters[state.cluster] : undefined;
  if (cluster) {
    blocks.push(
      namespaceSelect(
        cluster.namespaces.map((n) => n.name),
        state.namespace,
      ),
    );
  }
  const ns = cluster?.namespaces.find((n) => n.name === state.namespace);
  if (ns) {
    blocks.push(
      select(
        MODAL_ACTIONS.level,
        'Access level',
        ns.levels.map((l) => ({
          value: l,
          label: `${l}${policy.levels[l]?.description ? ` — ${policy.levels[l]?.description}` : ''}`,
        })),
        state.level,
        true,
      ),
    );
  }
  const level = state.level ? policy.levels[state.level] : undefined;
  if (ns && level) {
    blocks.push(
      select(
        MODAL_ACTIONS.duration,
        'Duration',
        durationChoices(level.defaultDuration, level.maxDuration).map((d) => ({ value: d })),
        state.duration,
        // Re-rendered on change: an auto-approve rule covers durations up to its maximum only.
        true,
      ),
      {
        type: 'input',
        block_id: MODAL_ACTIONS.reason,
        optional: !(ns.requireReason ?? policy.settings.requireReason),
        label: plain('Reason', 2000),
        hint: plain('An incident or ticket helps approvers decide quickly.', 2000),
        element: {
          type: 'plain_text_input',
          action_id: MODAL_ACTIONS.reason,
          multiline: true,
          max_length: MAX_REASON_LENGTH,
          ...(state.reason ? { initial_value: state.reason } : {}),
        },
      },
      {
        type: 'input',
        block_id: MODAL_ACTIONS.start,
        optional: true,
        // Slack adds "(optional)" to an optional input's label itself.
        label: plain('Start later', 2000),
        hint: plain(
          `Leave empty for access now. A window starts at this time (your time zone) and ends after the duration; at most ${policy.settings.windows.maxAhead} ahead.`,
          2000,
        ),
        element: {
          type: 'datetimepicker',
          action_id: MODAL_ACTIONS.start,
          ...(state.start ? { initial_date_time: Math.floor(Date.parse(state.start) / 1000) } : {}),
        },
      },
      ...approvalBlocks(
        policy,
        {
          cluster: state.cluster ?? '',
          namespace: ns.name,
          level: state.level ?? '',
          duration: state.duration ?? level.defaultDuration,
        },
        ns.channel,
        requester,
      ),
    );
    blocks.push(
      section(
        preview
          ? `*This would create:*\n${preview}`
          : '_The preview appears once eks-access knows who you are on AWS._',
      ),
    );
  }
  return {
    type: 'modal',
    callback_id: REQUEST_MODAL,
    private_metadata: cut(
      JSON.stringify({ cluster: state.cluster, namespace: state.namespace, level: state.level }),
      3000,
    ),
    title: plain('Request access', LIMITS.modalTitle),
    submit: plain('Request', 24),
    close: plain('Cancel', 24),
    blocks,
  };
}

type StateValues = Record<
  string,
  Record<
    string,
    { selected_option?: { value?: string } | null; value?: string | null; selected_date_time?: number | null }
  >
>;

/** Reads the modal's current choices from Slack's `view.state.values`. */
export function readModalState(values: StateValues | undefined): ModalState {
  const pick = (id: string) => {
    const field = values?.[id]?.[id];
    return field?.selected_option?.value ?? field?.value ?? undefined;
  };
  return {
    cluster: pick(MODAL_ACTIONS.cluster),
    namespace: pick(MODAL_ACTIONS.namespace),
    level: pick(MODAL_ACTIONS.level),
    duration: pick(MODAL_ACTIONS.duration),
    reason: pick(MODAL_ACTIONS.reason),
    start: startOf(values?.[MODAL_ACTIONS.start]?.[MODAL_ACTIONS.start]?.selected_date_time),
  };
}

/** The picker's unix seconds as an ISO time, the form the command's `from 2026-12-01T22:00:00Z` takes. */
const startOf = (seconds: number | null | undefined): string | undefined =>
  typeof seconds === 'number' && Number.isFinite(seconds)
    ? new Date(seconds * 1000).toISOString()
    : undefined;
