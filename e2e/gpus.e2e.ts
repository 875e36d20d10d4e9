import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../server/db/client';
import { allocations, deploymentReplicas, deployments, replicaStartMeasurements } from '../server/db/schema';
import { makeModelVersion } from '../server/testing/factories';
import { insertRecordedNode, recordedSeries } from '../server/operations/alerts/testing/recorded';
import { launchBrowser, newContext, screenshot, signIn, startEnclave, type RunningEnclave } from './harness';

// No GPU here: the product is shown a recorded hour of an H100 node (the real capture's readings, with a
// 10-minute hot spell on GPU 0) and an allocation held by a deployment, written into its own database.
const MIN = 60_000;
let enclave: RunningEnclave;
let db: Db;
let browser: Browser;
let page: Page;
let nodeId: string;
let measuredDeploymentId: string;
const pageErrors: string[] = [];
const received: { status: string; alerts: { labels: Record<string, string> }[] }[] = [];
const receiver = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    received.push(JSON.parse(body));
    res.writeHead(200).end();
  });
});

beforeAll(async () => {
  enclave = await startEnclave('gpus');
  db = createDb(enclave.databaseUrl, 2);
  const now = Date.now();
  const node = await insertRecordedNode(db, 'h100-rack1', {
    // GPU 0: the captured 434 W while busy, about 90 W idle; GPU 1 idles throughout.
    0: recordedSeries(240, now, (i, base) => ({ temperatureC: i >= 200 ? 89 : 53 + (i % 7), utilizationPct: i >= 80 ? 70 + (i % 20) : 3, powerW: i >= 80 ? base.powerW : 88 })),
    1: recordedSeries(240, now, (i) => ({ utilizationPct: 0, memoryUsedMiB: 0, temperatureC: 34 + (i % 3), powerW: 70 + (i % 4) })),
  });
  nodeId = node.id;
  // A stopped deployment: the reconciler leaves it alone, and its allocation stays as written.
  const [dep] = await db.insert(deployments).values({ name: 'llama-70b', engine: 'vllm', status: 'stopped', desiredReplicas: 0 }).returning();
  const [replica] = await db.insert(deploymentReplicas).values({ deploymentId: dep!.id, nodeName: 'h100-rack1', gpuIndices: [0], url: '', status: 'stopped' }).returning();
  await db.insert(allocations).values({ nodeId, gpuIndex: 0, holderKind: 'replica', holderId: replica!.id, memoryBytes: 60 * 2 ** 30, createdAt: new Date(now - 40 * MIN) });
  // A vLLM start measured on this node: Meta-Llama-3-8B at TP 1 on an H100, with the figures vLLM logged
  // there (vllm-project/vllm#10511: weights 14.96 GiB, 53.29 GiB of KV cache) beside the estimator's.
  const { version } = await makeModelVersion(db, { modelName: 'Meta-Llama-3-8B', format: 'hf', location: '/models/Meta-Llama-3-8B' });
  const [measured] = await db.insert(deployments).values({ name: 'llama-3-8b', engine: 'vllm', status: 'stopped', desiredReplicas: 0, modelVersionId: version.id }).returning();
  measuredDeploymentId = measured!.id;
  const [measuredReplica] = await db.insert(deploymentReplicas).values({ deploymentId: measured!.id, nodeName: 'h100-rack1', gpuIndices: [1], url: '', status: 'stopped' }).returning();
  await db.insert(replicaStartMeasurements).values({
    deploymentId: measured!.id,
    replicaId: measuredReplica!.id,
    replicaStartedAt: new Date(now - 30 * MIN),
    modelVersionId: version.id,
    engine: 'vllm',
    dtype: 'auto',
    tp: 1,
    pp: 1,
    nodeName: 'h100-rack1',
    gpuName: 'NVIDIA H100 80GB HBM3',
    gpuMemoryTotalMiB: 81559,
    predictedWeightsBytes: Math.round(14.958 * 2 ** 30),
    predictedKvCacheBytes: Math.round(52.72 * 2 ** 30),
    predictedMaxConcurrency: 6.6,
    measuredWeightsBytes: Math.round(14.96 * 2 ** 30),
    measuredKvCacheBytes: Math.round(53.29 * 2 ** 30),
    measuredMaxConcurrency: 6.66,
    logWording: 'v1',
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));

  browser = await launchBrowser();
  page = await (await newContext(browser, { width: 1280, height: 1000 })).newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await signIn(page, enclave.url, enclave.adminEmail, enclave.adminPassword);
});

afterAll(async () => {
  receiver.closeAllConnections();
  receiver.close();
  await browser?.close();
  await db?.$client.end();
  await enclave?.stop();
});

