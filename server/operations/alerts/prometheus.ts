import { KIND_INFO, type AlertKind } from './kinds';

/** gpu_temperature → EnclaveGpuTemperature: the PrometheusRule's alert name for a kind. */
export function alertNameFor(kind: AlertKind): string {
  return 'Enclave' + kind.replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());
}

/** A kind's PromQL with the chart's values spliced in as Helm template expressions. */
export function promqlFor(kind: AlertKind): string {
  return KIND_INFO[kind].promql
    .replaceAll('$T', `{{ $r.${kind}.threshold }}`)
    .replaceAll('$W', `{{ $r.${kind}.window }}`)
    .replaceAll('$NS', '{{ .Release.Namespace }}')
    .replaceAll('$R', '{{ .Release.Name }}');
}
