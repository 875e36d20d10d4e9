import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { expect, test } from 'vitest';
import { parseVllmMetrics, scrapeMetrics } from './metrics';

const fixture = (name: string) => readFileSync(path.join(import.meta.dirname, 'fixtures', name), 'utf8');

test('V1 names: kv_cache_usage_perc, counters without their _created twins', () => {
  expect(parseVllmMetrics(fixture('metrics.txt'))).toEqual({
    running: 4,
    waiting: 0,
    kvCacheUsage: 0.4219,
    promptTokensTotal: 2097152,
    generationTokensTotal: 524288,
    preemptionsTotal: 3,
  });
});

test('V0 names: gpu_cache_usage_perc, exponent notation', () => {
  expect(parseVllmMetrics(fixture('metrics-v0.txt'))).toEqual({
    running: 2,
    waiting: 5,
    kvCacheUsage: 0.55,
    promptTokensTotal: 1_000_000,
    generationTokensTotal: 250_000,
  });
});

test('several engine cores: counts add up, usage is averaged; unlabelled samples and junk lines are fine', () => {
  const text = [
    'vllm:num_requests_running{engine="0",model_name="a b"} 3',
    'vllm:num_requests_running{engine="1",model_name="a b"} 2',
    'vllm:kv_cache_usage_perc{engine="0"} 0.2',
    'vllm:kv_cache_usage_perc{engine="1"} 0.6',
    'vllm:num_requests_waiting 7',
    'vllm:num_requests_waiting{engine="0"} NaN',
    'garbage',
  ].join('\n');
  const load = parseVllmMetrics(text);
  expect(load.running).toBe(5);
  expect(load.waiting).toBe(7);
  expect(load.kvCacheUsage).toBeCloseTo(0.4);
  expect(parseVllmMetrics('')).toEqual({ running: 0, waiting: 0 });
});

test('scrapeMetrics reads /metrics over HTTP and refuses a non-200 answer', async () => {
  let status = 200;
  const server = http.createServer((req, res) => {
    res.writeHead(req.url === '/metrics' ? status : 404, { 'content-type': 'text/plain' });
    res.end(fixture('metrics.txt'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  try {
    expect((await scrapeMetrics(url)).kvCacheUsage).toBe(0.4219);
    status = 503;
    await expect(scrapeMetrics(url)).rejects.toThrow(/503/);
  } finally {
    server.close();
  }
});
