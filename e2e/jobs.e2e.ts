import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNvidiaSmiDouble, type NvidiaSmiDouble } from '../server/gpu/nvidia-smi/test-double';
import { TRAINER_DOUBLE_COMMAND } from '../server/lifecycle/jobs/testing/fixtures';
import { launchBrowser, newContext, repoRoot, screenshot, signIn, startEnclave, type RunningEnclave } from './harness';

// A real GGUF quantization of stories260K (q8_0, Enclave's own quantizer on the CPU), followed in the UI
// from the form to its quality gate, promotion, lineage and a pre-filled deployment form. Then a LoRA
// fine-tune, which needs a GPU and torch: this machine has neither, so two named doubles stand in for
// them (an nvidia-smi printing a captured H100 host, and the trainer double speaking lora_sft.py's
// protocol); everything between them and the browser is the real product.
// q8_0 of stories260K moves perplexity by under a tenth of a percent: a limit this tight blocks the
// gate, so the override path (reason required, then promote) is what the browser goes through.
const LIMIT_PCT = 0.01;
let enclave: RunningEnclave;
let smi: NvidiaSmiDouble;
let workDir: string;
let browser: Browser;
let page: Page;
let jobUrl = '';
let outputVersionId = '';
const pageErrors: string[] = [];

beforeAll(async () => {
  smi = writeNvidiaSmiDouble({ query: 'query-gpu/h100-80gb-mig-driver590.csv', apps: 'compute-apps/h100-80gb-three-processes.csv', topo: 'topo/8x-a100-sxm4-40gb-nv12.txt' });
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-e2e-jobs-'));
  // startEnclave passes this process's environment on (this file runs in a process of its own).
  process.env.PATH = `${smi.dir}:${process.env.PATH}`;
  process.env.ENCLAVE_TRAINER_COMMAND = TRAINER_DOUBLE_COMMAND;
  process.env.TRAINER_DOUBLE_STEPS = '30';
  process.env.TRAINER_DOUBLE_STEP_MS = '400';
  enclave = await startEnclave('jobs');
  browser = await launchBrowser();
  page = await (await newContext(browser)).newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await signIn(page, enclave.url, enclave.adminEmail, enclave.adminPassword);
});

