import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { launchBrowser, newContext, repoRoot, screenshot, signIn, signInFirstTime, startEnclave, type RunningEnclave } from './harness';

// This machine has no NVIDIA GPU: the llamacpp deployment of stories260K runs on the local node's CPU,
// and a vLLM deployment cannot be placed anywhere. The UI must say both plainly.
const VIEWER_EMAIL = 'vera@example.test';
const VIEWER_PASSWORD = 'vera-password-123';
const MODEL_FILE = path.resolve(repoRoot, 'models/stories260K.gguf');

let enclave: RunningEnclave;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  enclave = await startEnclave('fleet');
  browser = await launchBrowser();
  page = await (await newContext(browser)).newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await signIn(page, enclave.url, enclave.adminEmail, enclave.adminPassword);
});

afterAll(async () => {
  await browser?.close();
  await enclave?.stop();
});

describe('fleet pages', () => {
  it('lists stories260K with its GGUF version on /models, reached from the navigation', async () => {
    await page.click('[data-testid=nav-fleet]');
    await page.click('[data-testid=manage-models]');
    await page.waitForURL(/\/models$/);
    const card = page.locator('[data-testid=model-card][data-model=stories260K]');
    await card.locator('[data-testid=version-row][data-format=gguf]').waitFor();
    expect(await card.locator('[data-testid=version-row] .mono').first().textContent()).toMatch(/^[0-9a-f]{12}$|^—$/);
    await screenshot(page, 'fleet-models');
  });

  it('registers a second version with its parent, and refuses a location that does not exist with a clear message', async () => {
    await page.click('[data-testid=register-version] summary');
    await page.fill('[data-testid=register-model-name]', 'stories260K');
    await page.fill('[data-testid=register-location]', '/nonexistent/model.gguf');
    await page.selectOption('[data-testid=register-version] select >> nth=0', 'gguf');
    await page.click('[data-testid=register-submit]');
    await expect.poll(() => page.locator('.toast-error').textContent()).toContain('does not exist');

    await page.fill('[data-testid=register-location]', MODEL_FILE);
    const card = page.locator('[data-testid=model-card][data-model=stories260K]');
    const v1 = await card.locator('[data-testid=version-row]').first().getAttribute('id');
    await page.selectOption('[data-testid=register-version] select >> nth=1', v1!.replace('version-', ''));
    await page.click('[data-testid=register-submit]');
    await expect.poll(() => card.locator('[data-testid=version-row]').count()).toBe(2);
    // Lineage: the new version names its parent.
    expect(await card.locator('[data-testid=version-row]').nth(1).textContent()).toContain('stories260K · v1');
    await screenshot(page, 'fleet-models-registered');
    // Close the toasts so they do not cover the next screenshots.
    while ((await page.locator('.toast button').count()) > 0) await page.locator('.toast button').first().click();
  });

  it('opens the deployment form pre-filled from the version, and the dry run places llama.cpp on the CPU node', async () => {
    const card = page.locator('[data-testid=model-card][data-model=stories260K]');
    await card.locator('[data-testid=version-deploy]').first().click();
    await page.waitForURL(/\/deployments\/new\?version=/);
    await page.waitForSelector('[data-testid=deployment-form]');
    expect(await page.inputValue('[data-testid=deploy-engine]')).toBe('llamacpp');
    expect(await page.inputValue('[data-testid=deploy-version]')).not.toBe('');
    expect(await page.inputValue('[data-testid=deploy-name]')).toMatch(/^stories260K-/);

    await page.waitForSelector('[data-testid=dry-run-verdict][data-feasible=true]', { timeout: 30_000 });
    const placed = page.locator('[data-testid=placement-node]');
    expect(await placed.count()).toBeGreaterThan(0);
    // No GPUs here: the node is drawn as one CPU tile, no GPU tile is chosen.
    expect(await placed.first().locator('.tile-cpu').count()).toBe(1);
    expect(await page.locator('[data-testid=tile-chosen]').count()).toBe(0);
    await screenshot(page, 'fleet-dry-run-llamacpp');
  });

  it('explains why a vLLM deployment fits nowhere on a machine without GPUs', async () => {
    await page.selectOption('[data-testid=deploy-engine]', 'vllm');
    await page.waitForSelector('[data-testid=dry-run-verdict][data-feasible=false]', { timeout: 30_000 });
    const reasons = await page.locator('[data-testid=dry-run-reasons] li').allTextContents();
    expect(reasons.length).toBeGreaterThan(0);
    expect(reasons.join(' ')).toMatch(/GPU/i);
    await screenshot(page, 'fleet-dry-run-vllm');
  });

  it('creates a llama.cpp deployment from the form, follows it to ready, and deletes it after confirming', async () => {
    await page.selectOption('[data-testid=deploy-engine]', 'llamacpp');
    await page.waitForSelector('[data-testid=dry-run-verdict][data-feasible=true]');
    const name = await page.inputValue('[data-testid=deploy-name]');
    await page.click('[data-testid=deploy-submit]');
    await page.waitForURL(/\/deployments\/[0-9a-f-]{36}$/);
    expect(await page.locator('h1').textContent()).toContain(name);
    await page.locator('[data-testid=event]', { hasText: 'created by admin@example.test' }).waitFor();
    await page.waitForSelector('[data-testid=replica-row][data-status=ready]', { timeout: 120_000 });
    await page.locator('[data-testid=event]', { hasText: 'placed on' }).waitFor();

    await page.click('[data-testid=delete]');
    await page.click('[data-testid=confirm]');
    await page.waitForURL(/\/deployments$/);
    await page.locator('[data-testid=deployment-row][data-name=stories260K]').waitFor();
    expect(await page.locator(`[data-testid=deployment-row][data-name="${name}"]`).count()).toBe(0);
  });

  it('shows the stories260K deployment with its ready replica and its log lines', async () => {
    const row = page.locator('[data-testid=deployment-row][data-name=stories260K]');
    await row.waitFor();
    await row.locator('[data-testid=deployment-link]').click();
    await page.waitForURL(/\/deployments\/[0-9a-f-]{36}$/);
    await page.waitForSelector('[data-testid=replica-row][data-status=ready]', { timeout: 120_000 });
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=log-lines]')?.getAttribute('data-count') ?? 0) > 0, null, { timeout: 30_000 });
    expect(await page.locator('[data-testid=deployment-actions]').count()).toBe(1);
    // The ready engine's live load, scraped from its own /metrics.
    await expect.poll(() => page.locator('[data-testid=replica-load]').first().textContent(), { timeout: 15_000 }).toMatch(/\d+ running, \d+ waiting/);
    expect(await page.locator('[data-testid=lineage-link]').getAttribute('href')).toMatch(/^\/models#version-[0-9a-f-]{36}$/);
  });

  it('scales from the detail page, and each change lands in the status history', async () => {
    await page.fill('[data-testid=scale-replicas]', '2');
    await page.click('[data-testid=scale]');
    await page.locator('[data-testid=event]', { hasText: '1 → 2' }).waitFor({ timeout: 15_000 });
    await expect.poll(() => page.locator('[data-testid=deployment-ready]').textContent()).toMatch(/\/ 2 /);
    await screenshot(page, 'fleet-deployment-detail');

    await page.fill('[data-testid=scale-replicas]', '1');
    await page.click('[data-testid=scale]');
    await page.locator('[data-testid=event]', { hasText: '2 → 1' }).waitFor({ timeout: 15_000 });
    await expect.poll(() => page.locator('[data-testid=deployment-ready]').textContent()).toMatch(/\/ 1 /);
  });

  it('shows the local node on /gpus and says it has no GPUs, in English and in Chinese', async () => {
    await page.click('[data-testid=manage-gpus]');
    await page.waitForURL(/\/gpus$/);
    const node = page.locator('[data-testid=node-card]').first();
    await node.waitFor();
    expect(await node.locator('[data-testid=no-gpus]').textContent()).toBe('No NVIDIA GPUs on this node: CPU engines only');
    await screenshot(page, 'fleet-gpus');

    await page.selectOption('[data-testid=language-switch]', 'zh-CN');
    await expect.poll(() => node.locator('[data-testid=no-gpus]').textContent()).toBe('此节点没有 NVIDIA GPU：只能运行 CPU 引擎');
    await screenshot(page, 'fleet-gpus-zh-CN');
    await page.selectOption('[data-testid=language-switch]', 'en');
  });

  it('lets a viewer look at deployments but offers no action', async () => {
    await page.goto(`${enclave.url}/admin/users`);
    await page.fill('[data-testid=new-user-email]', VIEWER_EMAIL);
    await page.fill('[data-testid=new-user-password]', VIEWER_PASSWORD);
    await page.selectOption('[data-testid=new-user-role]', 'viewer');
    await page.click('[data-testid=create-user]');
    await page.locator('[data-testid=user-row]', { hasText: VIEWER_EMAIL }).waitFor();

    const viewer = await (await newContext(browser)).newPage();
    viewer.on('pageerror', (err) => pageErrors.push(err.message));
    await signInFirstTime(viewer, enclave.url, VIEWER_EMAIL, VIEWER_PASSWORD, 'sunlit-meadow-canvas-8');
    await viewer.goto(`${enclave.url}/deployments`);
    await viewer.locator('[data-testid=deployment-row][data-name=stories260K]').waitFor();
    await viewer.waitForSelector('[data-testid=read-only-note]');
    expect(await viewer.locator('[data-testid=new-deployment]').count()).toBe(0);
    await viewer.locator('[data-testid=deployment-link]').first().click();
    await viewer.waitForSelector('[data-testid=replica-row]');
    expect(await viewer.locator('[data-testid=deployment-actions]').count()).toBe(0);
    await screenshot(viewer, 'fleet-deployment-viewer');
    await viewer.context().close();
    expect(pageErrors).toEqual([]);
  });
});
