/**
 * A TEST DOUBLE for SGLang's server, `python3 -m sglang.launch_server ...`, as the sglang engine driver
 * runs it (through the Python that ENCLAVE_SGLANG_PYTHON names). It checks its arguments as SGLang's
 * argparse does (`--quantization` and `--dtype` choices, numbers, `--config` YAML under the flags),
 * shards the attention heads over `--tp-size` (an indivisible count fails with SGLang's
 * ensure_divisibility message), writes SGLang's start-up lines, "loads" with nothing listening, then
 * serves SGLang's HTTP surface: /health, /get_model_info, /metrics with its `sglang:` names (with
 * --enable-metrics), and /v1/* through the one OpenAI double. --api-key guards every path but /health*
 * and /metrics with a 401 {"error": "Unauthorized"}, as its add_api_key_middleware does.
 * Run through server/engines/testing/bin/sglang-python.
 *
 * Environment (all optional):
 *   SGLANG_DOUBLE_LOAD_MS          simulated weight loading time (default 500)
 *   SGLANG_DOUBLE_ATTENTION_HEADS  the model's attention heads (default 32)
 *   SGLANG_DOUBLE_FAIL             'not-enough-memory' | 'profiled-negative': fail with SGLang's recorded log, exit 1
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngineDouble, die, listen, metric, parseFlags, sendJson, sleep, stopOnSignals } from './engine-double';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../sglang/fixtures');
const QUANTIZATIONS = ['awq', 'fp8', 'gptq', 'marlin', 'gptq_marlin', 'awq_marlin', 'bitsandbytes', 'gguf', 'modelopt', 'modelopt_fp4', 'w8a8_int8', 'w8a8_fp8', 'moe_wna16', 'qoq', 'w4afp8', 'compressed-tensors'];
const DTYPES = ['auto', 'half', 'float16', 'bfloat16', 'float', 'float32'];
const FAILURES: Record<string, string> = { 'not-enough-memory': 'not-enough-memory.log', 'profiled-negative': 'profiled-negative.log' };
const USAGE = 'usage: launch_server.py [-h] --model-path MODEL_PATH [options]';

const log = (msg: string) => process.stdout.write(`[${new Date().toISOString().slice(0, 19).replace('T', ' ')}] ${msg}\n`);

/** The `key: value` lines of the --config YAML (what Enclave writes: flat keys, JSON-quoted strings). */
function readConfig(file: string): Map<string, string[]> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    die(`FileNotFoundError: [Errno 2] No such file or directory: '${file}' (${(e as Error).message})`);
  }
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = line.match(/^([a-z0-9_-]+):\s*(.*)$/i);
    if (!m) continue;
    const raw = m[2]!.trim();
    out.set(`--${m[1]!.replaceAll('_', '-')}`, raw === 'true' ? [] : [raw.startsWith('"') ? (JSON.parse(raw) as string) : raw]);
  }
  return out;
}

function parse(argv: string[]) {
  if (argv[0] !== '-m' || argv[1] !== 'sglang.launch_server') die(`/usr/bin/python3: the sglang double runs only '-m sglang.launch_server', not '${argv.slice(0, 2).join(' ')}'`);
  const cli = parseFlags(argv.slice(2), (arg) => die(`${USAGE}\nlaunch_server.py: error: unrecognized arguments: ${arg}`, 2));
  // CLI flags override the config file's values, as SGLang's --config documents.
  const config = cli.get('--config')?.[0];
  const flags = config ? new Map([...readConfig(config), ...cli]) : cli;
  const one = (flag: string) => flags.get(flag)?.[0];
  const choice = (flag: string, choices: string[]) => {
    const value = one(flag);
    if (value !== undefined && !choices.includes(value))
      die(`${USAGE}\nlaunch_server.py: error: argument ${flag}: invalid choice: '${value}' (choose from ${choices.map((c) => `'${c}'`).join(', ')})`, 2);
    return value;
  };
  const num = (flag: string, fallback: number, kind: 'int' | 'float') => {
    const raw = one(flag) ?? String(fallback);
    if (!(kind === 'int' ? /^\d+$/ : /^\d*\.?\d+$/).test(raw)) die(`${USAGE}\nlaunch_server.py: error: argument ${flag}: invalid ${kind} value: '${raw}'`, 2);
    return Number(raw);
  };
  const modelPath = one('--model-path') ?? one('--model');
  if (!modelPath) die(`${USAGE}\nlaunch_server.py: error: the following arguments are required: --model-path/--model`, 2);
  return {
    modelPath,
    host: one('--host') ?? '127.0.0.1',
    port: num('--port', 30000, 'int'),
    servedName: one('--served-model-name') ?? modelPath,
    tp: num('--tp-size', num('--tensor-parallel-size', 1, 'int'), 'int'),
    dtype: choice('--dtype', DTYPES) ?? 'auto',
    quantization: choice('--quantization', QUANTIZATIONS),
    memFractionStatic: num('--mem-fraction-static', 0.88, 'float'),
    contextLength: flags.has('--context-length') ? num('--context-length', 0, 'int') : undefined,
    enableMetrics: flags.has('--enable-metrics'),
    apiKey: one('--api-key') || undefined,
  };
}

