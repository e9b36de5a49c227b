// The request form through the real Bolt App, the fake Slack and real Redis: bare `request` opens it,
// choosing a cluster re-renders the dependent choices in place (views.update with the view's hash) with
// the dry run, a bad submission is answered next to the field, a good one becomes a request.
import { afterEach, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/poll.js';
import {
  blocksText,
  checkOptionsResponse,
  type Obj,
  readManifest,
  type View,
} from '../support/slack/index.js';
import { ALICE, type Harness, harnessPool, NOBODY, openHome } from './harness.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

type Blocks = View['blocks'];

/** The option values of the select with this block id, and the one shown as chosen. */
function select(blocks: Blocks, blockId: string): { options: string[]; initial: string | undefined } {
  const block = blocks.find((b) => b.block_id === blockId);
  const element = block?.['element'] as
    | { options?: { value: string }[]; initial_option?: { value: string } }
    | undefined;
  return {
    options: (element?.options ?? []).map((o) => o.value),
    initial: element?.initial_option?.value,
  };
}

const chosen = (value: string) => ({ type: 'static_select', selected_option: { value } });
const typed = (value: string) => ({ type: 'plain_text_input', value });

function formValues(h: Harness, overrides: Record<string, Obj> = {}): Record<string, Record<string, Obj>> {
  const values: Record<string, Obj> = {
    req_cluster: chosen('dev'),
    req_namespace: chosen(h.namespace),
    req_level: chosen('debug'),
    req_duration: chosen('2h'),
    req_reason: typed('INC-9 from the form'),
    ...overrides,
  };
  return Object.fromEntries(Object.entries(values).map(([id, v]) => [id, { [id]: v }]));
}

/** `/eks-access request` → the form as views.open recorded it. */
async function openForm(h: Harness, user = ALICE): Promise<{ id: string; hash: string; blocks: Blocks }> {
  const after = h.slack.calls.length;
  await h.command(user, 'request');
  const open = await h.slack.waitFor('views.open', (c) => c.args.view.callback_id === 'request_modal', {
    after,
  });
  expect(open.response['ok']).toBe(true);
  const view = open.response['view'] as View;
  return { id: view.id, hash: view.hash, blocks: view.blocks };
}

/** Chooses a cluster in the open form; resolves with the re-rendered view once views.update landed. */
async function chooseCluster(h: Harness, form: { id: string; hash: string }, cluster: string) {
  const after = h.slack.calls.length;
  await h.interact(
    h.slack.blockActions({ user_id: ALICE, action_id: 'req_cluster', view_id: form.id, selected: cluster }),
  );
  const update = await h.slack.waitFor('views.update', (c) => c.args.view_id === form.id, { after });
  // Updated in place, guarded by the hash Slack gave us, and accepted by the fake's limits.
  expect(update.args.hash).toBe(form.hash);
  expect(update.response['ok']).toBe(true);
  const view = update.response['view'] as View;
  return { id: view.id, hash: view.hash, blocks: view.blocks };
}

describe('the request form', () => {
  it('opens from the bare command, re-renders the choices per cluster with the dry run, and submits', async () => {
    const h = await pool.use({ secondCluster: true });
    const form = await openForm(h);
    expect(select(form.blocks, 'req_cluster').options).toEqual(['dev', 'staging']);
    expect(blocksText(form.blocks)).toContain('dev (eu-west-1)');
    expect(form.blocks.map((b) => b.block_id)).not.toContain('req_namespace');

    const dev = await chooseCluster(h, form, 'dev');
    expect(select(dev.blocks, 'req_cluster').initial).toBe('dev');
    expect(select(dev.blocks, 'req_namespace')).toEqual({ options: [h.namespace], initial: h.namespace });
    expect(select(dev.blocks, 'req_level')).toEqual({ options: ['debug', 'view'], initial: 'debug' });
    expect(select(dev.blocks, 'req_duration')).toEqual({
      options: ['15m', '30m', '1h', '2h', '4h'],
      initial: '1h',
    });
    const devText = blocksText(dev.blocks);
    // The count and why from the one rule (debug sets its own quorum), and a privileged level's warning.
    expect(devText).toContain(`*Approval:* 1 approval (level debug asks for 1) in <#${h.channel}>`);
    expect(devText).toContain(':warning: Privileged level debug');
    expect(devText).toContain('*This would create:*');
    expect(devText).toMatch(/Role `eks-access-[a-z0-9-]+` in `e2e-[0-9a-f]{8}` \(1 rule\(s\)\)/);
    expect(devText).toContain('for `eks-access:U0ALICE`');

    const staging = await chooseCluster(h, dev, 'staging');
    expect(select(staging.blocks, 'req_namespace')).toEqual({
      options: [h.stagingNamespace],
      initial: h.stagingNamespace,
    });
    expect(select(staging.blocks, 'req_level')).toEqual({ options: ['view'], initial: 'view' });
    expect(select(staging.blocks, 'req_duration').options).toEqual(['15m', '30m', '1h', '2h']);
    expect(blocksText(staging.blocks)).toContain('ClusterRole `view`');
    expect(await h.grants()).toEqual([]);

    const after = h.slack.calls.length;
    const ack = await h.interact(
      h.slack.viewSubmission({ user_id: ALICE, view_id: form.id, values: formValues(h) }),
    );
    expect(JSON.stringify(ack.body ?? {})).not.toContain('response_action');
    const dm = await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel === 'D0ALICE' && blocksText(c.args.blocks).includes('Requested'),
      { after },
    );
    const id = /`(ea-[a-z2-9]{8})`/.exec(blocksText(dm.args.blocks))?.[1] as string;
    const message = await h.approvalMessage(id);
    const text = blocksText(h.slack.message(message.channel, message.ts)?.blocks);
    expect(text).toContain('INC-9 from the form');
    expect(text).toContain(`\`${h.namespace}\` on \`dev\``);
    expect(text).toContain('*How long*\n2h');
    expect(await h.store.get(id)).toMatchObject({
      status: 'pending',
      cluster: 'dev',
      namespace: h.namespace,
      level: 'debug',
      durationSeconds: 7200,
      reason: 'INC-9 from the form',
    });
  });

  const badSubmissions: [string, Record<string, Obj>, string, string][] = [
    [
      'a duration beyond the maximum',
      { req_duration: chosen('9h') },
      'req_duration',
      'You asked for 9h; debug allows at most 4h',
    ],
    ['no reason', { req_reason: typed('  ') }, 'req_reason', 'A reason is required'],
    ['a level the namespace lacks', { req_level: chosen('root') }, 'req_level', 'Levels here: debug, view'],
    [
      'a namespace not in the policy',
      { req_namespace: chosen('kube-system') },
      'req_namespace',
      'kube-system',
    ],
  ];
  it.each(badSubmissions)(
    '%s: the form shows the error next to the field and nothing is stored',
    async (_name, overrides, field, words) => {
      const h = await pool.use();
      const form = await openForm(h);
      const before = await h.snapshot();
      const after = h.slack.calls.length;
      const ack = await h.interact(
        h.slack.viewSubmission({ user_id: ALICE, view_id: form.id, values: formValues(h, overrides) }),
      );
      const body = ack.body as { payload?: Obj } | undefined;
      const answer = (body?.payload ?? body) as { response_action?: string; errors?: Record<string, string> };
      expect(answer.response_action).toBe('errors');
      expect(Object.keys(answer.errors ?? {})).toEqual([field]);
      expect(answer.errors?.[field]).toContain(words);
      expect(await h.snapshot()).toEqual(before);
      expect(h.slack.calls.slice(after).filter((c) => c.method === 'chat.postMessage')).toEqual([]);
    },
  );

  it('a person the explicit map does not link is told on the form, before it closes, what an admin must add; nothing is stored', async () => {
    const h = await pool.use();
    const form = await openForm(h, NOBODY);
    const before = await h.snapshot();
    const after = h.slack.calls.length;
    const ack = await h.interact(
      h.slack.viewSubmission({ user_id: NOBODY, view_id: form.id, values: formValues(h) }),
    );
    const body = ack.body as { payload?: Obj } | undefined;
    const answer = (body?.payload ?? body) as { response_action?: string; errors?: Record<string, string> };
    expect(answer.response_action).toBe('errors');
    expect(answer.errors).toEqual({
      req_cluster: `Your Slack account is not linked to AWS: an admin must add \`${NOBODY}: arn:aws:iam::<account>:user/<name>\` under identities.map in the policy.`,
    });
    expect(await h.snapshot()).toEqual(before);
    expect(await h.grants()).toEqual([]);
    // The form stayed open with the answer: no DM, no approval message.
    expect(h.slack.calls.slice(after).filter((c) => c.method === 'chat.postMessage')).toEqual([]);
  });

  it('with the email lookup enabled the form closes at once and an unlinked person is answered by DM', async () => {
    const h = await pool.use({ emailTag: true });
    const form = await openForm(h, NOBODY);
    const after = h.slack.calls.length;
    const ack = await h.interact(
      h.slack.viewSubmission({ user_id: NOBODY, view_id: form.id, values: formValues(h) }),
    );
    expect(JSON.stringify(ack.body ?? {})).not.toContain('response_action');
    const dm = await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel === 'D0NOBODY' && blocksText(c.args.blocks).includes('not linked'),
      { after, timeoutMs: 30_000 },
    );
    const text = blocksText(dm.args.blocks);
    expect(text).toContain(`${NOBODY}: arn:aws:iam::&lt;account&gt;:user/&lt;name&gt;`);
    expect(text).toContain('slack-email=nobody@example.com');
    expect(await h.grants()).toEqual([]);
  });

  it('the Request access button on App Home opens the same form', async () => {
    const h = await pool.use();
    const after = h.slack.calls.length;
    await openHome(h, ALICE);
    const home = await h.slack.waitFor('views.publish', (c) => c.args.user_id === ALICE, { after });
    await h.interact(
      h.slack.blockActions({
        user_id: ALICE,
        action_id: 'open_request',
        view_id: String((home.response['view'] as View).id),
      }),
    );
    const open = await h.slack.waitFor('views.open', (c) => c.args.view.callback_id === 'request_modal', {
      after,
    });
    expect(open.response['ok']).toBe(true);
    const opened = open.response['view'] as View;
    expect(select(opened.blocks, 'req_namespace').initial).toBe(h.namespace);
    // One cluster, one namespace: the dry run follows at once, in place.
    const update = await h.slack.waitFor('views.update', (c) => c.args.view_id === opened.id, { after });
    expect(update.args.hash).toBe(opened.hash);
    expect(blocksText(update.args.view.blocks as View['blocks'])).toContain(`RoleBinding \`eks-access-`);
  });

  it('the global shortcut "Request EKS access" (declared in both manifests) opens the same form', async () => {
    const h = await pool.use();
    for (const path of ['slack-manifest.yml', 'slack-manifest.http.yml']) {
      const manifest = readManifest(new URL(`../../${path}`, import.meta.url));
      expect(manifest.features?.shortcuts, path).toContainEqual(
        expect.objectContaining({
          type: 'global',
          callback_id: 'request_access',
          name: 'Request EKS access',
        }),
      );
    }
    const after = h.slack.calls.length;
    await h.interact(h.slack.globalShortcut({ callback_id: 'request_access', user_id: ALICE }));
    const open = await h.slack.waitFor('views.open', (c) => c.args.view.callback_id === 'request_modal', {
      after,
    });
    expect(open.response['ok']).toBe(true);
    const opened = open.response['view'] as View;
    expect(select(opened.blocks, 'req_namespace').initial).toBe(h.namespace);
    const update = await h.slack.waitFor('views.update', (c) => c.args.view_id === opened.id, { after });
    expect(blocksText(update.args.view.blocks as View['blocks'])).toContain(`RoleBinding \`eks-access-`);
  });

  // Over HTTP, Slack asks for options only at the manifest's options URL (the fake refuses otherwise).
  it.each(['socket', 'http'] as const)(
    'past 100 namespaces the form searches them (external_select, %s) and no namespace is lost',
    async (transport) => {
      const h = await pool.use({ extraNamespaces: 120, transport });
      const form = await openForm(h);
      const block = form.blocks.find((b) => b.block_id === 'req_namespace');
      expect(block?.['element']).toMatchObject({ type: 'external_select', action_id: 'req_namespace' });
      const search = async (value: string) => {
        const { body } = await h.interact(
          h.slack.blockSuggestion({ user_id: ALICE, view_id: form.id, action_id: 'req_namespace', value }),
        );
        // Slack's own rules for the answer: at most 100 options, each a valid option object.
        expect(checkOptionsResponse(body)).toEqual([]);
        return ((body?.['options'] ?? []) as { value: string }[]).map((o) => o.value);
      };
      // Everything that matches, up to Slack's 100: the last namespaces are found by name.
      expect(await search('')).toHaveLength(100);
      expect(await search('N11')).toEqual(Array.from({ length: 10 }, (_, i) => `${h.namespace}-n11${i}`));
      expect(await search(`${h.namespace}-n119`)).toEqual([`${h.namespace}-n119`]);
      expect(await search('no-such-namespace')).toEqual([]);

      // Choosing one re-renders the form with its levels, and the request is for that namespace.
      const chosenNs = `${h.namespace}-n119`;
      const after = h.slack.calls.length;
      await h.interact(
        h.slack.blockActions({
          user_id: ALICE,
          action_id: 'req_namespace',
          view_id: form.id,
          selected: chosenNs,
          values: { req_cluster: { req_cluster: chosen('dev') } },
        }),
      );
      const update = await h.slack.waitFor('views.update', (c) => c.args.view_id === form.id, { after });
      expect(select(update.args.view.blocks as Blocks, 'req_level').options).toEqual(['view']);
      await h.interact(
        h.slack.viewSubmission({
          user_id: ALICE,
          view_id: form.id,
          values: formValues(h, {
            req_namespace: { type: 'external_select', selected_option: { value: chosenNs } },
            req_level: chosen('view'),
            req_duration: chosen('1h'),
          }),
        }),
      );
      const stored = await pollUntil(
        'the request',
        () => h.grants(),
        (grants) => grants.length === 1,
        {
          timeoutMs: 30_000,
          intervalMs: 50,
        },
      );
      expect(stored[0]?.namespace).toBe(chosenNs);
    },
  );
});
