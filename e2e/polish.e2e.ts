import type { Browser, BrowserContext, Page } from 'playwright-core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, newContext, screenshot, sendAndWait, signIn, signInFirstTime, startEnclave, waitForModel, type RunningEnclave } from './harness';

/**
 * Polish found by trying the product (issue 16 part 8), each finding checked as the class it is:
 * every colour follows the theme (and the choice is applied before first paint), action links are
 * readable in both themes (WCAG AA, computed in the page), admin pages fit a 390 px phone with their
 * tables scrolling in their own box, the experiment page's cards hold their content at 1366 px, a
 * page the role may not open says so, and the Markdown renderer loads only for a message that needs it.
 */
let enclave: RunningEnclave;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

async function trpc(on: Page, kind: 'query' | 'mutation', procedure: string, input?: unknown): Promise<any> {
  return on.evaluate(
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

/** Colours as the page computes them: an element's text colour, its effective background (the first opaque one up the tree), and their WCAG contrast. */
async function colours(on: Page, selector: string) {
  return on.$eval(selector, (el) => {
    const parse = (c: string) => {
      const m = /rgba?\(([^)]+)\)/.exec(c);
      if (!m) return null;
      const [r, g, b, a = 1] = m[1]!.split(',').map((x) => Number(x.trim()));
      return { r: r!, g: g!, b: b!, a };
    };
    const lum = ({ r, g, b }: { r: number; g: number; b: number }) => {
      const ch = (v: number) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b);
    };
    let bg: { r: number; g: number; b: number; a: number } | null = null;
    for (let node: Element | null = el; node; node = node.parentElement) {
      const c = parse(getComputedStyle(node).backgroundColor);
      if (c && c.a > 0.99) {
        bg = c;
        break;
      }
    }
    bg ??= { r: 255, g: 255, b: 255, a: 1 };
    const style = getComputedStyle(el);
    const fg = parse(style.color)!;
    // Opacity on the element or an ancestor fades the text towards the background.
    let opacity = 1;
    for (let node: Element | null = el; node; node = node.parentElement) opacity *= Number(getComputedStyle(node).opacity);
    const shown = { r: fg.r * opacity + bg.r * (1 - opacity), g: fg.g * opacity + bg.g * (1 - opacity), b: fg.b * opacity + bg.b * (1 - opacity) };
    const [l1, l2] = [lum(shown), lum(bg)].sort((a, b) => b - a);
    return { fg: style.color, bg: `rgb(${bg.r}, ${bg.g}, ${bg.b})`, bgLum: lum(bg), fgLum: lum(shown), contrast: (l1! + 0.05) / (l2! + 0.05) };
  });
}

async function chooseTheme(on: Page, theme: 'system' | 'light' | 'dark') {
  await on.selectOption('[data-testid=theme-switch]', theme);
  await expect.poll(() => on.evaluate(() => document.documentElement.getAttribute('data-theme'))).toBe(theme === 'system' ? null : theme);
}

beforeAll(async () => {
  enclave = await startEnclave('polish');
  browser = await launchBrowser();
  context = await newContext(browser);
  page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await signIn(page, enclave.url, enclave.adminEmail, enclave.adminPassword);
  await waitForModel(page);
});

afterAll(async () => {
  await browser?.close();
  await enclave?.stop();
});

describe('the Markdown renderer loads only when a message needs it', () => {
  it('a plain exchange loads no highlighting code; a message with Markdown loads it and renders it', async () => {
    const scripts: string[] = [];
    page.on('response', (res) => {
      if (res.request().resourceType() === 'script') scripts.push(res.url());
    });
    await page.goto(`${enclave.url}/`);
    await waitForModel(page);
    await sendAndWait(page, 'Tell me a story about a cat');
    const plain = await page.$$eval('[data-testid=message-content] > .markdown', (els) => els.map((e) => e.classList.contains('markdown-plain')));
    // stories260K writes plain prose: should it ever emit Markdown syntax, this says so rather than pass.
    expect(plain, 'the reply had Markdown syntax').toEqual([true, true]);
    const loadedHighlighter = async () => {
      for (const url of scripts) {
        const body = await page.evaluate(async (u) => (await fetch(u)).text(), url);
        if (body.includes('hljs-')) return url;
      }
      return null;
    };
    expect(await loadedHighlighter()).toBeNull();

    await sendAndWait(page, 'Format **this** with `code`');
    await page.locator('[data-testid=message-user] .markdown strong').last().waitFor();
    expect(await page.locator('[data-testid=message-user] .markdown code').last().textContent()).toBe('code');
    expect(await loadedHighlighter()).not.toBeNull();
  });
});

