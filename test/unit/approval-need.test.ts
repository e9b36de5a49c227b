// Issue #19 §1: the request form once counted approvals its own way (1 for a privileged level that
// needs 2). The form, the command's reply, the approval message and the worker's re-check must agree,
// for every level, namespace and offered duration of the example policy.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { approvalMessage, requestedText } from '../../src/adapters/slack/blocks.js';
import { durationChoices, requestModal } from '../../src/adapters/slack/modal.js';
import { parsePolicy } from '../../src/config/load.js';
import type { Policy } from '../../src/config/policy.js';
import { approvalNeed, assertApprovalsHold, resolveRequest } from '../../src/domain/decisions.js';
import { parseDuration } from '../../src/domain/duration.js';
import type { Approval, Grant } from '../../src/domain/grant.js';
import { approvalNeedText } from '../../src/domain/text.js';
import { blocksText } from '../support/slack/index.js';

const example = readFileSync(new URL('../../policy.example.yaml', import.meta.url), 'utf8');
const { policy } = parsePolicy(example, 'policy.example.yaml');
const NOW = Date.UTC(2026, 0, 1, 12, 0);
const REQUESTER = { slackUserId: 'U0000ALICE', memberOfGroups: [] as string[] };

/** Every cluster × namespace × level × offered duration the example policy lets someone ask for. */
function everyRequest(p: Policy) {
  return Object.entries(p.clusters).flatMap(([cluster, c]) =>
    c.namespaces.flatMap((ns) =>
      ns.levels.flatMap((level) => {
        const lp = p.levels[level];
        if (!lp) return [];
        return durationChoices(lp.defaultDuration, lp.maxDuration).map((duration) => ({
          cluster,
          namespace: ns.name,
          level,
          duration,
        }));
      }),
    ),
  );
}

/** The count the form shows: `*Approval:* none…` or `*Approval:* 2 approvals…`. */
function formCount(text: string): number {
  const shown = /\*Approval:\* (none|(\d+) approvals?)/.exec(text);
  if (!shown) throw new Error(`the form shows no approval count:\n${text}`);
  return shown[1] === 'none' ? 0 : Number(shown[2]);
}

/** The count the command's reply states: approved by policy is 0. */
function replyCount(text: string): number {
  if (text.includes('was approved by policy')) return 0;
  const shown = /It needs (\d+) approvals?/.exec(text);
  if (!shown) throw new Error(`the reply states no count: ${text}`);
  return Number(shown[1]);
}

/** The count the approval message shows: `0 of 2 approvals` while waiting, none when a rule approved. */
function messageCount(text: string): number {
  if (/\*Approved\* by the auto-approve rule/.test(text)) return 0;
  const shown = /\*Waiting for approval\* — 0 of (\d+) approvals?/.exec(text);
  if (!shown) throw new Error(`the approval message shows no count:\n${text}`);
  return Number(shown[1]);
}

/** The fewest qualifying approvals with which the worker's re-check lets the grant through. */
function workerCount(p: Policy, grant: Grant): number {
  if (grant.approvals.some((a) => a.autoRule)) {
    assertApprovalsHold(p, grant);
    return 0;
  }
  const ns = p.clusters[grant.cluster]?.namespaces.find((n) => n.name === grant.namespace);
  const approver = (i: number): Approval =>
    ns?.approvers.users[i] !== undefined
      ? { slackUserId: ns.approvers.users[i] as string, at: NOW }
      : { slackUserId: `U0APPROVER${i}`, at: NOW, viaGroups: [...(ns?.approvers.groups ?? [])] };
  for (let n = 1; n <= 10; n++) {
    const approvals = Array.from({ length: n }, (_, i) => approver(i));
    try {
      assertApprovalsHold(p, { ...grant, status: 'approved', approvals });
      return n;
    } catch {
      // one more approver
    }
  }
  throw new Error(`the worker accepts ${grant.id} with no number of approvals`);
}

/** The grant as submit stores it (the fields the builders and the worker read). */
function grantFor(p: Policy, request: ReturnType<typeof everyRequest>[number]): Grant {
  const resolved = resolveRequest(p, { ...request, reason: 'CHG-1234 checking the rollout' });
  const need = approvalNeed(p, resolved, REQUESTER);
  return {
    id: 'ea-abcd2345',
    version: 1,
    status: need.auto ? 'approved' : 'pending',
    requester: {
      slackUserId: REQUESTER.slackUserId,
      principalArn: 'arn:aws:iam::111122223333:user/alice',
      kubernetesUsername: 'eks-access:111122223333:user:alice',
    },
    cluster: resolved.cluster,
    namespace: resolved.namespace,
    level: resolved.level,
    durationSeconds: resolved.durationSeconds,
    reason: resolved.reason,
    requiredApprovals: resolved.requiredApprovals,
    approvals: need.auto ? [{ slackUserId: need.auto.actor, at: NOW, autoRule: need.auto.actor }] : [],
    createdAt: NOW,
    pendingUntil: NOW + 86_400_000,
    extensions: [],
  };
}

describe('one approval count (issue #19 §1)', () => {
  const requests = everyRequest(policy);

  it('the example policy offers a privileged level, an auto-approved one and one that needs an approver', () => {
    const needs = requests.map((r) =>
      approvalNeed(policy, { ...r, durationSeconds: parseDuration(r.duration) ?? 0 }, REQUESTER),
    );
    expect(needs.some((n) => n.why === 'privileged' && n.count === 2)).toBe(true);
    expect(needs.some((n) => n.why === 'auto-approve' && n.count === 0)).toBe(true);
    expect(needs.some((n) => n.why === 'namespace' && n.count === 1)).toBe(true);
  });

  it.each(requests)(
    'form, reply, approval message and worker agree: $level in $namespace on $cluster for $duration',
    (request) => {
      const grant = grantFor(policy, request);
      const need = approvalNeed(policy, grant, REQUESTER);
      const form = blocksText(requestModal(policy, request, undefined, REQUESTER)['blocks'] as never);
      const counts = {
        form: formCount(form),
        reply: replyCount(requestedText(grant, need)),
        message: messageCount(blocksText(approvalMessage(policy, grant, NOW).blocks as never)),
        worker: workerCount(policy, grant),
      };
      expect(counts).toEqual({
        form: need.count,
        reply: need.count,
        message: need.count,
        worker: need.count,
      });
      // The form says why, and warns of a privileged level.
      expect(form).toContain(approvalNeedText(need, request.level));
      expect(form.includes(':warning: Privileged level')).toBe(policy.levels[request.level]?.privileged);
      // Slack adds "(optional)" to an optional input's label itself (issue #19 §6).
      expect(form).toContain('Start later');
      expect(form).not.toContain('(optional)');
    },
  );

  it('the form says when a shorter duration would be approved at once', () => {
    const view = blocksText(
      requestModal(
        policy,
        { cluster: 'prod-eu', namespace: 'test', level: 'view', duration: '2h' },
        undefined,
        REQUESTER,
      )['blocks'] as never,
    );
    expect(view).toContain('*Approval:* 1 approval in <#C0APPROVALS>');
    expect(view).toContain('For up to 1h the policy approves view here at once');
  });
});
