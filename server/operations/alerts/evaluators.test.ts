import { describe, expect, it } from 'vitest';
import { evaluateRule, MAX_SAMPLE_GAP_MS, STALE_SAMPLE_MS, trailingRun } from './evaluators';
import { DEFAULT_RULES } from './kinds';
import { captured, P100_CAPTURE, recordedSeries } from './testing/recorded';
import type { AlertInputs, GpuInput, RuleView } from './types';

const NOW = Date.parse('2026-07-14T10:00:00Z');
const MIN = 60_000;

function rule(kind: RuleView['kind'], over: Partial<RuleView> = {}): RuleView {
  const d = DEFAULT_RULES.find((r) => r.kind === kind)!;
  return { id: 'r', name: d.name, kind, threshold: d.threshold, durationSeconds: d.durationSeconds, severity: d.severity, scope: {}, ...over };
}
function inputs(over: Partial<AlertInputs> = {}, now = NOW): AlertInputs {
  return { now, gpus: [], nodes: [], replicaRestarts: [], deploymentWindows: [], ...over };
}
function gpu(samples: GpuInput['samples'], over: Partial<GpuInput> = {}): GpuInput {
  return { nodeName: 'h100-a', gpuIndex: 0, memoryTotalMiB: 81_559, samples, allocations: [], ...over };
}

describe('trailingRun', () => {
  it('starts where the condition last began to hold, and breaks on a gap or a stale series', () => {
    const s = recordedSeries(40, NOW, (i) => ({ temperatureC: i >= 20 ? 90 : 53 }));
    const run = trailingRun(s, NOW, (x) => (x.temperatureC! > 85 ? x.temperatureC : null))!;
    expect(run).toEqual({ since: s[20]!.at, value: 90 });
    const gapped = s.filter((_, i) => i < 25 || i > 25 + MAX_SAMPLE_GAP_MS / 15_000);
    expect(trailingRun(gapped, NOW, (x) => x.temperatureC)!.since).toBeGreaterThan(s[25]!.at);
    expect(trailingRun(s, NOW + STALE_SAMPLE_MS + 15_000, (x) => x.temperatureC)).toBeNull();
  });
});

