/**
 * The built-in CPU engine: one process serving one GGUF model over an OpenAI-compatible API.
 *   node --import tsx server/engines/llamacpp/main.ts --model PATH --name NAME --port 0 --threads 1 --context 2048 --sequences 4
 * When ready it prints one JSON line to stdout, {"event":"listening","port":N,"pid":P}; everything else goes to stderr.
 * With VLLM_API_KEY in its environment, /v1 answers 401 without `Authorization: Bearer <key>`, as vLLM does.
 */
import type { AddressInfo } from 'node:net';
import { ENGINE_API_KEY_ENV } from '../replica-secret';
import { parseEngineArgs } from './args';
import { LlamaCppEngine } from './engine';
import { createEngineServer } from './http-server';

async function main(): Promise<void> {
  let args;
  try {
    args = parseEngineArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`llamacpp engine: ${(error as Error).message}\n`);
    process.exit(2);
  }

  // The replica's secret comes in the environment, never on the command line (world-readable in /proc).
  const apiKey = process.env[ENGINE_API_KEY_ENV] || undefined;
  delete process.env[ENGINE_API_KEY_ENV];
  if (!apiKey) process.stderr.write(`llamacpp engine: no ${ENGINE_API_KEY_ENV}: /v1 is open to anyone who can reach ${args.host}\n`);

  const engine = await LlamaCppEngine.load(args);
  const server = createEngineServer(engine, { apiKey });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(args.port, args.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ event: 'listening', port, pid: process.pid })}\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`llamacpp engine: ${signal}, stopping\n`);
    server.close();
    await engine.shutdown();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`llamacpp engine failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
