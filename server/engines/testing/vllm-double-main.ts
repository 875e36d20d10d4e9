/**
 * A TEST DOUBLE for the `vllm` executable: `vllm serve MODEL --host H --port P --served-model-name NAME ...`
 * as the vllm engine driver builds it. It checks its arguments as vLLM does (argparse choices, TP against
 * the attention heads, TP x PP against the visible GPUs), writes vLLM's start-up logs, "loads" for a while
 * without answering, then serves vLLM's HTTP endpoints through the one OpenAI double
 * (server/testing/openai-double.ts). Run through server/engines/testing/bin/vllm.
 *
 * Environment (all optional):
 *   VLLM_DOUBLE_LOAD_MS          simulated weight loading time (default 500)
 *   VLLM_DOUBLE_BIND             'late' (default): nothing listens while loading, connections are refused;
 *                                'early': the port is bound at once and requests wait unanswered, as real vLLM does
 *   VLLM_DOUBLE_ATTENTION_HEADS  the model's attention heads (default 32)
 *   VLLM_DOUBLE_GPUS             GPUs on the host when CUDA_VISIBLE_DEVICES is unset (default 8)
 *   VLLM_DOUBLE_GPU_MEMORY_GIB   total memory of one GPU, for the start-up figures (default 79.19, an H100 80GB)
 *   VLLM_DOUBLE_FAIL             'oom' | 'kv-cache' | 'no-cache-blocks': fail while loading with vLLM's recorded log, exit 1
 *   VLLM_API_KEY                 as vLLM reads it: the key /v1 requires when no --api-key is given
 *   VLLM_DOUBLE_JOIN_TIMEOUT_MS  multi-node (--nnodes > 1): how long the head waits for its workers, and a worker for its head
 *
 * Multi-node (`--nnodes`, `--node-rank`, `--master-addr`, `--master-port`, `--headless`): see vllm-double-group.ts.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createOpenAIDouble } from '../../testing/openai-double';
import { startupLines } from './vllm-double-startup';
import { stopOnSignals } from './engine-double';
import { awaitRayCluster, awaitWorkers, joinHead, parseGroup } from './vllm-double-group';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../vllm/fixtures');
const QUANTIZATIONS = ['aqlm', 'awq', 'deepspeedfp', 'tpu_int8', 'fp8', 'fbgemm_fp8', 'modelopt', 'marlin', 'gguf', 'gptq_marlin', 'awq_marlin', 'gptq', 'compressed-tensors', 'bitsandbytes', 'qqq', 'hqq', 'experts_int8', 'ipex', 'quark', 'moe_wna16'];
const DTYPES = ['auto', 'half', 'float16', 'bfloat16', 'float', 'float32'];
const FAILURES: Record<string, string> = { oom: 'oom-load-model.log', 'kv-cache': 'kv-cache-too-small-v1.log', 'no-cache-blocks': 'no-cache-blocks.log' };

const stamp = () => new Date().toISOString().slice(5, 19).replace('T', ' ');
const info = (where: string, msg: string) => process.stdout.write(`INFO ${stamp()} [${where}] ${msg}\n`);

/** Fails like Python: the message on stderr, then the exit code vLLM would give. */
function die(lines: string, code = 1): never {
  process.stderr.write(lines.endsWith('\n') ? lines : `${lines}\n`);
  process.exit(code);
}

function parse(argv: string[]) {
  if (argv[0] !== 'serve') die(`usage: vllm [-h] [-v] {chat,complete,serve,bench,collect-env,run-batch} ...\nvllm: error: argument subparser: invalid choice: '${argv[0] ?? ''}'`, 2);
  const model = argv[1];
  if (!model || model.startsWith('-')) die('usage: vllm serve [model_tag] [options]\nvllm serve: error: the following arguments are required: model_tag', 2);
  const flags = new Map<string, string[]>();
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-')) die(`vllm: error: unrecognized arguments: ${arg}`, 2);
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const values: string[] = inline === undefined ? [] : [inline];
    while (inline === undefined && i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) values.push(argv[++i]!);
    flags.set(flag.replaceAll('_', '-'), values);
  }
  const one = (flag: string, fallback: string) => flags.get(flag)?.[0] ?? fallback;
  const int = (flag: string, fallback: number) => {
    const raw = one(flag, String(fallback));
    if (!/^\d+$/.test(raw)) die(`vllm serve: error: argument ${flag}: invalid int value: '${raw}'`, 2);
    return Number(raw);
  };
  const quantization = flags.get('--quantization')?.[0];
  if (quantization !== undefined && !QUANTIZATIONS.includes(quantization))
    die(`vllm serve: error: argument --quantization/-q: invalid choice: '${quantization}' (choose from ${QUANTIZATIONS.map((q) => `'${q}'`).join(', ')})`, 2);
  const dtype = one('--dtype', 'auto');
  if (!DTYPES.includes(dtype)) die(`vllm serve: error: argument --dtype: invalid choice: '${dtype}' (choose from ${DTYPES.map((d) => `'${d}'`).join(', ')})`, 2);
  const loraModules = (flags.get('--lora-modules') ?? []).map((entry) => {
    const eq = entry.indexOf('=');
    if (eq <= 0) die(`vllm serve: error: argument --lora-modules: invalid LoRA module format: '${entry}' (expected name=path)`, 2);
    return { name: entry.slice(0, eq), path: entry.slice(eq + 1) };
  });
  if (loraModules.length && !flags.has('--enable-lora')) die('ValueError: LoRA modules were given but LoRA is not enabled (--enable-lora)');
  const backend = flags.get('--distributed-executor-backend')?.[0];
  if (backend !== undefined && !['ray', 'mp', 'uni', 'external_launcher'].includes(backend))
    die(`vllm serve: error: argument --distributed-executor-backend: invalid choice: '${backend}' (choose from 'ray', 'mp', 'uni', 'external_launcher')`, 2);
  return {
    model,
    host: one('--host', '0.0.0.0'),
    port: int('--port', 8000),
    servedName: one('--served-model-name', model),
    tp: int('--tensor-parallel-size', 1),
    pp: int('--pipeline-parallel-size', 1),
    maxModelLen: flags.has('--max-model-len') ? int('--max-model-len', 0) : undefined,
    gpuMemoryUtilization: Number(one('--gpu-memory-utilization', '0.9')) || 0.9,
    enforceEager: flags.has('--enforce-eager'),
    // As vLLM: --api-key wins over VLLM_API_KEY; an empty value is no key.
    apiKey: flags.get('--api-key')?.[0] || process.env.VLLM_API_KEY || undefined,
    loraModules,
    flags,
    group: parseGroup(flags, die),
    ray: backend === 'ray',
  };
}

