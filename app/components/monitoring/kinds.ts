import type { AlertKind } from './views';

/**
 * How the UI writes each kind's threshold and duration. Mirrors KIND_INFO in
 * server/operations/alerts/kinds.ts (the browser bundle must not import server code).
 */
export const KIND_UI: Record<AlertKind, { unit: string; duration: 'hold' | 'window'; scope: ('node' | 'gpu' | 'deployment')[] }> = {
  gpu_temperature: { unit: '°C', duration: 'hold', scope: ['node', 'gpu'] },
  gpu_memory_pressure: { unit: '%', duration: 'hold', scope: ['node', 'gpu'] },
  gpu_allocated_idle: { unit: '%', duration: 'hold', scope: ['node', 'gpu'] },
  agent_silent: { unit: 's', duration: 'hold', scope: ['node'] },
  replica_restarts: { unit: '', duration: 'window', scope: ['deployment'] },
  deployment_error_rate: { unit: '%', duration: 'window', scope: ['deployment'] },
  deployment_ttft_p95: { unit: 'ms', duration: 'window', scope: ['deployment'] },
};

export const ALERT_KIND_LIST = Object.keys(KIND_UI) as AlertKind[];

/** 300 → "5 min", 90 → "90 s", 7200 → "2 h". */
export function formatDuration(seconds: number): string {
  if (seconds >= 3600 && seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds >= 60 && seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}