describe('dark mode', () => {
  it('every surface follows the theme, and action links stay readable (AA) in both', async () => {
    const surfaces = ['body', '.sidebar', '.chat-main', '.composer', '[data-testid=message-user] .message-content'];
    const textOf = ['[data-testid=message-assistant] .message-content', '.conversation-link', '.message-author'];
    const read = async () => ({
      surfaces: await Promise.all(surfaces.map(async (s) => (await colours(page, s)).bgLum)),
      text: await Promise.all(textOf.map(async (s) => (await colours(page, s)).fgLum)),
    });

    await chooseTheme(page, 'light');
    const light = await read();
    for (const lum of light.surfaces) expect(lum).toBeGreaterThan(0.7);
    for (const lum of light.text) expect(lum).toBeLessThan(0.25);

    await chooseTheme(page, 'dark');
    await screenshot(page, 'polish-chat-dark');
    const dark = await read();
    for (const [i, lum] of dark.surfaces.entries()) expect(lum, surfaces[i]).toBeLessThan(0.05);
    for (const [i, lum] of dark.text.entries()) expect(lum, textOf[i]).toBeGreaterThan(0.35);

    // Every action link under every message (copy, edit, regenerate, feedback), both themes.
    for (const theme of ['light', 'dark'] as const) {
      await chooseTheme(page, theme);
      const buttons = await page.locator('.message-actions .text-button').count();
      expect(buttons).toBeGreaterThanOrEqual(3);
      for (let i = 0; i < buttons; i++) {
        const label = await page.locator('.message-actions .text-button').nth(i).textContent();
        expect((await colours(page, `.message-actions .text-button >> nth=${i}`)).contrast, `${theme}: "${label}"`).toBeGreaterThanOrEqual(4.5);
      }
      for (const selector of ['.message-author', '.conversation-link', 'a.nav-link']) {
        expect((await colours(page, selector)).contrast, `${theme}: ${selector}`).toBeGreaterThanOrEqual(4.5);
      }
    }
  });

  it('applies the stored choice before the first paint, and "system" follows the system', async () => {
    await chooseTheme(page, 'dark');
    // Hold back every script of the app: what the browser paints first is the HTML, the CSS and the inline theme script.
    await page.route('**/_next/static/**/*.js', async (route) => {
      await new Promise((r) => setTimeout(r, 1500));
      await route.continue();
    });
    await page.goto(`${enclave.url}/`, { waitUntil: 'domcontentloaded' });
    expect(await page.evaluate(() => document.documentElement.getAttribute('data-theme'))).toBe('dark');
    expect((await colours(page, 'body')).bgLum).toBeLessThan(0.05);
    await waitForModel(page);
    await page.unrouteAll({ behavior: 'wait' });

    await chooseTheme(page, 'system');
    await page.emulateMedia({ colorScheme: 'dark' });
    expect((await colours(page, '.chat-main')).bgLum).toBeLessThan(0.05);
    await page.emulateMedia({ colorScheme: 'light' });
    expect((await colours(page, '.chat-main')).bgLum).toBeGreaterThan(0.7);
    // A fixed choice wins over the system's.
    await chooseTheme(page, 'light');
    await page.emulateMedia({ colorScheme: 'dark' });
    expect((await colours(page, '.chat-main')).bgLum).toBeGreaterThan(0.7);
    await page.emulateMedia({ colorScheme: null });
  });

  it('an admin page in dark mode: panels, tables, badges and charts take the dark colours', async () => {
    await chooseTheme(page, 'dark');
    await page.goto(`${enclave.url}/admin/audit`);
    await page.waitForSelector('[data-testid=audit-row]');
    await screenshot(page, 'polish-audit-dark');
    for (const selector of ['.manage-main', '.table-wrap', '.card', '.badge']) expect((await colours(page, selector)).bgLum, selector).toBeLessThan(0.1);
    for (const selector of ['.table td', 'h1', '.nav-link']) expect((await colours(page, selector)).contrast, selector).toBeGreaterThanOrEqual(4.5);
    await page.goto(`${enclave.url}/gpus`);
    // This machine is a CPU-only node: its card shows the host's CPU, memory and disk.
    await page.locator('[data-testid=node-card] [data-testid=host-figures]').first().waitFor();
    expect(await page.locator('[data-testid=node-card] [data-testid=host-cpu]').first().textContent()).toMatch(/\d+ cores · load \d/);
    expect(await page.locator('[data-testid=node-card] [data-testid=host-memory]').first().textContent()).toMatch(/ \/ /);
    expect(await page.locator('[data-testid=node-card] [data-testid=host-disk]').first().textContent()).toMatch(/free of/);
    await screenshot(page, 'polish-gpus-dark');
    expect((await colours(page, '.manage-main')).bgLum).toBeLessThan(0.05);
  });
});

