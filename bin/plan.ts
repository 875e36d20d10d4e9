import { estimateMemory, type EstimateSpec } from '../server/gpu/estimator';
import { FleetIndex, type PlacementPlan, type Policy } from '../server/gpu/planner';
import { loadNodeCaptures } from '../server/gpu/planner/node-captures';
import { plan } from '../server/gpu/planner/search';
import { numberFlag, options, positiveInteger, readFlagFile, required, UsageError } from './args';

function readModelConfig(file: string): unknown {
  const text = readFlagFile(file, '--model');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--model ${file} is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * `enclave plan --nodes DIR --model CONFIG_JSON [...]`: a placement dry run on captured nodes. Prints the
 * decision and the memory estimate; when nothing fits, the estimate is for the split the reasons describe.
 */
export async function planCommand(args: string[]): Promise<number> {
  const { values } = options(args, ['nodes', 'model', 'tp', 'dtype', 'quantization', 'max-model-len', 'gpu-memory-utilization', 'policy']);
  const nodes = loadNodeCaptures(required(values.nodes, '--nodes'));
  const config = readModelConfig(required(values.model, '--model'));
  const tp = numberFlag(values.tp, '--tp', 'a positive integer', positiveInteger);
  const utilization = numberFlag(values['gpu-memory-utilization'], '--gpu-memory-utilization', 'in (0, 1]', (n) => n > 0 && n <= 1) ?? 0.9;
  const policy = (values.policy ?? 'binpack') as Policy;
  if (policy !== 'binpack' && policy !== 'spread') throw new UsageError(`--policy must be binpack or spread, got ${values.policy}`);
  const spec: EstimateSpec = {
    dtype: values.dtype as EstimateSpec['dtype'],
    quantization: values.quantization ?? null,
    maxModelLen: numberFlag(values['max-model-len'], '--max-model-len', 'a positive integer', positiveInteger),
    gpuMemoryUtilization: utilization,
  };
  const estimate = (tp: number, pp: number, gpuMemoryBytes?: number) => estimateMemory(config, { ...spec, tp, pp, gpuMemoryBytes });
  // Fails here, before planning, on a config or spec the estimator cannot read.
  estimate(tp ?? 1, 1);

  const claims = new Map<string, number | { error: string }>();
  const claimPerGpu = (t: number, p: number) => {
    const key = `${t}x${p}`;
    if (!claims.has(key)) {
      const e = estimate(t, p);
      claims.set(key, e.error ? { error: e.error } : e.perGpuBytes);
    }
    return claims.get(key)!;
  };
  const index = new FleetIndex(nodes);
  const decision = plan(index, { engine: 'vllm', tp, claimPerGpu, gpuMemoryUtilization: utilization, policy });
  const split = decision.feasible ? { tp: decision.tp!, pp: decision.pp! } : { tp: tp ?? describedTp(nodes.map((n) => n.gpus.length), claimPerGpu), pp: 1 };
  const shown = estimate(split.tp, split.pp, smallestGpuBytes(nodes, decision));
  process.stdout.write(
    JSON.stringify(
      {
        feasible: decision.feasible,
        tp: split.tp,
        pp: split.pp,
        placements: decision.placements,
        perGpuBytes: shown.perGpuBytes,
        perGpu: shown.perGpu,
        maxConcurrentSequences: shown.maxConcurrentSequences,
        reasons: decision.reasons,
      },
      null,
      2,
    ) + '\n',
  );
  return 0;
}

/** Without --tp and without a fit: the largest valid split of the largest node, as the per-node reasons describe. */
function describedTp(gpuCounts: number[], claim: (tp: number, pp: number) => number | { error: string }): number {
  for (let t = Math.max(1, ...gpuCounts); t > 1; t--) if (typeof claim(t, 1) === 'number') return t;
  return 1;
}

/** Concurrency is bounded by the smallest GPU the replica lands on (or, with no fit, the largest there is). */
function smallestGpuBytes(nodes: ReturnType<typeof loadNodeCaptures>, decision: PlacementPlan): number | undefined {
  const chosen = decision.placements.flatMap((p) => nodes.find((n) => n.name === p.node)!.gpus.filter((g) => p.gpus.includes(g.index)));
  const sizes = (chosen.length ? chosen : nodes.flatMap((n) => n.gpus)).map((g) => g.memoryTotalBytes);
  if (sizes.length === 0) return undefined;
  return chosen.length ? Math.min(...sizes) : Math.max(...sizes);
}