async function main() {
  const args = parse(process.argv.slice(2));
  info('api_server.py:1043', 'vLLM API server version 0.0.0+double (a test double, not vLLM)');
  info('api_server.py:1044', `args: model=${args.model} served_model_name=${args.servedName} tensor_parallel_size=${args.tp} pipeline_parallel_size=${args.pp}`);

  const visible = process.env.CUDA_VISIBLE_DEVICES;
  const gpus = visible !== undefined ? visible.split(',').filter(Boolean).length : Number(process.env.VLLM_DOUBLE_GPUS ?? 8);
  const heads = Number(process.env.VLLM_DOUBLE_ATTENTION_HEADS ?? 32);
  if (heads % args.tp !== 0)
    die(`Traceback (most recent call last):\n  File "/usr/local/lib/python3.12/dist-packages/vllm/config.py", line 1054, in verify_with_parallel_config\n    raise ValueError(\nValueError: Total number of attention heads (${heads}) must be divisible by tensor parallel size (${args.tp}).`);
  const world = args.tp * args.pp;
  // Across hosts each node holds its share of the world (vLLM: world_size / nnodes GPUs per node).
  const nodes = args.group?.nodes ?? 1;
  if (world % nodes !== 0) die(`ValueError: world size (${world}) must be divisible by nnodes (${nodes})`);
  // On Ray the world's GPUs are the cluster's, on whichever nodes joined it.
  if (args.ray) await awaitRayCluster(world, info, die);
  else if (world / nodes > gpus)
    die(`(APIServer pid=${process.pid}) pydantic_core._pydantic_core.ValidationError: 1 validation error for ParallelConfig\n  Value error, World size (${world / nodes}) is larger than the number of available GPUs (${gpus}) in this node.`);

  if (args.group?.headless) {
    // A worker: no API server, only its part of the model, alive while its head is.
    process.on('SIGTERM', () => process.exit(0));
    process.on('SIGINT', () => process.exit(0));
    await joinHead(args.group, world, info, die);
    info('gpu_model_runner.py:1273', `Starting to load model ${args.model} (pipeline stage ${args.group.rank} of ${args.group.nodes})...`);
    return;
  }
  if (args.group) await awaitWorkers(args.group, world, info, die);

  const loadMs = Number(process.env.VLLM_DOUBLE_LOAD_MS ?? 500);
  const failure = process.env.VLLM_DOUBLE_FAIL;
  let markLoaded!: () => void;
  const loaded = new Promise<void>((resolve) => (markLoaded = resolve));
  const early = process.env.VLLM_DOUBLE_BIND === 'early';
  const { server } = createOpenAIDouble({
    served: { servedName: args.servedName, modelPath: args.model, loraModules: args.loraModules, maxModelLen: args.maxModelLen },
    apiKey: args.apiKey,
    loaded: early ? loaded : undefined,
  });
  const listen = () =>
    new Promise<void>((resolve) => {
      server.once('error', (err) => die(`OSError: [Errno 98] error while attempting to bind on address ('${args.host}', ${args.port}): ${(err as Error).message}`));
      server.listen(args.port, args.host, resolve);
    });
  stopOnSignals(server);

  if (early) await listen();
  info('gpu_model_runner.py:1273', `Starting to load model ${args.model}...`);
  await new Promise((r) => setTimeout(r, loadMs));
  if (failure) {
    const file = FAILURES[failure];
    if (!file) die(`vllm double: unknown VLLM_DOUBLE_FAIL '${failure}' (one of ${Object.keys(FAILURES).join(', ')})`, 2);
    die(readFileSync(path.join(fixtures, file), 'utf8'));
  }
  // The start-up figures in vLLM's V1 wording, derived from the settings: what Enclave's measurement reads.
  const gpuMemoryGiB = Number(process.env.VLLM_DOUBLE_GPU_MEMORY_GIB ?? 79.19);
  for (const line of startupLines({ ...args, gpuMemoryGiB })) info(line.where, line.msg);
  if (!early) await listen();
  markLoaded();
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`INFO:     Started server process [${process.pid}]\nINFO:     Application startup complete.\nINFO:     Uvicorn running on http://${args.host}:${port} (Press CTRL+C to quit)\n`);
}

void main();