describe('the fine-tune form says what it needs', () => {
  it('explains the empty base list (only GGUF models here) and what a GPU host needs', async () => {
    await page.goto(`${enclave.url}/jobs/new`);
    await page.locator('[data-testid=no-base-model]').waitFor();
    expect(await page.textContent('[data-testid=no-base-model]')).toMatch(/Hugging Face.*GGUF/s);
    const needs = page.locator('[data-testid=gpu-host-needs]');
    expect(await needs.getAttribute('open')).not.toBeNull();
    expect(await needs.textContent()).toContain('enclave agent --join');
    expect(await needs.textContent()).toContain('ENCLAVE_TRAINER_PYTHON');
    await screenshot(page, 'polish-finetune-help-dark');
  });
});

const NARROW_PAGES = ['/admin/users', '/admin/audit', '/admin/groups', '/admin/quotas', '/admin/retention', '/admin/data-protection', '/admin/backups', '/deployments', '/models', '/gpus', '/jobs', '/datasets', '/experiments', '/loadtests', '/latency', '/usage', '/settings/keys', '/account'];

describe('admin pages on a 390 px phone', () => {
  it('the menu folds, the page never scrolls sideways, and tables scroll in their own box', async () => {
    // The admin's session, not a new sign-in (sign-ins are rate limited).
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-US', storageState: await context.storageState() });
    const p = await phone.newPage();
    const problems: string[] = [];
    for (const path of NARROW_PAGES) {
      await p.goto(`${enclave.url}${path}`);
      await p.waitForSelector('.manage-page h1');
      // Let the page's data arrive (tables fill in after the first paint).
      await p.waitForLoadState('networkidle').catch(() => undefined);
      const m = await p.evaluate(() => {
        const main = document.querySelector('.manage-main')!;
        const wide = [...document.querySelectorAll('.manage-page *')]
          .filter((el) => {
            // Inside a box that scrolls sideways on its own is fine: that is how tables fit.
            for (let n = el.parentElement; n && n !== main; n = n.parentElement) {
              const o = getComputedStyle(n).overflowX;
              if (o === 'auto' || o === 'scroll' || o === 'hidden') return false;
            }
            return el.getBoundingClientRect().right > window.innerWidth + 1;
          })
          .map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].join('.')}`);
        return {
          page: document.documentElement.scrollWidth - window.innerWidth,
          main: main.scrollWidth - main.clientWidth,
          wide: wide.slice(0, 5),
          navShown: !!document.querySelector('.manage-nav') && getComputedStyle(document.querySelector('.manage-nav')!).display !== 'none',
        };
      });
      if (m.page > 0 || m.main > 0 || m.wide.length) problems.push(`${path}: page +${m.page}px, main +${m.main}px, ${m.wide.join(' ')}`);
      if (m.navShown) problems.push(`${path}: the navigation is not folded`);
    }
    expect(problems).toEqual([]);

    // The audit table is wider than the phone: it scrolls inside its wrapper.
    await p.goto(`${enclave.url}/admin/audit`);
    await p.waitForSelector('[data-testid=audit-row]');
    const wrap = await p.$eval('.table-wrap', (el) => ({ scroll: el.scrollWidth, client: el.clientWidth, right: el.getBoundingClientRect().right }));
    expect(wrap.scroll).toBeGreaterThan(wrap.client);
    expect(wrap.right).toBeLessThanOrEqual(390);
    await p.click('[data-testid=manage-menu-toggle]');
    await p.locator('[data-testid=manage-users]').waitFor();
    await screenshot(p, 'polish-admin-390-menu');
    await p.click('[data-testid=manage-users]');
    await p.waitForURL(/\/admin\/users$/);
    // Following a link folds the menu again.
    await expect.poll(() => p.locator('.manage-nav').isVisible()).toBe(false);
    await screenshot(p, 'polish-admin-390');
    await phone.close();
  });
});

describe('a page the role may not open', () => {
  it('says "you do not have access" to a user on an admin page, and "page not found" for an unknown address', async () => {
    const email = 'plain-user@example.test';
    const oneTime = 'Polish-one-time-2026!';
    await trpc(page, 'mutation', 'users.create', { email, password: oneTime, role: 'user' });
    const other = await newContext(browser);
    const p = await other.newPage();
    await signInFirstTime(p, enclave.url, email, oneTime, 'Polish-own-password-2026!');
    for (const path of ['/admin/users', '/admin/audit', '/deployments', '/gpus']) {
      // The guard's 403 goes out through Next's not-found renderer, which answers 404: the words say which.
      expect([403, 404], path).toContain((await p.goto(`${enclave.url}${path}`))?.status());
      await p.locator('[data-testid=forbidden]').waitFor();
      expect(await p.textContent('[data-testid=forbidden] h1')).toBe('You do not have access');
      expect(await p.locator('[data-testid=audit-table], [data-testid=not-found]').count()).toBe(0);
    }
    // The guard answers 403 before Next routes: an address under /admin that does not exist is not theirs either.
    expect((await p.goto(`${enclave.url}/settings/no-such-page`))?.status()).toBe(404);
    expect(await p.textContent('[data-testid=not-found] h1')).toBe('Page not found');
    // Someone else's conversation stays "not found": that it exists is not this user's to know.
    const theirs: { id: string }[] = await trpc(page, 'query', 'conversations.list');
    expect(theirs.length).toBeGreaterThan(0);
    await p.goto(`${enclave.url}/c/${theirs[0]!.id}`);
    await p.locator('[data-testid=not-found]').waitFor();
    expect(await p.textContent('[data-testid=not-found] h1')).toBe('Conversation not found');
    await other.close();
  });
});

describe('the experiment page at 1366 px', () => {
  it('keeps the verdict card, the table and the charts inside their boxes', async () => {
    const deployments = await trpc(page, 'query', 'deployments.list');
    const dep = deployments.find((d: { name: string }) => d.name === 'stories260K');
    const created = await trpc(page, 'mutation', 'experiments.create', {
      name: 'stories-polish-a-rather-long-experiment-name',
      description: 'A long description to see whether the header wraps inside its box rather than running past the edge of the page at 1366 px.',
      variants: [
        { label: 'baseline-with-a-long-label-0001', deploymentId: dep.id, weight: 1 },
        { label: 'candidate-with-a-long-label-002', deploymentId: dep.id, weight: 1 },
      ],
    });
    await trpc(page, 'mutation', 'experiments.start', { id: created.id });
    // Recorded traffic for both arms, as the gateway would have logged it, so the verdict and the
    // comparison charts have figures (with long numbers) to draw.
    const { experiment } = await trpc(page, 'query', 'experiments.get', { id: created.id });
    const db = new pg.Client({ connectionString: enclave.databaseUrl });
    await db.connect();
    try {
      for (const [i, v] of (experiment.variants as { id: string }[]).entries()) {
        await db.query(
          `INSERT INTO request_logs (model, status, stream, ttft_ms, e2e_ms, overhead_ms, experiment_id, variant_id)
           SELECT 'stories260K', CASE WHEN g % 9 = 0 THEN 500 ELSE 200 END, 1, 120 + g * 3.7 + $3::int * 40, 12345.6 + g * 97.3 + $3::int * 900, 1.5, $1, $2 FROM generate_series(1, 60) g`,
          [created.id, v.id, i],
        );
      }
    } finally {
      await db.end();
    }
    const wide = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'en-US', storageState: await context.storageState() });
    const p = await wide.newPage();
    await p.goto(`${enclave.url}/experiments/${created.id}`);
    await p.waitForSelector('[data-testid=experiment-detail]');
    await p.waitForSelector('.verdict');
    await p.locator('[data-testid=latency-diff-chart]').waitFor();
    await p.waitForLoadState('networkidle').catch(() => undefined);
    const overflowing = await p.evaluate(() => {
      const out: string[] = [];
      for (const card of document.querySelectorAll('[data-testid=experiment-detail] :is(.card, .verdict, .experiment-panel, .chart)')) {
        const box = card.getBoundingClientRect();
        for (const el of card.querySelectorAll('*')) {
          let scrolls = false;
          for (let n = el.parentElement; n && n !== card; n = n.parentElement) if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(n).overflowX)) scrolls = true;
          if (scrolls) continue;
          const r = el.getBoundingClientRect();
          if (r.width === 0 && r.height === 0) continue;
          if (r.right > box.right + 1 || r.left < box.left - 1) out.push(`${card.className} > ${el.tagName.toLowerCase()}.${el.getAttribute('class') ?? ''} (${Math.round(r.left)}–${Math.round(r.right)} vs ${Math.round(box.left)}–${Math.round(box.right)})`);
        }
      }
      return [...new Set(out)].slice(0, 10);
    });
    // A card is a box: a rule from another area (fleet.css's pill-shaped .verdict chip) once made the verdict card a pill.
    const shapes = await p.$$eval('[data-testid=experiment-detail] .card', (els) => els.map((e) => `${e.className}: ${getComputedStyle(e).borderTopRightRadius}`));
    expect(shapes.filter((s) => parseFloat(s.split(': ')[1]!) > 12)).toEqual([]);
    await p.setViewportSize({ width: 1366, height: 1300 });
    await screenshot(p, 'polish-experiment-1366');
    expect(overflowing).toEqual([]);
    expect(await p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await wide.close();
  });

  it('raised no page errors', () => {
    expect(pageErrors).toEqual([]);
  });
});
