import fs from 'node:fs';
import { estimateMemory, type EstimateSpec } from '../server/gpu/estimator';
import { FleetIndex, type PlacementPlan, type Policy } from '../server/gpu/planner';
import { loadNodeCaptures } from '../server/gpu/planner/node-captures';
import { plan } from '../server/gpu/planner/search';
import { options, required, UsageError } from './args';

function positiveInteger(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got ${value}`);
  return n;
}

function readModelConfig(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`--model ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
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
  const { values } = options(args, {
    nodes: { type: 'string' },
    model: { type: 'string' },
    tp: { type: 'string' },
    dtype: { type: 'string' },
    quantization: { type: 'string' },
    'max-model-len': { type: 'string' },
    'gpu-memory-utilization': { type: 'string' },
    policy: { type: 'string' },
  });
  const nodes = loadNodeCaptures(required(values.nodes, '--nodes'));
  const config = readModelConfig(required(values.model, '--model'));
  const tp = positiveInteger(values.tp, '--tp');
  const utilization = values['gpu-memory-utilization'] === undefined ? 0.9 : Number(values['gpu-memory-utilization']);
  if (!(utilization > 0 && utilization <= 1)) throw new UsageError(`--gpu-memory-utilization must be in (0, 1], got ${values['gpu-memory-utilization']}`);
  const policy = (values.policy ?? 'binpack') as Policy;
  if (policy !== 'binpack' && policy !== 'spread') throw new UsageError(`--policy must be binpack or spread, got ${values.policy}`);
  const spec: EstimateSpec = {
    dtype: values.dtype as EstimateSpec['dtype'],
    quantization: values.quantization ?? null,
    maxModelLen: positiveInteger(values['max-model-len'], '--max-model-len'),
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
