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

/*
 * The PrometheusRule in charts/enclave carries these expressions, for clusters that watch with Prometheus
 * (DCGM exporter for GPUs, kube-state-metrics for pods, Enclave's own gateway histograms). $T is the
 * threshold, $W the window, $NS the release namespace, $R the release name. DCGM attributes a GPU to the
 * pod holding it (pod label), which is what "allocated" means there; the agent's silence is its pod not
 * being ready, with the threshold as the rule's `for`.
 */
export const KIND_INFO: Record<AlertKind, KindInfo> = {
  gpu_temperature: { unit: '°C', duration: 'hold', subject: 'gpu', promql: 'max by (Hostname, gpu) (DCGM_FI_DEV_GPU_TEMP) > $T' },
  gpu_memory_pressure: {
    unit: '%',
    duration: 'hold',
    subject: 'gpu',
    promql: '100 * max by (Hostname, gpu) (DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)) > $T',
  },
  gpu_allocated_idle: { unit: '%', duration: 'hold', subject: 'gpu', promql: 'avg by (Hostname, gpu, namespace, pod) (DCGM_FI_DEV_GPU_UTIL{pod!=""}) < $T' },
  agent_silent: { unit: 's', duration: 'hold', subject: 'node', promql: 'max by (pod) (kube_pod_status_ready{namespace="$NS", condition="false", pod=~"$R-agent-.*"}) == 1' },
  replica_restarts: {
    unit: 'restarts',
    duration: 'window',
    subject: 'replica',
    promql: 'sum by (namespace, pod) (increase(kube_pod_container_status_restarts_total{namespace="$NS"}[$W])) >= $T',
  },
  deployment_error_rate: {
    unit: '%',
    duration: 'window',
    subject: 'deployment',
    promql:
      '100 * sum by (deployment) (rate(enclave_gateway_e2e_seconds_count{status=~"5.."}[$W])) / sum by (deployment) (rate(enclave_gateway_e2e_seconds_count[$W])) > $T',
  },
  deployment_ttft_p95: {
    unit: 'ms',
    duration: 'window',
    subject: 'deployment',
    promql: '1000 * histogram_quantile(0.95, sum by (deployment, le) (rate(enclave_gateway_ttft_seconds_bucket[$W]))) > $T',
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
