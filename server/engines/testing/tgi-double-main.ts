/**
 * A TEST DOUBLE for Hugging Face TGI's `text-generation-launcher`, as the tgi engine driver runs it. It
 * checks its arguments as the launcher's clap parser does (`--quantize` and `--dtype` choices, numbers),
 * shards the vocabulary over `--num-shard` as TGI's TensorParallelEmbedding does (an indivisible size
 * fails with TGI's recorded message), writes the launcher's start-up lines, "loads" for a while with
 * nothing listening (TGI starts its router only after the shards warmed up), then serves TGI's HTTP
 * surface: /health, /info, /metrics with TGI's names, /v1/models listing the model id, /tokenize, and
 * completions through the one OpenAI double. API_KEY (clap's env for --api-key) guards the generation
 * routes only, compared case-blind with an empty 401, as router/src/server.rs does.
 * Run through server/engines/testing/bin/text-generation-launcher.
 *
 * Environment (all optional):
 *   TGI_DOUBLE_LOAD_MS     simulated shard loading and warm-up time (default 500)
 *   TGI_DOUBLE_VOCAB       the model's vocabulary size, sharded over --num-shard (default 32000)
 *   TGI_DOUBLE_FAIL        'warmup-oom' | 'master-port' | 'cuda-oom': fail with TGI's recorded log, exit 1
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngineDouble, die, histogramSum, listen, metric, parseFlags, sendJson, sleep, stopOnSignals } from './engine-double';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../tgi/fixtures');
const QUANTIZE = ['awq', 'compressed-tensors', 'eetq', 'exl2', 'gptq', 'marlin', 'bitsandbytes', 'bitsandbytes-nf4', 'bitsandbytes-fp4', 'fp8'];
const DTYPES = ['float16', 'bfloat16'];
const FAILURES: Record<string, string> = { 'warmup-oom': 'warmup-prefill-oom.log', 'master-port': 'master-port-in-use.log', 'cuda-oom': 'cuda-oom.log' };
/** The routes --api-key guards (router/src/server.rs `base_routes`); the rest stay open. */
const GUARDED = new Set(['/', '/generate', '/generate_stream', '/v1/chat/completions', '/v1/completions', '/vertex', '/invocations', '/tokenize']);

const log = (level: string, where: string, msg: string) => process.stdout.write(`${new Date().toISOString()}  ${level} ${where}text_generation_launcher: ${msg}\n`);

function parse(argv: string[]) {
  const flags = parseFlags(argv, (arg) => die(`error: unexpected argument '${arg}' found\n\nUsage: text-generation-launcher [OPTIONS]`, 2));
  const one = (flag: string) => flags.get(flag)?.[0];
  const choice = (flag: string, choices: string[]) => {
    const value = one(flag);
    if (value !== undefined && !choices.includes(value))
      die(`error: invalid value '${value}' for '${flag} <${flag.slice(2).toUpperCase().replaceAll('-', '_')}>'\n  [possible values: ${choices.join(', ')}]\n\nFor more information, try '--help'.`, 2);
    return value;
  };
  const int = (flag: string, fallback: number) => {
    const raw = one(flag) ?? String(fallback);
    if (!/^\d+$/.test(raw)) die(`error: invalid value '${raw}' for '${flag} <${flag.slice(2).toUpperCase().replaceAll('-', '_')}>': invalid digit found in string`, 2);
    return Number(raw);
  };
  const maxTotal = flags.has('--max-total-tokens') ? int('--max-total-tokens', 0) : 4096;
  return {
    modelId: one('--model-id') ?? 'bigscience/bloom-560m',
    host: one('--hostname') ?? '0.0.0.0',
    port: int('--port', 3000),
    numShard: int('--num-shard', 1),
    quantize: choice('--quantize', QUANTIZE),
    dtype: choice('--dtype', DTYPES),
    maxTotalTokens: maxTotal,
    maxInputTokens: flags.has('--max-input-tokens') ? int('--max-input-tokens', 0) : maxTotal - 1,
    // clap's env = "API_KEY": the flag wins over the variable.
    apiKey: one('--api-key') ?? (process.env.API_KEY || undefined),
    udsPath: one('--shard-uds-path') ?? '/tmp/text-generation-server',
  };
}

