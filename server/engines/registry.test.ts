import { execa } from 'execa';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from 'vitest';
import { deploymentSpecSchema } from './deployment-spec';
import { freePort } from '../core/net/free-port';
import { until } from '../testing/until';
import { createLlamaCppDriver } from './llamacpp/driver';
import { engineDriver } from './registry';
import type { LaunchRequest } from './types';

const MODEL = path.resolve(import.meta.dirname, '../../models/stories260K.gguf');
const KEY = 'enc-replica-registry';

function launch(spec: Record<string, unknown>, port: number, modelLocation = MODEL): LaunchRequest {
  return {
    deploymentId: 'd',
    replicaId: 'r',
    servedName: 'stories',
    modelLocation,
    spec: deploymentSpecSchema.parse({ engine: 'llamacpp', ...spec }),
    gpuIndices: [0, 1],
    host: '127.0.0.1',
    port,
    apiKey: KEY,
  };
}

test('each engine name has its driver', () => {
  expect(engineDriver('vllm').name).toBe('vllm');
  expect(engineDriver('llamacpp').name).toBe('llamacpp');
  expect(engineDriver('upstream').name).toBe('upstream');
  expect(engineDriver('upstream').command(launch({ engine: 'upstream', upstream: { url: 'http://x' } }, 1))).toBeNull();
});

test('llamacpp: settings from spec.llamacpp over the defaults, GPUs ignored, runnable from any directory', async () => {
  const driver = createLlamaCppDriver(() => ({ threads: 1, context: 1024, sequences: 2 }));
  const cmd = driver.command(launch({ llamacpp: { sequences: 3 } }, 41000))!;
  const flag = (name: string) => cmd.args[cmd.args.indexOf(name) + 1];
  expect([flag('--threads'), flag('--context'), flag('--sequences'), flag('--port'), flag('--name')]).toEqual(['1', '1024', '3', '41000', 'stories']);
  expect(cmd.env).toEqual({ VLLM_API_KEY: KEY });
  expect(cmd.args.join(' ')).not.toContain(KEY);
  expect(cmd.args.join(' ')).not.toMatch(/CUDA|gpu/i);
});

test('llamacpp: the real engine on stories260K goes loading → ready through the driver', async () => {
  const driver = createLlamaCppDriver(() => ({ threads: 1, context: 1024, sequences: 1 }));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const cmd = driver.command(launch({}, port))!;
  expect(await driver.probeReady(url, 'stories', undefined, KEY)).toBe('loading');
  const child = execa(cmd.file, cmd.args, { env: cmd.env, cwd: tmpdir(), reject: false });
  try {
    await until('the engine to be ready', async () => (await driver.probeReady(url, 'stories', undefined, KEY)) === 'ready');
    expect(await driver.probeReady(url, 'another', undefined, KEY)).toBe('failed');
    // Without the replica's secret the model list is closed, so the engine cannot be taken for ready.
    expect(await driver.probeReady(url, 'stories')).toBe('failed');
  } finally {
    child.kill('SIGTERM');
    await child;
  }
});

test('llamacpp: a missing model file is explained', async () => {
  const driver = createLlamaCppDriver(() => ({ threads: 1, context: 1024, sequences: 1 }));
  const cmd = driver.command(launch({}, await freePort(), '/nonexistent/model.gguf'))!;
  const result = await execa(cmd.file, cmd.args, { env: cmd.env, cwd: tmpdir(), reject: false, all: true });
  expect(result.exitCode).toBe(1);
  expect(driver.diagnose(result.all as string)).toBe('The model file /nonexistent/model.gguf does not exist on this node.');
  expect(driver.diagnose('Invalid GGUF magic. Expected "GGUF" but got "garb".')).toMatch(/not a GGUF file/);
  expect(driver.diagnose('all fine')).toBeNull();
});
