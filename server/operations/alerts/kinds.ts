import { ALERT_KINDS } from '../../db/schema';

export type AlertKind = (typeof ALERT_KINDS)[number];
export { ALERT_KINDS };

/**
 * What each rule kind measures. `duration` means one of two things, and the UI says which:
 * - 'hold': the condition must hold continuously this long before the alert fires (pending until then);
 * - 'window': the value is measured over this trailing window (a count or a rate), and it fires at once.
 */
export interface KindInfo {
  unit: '°C' | '%' | 's' | 'restarts' | 'ms';
  duration: 'hold' | 'window';
  subject: 'gpu' | 'node' | 'replica' | 'deployment';
  /** The Prometheus expression the Helm chart's PrometheusRule uses for the same rule (threshold as $T). */
  promql: string;
}

export const KIND_INFO: Record<AlertKind, KindInfo> = {
  gpu_temperature: { unit: '°C', duration: 'hold', subject: 'gpu', promql: 'DCGM_FI_DEV_GPU_TEMP > $T' },
  gpu_memory_pressure: {
    unit: '%',
    duration: 'hold',
    subject: 'gpu',
    promql: '100 * DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) > $T',
  },
  gpu_allocated_idle: {
    unit: '%',
    duration: 'hold',
    subject: 'gpu',
    promql: '(DCGM_FI_DEV_GPU_UTIL < $T) and on(Hostname, gpu) (enclave_gpu_allocated_bytes > 0)',
  },
  agent_silent: { unit: 's', duration: 'hold', subject: 'node', promql: 'time() - enclave_node_last_heartbeat_seconds > $T' },
  replica_restarts: { unit: 'restarts', duration: 'window', subject: 'replica', promql: 'increase(enclave_replica_restarts_total[$W]) >= $T' },
  deployment_error_rate: {
    unit: '%',
    duration: 'window',
    subject: 'deployment',
    promql:
      '100 * sum by (model) (rate(enclave_gateway_requests_total{status=~"5.."}[$W])) / sum by (model) (rate(enclave_gateway_requests_total[$W])) > $T',
  },
  deployment_ttft_p95: {
    unit: 'ms',
    duration: 'window',
    subject: 'deployment',
    promql: '1000 * histogram_quantile(0.95, sum by (model, le) (rate(enclave_gateway_ttft_seconds_bucket[$W]))) > $T',
  },
};

export interface DefaultRule {
  name: string;
  kind: AlertKind;
  threshold: number;
  durationSeconds: number;
  severity: 'warning' | 'critical';
}

/** Seeded when no rule exists, so a fresh install watches its GPUs and deployments from the start. */
export const DEFAULT_RULES: DefaultRule[] = [
  { name: 'GPU too hot', kind: 'gpu_temperature', threshold: 85, durationSeconds: 300, severity: 'critical' },
  { name: 'GPU memory nearly full', kind: 'gpu_memory_pressure', threshold: 95, durationSeconds: 300, severity: 'warning' },
  { name: 'GPU allocated but idle', kind: 'gpu_allocated_idle', threshold: 5, durationSeconds: 1800, severity: 'warning' },
  { name: 'Agent silent', kind: 'agent_silent', threshold: 60, durationSeconds: 0, severity: 'critical' },
  { name: 'Replica restarting', kind: 'replica_restarts', threshold: 3, durationSeconds: 600, severity: 'warning' },
  { name: 'Deployment error rate', kind: 'deployment_error_rate', threshold: 5, durationSeconds: 300, severity: 'critical' },
  { name: 'Deployment p95 TTFT over objective', kind: 'deployment_ttft_p95', threshold: 2000, durationSeconds: 300, severity: 'warning' },
];
