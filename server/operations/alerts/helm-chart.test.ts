import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALERT_KINDS, DEFAULT_RULES, KIND_INFO } from './kinds';
import { alertNameFor, promqlFor } from './prometheus';

const chart = path.resolve(import.meta.dirname, '../../../charts/enclave');
const read = (p: string) => fs.readFileSync(path.join(chart, p), 'utf8');

describe('the Helm chart carries the same alert rules', () => {
  const template = read('templates/prometheusrule.yaml');

  it('has one PrometheusRule alert per ALERT_KIND, with the same expression, behind a values flag', () => {
    expect(template.startsWith('{{- if .Values.alerts.prometheusRule.enabled }}')).toBe(true);
    const kinds = [...template.matchAll(/labels: \{ kind: ([a-z0-9_]+),/g)].map((m) => m[1]);
    expect(kinds).toEqual([...ALERT_KINDS]);
    const names = [...template.matchAll(/- alert: (\S+)/g)].map((m) => m[1]);
    expect(names).toEqual(ALERT_KINDS.map(alertNameFor));
    for (const kind of ALERT_KINDS) expect(template).toContain(`expr: ${JSON.stringify(promqlFor(kind))}`);
    // Prometheus' own template braces are escaped from Helm.
    expect(template).not.toMatch(/[^`]\{\{ \$value/);
  });

  it('its default thresholds and windows are Enclave’s default rules', () => {
    const values = read('values.yaml');
    for (const d of DEFAULT_RULES) {
      const m = new RegExp(`^    ${d.kind}: \\{ threshold: ([\\d.]+), window: (\\d+)([smh]), severity: (\\w+) \\}$`, 'm').exec(values);
      expect(m, d.kind).not.toBeNull();
      expect(Number(m![1])).toBe(d.threshold);
      const seconds = Number(m![2]) * { s: 1, m: 60, h: 3600 }[m![3] as 's' | 'm' | 'h'];
      // agent_silent's threshold is its `for`; Enclave itself holds it for 0 s past the threshold.
      expect(seconds).toBe(d.kind === 'agent_silent' ? d.threshold : d.durationSeconds);
      expect(m![4]).toBe(d.severity);
    }
    expect(values).toMatch(/prometheusRule:\n    enabled: false/);
  });

  it('ships a Grafana dashboard with GPU and gateway latency panels over real metric names', () => {
    const dashboard = JSON.parse(read('dashboards/enclave-gpus.json')) as { uid: string; panels: { id: number; type: string; title: string; targets?: { expr: string }[]; gridPos: object }[] };
    expect(dashboard.uid).toBe('enclave-gpus');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const exprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr).join('\n');
    for (const metric of ['DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_FB_USED', 'DCGM_FI_DEV_FB_FREE', 'DCGM_FI_DEV_GPU_TEMP', 'DCGM_FI_DEV_POWER_USAGE', 'enclave_gateway_ttft_seconds_bucket', 'enclave_gateway_itl_seconds_bucket', 'enclave_gateway_e2e_seconds_count'])
      expect(exprs).toContain(metric);
    // The gateway histograms the rules and panels use are the ones the gateway registers.
    const gatewayMetrics = fs.readFileSync(path.resolve(import.meta.dirname, '../../gateway/metrics.ts'), 'utf8');
    for (const m of exprs.matchAll(/enclave_gateway_([a-z_]+?)_(?:bucket|count)/g)) expect(gatewayMetrics).toContain(`'enclave_gateway_${m[1]}'`);
    for (const kind of ALERT_KINDS) for (const m of KIND_INFO[kind].promql.matchAll(/enclave_gateway_([a-z_]+?)_(?:bucket|count)/g)) expect(gatewayMetrics).toContain(`'enclave_gateway_${m[1]}'`);
    expect(read('templates/grafana-dashboard.yaml')).toContain('.Files.Get "dashboards/enclave-gpus.json"');
  });
});
