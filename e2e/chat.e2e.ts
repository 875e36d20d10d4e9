import type { Browser, BrowserContext, Download, Page } from 'playwright-core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assistantIds, waitForModel, launchBrowser, newContext, screenshot, sendAndWait, signIn, startEnclave, waitForNewReply, type RunningEnclave } from './harness';

// stories260K writes children's stories: these tests assert mechanics (streaming, stop, branches), never content.
const FIRST_PROMPT = 'Tell me a story about a cat';
const EDITED_PROMPT = 'Tell me a story about a dog';

let enclave: RunningEnclave;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

const lastAssistantText = (p: Page) =>
  p.$$eval('[data-testid=message-assistant] [data-testid=message-content]', (els) => els.at(-1)?.textContent ?? '');

async function readDownload(download: Download): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of await download.createReadStream()) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

beforeAll(async () => {
  enclave = await startEnclave('chat');
  browser = await launchBrowser();
  context = await newContext(browser);
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
});

afterAll(async () => {
  await browser?.close();
  await enclave?.stop();
});

describe('chat in the browser', () => {
  it('signs in as the admin', async () => {
    await signIn(page, enclave.url, enclave.adminEmail, enclave.adminPassword);
    expect(new URL(page.url()).pathname).toBe('/');
    await page.waitForSelector('[data-testid=chat-empty]');
    await waitForModel(page);
    await screenshot(page, 'chat-empty');
  });

  it('streams the reply in pieces into a new conversation and moves to its URL', async () => {
    // Record every distinct length the newest reply has while it streams.
    await page.evaluate(() => {
      const w = window as unknown as { __lengths: number[] };
      w.__lengths = [];
      new MutationObserver(() => {
        const all = document.querySelectorAll('[data-testid=message-assistant] [data-testid=message-content]');
        const n = all[all.length - 1]?.textContent?.length;
        if (n !== undefined && w.__lengths.at(-1) !== n) w.__lengths.push(n);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    const replyId = await sendAndWait(page, FIRST_PROMPT);

    const lengths = await page.evaluate(() => (window as unknown as { __lengths: number[] }).__lengths);
    const nonEmpty = new Set(lengths.filter((n) => n > 0));
    expect(nonEmpty.size, `lengths seen: ${lengths.join(',')}`).toBeGreaterThanOrEqual(2);
    expect(new URL(page.url()).pathname).toMatch(/^\/c\/[0-9a-f-]{36}$/);
    expect((await lastAssistantText(page)).length).toBeGreaterThan(0);
    const reply = page.locator(`[data-message-id="${replyId}"]`);
    await reply.locator('[data-testid=reply-usage]').waitFor();
    expect(await reply.locator('[data-testid=reply-stopped]').count()).toBe(0);
    // The new conversation is in the sidebar under the first message as its title.
    await page.locator('[data-testid=conversation-item]', { hasText: FIRST_PROMPT }).waitFor();
    await screenshot(page, 'chat-streamed');
  });

  it('stop during a stream leaves a partial reply marked stopped, kept after reload', async () => {
    await page.click('[data-testid=generation-settings]');
    await page.fill('[data-testid=max-tokens]', '4000');
    await page.click('[data-testid=generation-settings]');

    const before = await assistantIds(page);
    await page.fill('[data-testid=composer-input]', 'Tell me a very long story');
    await page.press('[data-testid=composer-input]', 'Enter');
    await page.waitForFunction((known) => {
      const replies = [...document.querySelectorAll('[data-testid=message-assistant]')].filter((e) => !known.includes(e.getAttribute('data-message-id') ?? ''));
      return (replies.at(-1)?.querySelector('[data-testid=message-content]')?.textContent ?? '').length > 0;
    }, before);
    await page.click('[data-testid=stop]');
    const replyId = await waitForNewReply(page, before);
    const reply = page.locator(`[data-message-id="${replyId}"]`);
    await reply.locator('[data-testid=reply-stopped]').waitFor();
    const partial = (await reply.locator('[data-testid=message-content]').textContent()) ?? '';
    expect(partial.length).toBeGreaterThan(0);
    await screenshot(page, 'chat-stopped');
    // Back to the server's default length, so later turns stay short.
    await page.click('[data-testid=generation-settings]');
    await page.getByRole('button', { name: 'Reset' }).click();
    await page.click('[data-testid=generation-settings]');

    // The server saves the partial reply when it notices the disconnect: give it a moment.
    let saved = false;
    for (let attempt = 0; attempt < 10 && !saved; attempt++) {
      await page.reload();
      await page.waitForSelector('[data-testid=message-assistant]');
      saved = (await page.locator(`[data-message-id="${replyId}"] [data-testid=reply-stopped]`).count()) === 1;
      if (!saved) await page.waitForTimeout(500);
    }
    expect(saved).toBe(true);
    expect(((await page.locator(`[data-message-id="${replyId}"] [data-testid=message-content]`).textContent()) ?? '').length).toBeGreaterThan(0);
  });

  it('finds the history again after a reload and from the conversation list', async () => {
    const url = page.url();
    await page.goto(`${enclave.url}/`);
    await page.waitForSelector('[data-testid=chat-empty]');
    await page.locator('[data-testid=conversation-item]', { hasText: FIRST_PROMPT }).locator('a').click();
    await page.waitForURL(url);
    await page.locator('[data-testid=message-user]', { hasText: FIRST_PROMPT }).waitFor();
    expect(await page.locator('[data-testid=message-user]').count()).toBe(2);
    expect(await page.locator('[data-testid=message-assistant]').count()).toBe(2);
  });

  it('edit-and-resend makes a branch and keeps the earlier one reachable with the switcher', async () => {
    const firstUser = page.locator('[data-testid=message-user]').first();
    await firstUser.hover();
    await firstUser.locator('[data-testid=edit-message]').click();
    await page.fill('[data-testid=edit-input]', EDITED_PROMPT);
    const before = await assistantIds(page);
    await page.click('[data-testid=edit-save]');
    await waitForNewReply(page, before);

    // The edited branch is shown: one turn, with the switcher on the first message at 2/2.
    const switcher = page.locator('[data-testid=message-user]').first().locator('[data-testid=branch-position]');
    await expect.poll(() => switcher.textContent()).toBe('2/2');
    expect(await page.locator('[data-testid=message-user]').count()).toBe(1);
    await screenshot(page, 'chat-branch-edited');

    await page.locator('[data-testid=message-user]').first().locator('[data-testid=branch-previous]').click();
    await expect.poll(() => switcher.textContent()).toBe('1/2');
    await page.locator('[data-testid=message-user]', { hasText: FIRST_PROMPT }).waitFor();
    expect(await page.locator('[data-testid=message-user]').count()).toBe(2);

    // The switcher survives a reload: both branches are stored.
    await page.reload();
    await page.waitForSelector('[data-testid=branch-switcher]');
    expect(await page.locator('[data-testid=branch-position]').first().textContent()).toBe('2/2');
  });

  it('regenerate adds a sibling reply', async () => {
    const before = await assistantIds(page);
    const last = page.locator('[data-testid=message-assistant]').last();
    await last.hover();
    await last.locator('[data-testid=regenerate]').click();
    const newId = await waitForNewReply(page, before);
    await expect.poll(() => page.locator(`[data-message-id="${newId}"] [data-testid=branch-position]`).textContent()).toBe('2/2');
  });

  it('renders hostile Markdown as text and runs nothing from it', async () => {
    await page.click('[data-testid=new-chat]');
    await page.waitForURL(`${enclave.url}/`);
    const hostile = [
      '<img src=x onerror="window.__xss=1">',
      '<script>window.__xss=2</script>',
      '[click me](javascript:window.__xss=3)',
      '![pixel](http://198.51.100.1/track.png)',
      '```js\nconst answer = 42;\n```',
    ].join('\n\n');
    await sendAndWait(page, hostile);
    const userMessage = page.locator('[data-testid=message-user]').last();
    const text = (await userMessage.textContent()) ?? '';
    expect(text).toContain('<img src=x onerror="window.__xss=1">');
    expect(text).toContain('<script>window.__xss=2</script>');
    const list = page.locator('[data-testid=message-list]');
    expect(await list.locator('img').count()).toBe(0);
    expect(await list.locator('script').count()).toBe(0);
    expect(await list.locator('a[href^="javascript:"]').count()).toBe(0);
    // A clicked dead link must not run anything either.
    await userMessage.getByText('click me').click();
    // Code is highlighted by highlight.js classes, bundled (no external stylesheet).
    expect(await userMessage.locator('code.hljs .hljs-keyword').count()).toBeGreaterThan(0);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    await screenshot(page, 'chat-hostile-markdown');
  });

  it('exports the conversation as JSON and Markdown downloads', async () => {
    await page.locator('[data-testid=conversation-item]', { hasText: FIRST_PROMPT }).locator('a').click();
    // The newest branch is the edited one.
    await page.locator('[data-testid=message-user]', { hasText: EDITED_PROMPT }).waitFor();
    await page.click('[data-testid=export-menu]');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-json]')]);
    const json = JSON.parse(await readDownload(download)) as { messages: Array<{ content: string; parentId: string | null }> };
    // JSON keeps every branch: both versions of the first message are there.
    const firstMessages = json.messages.filter((m) => m.parentId === null).map((m) => m.content);
    expect(firstMessages.sort()).toEqual([EDITED_PROMPT, FIRST_PROMPT].sort());
    await page.click('[data-testid=export-menu]');
    const [markdown] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-md]')]);
    expect(await readDownload(markdown)).toContain(FIRST_PROMPT);
  });

  it('searches, renames inline and deletes with a confirmation in the conversation list', async () => {
    const items = page.locator('[data-testid=conversation-item]');
    expect(await items.count()).toBe(2);
    await page.fill('[data-testid=conversation-search]', 'about a cat');
    await expect.poll(() => items.count()).toBe(1);
    await page.fill('[data-testid=conversation-search]', '');
    await expect.poll(() => items.count()).toBe(2);

    const cat = items.filter({ hasText: FIRST_PROMPT });
    await cat.hover();
    await cat.locator('[data-testid=rename-conversation]').click();
    await page.fill('[data-testid=rename-input]', 'Renamed story');
    await page.press('[data-testid=rename-input]', 'Enter');
    await items.filter({ hasText: 'Renamed story' }).waitFor();
    await page.reload();
    await items.filter({ hasText: 'Renamed story' }).waitFor();

    // Deleting the open conversation asks first, then leaves it for the empty state.
    const open = items.filter({ hasText: 'Renamed story' });
    await open.hover();
    await open.locator('[data-testid=delete-conversation]').click();
    await screenshot(page, 'chat-delete-confirm');
    await page.click('[data-testid=confirm]');
    await page.waitForURL(`${enclave.url}/`);
    await expect.poll(() => items.count()).toBe(1);
    expect(await items.filter({ hasText: 'Renamed story' }).count()).toBe(0);
  });

  it('works in a narrow window, with the conversation list behind a toggle', async () => {
    await page.locator('[data-testid=conversation-item] a').first().click();
    await page.waitForURL(/\/c\//);
    await page.setViewportSize({ width: 390, height: 800 });
    await page.reload();
    await page.waitForSelector('[data-testid=message-user]');
    const search = page.locator('[data-testid=conversation-search]');
    // The list is slid off screen until the toggle opens it.
    const box = await search.boundingBox();
    expect(box === null || box.x + box.width <= 0).toBe(true);
    await screenshot(page, 'chat-narrow');
    await page.click('.sidebar-toggle');
    await page.waitForFunction(() => (document.querySelector('[data-testid=conversation-search]')?.getBoundingClientRect().x ?? -1) >= 0);
    await screenshot(page, 'chat-narrow-sidebar');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('shows a reply cut off by a crash as interrupted once the worker settles it, and offers to regenerate it', async () => {
    await page.click('[data-testid=new-chat]');
    await page.waitForURL(`${enclave.url}/`);
    const replyId = await sendAndWait(page, 'Tell me a story about a fox');
    // What a process killed mid-reply leaves behind (bin/crash.test.ts kills a real one): the reply still
    // marked streaming and its lease run out. The worker's sweep, every 15 s, does the rest.
    const db = new pg.Client({ connectionString: enclave.databaseUrl });
    await db.connect();
    try {
      await db.query(`UPDATE messages SET metadata = '{"streaming": true}' WHERE id = $1`, [replyId]);
      await db.query(`INSERT INTO reply_streams (message_ids, lease_until, audit) VALUES (ARRAY[$1]::uuid[], now() - interval '1 minute', $2)`, [
        replyId,
        JSON.stringify({ action: 'chat.send', target: null, outcome: 'failure', detail: { error: 'INTERRUPTED', assistantMessageId: replyId } }),
      ]);
    } finally {
      await db.end();
    }
    let marked = false;
    for (let attempt = 0; attempt < 40 && !marked; attempt++) {
      await page.reload();
      await page.waitForSelector(`[data-message-id="${replyId}"]`);
      marked = (await page.locator(`[data-message-id="${replyId}"] [data-testid=reply-interrupted]`).count()) === 1;
      if (!marked) await page.waitForTimeout(1_000);
    }
    expect(marked).toBe(true);
    const reply = page.locator(`[data-message-id="${replyId}"]`);
    expect(((await reply.locator('[data-testid=message-content]').textContent()) ?? '').length).toBeGreaterThan(0);
    await reply.locator('[data-testid=regenerate]').waitFor();
    await screenshot(page, 'chat-interrupted');
  });

  it('a conversation longer than the model’s context keeps going: older turns summarised, shown as a marker', async () => {
    await page.click('[data-testid=new-chat]');
    await page.waitForURL(`${enclave.url}/`);
    await page.click('[data-testid=generation-settings]');
    await page.fill('[data-testid=max-tokens]', '16');
    await page.click('[data-testid=generation-settings]');
    await page.locator('[data-testid=context-policy]', { hasText: 'Summarised' }).waitFor();
    // About 1,000 tokens each for stories260K's small vocabulary: the third no longer fits 2048 with the others.
    const long = (i: number) => `${i}. ` + 'The little dog ran to the park and played with a red ball. '.repeat(45);
    for (let i = 0; i < 4; i++) {
      await sendAndWait(page, long(i));
      expect(await page.locator('.toast-error').count(), `turn ${i}`).toBe(0);
    }
    const marker = page.locator('[data-testid=summary-marker]');
    await marker.waitFor();
    await marker.locator('summary').click();
    expect(((await marker.locator('p').first().textContent()) ?? '').length).toBeGreaterThan(0);
    await screenshot(page, 'chat-context-summary');

    // The policy is the conversation's: only the last turn, from now on, and still set after a reload.
    await page.click('[data-testid=context-policy]');
    await page.click('[data-testid=context-turns]');
    await page.fill('[data-testid=context-turn-count]', '1');
    await page.click('[data-testid=context-policy]');
    await page.reload();
    await page.locator('[data-testid=context-policy]', { hasText: 'Last turns only: 1' }).waitFor();
    await sendAndWait(page, 'And then?');
    await page.locator('[data-testid=trim-marker]').last().waitFor();

    // A message that cannot fit on its own is refused with what to do, and the typed text stays.
    const tooLong = 'The cat sat on the mat. '.repeat(1300);
    await page.fill('[data-testid=composer-input]', tooLong);
    await page.press('[data-testid=composer-input]', 'Enter');
    await page.locator('.toast, [role=alert]', { hasText: 'Shorten the message' }).waitFor();
    expect(await page.inputValue('[data-testid=composer-input]')).toBe(tooLong.trim());
    await screenshot(page, 'chat-context-refused');
    await page.fill('[data-testid=composer-input]', '');
  });

  it('a preset made on its page starts a chat with its system prompt and settings; a new chat keeps a system prompt typed before its first message', async () => {
    const PROMPT = 'You are a pirate. Answer in one short sentence.';
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(`${enclave.url}/settings/presets`);
    await page.waitForSelector('[data-testid=preset-form]');
    // A value the server refuses is named under the form, and nothing is made.
    await page.fill('[data-testid=preset-name]', 'Pirate');
    await page.fill('[data-testid=preset-temperature]', '5');
    await page.click('[data-testid=preset-submit]');
    await page.locator('[data-testid=preset-error]', { hasText: 'temperature must be between 0 and 2' }).waitFor();
    expect(await page.locator('[data-testid=preset-row]').count()).toBe(0);

    await page.fill('[data-testid=preset-temperature]', '0.5');
    await page.fill('[data-testid=preset-system-prompt]', PROMPT);
    await page.selectOption('[data-testid=preset-model]', 'stories260K');
    await page.fill('[data-testid=preset-max-tokens]', '12');
    await page.selectOption('[data-testid=preset-context]', 'trim');
    await page.click('[data-testid=preset-submit]');
    const row = page.locator('[data-testid=preset-row]', { hasText: 'Pirate' });
    await row.waitFor();
    expect(await row.textContent()).toContain(PROMPT);
    expect(await page.locator('[data-testid=preset-error]').count()).toBe(0);
    await screenshot(page, 'presets-page');
    // Edit fills the form with what is saved; cancel leaves an empty form for the next one.
    await row.locator('[data-testid=preset-edit]').click();
    await page.locator('[data-testid=preset-editing]', { hasText: 'Pirate' }).waitFor();
    expect(await page.inputValue('[data-testid=preset-system-prompt]')).toBe(PROMPT);
    expect(await page.inputValue('[data-testid=preset-max-tokens]')).toBe('12');
    await page.click('[data-testid=preset-cancel]');
    expect(await page.inputValue('[data-testid=preset-name]')).toBe('');

    // A new chat from it: the model, the system prompt, the context policy and max tokens follow the preset.
    await page.goto(`${enclave.url}/`);
    await page.waitForSelector('[data-testid=chat-empty]');
    await waitForModel(page);
    await page.selectOption('[data-testid=preset-picker]', { label: 'Pirate' });
    const control = page.locator('[data-testid=system-prompt]');
    await expect.poll(() => control.getAttribute('data-set')).toBe('true');
    await control.click();
    expect(await page.inputValue('[data-testid=system-prompt-input]')).toBe(PROMPT);
    await screenshot(page, 'chat-preset-picked');
    await control.click();
    await page.locator('[data-testid=context-policy]', { hasText: 'Left out' }).waitFor();
    await page.click('[data-testid=generation-settings]');
    expect(await page.inputValue('[data-testid=max-tokens]')).toBe('12');
    await page.click('[data-testid=generation-settings]');

    const replyId = await sendAndWait(page, 'Where is the treasure?');
    const reply = page.locator(`[data-message-id="${replyId}"]`);
    expect(((await reply.locator('[data-testid=message-content]').textContent()) ?? '').length).toBeGreaterThan(0);
    const usage = (await reply.locator('[data-testid=reply-usage]').textContent()) ?? '';
    expect(Number(/(\d+) completion/.exec(usage)?.[1])).toBeLessThanOrEqual(12);
    // The conversation holds its own copy, on the server: it is there after a reload.
    await page.reload();
    await page.waitForSelector(`[data-message-id="${replyId}"]`);
    await expect.poll(() => control.getAttribute('data-set')).toBe('true');
    await control.click();
    expect(await page.inputValue('[data-testid=system-prompt-input]')).toBe(PROMPT);
    await screenshot(page, 'chat-preset-conversation');
    // Cleared from the header: the conversation has none any more.
    await page.click('[data-testid=system-prompt-clear]');
    await expect.poll(() => control.getAttribute('data-set')).toBe('false');
    await page.reload();
    await page.waitForSelector(`[data-message-id="${replyId}"]`);
    expect(await control.getAttribute('data-set')).toBe('false');

    // Without a preset: typed before the first message, saved with the conversation it makes.
    await page.click('[data-testid=new-chat]');
    await page.waitForURL(`${enclave.url}/`);
    await page.waitForSelector('[data-testid=chat-empty]');
    expect(await control.getAttribute('data-set')).toBe('false');
    await control.click();
    await page.fill('[data-testid=system-prompt-input]', 'Answer like a poet.');
    await page.click('[data-testid=system-prompt-save]');
    await expect.poll(() => control.getAttribute('data-set')).toBe('true');
    await sendAndWait(page, 'Tell me about the sea');
    await page.waitForURL(/\/c\//);
    await page.reload();
    await page.waitForSelector('[data-testid=message-assistant]');
    await expect.poll(() => control.getAttribute('data-set')).toBe('true');
    await control.click();
    expect(await page.inputValue('[data-testid=system-prompt-input]')).toBe('Answer like a poet.');
    await control.click();

    // On a phone the control is a short button and its panel stays on screen.
    await page.setViewportSize({ width: 390, height: 800 });
    await page.reload();
    await page.waitForSelector('[data-testid=message-assistant]');
    await control.click();
    const panel = await page.locator('[data-testid=system-prompt-panel]').boundingBox();
    expect(panel && panel.x >= 0 && panel.x + panel.width <= 390).toBe(true);
    await screenshot(page, 'chat-system-prompt-narrow');
    await control.click();
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('raised no uncaught errors in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