async function main() {
  const args = parse(process.argv.slice(2));
  const { apiKey, ...shown } = args;
  log(`server_args=ServerArgs(${Object.entries({ ...shown, api_key: apiKey ? '***' : null }).map(([k, v]) => `${k}=${JSON.stringify(v ?? null)}`).join(', ')}) (a test double, not SGLang)`);

  const visible = process.env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined && visible.split(',').filter(Boolean).length < args.tp) die(`RuntimeError: CUDA error: invalid device ordinal`);
  const heads = Number(process.env.SGLANG_DOUBLE_ATTENTION_HEADS ?? 32);
  if (heads % args.tp !== 0) {
    die(
      `[${new Date().toISOString().slice(0, 19).replace('T', ' ')} TP0] Scheduler hit an exception: Traceback (most recent call last):\n` +
        `  File "/sgl-workspace/sglang/python/sglang/srt/distributed/utils.py", line 26, in ensure_divisibility\n` +
        `AssertionError: ${heads} is not divisible by ${args.tp}`,
    );
  }
  for (let rank = 0; rank < args.tp; rank++) log(`TP${rank}] Load weight begin. avail mem=79.10 GB`);
  await sleep(Number(process.env.SGLANG_DOUBLE_LOAD_MS ?? 500));
  const failure = process.env.SGLANG_DOUBLE_FAIL;
  if (failure) {
    const file = FAILURES[failure];
    if (!file) die(`sglang double: unknown SGLANG_DOUBLE_FAIL '${failure}' (one of ${Object.keys(FAILURES).join(', ')})`, 2);
    die(readFileSync(path.join(fixtures, file), 'utf8'));
  }
  // SGLang's start-up figures in its own wording (the agent's start measurement reads them); the double's numbers, not a GPU's.
  for (let rank = 0; rank < args.tp; rank++) log(`TP${rank}] Load weight end. type=LlamaForCausalLM, dtype=torch.bfloat16, avail mem=63.90 GB, mem usage=${(15.2 / args.tp).toFixed(2)} GB.`);
  for (let rank = 0; rank < args.tp; rank++) log(`TP${rank}] KV Cache is allocated. #tokens: 400000, K size: 24.41 GB, V size: 24.41 GB`);
  for (let rank = 0; rank < args.tp; rank++) log(`TP${rank}] Capture cuda graph end. Time elapsed: 0.50 s. mem usage=0.55 GB. avail mem=14.00 GB.`);

  const served = { servedName: args.servedName, modelPath: args.modelPath, maxModelLen: args.contextLength };
  const server = createEngineDouble(served, (req, res, url, c) => {
    if (url.startsWith('/health')) return res.writeHead(200, { 'content-length': 0 }).end(), true;
    if (url.startsWith('/metrics')) {
      if (!args.enableMetrics) return sendJson(res, 404, { detail: 'Not Found' }), true;
      const labels = `{model_name="${args.servedName}"}`;
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(
        metric('gauge', 'sglang:num_running_reqs', c.active, labels) +
          metric('gauge', 'sglang:num_queue_reqs', 0, labels) +
          metric('gauge', 'sglang:token_usage', c.active ? 0.05 * c.active : 0, labels) +
          metric('counter', 'sglang:prompt_tokens_total', c.promptTokens, labels) +
          metric('counter', 'sglang:generation_tokens_total', c.generationTokens, labels),
      );
      return true;
    }
    if (args.apiKey && req.method !== 'OPTIONS' && req.headers.authorization !== `Bearer ${args.apiKey}`) return sendJson(res, 401, { error: 'Unauthorized' }), true;
    if (req.method === 'GET' && url === '/get_model_info') return sendJson(res, 200, { model_path: args.modelPath, tokenizer_path: args.modelPath, is_generation: true }), true;
    return false;
  });
  stopOnSignals(server);
  await listen(server, args.host, args.port);
  log(`INFO:     Uvicorn running on http://${args.host}:${args.port} (Press CTRL+C to quit)`);
  log('The server is fired up and ready to roll!');
}

void main();
