// The chart's alerts, evaluated by Prometheus' own rule engine: `promtool check rules` and `promtool test
// rules` on exactly the rules the chart's PrometheusRule carries (rendered with helm), each alert with a
// firing and a quiet case; and the ServiceMonitor and PrometheusRule installed for real on the API server
// with the prometheus-operator CRDs (from that project's module source). promtool, helm and the CRDs come
// from scripts/platform/build-ops-tools.sh.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { CHART, helmTemplate, opsTools } from '../../scripts/chart/kustomize-base.js';
import { createMetrics, trackReconciler, trackRedisDataLoss } from '../../src/adapters/metrics.js';
import { platform, uniqueName } from '../platform/context.js';
import { pollUntil } from '../support/poll.js';

const tools = opsTools();
const REQUIRED = [
  '--set-file',
  'policy=policy.example.yaml',
  '--set',
  'archive.bucket=acme-eks-access-archive',
];

interface Rule {
  alert: string;
  expr: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** The rules file inside the chart's PrometheusRule (its spec is a Prometheus rules file). */
function chartRules(): { groups: { name: string; rules: Rule[] }[] } {
  const rendered = helmTemplate(tools.helm, [
    ...REQUIRED,
    '--set',
    'monitoring.prometheusRule.enabled=true',
    '--show-only',
    'templates/prometheusrule.yaml',
  ]);
  return (parse(rendered) as { spec: { groups: { name: string; rules: Rule[] }[] } }).spec;
}

type Series = Record<string, string>;
interface Case {
  alert: string;
  what: string;
  series: Series;
  at: string;
  /** The alert's $value where its summary shows it; absent: the case is quiet. */
  fires?: string;
  /** Labels the firing alert carries from its series (and its annotations show as $labels.…). */
  labels?: Record<string, string>;
}

// Series notation is promtool's: 'a x n' repeats a n more times, 'a+b x n' grows by b; one sample a minute.
const CASES: Case[] = [
  {
    alert: 'EksAccessRevocationLate',
    what: 'a revocation 2 minutes after expiry',
    series: {
      eks_access_revocation_lag_seconds_count: '0x4 1x6',
      'eks_access_revocation_lag_seconds_bucket{le="60"}': '0x10',
    },
    at: '10m',
    fires: '',
  },
  {
    alert: 'EksAccessRevocationLate',
    what: 'a revocation within the deadline',
    series: {
      eks_access_revocation_lag_seconds_count: '0x4 1x6',
      'eks_access_revocation_lag_seconds_bucket{le="60"}': '0x4 1x6',
    },
    at: '10m',
  },
  {
    alert: 'EksAccessRevocationFailed',
    what: 'a revoke job out of retries',
    series: { 'eks_access_jobs_total{queue="revoke",result="failed"}': '0x4 1x6' },
    at: '10m',
    fires: '',
  },
  {
    alert: 'EksAccessRevocationFailed',
    what: 'a revoke job retried, then done',
    series: {
      'eks_access_jobs_total{queue="revoke",result="retried"}': '0x4 1x6',
      'eks_access_jobs_total{queue="revoke",result="failed"}': '0x10',
    },
    at: '10m',
  },
  {
    alert: 'EksAccessForgedBinding',
    what: 'two look-alike RoleBindings',
    series: { eks_access_forged_bindings: '0x4 2x6' },
    at: '10m',
    fires: '2',
  },
  {
    alert: 'EksAccessForgedBinding',
    what: 'none',
    series: { eks_access_forged_bindings: '0x10' },
    at: '10m',
  },
  {
    alert: 'EksAccessActivationRefused',
    what: 'a grant refused at activation (forged-grant)',
    series: { 'eks_access_jobs_total{queue="activate",result="failed"}': '0x4 1x6' },
    at: '10m',
    fires: '',
  },
  {
    alert: 'EksAccessActivationRefused',
    what: 'activations completing',
    series: {
      'eks_access_jobs_total{queue="activate",result="completed"}': '0+1x10',
      'eks_access_jobs_total{queue="activate",result="failed"}': '0x10',
    },
    at: '10m',
  },
  {
    alert: 'EksAccessOutboxBackingUp',
    what: '60 notifications waiting for 20 minutes',
    series: { 'eks_access_queue_jobs{queue="slack-outbox",state="waiting"}': '60x30' },
    at: '20m',
    fires: '60',
  },
  {
    alert: 'EksAccessOutboxBackingUp',
    what: 'a burst that drained',
    series: { 'eks_access_queue_jobs{queue="slack-outbox",state="waiting"}': '60x5 0x25' },
    at: '20m',
  },
  {
    alert: 'EksAccessSlackRefusing',
    what: 'notifications retrying for 20 minutes',
    series: { 'eks_access_queue_jobs{queue="slack-outbox",state="delayed"}': '3x30' },
    at: '20m',
    fires: '',
  },
  {
    alert: 'EksAccessSlackRefusing',
    what: 'notifications given up one a minute',
    series: {
      'eks_access_queue_jobs{queue="slack-outbox",state="delayed"}': '0x30',
      'eks_access_queue_jobs{queue="slack-outbox",state="failed"}': '0+1x30',
    },
    at: '20m',
    fires: '',
  },
  {
    alert: 'EksAccessSlackRefusing',
    what: 'everything delivered',
    series: {
      'eks_access_queue_jobs{queue="slack-outbox",state="delayed"}': '0x30',
      'eks_access_queue_jobs{queue="slack-outbox",state="failed"}': '0x30',
    },
    at: '20m',
  },
  {
    alert: 'EksAccessReconcilerNotSweeping',
    what: 'the last sweep 10 minutes ago',
    series: { eks_access_reconcile_last_success_timestamp_seconds: '0x20' },
    at: '10m',
    fires: '',
  },
  {
    alert: 'EksAccessReconcilerNotSweeping',
    what: 'a sweep every minute',
    series: { eks_access_reconcile_last_success_timestamp_seconds: '0+60x20' },
    at: '10m',
  },
  {
    alert: 'EksAccessReconcilerAbsent',
    what: 'no worker reporting sweeps',
    series: { eks_access_active_grants: '0x30' },
    at: '20m',
    fires: '',
  },
  {
    alert: 'EksAccessReconcilerAbsent',
    what: 'a worker sweeping',
    series: { eks_access_reconcile_last_run_timestamp_seconds: '0+60x30' },
    at: '20m',
  },
  {
    alert: 'EksAccessAssociationWidened',
    what: 'one association cut back by a sweep',
    series: {
      'eks_access_reconcile_findings_total{kind="association_narrowed"}': '0x4 1x6',
      'eks_access_reconcile_findings_total{kind="binding_removed"}': '0x4 3x6',
    },
    at: '10m',
    fires: '',
  },
  {
    alert: 'EksAccessAssociationWidened',
    what: 'sweeps that only remove expired access',
    series: { 'eks_access_reconcile_findings_total{kind="binding_removed"}': '0x4 3x6' },
    at: '10m',
  },
  {
    alert: 'EksAccessRevocationUnproven',
    what: 'one revocation not refused in time',
    series: { eks_access_revocations_unproven_total: '0x4 1x6' },
    at: '10m',
    fires: '',
  },
  {
    alert: 'EksAccessRevocationUnproven',
    what: 'every revocation proven',
    series: { eks_access_revocations_unproven_total: '0x10' },
    at: '10m',
  },
  {
    alert: 'EksAccessAccessEntriesNearLimit',
    what: 'prod at 2750 of 3000 entries for 20 minutes, dev far below',
    series: {
      'eks_access_cluster_access_entries{cluster="prod"}': '2600x5 2750x25',
      'eks_access_cluster_access_entries{cluster="dev"}': '40x30',
    },
    at: '28m',
    fires: '2750',
    labels: { cluster: 'prod' },
  },
  {
    alert: 'EksAccessAccessEntriesNearLimit',
    what: 'a short spike over the line',
    series: { 'eks_access_cluster_access_entries{cluster="prod"}': '2600x10 2800x5 2600x15' },
    at: '28m',
  },
  {
    alert: 'EksAccessRedisDataLoss',
    what: 'Redis emptied once',
    series: { eks_access_redis_data_loss_total: '0x4 1x6' },
    at: '10m',
    fires: '',
  },
  {
    alert: 'EksAccessRedisDataLoss',
    what: 'no loss',
    series: { eks_access_redis_data_loss_total: '0x10' },
    at: '10m',
  },
  {
    alert: 'EksAccessSealKeyStillInUse',
    what: 'the old key k1 still sealing 2 grants an hour after k2 became the signing key',
    series: {
      'eks_access_seal_key_info{key="k2",signing="true"}': '1x90',
      'eks_access_seal_key_info{key="k1",signing="false"}': '1x90',
      'eks_access_live_seals{key="k2"}': '0+1x90',
      'eks_access_live_seals{key="k1"}': '3x20 2x70',
    },
    at: '80m',
    fires: '2',
    labels: { key: 'k1' },
  },
  {
    alert: 'EksAccessSealKeyStillInUse',
    what: 'the old key drained within the hour (safe to remove), the signing key in use',
    series: {
      'eks_access_seal_key_info{key="k2",signing="true"}': '1x90',
      'eks_access_seal_key_info{key="k1",signing="false"}': '1x90',
      'eks_access_live_seals{key="k2"}': '5x90',
      'eks_access_live_seals{key="k1"}': '2x50 0x40',
    },
    at: '80m',
  },
];

/** A promtool unit-test file for `cases`, expecting each firing alert's labels and annotations. */
function promtoolTests(rules: Rule[], cases: Case[]): string {
  const byName = new Map(rules.map((r) => [r.alert, r]));
  return stringify({
    rule_files: ['rules.yaml'],
    evaluation_interval: '1m',
    tests: cases.map((c) => {
      const rule = byName.get(c.alert);
      if (!rule) throw new Error(`no alert ${c.alert} in the chart`);
      const annotations = Object.fromEntries(
        Object.entries(rule.annotations).map(([k, v]) => [
          k,
          Object.entries(c.labels ?? {}).reduce(
            (text, [label, value]) => text.replaceAll(`{{ $labels.${label} }}`, value),
            v.replace('{{ $value }}', c.fires ?? ''),
          ),
        ]),
      );
      return {
        name: `${c.alert}: ${c.what}`,
        interval: '1m',
        input_series: Object.entries(c.series).map(([series, values]) => ({ series, values })),
        alert_rule_test: [
          {
            eval_time: c.at,
            alertname: c.alert,
            exp_alerts:
              c.fires === undefined
                ? []
                : [{ exp_labels: { ...rule.labels, ...c.labels }, exp_annotations: annotations }],
          },
        ],
      };
    }),
  });
}

describe('alerts (promtool)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'alerts-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const promtool = (args: string[]) => spawnSync(tools.promtool, args, { cwd: dir, encoding: 'utf8' });

  it('every alert of the chart is valid (promtool check rules)', () => {
    writeFileSync(join(dir, 'rules.yaml'), stringify(chartRules()));
    const check = promtool(['check', 'rules', 'rules.yaml']);
    expect(check.stderr).toBe('');
    expect(check.stdout).toMatch(/SUCCESS: 13 rules found/);
  });

  it('every alert has a firing and a quiet case, and each behaves (promtool test rules)', () => {
    const rules = chartRules().groups.flatMap((g) => g.rules);
    writeFileSync(join(dir, 'rules.yaml'), stringify(chartRules()));
    for (const rule of rules) {
      const cases = CASES.filter((c) => c.alert === rule.alert);
      expect(
        cases.some((c) => c.fires !== undefined),
        `${rule.alert} fires somewhere`,
      ).toBe(true);
      expect(
        cases.some((c) => c.fires === undefined),
        `${rule.alert} stays quiet somewhere`,
      ).toBe(true);
    }
    writeFileSync(join(dir, 'tests.yaml'), promtoolTests(rules, CASES));
    const test = promtool(['test', 'rules', 'tests.yaml']);
    expect(test.stdout + test.stderr).toContain('SUCCESS');
    expect(test.status).toBe(0);
  });

  it('fails a case whose expectation is wrong (the check above can fail)', () => {
    const rules = chartRules().groups.flatMap((g) => g.rules);
    writeFileSync(join(dir, 'rules.yaml'), stringify(chartRules()));
    // The quiet forged-binding case, expected to fire: promtool must say it did not.
    const wrong = CASES.filter((c) => c.alert === 'EksAccessForgedBinding' && c.fires === undefined).map(
      (c) => ({
        ...c,
        fires: '0',
      }),
    );
    writeFileSync(join(dir, 'wrong.yaml'), promtoolTests(rules, wrong));
    const test = promtool(['test', 'rules', 'wrong.yaml']);
    expect(test.status).not.toBe(0);
    expect(test.stdout + test.stderr).toMatch(/FAILED/);
  });
});