async function main() {
  const args = parse(process.argv.slice(2));
  const { apiKey: _hidden, ...shown } = args;
  log('INFO', '', `Args { ${Object.entries(shown).map(([k, v]) => `${k}: ${JSON.stringify(v ?? null)}`).join(', ')} } (a test double, not TGI)`);
  for (let rank = 0; rank < args.numShard; rank++) log('INFO', 'shard-manager: ', `Starting shard rank=${rank}`);

  const vocab = Number(process.env.TGI_DOUBLE_VOCAB ?? 32000);
  if (vocab % args.numShard !== 0) {
    die(
      `  File "/opt/conda/lib/python3.11/site-packages/text_generation_server/utils/weights.py", line 84, in get_sharded\n    assert (\n` +
        `AssertionError: The choosen size ${vocab} is not compatible with sharding on ${args.numShard} shards\n rank=0\n` +
        `${new Date().toISOString()} ERROR text_generation_launcher: Shard 0 failed to start\nError: ShardCannotStart`,
    );
  }
  const visible = process.env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined && visible.split(',').filter(Boolean).length < args.numShard)
    die(`RuntimeError: CUDA error: invalid device ordinal\n rank=${args.numShard - 1}\n${new Date().toISOString()} ERROR text_generation_launcher: Shard ${args.numShard - 1} failed to start\nError: ShardCannotStart`);

  await sleep(Number(process.env.TGI_DOUBLE_LOAD_MS ?? 500));
  const failure = process.env.TGI_DOUBLE_FAIL;
  if (failure) {
    const file = FAILURES[failure];
    if (!file) die(`tgi double: unknown TGI_DOUBLE_FAIL '${failure}' (one of ${Object.keys(FAILURES).join(', ')})`, 2);
    die(`${readFileSync(path.join(fixtures, file), 'utf8')}Error: ShardCannotStart`);
  }
  for (let rank = 0; rank < args.numShard; rank++) log('INFO', 'shard-manager: ', `Shard ready in 0.5s rank=${rank}`);
  log('INFO', '', 'Starting Webserver');

  const server = createEngineDouble(undefined, (req, res, url, c) => {
    if (GUARDED.has(url) && args.apiKey && (req.headers.authorization ?? '').toLowerCase() !== `bearer ${args.apiKey}`.toLowerCase()) {
      res.writeHead(401, { 'content-length': 0 }).end();
      return true;
    }
    if (req.method === 'GET' && url === '/info')
      return (
        sendJson(res, 200, {
          model_id: args.modelId,
          model_sha: null,
          model_pipeline_tag: 'text-generation',
          max_concurrent_requests: 128,
          max_best_of: 2,
          max_stop_sequences: 4,
          max_input_tokens: args.maxInputTokens,
          max_total_tokens: args.maxTotalTokens,
          validation_workers: 2,
          max_client_batch_size: 4,
          router: 'text-generation-router',
          version: '0.0.0+double',
          sha: null,
          docker_label: null,
        }),
        true
      );
    if (req.method === 'GET' && url === '/v1/models')
      return sendJson(res, 200, { object: 'list', data: [{ id: args.modelId, object: 'model', created: 0, owned_by: args.modelId }] }), true;
    if (req.method === 'POST' && url === '/tokenize') return sendJson(res, 200, [{ id: 1, text: 'ping', start: 0, stop: 4 }]), true;
    if (req.method === 'GET' && url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(
        metric('gauge', 'tgi_batch_current_size', c.active) +
          metric('gauge', 'tgi_queue_size', 0) +
          metric('gauge', 'tgi_batch_current_max_tokens', c.active * args.maxTotalTokens) +
          metric('gauge', 'tgi_batch_total_tokens', 16 * args.maxTotalTokens) +
          metric('counter', 'tgi_request_count', c.received) +
          histogramSum('tgi_request_input_length', c.promptTokens) +
          histogramSum('tgi_request_generated_tokens', c.generationTokens),
      );
      return true;
    }
    return false;
  });
  stopOnSignals(server);
  await listen(server, args.host, args.port);
  log('INFO', 'text_generation_router::server: router/src/server.rs:2050: ', 'Connected');
}

void main();