describe('GPU dashboards and alerts', () => {
  it('opens a node’s charts from /gpus: four charts with the allocation drawn as a band', async () => {
    await page.goto(`${enclave.url}/gpus`);
    const card = page.locator('[data-testid=node-card][data-node=h100-rack1]');
    await card.locator('[data-testid=allocation-chip]').first().waitFor();
    expect(await card.locator('[data-testid=allocation-chip]').first().textContent()).toContain('llama-70b');
    // The hour of history arrives after the cards: wait for GPU 0's sparkline before the picture.
    await expect.poll(() => card.locator('[data-testid=sparkline]').first().getAttribute('data-points')).not.toBe('0');
    await screenshot(page, 'gpus-overview');
    await card.locator('[data-testid=node-charts-link]').click();
    await page.waitForURL(new RegExp(`/gpus/${nodeId}$`));
    const util = page.locator('[data-testid=chart-utilization]');
    await util.waitFor();
    // Both GPUs, an hour in 30 s buckets (about 120 points each).
    expect(Number(await util.getAttribute('data-series'))).toBe(2);
    expect(Number(await util.getAttribute('data-points'))).toBeGreaterThan(200);
    for (const chart of ['chart-memory', 'chart-temperature', 'chart-power']) await page.locator(`[data-testid=${chart}]`).waitFor();
    expect(await util.locator('[data-testid=chart-band]').count()).toBe(1);
    expect(await util.locator('[data-testid=chart-band]').textContent()).toBe('GPU 0 · llama-70b');
    // The default temperature rule's threshold is drawn on the temperature chart.
    expect(await page.locator('[data-testid=chart-temperature] .chart-marker').textContent()).toContain('85 °C');
    expect(await page.locator('[data-testid=allocation-row]').count()).toBe(1);
    await screenshot(page, 'gpus-node-all');
  });

  it('shows one GPU with memory used and allocated, and switches to a day', async () => {
    await page.click('[data-testid=gpu-picker] button[data-gpu="0"]');
    const memory = page.locator('[data-testid=chart-memory]');
    await expect.poll(() => memory.getAttribute('data-series')).toBe('2');
    expect(await memory.textContent()).toContain('Allocated');
    expect(await page.locator('[data-testid=chart-utilization] [data-testid=chart-band]').textContent()).toBe('llama-70b');
    await screenshot(page, 'gpus-node-gpu0');
    await page.click('[data-testid=window-switch] button[data-window=day]');
    await expect.poll(() => page.locator('.charts-toolbar').textContent()).toContain('One point per 12 min');
    expect(Number(await page.locator('[data-testid=chart-utilization]').getAttribute('data-points'))).toBeLessThanOrEqual(7);
    await screenshot(page, 'gpus-node-day');
    expect(pageErrors).toEqual([]);
  });

  it('draws a measured start against its prediction on the deployment page, and lists the error on /gpus', async () => {
    await page.goto(`${enclave.url}/deployments/${measuredDeploymentId}`);
    const start = page.locator('[data-testid=start-measurement]');
    await start.waitFor();
    expect(await start.count()).toBe(1);
    // Weights and KV cache, each a predicted and a measured bar.
    expect(await start.locator('[data-testid=measured-memory] [data-testid=paired-row]').count()).toBe(2);
    expect(Number(await start.locator('[data-testid=measured-memory] [data-testid=bar-measured]').first().getAttribute('data-value'))).toBe(Math.round(14.96 * 2 ** 30));
    await start.scrollIntoViewIfNeeded();
    await screenshot(page, 'gpus-start-measured');

    await page.goto(`${enclave.url}/gpus`);
    const row = page.locator('[data-testid=estimate-error-row]');
    await row.waitFor();
    expect(await row.count()).toBe(1);
    const text = (await row.textContent()) ?? '';
    expect(text).toContain('Meta-Llama-3-8B');
    expect(text).toContain('NVIDIA H100 80GB HBM3');
    await page.locator('[data-testid=estimate-errors]').scrollIntoViewIfNeeded();
    await screenshot(page, 'gpus-estimate-errors');
  });

  it('lists the firing temperature alert on /alerts, and posts it to a webhook added there', async () => {
    await page.click('[data-testid=manage-alerts]');
    await page.waitForURL(/\/alerts$/);
    const firing = page.locator('[data-testid=firing-alert][data-kind=gpu_temperature][data-subject="h100-rack1/gpu0"]');
    await firing.waitFor({ timeout: 60_000 });
    expect(await firing.textContent()).toContain('89 °C');
    expect(await page.locator('[data-testid=rule-row]').count()).toBe(7);

    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook/secret-token-e2e`;
    await page.fill('[data-testid=webhook-form] input[type=text]', 'ops');
    await page.fill('[data-testid=webhook-form] input[type=password]', url);
    await page.click('[data-testid=webhook-form] button[type=submit]');
    const row = page.locator('[data-testid=webhook-row]');
    await row.waitFor();
    expect(await row.textContent()).not.toContain('secret-token-e2e');
    // The worker evaluates every 15 s and sends what nobody was told about yet.
    await expect.poll(() => received.flatMap((r) => r.alerts.map((a) => a.labels.subject)), { timeout: 45_000, interval: 1000 }).toContain('h100-rack1/gpu0');
    expect(received[0]!.status).toBe('firing');
    while ((await page.locator('.toast button').count()) > 0) await page.locator('.toast button').first().click();
    await screenshot(page, 'alerts-firing');
    await page.locator('[data-testid=rules-table]').scrollIntoViewIfNeeded();
    await screenshot(page, 'alerts-rules');
    // The same page in Chinese (the choice is saved for the user, so it is switched back afterwards).
    await page.selectOption('[data-testid=language-switch]', 'zh-CN');
    await page.locator('h1', { hasText: '告警' }).waitFor();
    await page.evaluate(() => document.querySelector('.manage-main')?.scrollTo(0, 0));
    await screenshot(page, 'alerts-firing-zh-CN');
    await page.selectOption('[data-testid=language-switch]', 'en');

    // The node's page names its firing alert above the charts.
    await page.goto(`${enclave.url}/gpus/${nodeId}`);
    const banner = page.locator('[data-testid=node-firing-alerts]');
    await banner.waitFor();
    expect(await banner.textContent()).toContain('h100-rack1/gpu0 is at 89 °C');
    await screenshot(page, 'gpus-node-firing');
    expect(pageErrors).toEqual([]);
  });
});