describe('each rule kind fires and clears on recorded series', () => {
  it('gpu_temperature: a hot spell on the H100 capture (53 °C → 88 °C) holds for 7 minutes, then cools', () => {
    expect(captured().temperatureC).toBe(53);
    const hot = recordedSeries(60, NOW, (i) => ({ temperatureC: i >= 32 ? 88 : 53 })); // last 28 samples = 7 min
    const [o] = evaluateRule(rule('gpu_temperature'), inputs({ gpus: [gpu(hot)] }));
    expect(o).toMatchObject({ subject: 'h100-a/gpu0', value: 88, labels: { node: 'h100-a', gpu: '0' } });
    expect(NOW - o!.since).toBeGreaterThanOrEqual(6.5 * MIN);
    const cooled = recordedSeries(60, NOW, (i) => ({ temperatureC: i >= 32 && i < 58 ? 88 : 53 }));
    expect(evaluateRule(rule('gpu_temperature'), inputs({ gpus: [gpu(cooled)] }))).toEqual([]);
  });

  it('gpu_memory_pressure: memory climbing from the captured 11 GiB to 79 GiB of 80 fires over 95 %, clears when freed', () => {
    const leak = recordedSeries(40, NOW, (i) => ({ memoryUsedMiB: i >= 10 ? 79_000 : 11_125 }));
    const [o] = evaluateRule(rule('gpu_memory_pressure'), inputs({ gpus: [gpu(leak)] }));
    expect(o!.value).toBeCloseTo(96.9, 1);
    const freed = recordedSeries(40, NOW, (i) => ({ memoryUsedMiB: i >= 10 && i < 39 ? 79_000 : 11_125 }));
    expect(evaluateRule(rule('gpu_memory_pressure'), inputs({ gpus: [gpu(freed)] }))).toEqual([]);
  });

  it('gpu_allocated_idle: the idle P100 capture (0 %) counts only while someone holds the GPU', () => {
    const idle = recordedSeries(200, NOW, () => ({}), P100_CAPTURE);
    expect(idle[0]!.utilizationPct).toBe(0);
    const r = rule('gpu_allocated_idle', { durationSeconds: 1800 });
    expect(evaluateRule(r, inputs({ gpus: [gpu(idle)] }))).toEqual([]);
    const held = gpu(idle, { allocations: [{ holderName: 'llama-70b', since: NOW - 40 * MIN }] });
    const [o] = evaluateRule(r, inputs({ gpus: [held] }));
    expect(o!.message).toContain('llama-70b');
    expect(o!.since).toBe(NOW - 40 * MIN); // 50 min of idle samples, but only the last 40 while held
    // Held only 10 minutes: the run starts at the allocation, not at the first idle sample.
    const recent = gpu(idle, { allocations: [{ holderName: 'llama-70b', since: NOW - 10 * MIN }] });
    expect(NOW - evaluateRule(r, inputs({ gpus: [recent] }))[0]!.since).toBeLessThanOrEqual(10 * MIN);
    const busy = recordedSeries(200, NOW, (i) => ({ utilizationPct: i > 195 ? 70 : 0 }), P100_CAPTURE);
    expect(evaluateRule(r, inputs({ gpus: [gpu(busy, { allocations: held.allocations })] }))).toEqual([]);
  });

  it('agent_silent: fires once the last heartbeat is older than the threshold, not for draining nodes', () => {
    const nodes = [
      { name: 'a', status: 'healthy', lastHeartbeatAt: NOW - 90_000 },
      { name: 'b', status: 'healthy', lastHeartbeatAt: NOW - 10_000 },
      { name: 'c', status: 'draining', lastHeartbeatAt: NOW - 900_000 },
      { name: 'd', status: 'healthy', lastHeartbeatAt: null },
    ];
    const obs = evaluateRule(rule('agent_silent'), inputs({ nodes }));
    expect(obs.map((o) => [o.subject, o.value])).toEqual([['a', 90]]);
    expect(obs[0]!.since).toBe(NOW - 30_000);
  });

  it('replica_restarts: three restarts within 10 minutes fire; older ones do not count', () => {
    const replicaRestarts = [
      { deploymentName: 'qwen', replicaId: '11111111-2222', restarts: [NOW - 9 * MIN, NOW - 5 * MIN, NOW - MIN] },
      { deploymentName: 'mistral', replicaId: '33333333-4444', restarts: [NOW - 30 * MIN, NOW - 5 * MIN, NOW - MIN] },
    ];
    const obs = evaluateRule(rule('replica_restarts'), inputs({ replicaRestarts }));
    expect(obs.map((o) => [o.subject, o.value])).toEqual([['qwen/replica-11111111', 3]]);
    expect(evaluateRule(rule('replica_restarts'), inputs({ replicaRestarts }, NOW + 2 * MIN))).toEqual([]);
  });

  it('deployment_error_rate and deployment_ttft_p95: over the objective fires, under clears, too few requests never fire', () => {
    const w = (over: object) => ({ deploymentName: 'qwen', windowSeconds: 300, requests: 100, errors: 2, ttftP95Ms: 800, ttftCount: 100, ...over });
    expect(evaluateRule(rule('deployment_error_rate'), inputs({ deploymentWindows: [w({ errors: 9 })] }))[0]!.value).toBe(9);
    expect(evaluateRule(rule('deployment_error_rate'), inputs({ deploymentWindows: [w({})] }))).toEqual([]);
    expect(evaluateRule(rule('deployment_error_rate'), inputs({ deploymentWindows: [w({ requests: 3, errors: 3 })] }))).toEqual([]);
    expect(evaluateRule(rule('deployment_ttft_p95'), inputs({ deploymentWindows: [w({ ttftP95Ms: 3100 })] }))[0]!.value).toBe(3100);
    expect(evaluateRule(rule('deployment_ttft_p95'), inputs({ deploymentWindows: [w({})] }))).toEqual([]);
    // A window of another length belongs to another rule.
    expect(evaluateRule(rule('deployment_ttft_p95'), inputs({ deploymentWindows: [w({ windowSeconds: 60, ttftP95Ms: 3100 })] }))).toEqual([]);
  });

  it('a rule scoped to a node watches only that node', () => {
    const hot = recordedSeries(30, NOW, () => ({ temperatureC: 90 }));
    const all = inputs({ gpus: [gpu(hot), gpu(hot, { nodeName: 'h100-b' })] });
    expect(evaluateRule(rule('gpu_temperature'), all)).toHaveLength(2);
    expect(evaluateRule(rule('gpu_temperature', { scope: { node: 'h100-b' } }), all).map((o) => o.subject)).toEqual(['h100-b/gpu0']);
  });
});
