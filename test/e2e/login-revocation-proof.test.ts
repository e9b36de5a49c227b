// A revocation that does not bite (issue #22, item 3). The worker proves a revocation by logging in as the
// person after the mapping went: the cluster must refuse. Here someone maps her personal role in aws-auth by
// hand while her grant is live, an entry eks-access did not write and never removes. When she is done, the
// worker removes its own entry and closes her trust, but the probe still gets in (as the hand-written
// username). The grant must then stay `revoking`, with the role kept and her own kubectl refused, the
// failure counted, named in the grant's audit trail, and retried; once the hand-written entry goes, the
// next try proves the revocation, deletes the role and ends the grant.

import { GetRoleCommand, IAMClient, NoSuchEntityException } from '@aws-sdk/client-iam';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { authenticatorRoleArn } from '../../src/domain/arn.js';
import { parseRecord } from '../../src/domain/audit-record.js';
import { adminKubeConfig, awsClientConfig } from '../platform/context.js';
import { pollUntil } from '../support/poll.js';
import { LOGIN_REFUSED } from '../support/requester-shell.js';
import { ALICE, harnessPool } from './harness.js';
import {
  activationDmCommands,
  approvedRequest,
  kubectlOf,
  requesterShell,
  runDmCommands,
} from './login-steps.js';

const pool = harnessPool();
/** Set while the hand-written entry is in aws-auth, so a failing run does not leave it for other tests. */
let removeHandWritten: (() => Promise<void>) | undefined;
afterEach(async () => {
  await removeHandWritten?.();
  removeHandWritten = undefined;
  await pool.closeAll();
});

const iam = new IAMClient(awsClientConfig('iam'));
const HAND_WRITTEN = 'hand-mapped-admin';

describe('a revocation the cluster does not refuse', () => {
  it('stays revoking, keeps the role trusted by nobody, says so, and ends once the cluster refuses', async () => {
    const h = await pool.use({
      login: true,
      identityMapping: 'aws-auth',
      createNamespace: true,
      worker: true,
    });
    const shell = await requesterShell(h);
    const id = await approvedRequest(h, `request ${h.namespace} for 30m because INC-3 unproven`);
    const commands = await activationDmCommands(h);
    await runDmCommands(shell, commands);
    const kubectl = kubectlOf(shell, commands);
    expect((await kubectl(`get pods -n ${h.namespace}`)).code).toBe(0);

    const roleArn = /--role-arn (\S+)/.exec(commands[0] ?? '')?.[1] ?? '';
    const roleName = roleArn.split('/').pop() ?? '';
    const mapped = authenticatorRoleArn(roleArn);
    expect(mapped, roleArn).toBeDefined();
    const core = adminKubeConfig().makeApiClient(CoreV1Api);
    // Other test files' workers write this aws-auth too: a stale read is refused (409) and read again.
    const editMapRoles = async (edit: (text: string) => string): Promise<void> => {
      const configMap = await core.readNamespacedConfigMap(h.awsAuth);
      try {
        await core.replaceNamespacedConfigMap({
          ...h.awsAuth,
          body: {
            ...configMap,
            data: { ...configMap.data, mapRoles: edit(configMap.data?.['mapRoles'] ?? '') },
          },
        });
      } catch (error) {
        if ((error as { code?: number }).code !== 409) throw error;
        await editMapRoles(edit);
      }
    };
    // Edited as YAML, never as text: mapRoles may be `[]`, or indented, and the cluster is shared by other
    // test files — a broken ConfigMap would fail their grants too.
    const handWritten = { rolearn: mapped, username: HAND_WRITTEN, groups: [] };
    const isHandWritten = (entry: unknown) =>
      (entry as { username?: unknown } | null)?.username === HAND_WRITTEN;
    const entriesOf = (text: string): unknown[] => (parseYaml(text) as unknown[] | null) ?? [];
    await editMapRoles((text) => stringifyYaml([...entriesOf(text), handWritten]));
    removeHandWritten = () =>
      editMapRoles((text) => stringifyYaml(entriesOf(text).filter((entry) => !isHandWritten(entry))));

    await h.command(ALICE, `done ${id}`);
    const unproven = await pollUntil(
      'the grant’s audit trail to say its revocation was not refused',
      async () =>
        h.auditLines
          .map((line) => parseRecord(line)?.event)
          .find((event) => event?.action === 'revoke-unproven' && event.grantId === id),
      (event) => event !== undefined,
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    expect(unproven?.details ?? {}).toMatchObject({ personalRole: roleArn });
    expect(String(unproven?.details?.['stillGotIn'])).toContain(HAND_WRITTEN);
    expect(h.revocationsUnproven).toContain(roleArn);

    // Unproven: still revoking, our entry gone, hers kept as written, the role kept — and she cannot use it.
    expect((await h.store.get(id))?.status).toBe('revoking');
    const mapRoles = entriesOf((await core.readNamespacedConfigMap(h.awsAuth)).data?.['mapRoles'] ?? '');
    expect(mapRoles.filter(isHandWritten)).toEqual([handWritten]);
    const mappingHer = mapRoles.filter((entry) => (entry as { rolearn?: unknown }).rolearn === mapped);
    expect(mappingHer, JSON.stringify(mapRoles)).toEqual([handWritten]);
    expect((await iam.send(new GetRoleCommand({ RoleName: roleName }))).Role?.Arn).toBe(roleArn);
    const refused = await kubectl(`get pods -n ${h.namespace}`);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(LOGIN_REFUSED);

    // The platform team removes the entry they find named; the retried revocation proves itself and ends.
    await removeHandWritten();
    removeHandWritten = undefined;
    const ended = await pollUntil(
      `grant ${id} to end`,
      () => h.store.get(id),
      (g) => g?.endedAt !== undefined,
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    expect(ended?.status).toBe('relinquished');
    await expect(iam.send(new GetRoleCommand({ RoleName: roleName }))).rejects.toBeInstanceOf(
      NoSuchEntityException,
    );
  }, 600_000);
});
