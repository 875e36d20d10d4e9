import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { DeploymentSpec } from '../deployment-spec';
import { extraArgProblems } from '../extra-args';
import { placedGpuEnv } from '../gpu-env';
import { ggufOnlyProblem, HF_QUANTIZATION } from '../hf-quantization';
import type { EngineCommand, LaunchRequest } from '../types';

/** Flags the deployment spec or the placement owns (clap refuses a repeated flag, so a second one would fail the start). */
const OWNED_FLAGS = new Set([
  '--model-id',
  '--hostname',
  '--port',
  '-p',
  '--num-shard',
  '--sharded',
  '--quantize',
  '--dtype',
  '--max-total-tokens',
  '--max-input-tokens',
  '--max-input-length',
  '--cuda-memory-fraction',
  '--shard-uds-path',
  '--master-port',
  // The replica's secret reaches TGI through API_KEY (clap reads --api-key from it), never argv.
  '--api-key',
  '--usage-stats',
  '--lora-adapters',
]);

/** TGI's `--quantize` values for the spec's (vLLM's spellings); null: TGI reads the method from the checkpoint's config.json. */
const TGI_QUANTIZE = HF_QUANTIZATION;

export class TgiSpecError extends Error {}

/** Every reason this spec cannot become a `text-generation-launcher` command line, in plain words ([] when it can). */
export function tgiSpecProblems(spec: DeploymentSpec): string[] {
  const problems: string[] = [];
  const gguf = ggufOnlyProblem('TGI', spec, TGI_QUANTIZE);
  if (gguf) problems.push(gguf);
  if (spec.dtype === 'float32') problems.push("TGI runs in float16 or bfloat16 only (its --dtype has no float32); choose one of those or 'auto'");
  if (spec.dtype !== 'auto' && spec.quantization && TGI_QUANTIZE[spec.quantization])
    problems.push(`TGI does not take --dtype together with --quantize; leave dtype 'auto' for ${spec.quantization} weights`);
  if (spec.pp > 1) problems.push('TGI has no pipeline parallelism; use pp 1 and a larger tp (--num-shard)');
  if (spec.loraAdapters.length) problems.push('LoRA adapters are served through vLLM in Enclave; use the vllm engine for a deployment with adapters');
  if (spec.maxModelLen !== undefined && spec.maxModelLen < 2) problems.push('maxModelLen must leave room for one input and one generated token');
  problems.push(...extraArgProblems(spec.extraArgs, OWNED_FLAGS));
  return problems;
}

/**
 * The unix socket prefix the launcher's shards listen on, and the torch.distributed master port: both
 * default to one value per host (/tmp/text-generation-server, 29500), so two TGI replicas on one node
 * collide (recorded: fixtures/master-port-in-use.log). Each replica gets its own socket; the port is
 * derived from the replica and its HTTP port, so a start that still collides picks another next time.
 */
export function tgiShardAddresses(launch: Pick<LaunchRequest, 'replicaId' | 'port'>) {
  const hash = createHash('sha256').update(`${launch.replicaId}:${launch.port}`).digest().readUInt32BE(0);
  return { udsPath: path.join(os.tmpdir(), `enclave-tgi-${launch.replicaId}`), masterPort: 20_000 + (hash % 10_000) };
}

/** The `text-generation-launcher` command for one placed replica. Throws TgiSpecError when the spec cannot run on TGI. */
export function tgiCommand(launch: LaunchRequest, bin = process.env.ENCLAVE_TGI_BIN || 'text-generation-launcher'): EngineCommand {
  const spec = launch.spec;
  const problems = tgiSpecProblems(spec);
  if (problems.length) throw new TgiSpecError(problems.join('; '));
  const tp = spec.tp ?? 1;
  if (launch.gpuIndices.length !== tp) throw new TgiSpecError(`the placement gave ${launch.gpuIndices.length} GPU(s) but TP ${tp} needs ${tp}`);
  const shard = tgiShardAddresses(launch);
  const args = [
    '--model-id',
    launch.modelLocation,
    '--hostname',
    launch.host,
    '--port',
    String(launch.port),
    '--num-shard',
    String(tp),
    '--cuda-memory-fraction',
    String(spec.gpuMemoryUtilization),
    '--shard-uds-path',
    shard.udsPath,
    '--master-port',
    String(shard.masterPort),
    // An air-gapped platform: TGI otherwise reports usage to Hugging Face from every replica.
    '--usage-stats',
    'off',
  ];
  const quantize = spec.quantization ? TGI_QUANTIZE[spec.quantization] : null;
  if (quantize) args.push('--quantize', quantize);
  if (spec.dtype !== 'auto') args.push('--dtype', spec.dtype);
  // TGI's "memory budget" of one request is max-total-tokens (prompt + generated), its input at most one less.
  if (spec.maxModelLen) args.push('--max-total-tokens', String(spec.maxModelLen), '--max-input-tokens', String(spec.maxModelLen - 1));
  args.push(...spec.extraArgs);
  return {
    file: bin,
    args,
    env: {
      ...placedGpuEnv(launch.gpuIndices),
      // clap reads --api-key from API_KEY; the router then answers 401 on its generation routes without
      // `Authorization: Bearer <secret>`. See driver.ts for what TGI leaves open and how Enclave covers it.
      API_KEY: launch.apiKey,
    },
  };
}
