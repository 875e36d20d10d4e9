import { createHash } from 'node:crypto';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { makePng } from '../server/testing/media-fixtures';
import { startOpenAIDouble, type OpenAIDouble } from '../server/testing/openai-double';
import { screenshot, signIn, startEnclave, waitForModel, waitForNewReply, assistantIds, type RunningEnclave } from './harness';

/**
 * Images and voice in the browser (issue 16, parts 5 and 6). The built-in stories260K deployment has no
 * vision: an image is refused with a clear message and the composer keeps the text and the image chip.
 * The OpenAI double registered as an upstream deployment that declares vision and audio takes the image
 * (it arrives byte for byte) and shows the microphone, hidden before it existed; Chromium's fake
 * microphone feeds a recording that the double "transcribes" into the message box, and read-aloud asks
 * it for speech.
 */
let enclave: RunningEnclave;
let browser: Browser;
let page: Page;
let double: OpenAIDouble;
const pageErrors: string[] = [];
const png = makePng(64, 48);

async function trpc(kind: 'query' | 'mutation', procedure: string, input?: unknown): Promise<any> {
  return page.evaluate(
    async ([k, p, i]) => {
      const res =
        k === 'query'
          ? await fetch(`/api/trpc/${p}${i === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(i))}`}`)
          : await fetch(`/api/trpc/${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(i ?? null) });
      const body = await res.json();
      if (!res.ok) throw new Error(`${p}: ${res.status} ${body?.error?.message}`);
      return body.result.data.json;
    },
    [kind, procedure, input] as const,
  );
}

async function attach(name = 'red.png') {
  await page.setInputFiles('[data-testid=attach-input]', { name, mimeType: 'image/png', buffer: png });
  await page.waitForSelector('[data-testid=image-chip]');
}

beforeAll(async () => {
  [enclave, double] = await Promise.all([startEnclave('media'), startOpenAIDouble({ tokens: 4, firstTokenMs: 1, interTokenMs: 1, served: { servedName: 'seeing-double' } })]);
  // The harness's flags, plus a fake microphone that needs no permission prompt.
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', permissions: ['microphone'] });
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await signIn(page, enclave.url, enclave.adminEmail, enclave.adminPassword);
  await waitForModel(page);
}, 420_000);

afterAll(async () => {
  await browser?.close();
  await enclave?.stop();
  await double?.close();
});

test('stories260K has no vision: the image is refused with a clear message, the text and the chip stay; no microphone', async () => {
  expect(await page.locator('[data-testid=mic]').count()).toBe(0);
  await attach();
  await page.fill('[data-testid=composer-input]', 'What is in this picture?');
  await page.press('[data-testid=composer-input]', 'Enter');
  await page.getByText("The deployment 'stories260K' does not take images").first().waitFor({ timeout: 30_000 });
  expect(await page.inputValue('[data-testid=composer-input]')).toBe('What is in this picture?');
  expect(await page.locator('[data-testid=image-chip]').count()).toBe(1);
  await screenshot(page, 'media-refused-by-text-model');
  // Removing the chip sends the text alone.
  await page.click('[data-testid=image-chip-remove]');
  expect(await page.locator('[data-testid=image-chip]').count()).toBe(0);
  await page.fill('[data-testid=composer-input]', '');
});

test('a vision and audio deployment takes the image byte for byte, shows the microphone, transcribes and reads aloud', async () => {
  const { id } = await trpc('mutation', 'deployments.create', {
    name: 'seeing-double',
    spec: { engine: 'upstream', upstream: { url: `${double.url}/v1`, model: 'seeing-double' } },
    vision: true,
    audio: true,
  });
  // An upstream takes public data only by default; this one is the organisation's own (every level).
  await trpc('mutation', 'dataProtection.setDeploymentPolicy', { deploymentId: id, maxLevel: 3, mode: 'block' });
  await expect
    .poll(async () => ((await trpc('query', 'models.list')) as { name: string; ready: boolean }[]).some((m) => m.name === 'seeing-double' && m.ready), { timeout: 60_000, interval: 500 })
    .toBe(true);
  await page.reload();
  await waitForModel(page);
  await page.waitForSelector('[data-testid=mic]', { timeout: 30_000 });
  await page.selectOption('[data-testid=model-picker]', 'seeing-double');

  double.clear();
  await attach();
  const before = await assistantIds(page);
  await page.fill('[data-testid=composer-input]', 'Describe this picture');
  await page.press('[data-testid=composer-input]', 'Enter');
  await waitForNewReply(page, before);
  await page.waitForSelector('[data-testid=message-user] [data-testid=message-image]');
  expect(await page.locator('[data-testid=image-chip]').count()).toBe(0);
  const chat = double.requests.find((r) => r.path === '/v1/chat/completions')!;
  expect(chat.media).toEqual([{ mediaType: 'image/png', bytes: png.length, sha256: createHash('sha256').update(png).digest('hex') }]);
  await screenshot(page, 'media-image-answered');

  // The fake microphone: record a moment, stop, and the double's transcript lands in the box.
  await page.click('[data-testid=mic]');
  await page.waitForSelector('[data-testid=mic][data-state=recording]');
  await page.waitForTimeout(800);
  await page.click('[data-testid=mic]');
  await page.waitForFunction(() => (document.querySelector('[data-testid=composer-input]') as HTMLTextAreaElement).value.startsWith('The double heard'), null, { timeout: 30_000 });
  const transcription = double.requests.find((r) => r.path === '/v1/audio/transcriptions')!;
  expect(transcription.media![0]!.bytes).toBeGreaterThan(0);

  // Read-aloud asks the speech deployment for the reply's audio.
  await page.locator('[data-testid=message-assistant] [data-testid=read-aloud]').last().click();
  await expect.poll(() => double.requests.some((r) => r.path === '/v1/audio/speech'), { timeout: 30_000 }).toBe(true);
  await page.waitForSelector('[data-testid=read-aloud]:not([data-state=loading])');
  expect(pageErrors).toEqual([]);
});

test('editing a message keeps its image (shown as a chip in the edit box) and sends it again', async () => {
  double.clear();
  const first = page.locator('[data-testid=message-user]').first();
  await first.locator('[data-testid=edit-message]').click();
  await first.locator('[data-testid=image-chip]').waitFor();
  await page.fill('[data-testid=edit-input]', 'Describe this picture in one word');
  await screenshot(page, 'media-edit-keeps-image');
  const before = await assistantIds(page);
  await page.click('[data-testid=edit-save]');
  await waitForNewReply(page, before);
  // The edit is a new branch (2/2) whose message still shows the image, and the model got it again.
  await page.waitForSelector('[data-testid=branch-position]');
  expect(await page.locator('[data-testid=message-user]').first().locator('[data-testid=message-image]').count()).toBe(1);
  const chat = double.requests.find((r) => r.path === '/v1/chat/completions')!;
  expect(chat.media).toEqual([{ mediaType: 'image/png', bytes: png.length, sha256: createHash('sha256').update(png).digest('hex') }]);
  await screenshot(page, 'media-edit-answered');
  expect(pageErrors).toEqual([]);
});