afterAll(async () => {
  await browser?.close();
  await enclave?.stop();
  smi?.remove();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

async function closeToasts() {
  while ((await page.locator('.toast button').count()) > 0) await page.locator('.toast button').first().click();
}

describe('jobs pages', () => {
  it('opens the empty jobs list from the navigation, with both new-job buttons', async () => {
    await page.goto(`${enclave.url}/models`);
    await page.click('[data-testid=manage-jobs]');
    await page.waitForURL(/\/jobs$/);
    await page.locator('[data-testid=jobs-table]').waitFor();
    await expect.poll(() => page.locator('[data-testid=jobs-table] tbody').textContent()).toContain('No jobs yet');
    expect(await page.locator('[data-testid=new-finetune]').count()).toBe(1);
  });

  it('checks fine-tune hyper-parameters as they are typed', async () => {
    await page.goto(`${enclave.url}/jobs/new?kind=finetune`);
    await page.locator('[data-testid=finetune-form]').waitFor();
    await page.fill('[data-testid=ft-lora_r]', '0');
    await page.fill('[data-testid=ft-learning_rate]', 'fast');
    expect(await page.locator('[data-testid=error-lora_r]').textContent()).toBe('between 1 and 256');
    expect(await page.locator('[data-testid=error-learning_rate]').textContent()).toBe('not a number');
    await page.click('[data-testid=ft-submit]');
    // Nothing is sent: the base and dataset are missing too, and the page stays.
    expect(await page.locator('[data-testid=error-baseVersionId]').textContent()).toBe('required');
    expect(page.url()).toMatch(/\/jobs\/new/);
    await screenshot(page, 'jobs-finetune-form');
  });

  it('starts a q8_0 quantization of stories260K from the form', async () => {
    await page.click('[data-testid=kind-quantize]');
    await page.locator('[data-testid=quantize-form]').waitFor();
    const source = await page.$$eval('[data-testid=q-source] option', (options) => options.find((o) => /^stories260K · .*\(gguf\)$/.test(o.textContent ?? ''))?.getAttribute('value'));
    expect(source).toBeTruthy();
    await page.selectOption('[data-testid=q-source]', source!);
    expect(await page.inputValue('[data-testid=q-target]')).toBe('q8_0');
    expect(await page.locator('[data-testid=source-size]').textContent()).toMatch(/MiB|KiB/);
    await page.fill('[data-testid=q-max-delta]', String(LIMIT_PCT));
    await screenshot(page, 'jobs-quantize-form');
    await page.click('[data-testid=q-submit]');
    await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
    jobUrl = page.url();
    await page.locator('[data-testid=job-detail]').waitFor();
  });

  it('follows the job live to its end, with the perplexity change drawn against the limit', async () => {
    await page.waitForSelector('[data-testid=job-detail][data-status=succeeded]', { timeout: 180_000 });
    await closeToasts();
    const delta = Number(await page.locator('[data-testid=perplexity-delta]').getAttribute('data-value'));
    expect(Number.isFinite(delta)).toBe(true);
    expect(Number(await page.locator('[data-testid=perplexity-before]').getAttribute('data-value'))).toBeGreaterThan(1);
    expect(Number(await page.locator('[data-testid=perplexity-after]').getAttribute('data-value'))).toBeGreaterThan(1);
    expect(await page.locator('[data-testid=job-progress]').getAttribute('data-value')).toBe('100');
    const gate = await page.locator('[data-testid=quality-panel] [data-testid=gate-status]').getAttribute('data-gate');
    expect(gate).toBe(delta <= LIMIT_PCT ? 'passed' : 'blocked');
    await page.locator('[data-testid=output-version]').waitFor();
    outputVersionId = (await page.locator('[data-testid=output-version]').getAttribute('href'))!.replace('/models#version-', '');
    await screenshot(page, 'jobs-quantize-finished');
  });

  it('promotes the quantized version (overriding the gate with a reason when it blocked)', async () => {
    if ((await page.locator('[data-testid=override-form]').count()) > 0) {
      expect(await page.locator('[data-testid=job-promote]').isDisabled()).toBe(true);
      await page.fill('[data-testid=override-reason]', 'short');
      await page.click('[data-testid=override-submit]');
      await expect.poll(() => page.locator('[data-testid=override-error]').textContent()).toMatch(/at least/);
      await page.fill('[data-testid=override-reason]', 'A tiny test model: any change shows as a large percentage.');
      await page.click('[data-testid=override-submit]');
      await page.waitForSelector('[data-testid=gate-status][data-gate=overridden]');
    }
    // A version that passed its gate is promoted by the worker already; a candidate is promoted here.
    await page.waitForSelector('[data-testid=job-promote], [data-testid=job-promoted]');
    if ((await page.locator('[data-testid=job-promote]').count()) > 0) await page.click('[data-testid=job-promote]');
    await page.locator('[data-testid=job-promoted]').waitFor();
    // The job page draws the chain it belongs to: the source and its quantized child.
    await page.locator('[data-testid=job-lineage] [data-testid=lineage-node][data-role=quantized]').waitFor();
    await closeToasts();
    await screenshot(page, 'jobs-promoted');
  });

  it('lists the job as succeeded, and filters by kind', async () => {
    await page.goto(`${enclave.url}/jobs`);
    const row = page.locator('[data-testid=job-row][data-kind=quantize]');
    await row.waitFor();
    expect(await row.getAttribute('data-status')).toBe('succeeded');
    expect(await row.textContent()).toContain(enclave.adminEmail);
    expect(await row.locator('td').last().textContent()).toMatch(/^\d+(\.\d+)?s$|^\d+m \d\ds$/);
    await page.selectOption('[data-testid=filter-kind]', 'finetune');
    await expect.poll(() => page.locator('[data-testid=job-row]').count()).toBe(0);
    expect(await page.locator('[data-testid=jobs-table] tbody').textContent()).toContain('No job matches');
    await page.selectOption('[data-testid=filter-kind]', 'quantize');
    await expect.poll(() => page.locator('[data-testid=job-row]').count()).toBe(1);
    await screenshot(page, 'jobs-list');
  });

  it('draws the lineage on /models: the base, its quantized child linking to its job, and the base deployment', async () => {
    await page.goto(`${enclave.url}/models`);
    const card = page.locator('[data-testid=model-card][data-model=stories260K]');
    const lineage = card.locator('[data-testid=model-lineage]');
    await lineage.locator('[data-testid=lineage-node][data-role=quantized]').waitFor({ timeout: 30_000 });
    expect(await lineage.locator('[data-testid=lineage-node][data-role=base]').count()).toBeGreaterThan(0);
    const quantized = lineage.locator(`#lineage-${outputVersionId}`);
    expect(await quantized.getAttribute('data-stage')).toBe('promoted');
    expect(new URL(jobUrl).pathname).toBe(await quantized.getAttribute('href'));
    // ENCLAVE_MODELS_DIR deploys the bundled file: its deployment ends the base's chain.
    expect(await lineage.locator('[data-testid=lineage-deployment]').count()).toBeGreaterThan(0);
    await lineage.scrollIntoViewIfNeeded();
    await screenshot(page, 'jobs-lineage-models');

    // Each deployment box opens its deployment, whose page links back to this drawing.
    await lineage.locator('[data-testid=lineage-deployment]').first().click();
    await page.waitForURL(/\/deployments\/[0-9a-f-]{36}$/);
    await page.click('[data-testid=deployment-lineage]');
    await page.waitForURL(/\/models#lineage-[0-9a-f-]{36}$/);
    const anchor = new URL(page.url()).hash.slice(1);
    await page.locator(`[data-testid=model-lineage] #${anchor}`).waitFor();
  });

  it('"Deploy this" opens the deployment form pre-filled with the quantized version', async () => {
    await page.goto(jobUrl);
    await page.click('[data-testid=job-deploy]');
    await page.waitForURL(/\/deployments\/new\?modelVersionId=/);
    await page.locator('[data-testid=deployment-form]').waitFor();
    expect(await page.inputValue('[data-testid=deploy-version]')).toBe(outputVersionId);
    expect(await page.inputValue('[data-testid=deploy-engine]')).toBe('llamacpp');
    expect(await page.inputValue('[data-testid=deploy-name]')).toMatch(/^stories260K-/);
    await screenshot(page, 'jobs-deploy-prefilled');
    expect(pageErrors).toEqual([]);
  });
});

describe('a fine-tune, followed live', () => {
  const datasetName = 'sums-e2e';

  it('registers an HF base and uploads a dataset for it', async () => {
    const base = path.join(workDir, 'llama-3-8b');
    fs.mkdirSync(base);
    fs.copyFileSync(path.join(repoRoot, 'server/gpu/estimator/configs/meta-llama-3-8b.json'), path.join(base, 'config.json'));
    await page.goto(`${enclave.url}/models`);
    await page.click('[data-testid=register-version] summary');
    await page.fill('[data-testid=register-model-name]', 'llama-3-8b');
    await page.fill('[data-testid=register-location]', base);
    await page.selectOption('[data-testid=register-version] select >> nth=0', 'hf');
    await page.click('[data-testid=register-submit]');
    await page.locator('[data-testid=model-card][data-model=llama-3-8b]').waitFor();

    const file = path.join(workDir, `${datasetName}.jsonl`);
    const rows = Array.from({ length: 40 }, (_, i) => JSON.stringify({ messages: [{ role: 'user', content: `What is ${i} plus ${i}?` }, { role: 'assistant', content: `${2 * i}.` }] }));
    fs.writeFileSync(file, rows.join('\n'));
    await page.goto(`${enclave.url}/datasets`);
    await page.setInputFiles('[data-testid=dataset-file]', file);
    await page.fill('[data-testid=dataset-name]', datasetName);
    await page.click('[data-testid=dataset-submit]');
    await page.locator('[data-testid=dataset-uploaded]').waitFor({ timeout: 30_000 });
  });

  it('estimates memory and placement on the (double) H100 host before starting', async () => {
    await page.goto(`${enclave.url}/jobs/new?kind=finetune`);
    await page.locator('[data-testid=finetune-form]').waitFor();
    const option = (select: string, pattern: RegExp) =>
      page.$$eval(`${select} option`, (options, source) => options.find((o) => new RegExp(source).test(o.textContent ?? ''))?.getAttribute('value') ?? '', pattern.source);
    await page.selectOption('[data-testid=ft-base]', await option('[data-testid=ft-base]', /^llama-3-8b/));
    await page.selectOption('[data-testid=ft-dataset]', await option('[data-testid=ft-dataset]', new RegExp(datasetName)));
    await page.waitForSelector('[data-testid=estimate-verdict][data-feasible=true]', { timeout: 60_000 });
    expect(await page.locator('[data-testid=estimate-memory]').textContent()).toMatch(/GiB/);
    expect(await page.locator('[data-testid=estimate-node] .tile-chosen').count()).toBe(1);
    await screenshot(page, 'jobs-finetune-estimate');
    await page.click('[data-testid=ft-submit]');
    await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
  });

  it('draws loss and learning rate live while it trains, with an ETA, then shows the adapter in the lineage', async () => {
    // The page follows the job over server-sent events, its jobs.events subscription (polling is only the fallback).
    const events = page.waitForResponse((r) => /\/api\/trpc\/jobs\.events\?/.test(r.url()), { timeout: 30_000 });
    await page.reload();
    const stream = await events;
    expect(stream.status()).toBe(200);
    expect(stream.headers()['content-type']).toMatch(/^text\/event-stream/);
    await page.waitForSelector('[data-testid=job-detail][data-status=running]', { timeout: 60_000 });
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=loss-chart]')?.getAttribute('data-points') ?? 0) >= 6, null, { timeout: 60_000 });
    expect(Number(await page.locator('[data-testid=lr-chart]').getAttribute('data-points'))).toBeGreaterThanOrEqual(6);
    await expect.poll(() => page.locator('[data-testid=job-progress]').textContent()).toMatch(/ETA/);
    await expect.poll(() => page.locator('[data-testid=job-log-lines]').getAttribute('data-count')).not.toBe('0');
    await closeToasts();
    await screenshot(page, 'jobs-finetune-running');
    await page.waitForSelector('[data-testid=job-detail][data-status=succeeded]', { timeout: 120_000 });
    await page.locator('[data-testid=job-lineage] [data-testid=lineage-node][data-role=adapter]').waitFor({ timeout: 30_000 });
    await screenshot(page, 'jobs-finetune-finished');
    expect(pageErrors).toEqual([]);
  });

  it('shows a running job with its progress in the list, and cancels it after confirming', async () => {
    await page.goto(`${enclave.url}/jobs/new?kind=finetune`);
    await page.locator('[data-testid=finetune-form]').waitFor();
    const option = (select: string, pattern: string) =>
      page.$$eval(`${select} option`, (options, source) => options.find((o) => new RegExp(source).test(o.textContent ?? ''))?.getAttribute('value') ?? '', pattern);
    await page.selectOption('[data-testid=ft-base]', await option('[data-testid=ft-base]', '^llama-3-8b · v1'));
    await page.selectOption('[data-testid=ft-dataset]', await option('[data-testid=ft-dataset]', datasetName));
    await page.fill('[data-testid=ft-epochs]', '1');
    await page.click('[data-testid=ft-submit]');
    await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
    const detail = page.url();
    await page.waitForSelector('[data-testid=job-detail][data-status=running]', { timeout: 60_000 });

    await page.goto(`${enclave.url}/jobs`);
    await page.locator('[data-testid=job-row][data-status=running] [data-testid=job-row-progress]').waitFor();
    await screenshot(page, 'jobs-list-running');

    await page.goto(detail);
    await page.waitForSelector('[data-testid=job-detail][data-status=running]');
    await page.click('[data-testid=job-cancel]');
    await page.click('[data-testid=confirm]');
    await page.waitForSelector('[data-testid=job-detail][data-status=cancelled]', { timeout: 60_000 });
    expect(await page.locator('[data-testid=job-cancel]').count()).toBe(0);
    expect(pageErrors).toEqual([]);
  });
});

