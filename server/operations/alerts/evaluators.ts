import type { AlertKind } from './kinds';
import type { AlertInputs, GpuInput, Observation, RecordedSample, RuleView } from './types';

/** A GPU whose newest sample is older than this says nothing about now (agent_silent covers that case). */
export const STALE_SAMPLE_MS = 90_000;
/** A hole longer than this between samples breaks a run: we cannot claim the condition held through it. */
export const MAX_SAMPLE_GAP_MS = 60_000;
/** Rates and percentiles over fewer requests than this are noise, not an incident. */
export const MIN_REQUESTS = 10;

/**
 * The newest unbroken run of samples for which `valueOf` returns a number (the condition holds).
 * Returns when it began and the newest value, or null when the newest sample does not hold or is stale.
 */
export function trailingRun(samples: RecordedSample[], now: number, valueOf: (s: RecordedSample) => number | null): { since: number; value: number } | null {
  const newest = samples[samples.length - 1];
  if (!newest || now - newest.at > STALE_SAMPLE_MS) return null;
  const value = valueOf(newest);
  if (value === null) return null;
  let since = newest.at;
  for (let i = samples.length - 2; i >= 0; i--) {
    const s = samples[i]!;
    if (since - s.at > MAX_SAMPLE_GAP_MS || valueOf(s) === null) break;
    since = s.at;
  }
  return { since, value };
}

const gpuSubject = (g: GpuInput) => `${g.nodeName}/gpu${g.gpuIndex}`;
const gpuLabels = (g: GpuInput) => ({ node: g.nodeName, gpu: String(g.gpuIndex) });
const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

function gpuTemperature(rule: RuleView, input: AlertInputs): Observation[] {
  return input.gpus.flatMap((g) => {
    const run = trailingRun(g.samples, input.now, (s) => (s.temperatureC !== null && s.temperatureC > rule.threshold ? s.temperatureC : null));
    if (!run) return [];
    return [{ subject: gpuSubject(g), since: run.since, value: run.value, labels: gpuLabels(g), message: `${gpuSubject(g)} is at ${round(run.value)} °C (over ${rule.threshold} °C)` }];
  });
}

function memoryPct(s: RecordedSample, fallbackTotal: number | null): number | null {
  const total = s.memoryTotalMiB ?? fallbackTotal;
  if (s.memoryUsedMiB === null || !total) return null;
  return (100 * s.memoryUsedMiB) / total;
}

function gpuMemoryPressure(rule: RuleView, input: AlertInputs): Observation[] {
  return input.gpus.flatMap((g) => {
    const run = trailingRun(g.samples, input.now, (s) => {
      const pct = memoryPct(s, g.memoryTotalMiB);
      return pct !== null && pct > rule.threshold ? pct : null;
    });
    if (!run) return [];
    return [{ subject: gpuSubject(g), since: run.since, value: round(run.value), labels: gpuLabels(g), message: `${gpuSubject(g)} memory is ${round(run.value)} % used (over ${rule.threshold} %)` }];
  });
}

/** Idle only counts from when the current holder took the GPU: a GPU nobody holds may idle freely. */
function gpuAllocatedIdle(rule: RuleView, input: AlertInputs): Observation[] {
  return input.gpus.flatMap((g) => {
    if (g.allocations.length === 0) return [];
    const heldSince = Math.min(...g.allocations.map((a) => a.since));
    const held = g.samples.filter((s) => s.at >= heldSince);
    const run = trailingRun(held, input.now, (s) => (s.utilizationPct !== null && s.utilizationPct < rule.threshold ? s.utilizationPct : null));
    if (!run) return [];
    const holders = g.allocations.map((a) => a.holderName).join(', ');
    return [
      {
        subject: gpuSubject(g),
        since: run.since,
        value: round(run.value),
        labels: { ...gpuLabels(g), holder: holders },
        message: `${gpuSubject(g)} is held by ${holders} but ${round(run.value)} % utilised (under ${rule.threshold} %)`,
      },
    ];
  });
}

