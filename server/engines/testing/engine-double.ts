import type http from 'node:http';
import { createOpenAIDouble } from '../../testing/openai-double';
import type { ServedModels } from '../../testing/openai-double-vllm';

/**
 * What the TGI and SGLang TEST DOUBLES share: the one OpenAI double (server/testing/openai-double.ts)
 * answers completions, and the engine's own routes (its /health, /info or /get_model_info, /metrics
 * with its names, its API-key rule) are answered first by `routes`, which returns false to pass a
 * request on. Also the start-up chores: a log line, the pause while "loading", dying like Python.
 */
export type EngineRoutes = (req: http.IncomingMessage, res: http.ServerResponse, path: string, counters: DoubleCounters) => boolean;

export interface DoubleCounters {
  readonly active: number;
  readonly promptTokens: number;
  readonly generationTokens: number;
  readonly received: number;
}

export function createEngineDouble(served: ServedModels | undefined, routes: EngineRoutes): http.Server {
  const double = createOpenAIDouble({ served });
  const { server } = double;
  const inner = server.listeners('request')[0] as (req: http.IncomingMessage, res: http.ServerResponse) => void;
  server.removeAllListeners('request');
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (!routes(req, res, path, double)) inner(req, res);
  });
  return server;
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

/** Fails like the real process: the message on stderr, then the exit code. */
export function die(lines: string, code = 1): never {
  process.stderr.write(lines.endsWith('\n') ? lines : `${lines}\n`);
  process.exit(code);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Binds the double where the engine was told to listen; a taken port fails as Python's errno 98 does. */
export function listen(server: http.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve) => {
    server.once('error', (err) => die(`OSError: [Errno 98] error while attempting to bind on address ('${host}', ${port}): ${(err as Error).message}`));
    server.listen(port, host, resolve);
  });
}

/** Stops on SIGTERM/SIGINT as the engines do: the listener closes and the process exits 0. */
export function stopOnSignals(server: http.Server): void {
  const stop = () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** `--flag value`, `--flag=value` or a bare `--flag` (a switch), as clap and argparse both accept them. */
export function parseFlags(argv: string[], onStray: (arg: string) => never): Map<string, string[]> {
  const flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-')) onStray(arg);
    const eq = arg.indexOf('=');
    const [flag, inline] = eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
    const values: string[] = inline === undefined ? [] : [inline];
    while (inline === undefined && i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) values.push(argv[++i]!);
    flags.set(flag.replaceAll('_', '-'), values);
  }
  return flags;
}

/** The metric line of a Prometheus gauge, counter or histogram sum, with its TYPE. */
export function metric(type: string, name: string, value: number, labels = ''): string {
  return `# TYPE ${name} ${type}\n${name}${labels} ${value}\n`;
}

/** A histogram's _sum sample (what the parsers read of it), under the histogram's TYPE. */
export function histogramSum(name: string, value: number, labels = ''): string {
  return `# TYPE ${name} histogram\n${name}_sum${labels} ${value}\n`;
}
