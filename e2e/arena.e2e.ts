import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, newContext, screenshot, signIn, startEnclave, type RunningEnclave } from './harness';

// Two llama.cpp deployments of stories260K on this CPU: the one the models dir registers at start
// ("stories260K") and a twin made here through the deployment form.
const TWIN = 'stories-twin';
const MODEL_NAMES = /stories260K|stories-twin/i;

let enclave: RunningEnclave;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  enclave = await startEnclave('arena');
  browser = await launchBrowser();
  page = await (await newContext(browser)).newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  // Every byte the page reads from arena.start, to check that no model name is in it: the page's own
  // fetch is wrapped to copy the stream (DevTools keeps no body for a response read as a stream).
  await page.addInitScript(() => {
    const w = window as unknown as { __arenaStreams: string[] };
    w.__arenaStreams = [];
    const original = window.fetch.bind(window);
    window.fetch = async (input, init) => {
      const res = await original(input, init);
      if (!String(input).includes('/api/trpc/arena.start') || !res.body) return res;
      const [forPage, forTest] = res.body.tee();
      const slot = w.__arenaStreams.push('') - 1;
      void (async () => {
        const reader = forTest.pipeThrough(new TextDecoderStream()).getReader();
        try {
          for (let r = await reader.read(); !r.done; r = await reader.read()) w.__arenaStreams[slot] += r.value;
        } catch {
          // tRPC's client ends its request once it has read the last event: the copy ends there too.
        }
      })();
      return new Response(forPage, { status: res.status, statusText: res.statusText, headers: res.headers });
    };
  });
  await signIn(page, enclave.url, enclave.adminEmail, enclave.adminPassword);
});

afterAll(async () => {
  await browser?.close();
  await enclave?.stop();
});

async function leaderboardVotes(): Promise<Record<string, number>> {
  await page.goto(`${enclave.url}/leaderboard`);
  await page.waitForSelector('[data-testid=leaderboard-table], [data-testid=leaderboard-empty]');
  const rows = await page.$$eval('[data-testid=leaderboard-row]', (els) => els.map((e) => [e.getAttribute('data-model'), Number(e.getAttribute('data-votes'))] as const));
  return Object.fromEntries(rows);
}

/** Plays one round from the arena page and votes; returns what the reveal said. */
async function playRound(prompt: string, vote: 'a' | 'b' | 'tie' | 'both_bad', shot?: string) {
  await page.fill('[data-testid=arena-input]', prompt);
  await page.click('[data-testid=arena-send]');
  if (shot) {
    // Each side shows how far its answer has come while it streams; a 260K model can finish both answers
    // before the page paints that, so the voting phase counts too (waiting only for the progress failed a CI run).
    await page.waitForSelector('[data-testid=arena-progress-a], [data-testid=arena-progress-b], [data-testid=arena][data-phase=voting]', { timeout: 30_000 });
    await screenshot(page, `${shot}-streaming`);
  }
  await page.waitForSelector(`[data-testid=arena][data-phase=voting]`, { timeout: 90_000 });
  await page.waitForSelector(`[data-testid=vote-${vote}]:not([disabled])`);
  // Blind until the vote: both answers are there, no name is on the arena screen.
  const arenaText = (await page.locator('[data-testid=arena]').textContent())!;
  expect(arenaText).toContain('Model A');
  expect(arenaText).toContain('Model B');
  // The names, not the word: a story the model writes may well mention "stories".
  expect(arenaText).not.toMatch(MODEL_NAMES);
  expect((await page.locator('[data-testid=arena-text-a]').textContent())!.trim().length).toBeGreaterThan(0);
  expect((await page.locator('[data-testid=arena-text-b]').textContent())!.trim().length).toBeGreaterThan(0);
  if (shot) await screenshot(page, `${shot}-before-vote`);
  await page.click(`[data-testid=vote-${vote}]`);
  await page.waitForSelector('[data-testid=arena-reveal]');
  const names = [await page.locator('[data-testid=arena-name-a]').textContent(), await page.locator('[data-testid=arena-name-b]').textContent()];
  if (shot) await screenshot(page, `${shot}-revealed`);
  return { names, excluded: (await page.locator('[data-testid=arena-excluded]').count()) > 0 };
}