function agentSilent(rule: RuleView, input: AlertInputs): Observation[] {
  return input.nodes.flatMap((n) => {
    // A node that never sent a heartbeat is still joining; draining nodes are expected to go quiet.
    if (n.lastHeartbeatAt === null || n.status === 'draining') return [];
    const silentSeconds = (input.now - n.lastHeartbeatAt) / 1000;
    if (silentSeconds <= rule.threshold) return [];
    return [
      {
        subject: n.name,
        since: n.lastHeartbeatAt + rule.threshold * 1000,
        value: Math.round(silentSeconds),
        labels: { node: n.name },
        message: `The agent on ${n.name} has been silent for ${Math.round(silentSeconds)} s (over ${rule.threshold} s)`,
      },
    ];
  });
}

function replicaRestarts(rule: RuleView, input: AlertInputs): Observation[] {
  const from = input.now - rule.durationSeconds * 1000;
  return input.replicaRestarts.flatMap((r) => {
    const count = r.restarts.filter((at) => at > from && at <= input.now).length;
    if (count < rule.threshold) return [];
    const subject = `${r.deploymentName}/replica-${r.replicaId.slice(0, 8)}`;
    return [
      {
        subject,
        since: input.now,
        value: count,
        labels: { deployment: r.deploymentName, replica: r.replicaId },
        message: `A replica of ${r.deploymentName} restarted ${count} times in ${Math.round(rule.durationSeconds / 60)} min`,
      },
    ];
  });
}

function windowsFor(rule: RuleView, input: AlertInputs) {
  return input.deploymentWindows.filter((w) => w.windowSeconds === rule.durationSeconds);
}

function deploymentErrorRate(rule: RuleView, input: AlertInputs): Observation[] {
  return windowsFor(rule, input).flatMap((w) => {
    if (w.requests < MIN_REQUESTS) return [];
    const pct = (100 * w.errors) / w.requests;
    if (pct <= rule.threshold) return [];
    return [
      {
        subject: w.deploymentName,
        since: input.now,
        value: round(pct),
        labels: { deployment: w.deploymentName },
        message: `${w.deploymentName}: ${w.errors} of ${w.requests} requests failed (${round(pct)} %, objective ${rule.threshold} %)`,
      },
    ];
  });
}

function deploymentTtftP95(rule: RuleView, input: AlertInputs): Observation[] {
  return windowsFor(rule, input).flatMap((w) => {
    if (w.ttftP95Ms === null || w.ttftCount < MIN_REQUESTS || w.ttftP95Ms <= rule.threshold) return [];
    return [
      {
        subject: w.deploymentName,
        since: input.now,
        value: Math.round(w.ttftP95Ms),
        labels: { deployment: w.deploymentName },
        message: `${w.deploymentName}: p95 time to first token is ${Math.round(w.ttftP95Ms)} ms (objective ${rule.threshold} ms)`,
      },
    ];
  });
}

const EVALUATORS: Record<AlertKind, (rule: RuleView, input: AlertInputs) => Observation[]> = {
  gpu_temperature: gpuTemperature,
  gpu_memory_pressure: gpuMemoryPressure,
  gpu_allocated_idle: gpuAllocatedIdle,
  agent_silent: agentSilent,
  replica_restarts: replicaRestarts,
  deployment_error_rate: deploymentErrorRate,
  deployment_ttft_p95: deploymentTtftP95,
};

/** The subjects for which a rule's condition holds now, narrowed by the rule's scope (node, gpu, deployment). */
export function evaluateRule(rule: RuleView, input: AlertInputs): Observation[] {
  const scope = Object.entries(rule.scope ?? {}).filter(([, v]) => v !== '');
  return EVALUATORS[rule.kind](rule, input).filter((o) => scope.every(([k, v]) => o.labels[k] === v));
}