describe('the Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(`${CHART}/dashboards/eks-access.json`, 'utf8')) as {
    panels: { title: string; targets: { expr: string }[] }[];
  };
  const queries = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })));

  it('shows grants, approval latency, time to access and revocation lag', () => {
    const all = queries.map((q) => q.expr).join('\n');
    for (const metric of [
      'eks_access_active_grants',
      'eks_access_requests_total',
      'eks_access_approval_seconds_bucket',
      'eks_access_activation_seconds_bucket',
      'eks_access_revocation_lag_seconds_bucket',
    ]) {
      expect(all).toContain(metric);
    }
  });

  it('and every alert ask only for metrics the processes export, in valid PromQL', async () => {
    const metrics = createMetrics(
      { activeGrants: async () => 0, queueCounts: async () => ({}) },
      { defaultMetrics: false },
    );
    trackReconciler(metrics, { lastRunAt: 0, lastSuccessAt: 0 });
    trackRedisDataLoss(metrics, { onLost: () => undefined });
    const exported = new Set(
      (await metrics.registry.getMetricsAsJSON()).flatMap((m) =>
        String(m.type) === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
      ),
    );
    const alerts = chartRules().groups.flatMap((g) => g.rules.map((r) => ({ panel: r.alert, expr: r.expr })));
    const unknown = [...queries, ...alerts].flatMap(({ panel, expr }) =>
      (expr.match(/\beks_access_[a-z_]+/g) ?? [])
        .filter((m) => !exported.has(m))
        .map((m) => `${panel}: ${m}`),
    );
    expect(unknown).toEqual([]);
    // Grafana's $__rate_interval is a duration; promtool parses each query as a recording rule.
    const dir = mkdtempSync(join(tmpdir(), 'dashboard-'));
    try {
      const rules = {
        groups: [
          {
            name: 'dashboard',
            rules: queries.map((q, i) => ({
              record: `dashboard:query_${i}`,
              expr: q.expr.replaceAll('$__rate_interval', '5m'),
            })),
          },
        ],
      };
      writeFileSync(join(dir, 'dashboard.yaml'), stringify(rules));
      const check = spawnSync(tools.promtool, ['check', 'rules', 'dashboard.yaml'], {
        cwd: dir,
        encoding: 'utf8',
      });
      expect(check.stderr).toBe('');
      expect(check.stdout).toContain(`SUCCESS: ${queries.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ServiceMonitor and PrometheusRule on the API server', () => {
  const namespace = uniqueName('monitoring');
  const kubectl = (args: string[]) =>
    spawnSync(platform().kube.kubectl, ['--kubeconfig', platform().kube.adminKubeconfig, ...args], {
      encoding: 'utf8',
    });
  const helm = (args: string[]) =>
    spawnSync(tools.helm, ['--kubeconfig', platform().kube.adminKubeconfig, ...args], { encoding: 'utf8' });
  afterAll(() => {
    helm(['uninstall', namespace, '--namespace', namespace]);
    kubectl(['delete', 'namespace', namespace, '--wait=false']);
  });

  it('installs with the prometheus-operator CRDs, and the API server validates them', async () => {
    const crds = readdirSync(tools.crds).map((f) => join(tools.crds, f));
    const applied = kubectl(['apply', '--server-side', ...crds.flatMap((f) => ['-f', f])]);
    expect(applied.stderr).toBe('');
    // Established is set by the apiextensions controller a moment after the create: await it, and that
    // the API serves the new kinds (what helm's discovery will ask), before installing.
    for (const crd of ['servicemonitors.monitoring.coreos.com', 'prometheusrules.monitoring.coreos.com']) {
      await pollUntil(
        `${crd} established`,
        async () =>
          kubectl([
            'get',
            `crd/${crd}`,
            '-o',
            'jsonpath={.status.conditions[?(@.type=="Established")].status}',
          ]).stdout,
        (status) => status === 'True',
      );
    }
    await pollUntil(
      'the monitoring.coreos.com kinds served',
      async () => kubectl(['api-resources', '--api-group=monitoring.coreos.com', '-o', 'name']).stdout,
      (names) => names.includes('servicemonitors') && names.includes('prometheusrules'),
    );
    expect(kubectl(['create', 'namespace', namespace]).status).toBe(0);
    const install = helm([
      'install',
      namespace,
      CHART,
      '--namespace',
      namespace,
      ...REQUIRED,
      '--set',
      'monitoring.serviceMonitor.enabled=true,monitoring.prometheusRule.enabled=true',
    ]);
    expect(install.stderr).toBe('');
    const got = (kind: string) =>
      kubectl(['get', kind, '-n', namespace, '-o', 'jsonpath={.items[*].metadata.name}']).stdout;
    expect(got('servicemonitors')).toBe('eks-access');
    expect(got('prometheusrules')).toBe('eks-access');
    const alerts = kubectl([
      'get',
      'prometheusrule',
      'eks-access',
      '-n',
      namespace,
      '-o',
      'jsonpath={.spec.groups[0].rules[*].alert}',
    ]).stdout.split(' ');
    expect(alerts).toHaveLength(13);

    // The CRD's schema is enforced: a rule without an expression is refused by the API server.
    const bad = spawnSync(
      platform().kube.kubectl,
      [
        '--kubeconfig',
        platform().kube.adminKubeconfig,
        'apply',
        '--dry-run=server',
        '-n',
        namespace,
        '-f',
        '-',
      ],
      {
        encoding: 'utf8',
        input: stringify({
          apiVersion: 'monitoring.coreos.com/v1',
          kind: 'PrometheusRule',
          metadata: { name: 'broken' },
          spec: { groups: [{ name: 'x', rules: [{ alert: 'NoExpr' }] }] },
        }),
      },
    );
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/expr/);
  });
});