describe('arena', () => {
  it('deploys a second stories260K next to the first, through the deployment form', async () => {
    await page.goto(`${enclave.url}/models`);
    const card = page.locator('[data-testid=model-card][data-model=stories260K]');
    await card.locator('[data-testid=version-deploy]').first().click();
    await page.waitForSelector('[data-testid=dry-run-verdict][data-feasible=true]', { timeout: 30_000 });
    await page.fill('[data-testid=deploy-name]', TWIN);
    await page.waitForSelector('[data-testid=dry-run-verdict][data-feasible=true]', { timeout: 30_000 });
    await page.click('[data-testid=deploy-submit]');
    await page.waitForURL(/\/deployments\/[0-9a-f-]{36}$/);
    await page.waitForSelector('[data-testid=replica-row][data-status=ready]', { timeout: 120_000 });
  });

  it('starts with an empty leaderboard', async () => {
    expect(await leaderboardVotes()).toEqual({});
    await page.waitForSelector('[data-testid=leaderboard-empty]');
  });

  it('plays a blind round from the chat sidebar, reveals the names after the vote, and the leaderboard counts it', async () => {
    await page.goto(enclave.url);
    await page.click('[data-testid=arena-link]');
    await page.waitForURL(/\/arena$/);
    await page.waitForSelector('[data-testid=arena-input]');
    // The engines must both be ready for a pair; the chat's model list says when they are.
    await expect
      .poll(
        () => page.evaluate(async () => ((await (await fetch('/api/trpc/models.list')).json()).result.data.json as { ready: boolean }[]).filter((m) => m.ready).length),
        { timeout: 120_000, interval: 1000 },
      )
      .toBe(2);
    const round = await playRound('Tell me a story about a dog', 'a', 'arena');
    expect(round.names.sort()).toEqual(['stories-twin', 'stories260K'].sort());
    const bodies = await page.evaluate(() => (window as unknown as { __arenaStreams: string[] }).__arenaStreams);
    expect(bodies).toHaveLength(1);
    expect(bodies[0]).toMatch(/"type":"end"/);
    expect(bodies[0]).not.toMatch(MODEL_NAMES);

    const after = await leaderboardVotes();
    if (round.excluded) {
      // stories260K happened to write a vendor's name: the vote is kept, but left out.
      expect(await page.locator('[data-testid=leaderboard-counts]').textContent()).toMatch(/Left out/);
    } else {
      expect(after).toEqual({ stories260K: 1, [TWIN]: 1 });
      await page.waitForSelector('[data-testid=leaderboard-intervals] [data-testid=interval-row]');
    }
    await screenshot(page, 'arena-leaderboard-1');
  });

  it('changes the leaderboard again with a second round, from the leaderboard’s own link', async () => {
    const before = await leaderboardVotes();
    await page.click('[data-testid=leaderboard-play]');
    await page.waitForURL(/\/arena$/);
    const round = await playRound('Once upon a time there was a cat', 'b');
    await page.click('[data-testid=arena-new-round]');
    await page.waitForSelector('[data-testid=arena][data-phase=idle]');
    const after = await leaderboardVotes();
    if (!round.excluded) for (const name of ['stories260K', TWIN]) expect(after[name]).toBe((before[name] ?? 0) + 1);
    expect(await page.locator('[data-testid=leaderboard-row]').count()).toBe(2);
    await screenshot(page, 'arena-leaderboard-2');
    await page.selectOption('[data-testid=language-switch]', 'zh-CN');
    await expect.poll(() => page.locator('h1').first().textContent()).toBe('竞技场排行榜');
    await screenshot(page, 'arena-leaderboard-zh-CN');
    await page.selectOption('[data-testid=language-switch]', 'en');
    expect(pageErrors).toEqual([]);
  });
});
