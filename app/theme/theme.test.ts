import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { THEME_BOOT_SCRIPT, THEME_STORAGE_KEY } from './theme';

const appDir = path.resolve(import.meta.dirname, '..');
const read = (p: string) => fs.readFileSync(p, 'utf8');

function* files(dir: string): Generator<string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (/\.(css|tsx?)$/.test(e.name) && !/\.test\.tsx?$/.test(e.name)) yield p;
  }
}

const COLOUR = /#[0-9a-f]{3,8}\b|rgba?\([^)]*\)/gi;

/** globals.css's token blocks: the only place colours are written down (plus the highlight.js dark palette). */
function tokenBlocks(css: string) {
  const light = /:root \{([\s\S]*?)\n\}/.exec(css)![1]!;
  const dark = /:root\[data-theme='dark'\] \{([\s\S]*?)\n\}/.exec(css)![1]!;
  const system = /@media \(prefers-color-scheme: dark\) \{\s*:root:not\(\[data-theme='light'\]\) \{([\s\S]*?)\n  \}/.exec(css)![1]!;
  const names = (block: string) => new Map([...block.matchAll(/(--[a-z0-9-]+):\s*([^;]+);/g)].map((m) => [m[1]!, m[2]!.trim()]));
  return { light: names(light), dark: names(dark), system: names(system) };
}

describe('every colour follows the theme', () => {
  it('no hard-coded colour outside the token blocks of globals.css, in any CSS or component of the app', () => {
    const offenders: string[] = [];
    for (const file of files(appDir)) {
      const rel = path.relative(appDir, file);
      let text = read(file);
      if (rel === 'globals.css') {
        // Drop the token blocks and the highlight.js dark palette (both themed by selector).
        text = text.replace(/:root \{[\s\S]*?\n\}/, '').replace(/:root\[data-theme='dark'\] \{[\s\S]*?\n\}/, '').replace(/@media \(prefers-color-scheme: dark\) \{\s*:root:not\(\[data-theme='light'\]\) \{[\s\S]*?\n  \}\n\}/, '');
        text = text.split('\n').filter((l) => !/\.hljs/.test(l)).join('\n');
      }
      for (const [i, line] of text.split('\n').entries()) {
        // The log viewer is a terminal: dark in both themes on purpose.
        if (line.includes('.log-lines')) continue;
        // i18n strings and comments may mention colours.
        if (rel.startsWith('i18n/') || /^\s*(\/\/|\*|\/\*)/.test(line)) continue;
        for (const m of line.match(COLOUR) ?? []) offenders.push(`${rel}:${i + 1}: ${m}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('the dark theme defines every colour token the light one does, and the system block equals the explicit one', () => {
    const { light, dark, system } = tokenBlocks(read(path.join(appDir, 'globals.css')));
    const colourTokens = [...light.keys()].filter((k) => !['--font', '--mono', '--radius'].includes(k));
    const dataColours = ['--green', '--red', '--yellow', '--orange', '--orange-strong', '--blue', '--teal', '--violet'];
    expect(colourTokens.filter((k) => !dark.has(k) && !dataColours.includes(k))).toEqual([]);
    expect(Object.fromEntries(system)).toEqual(Object.fromEntries(dark));
    for (const name of dark.keys()) expect(light.has(name), name).toBe(true);
  });

  it('every var(--x) the app uses is defined', () => {
    const { light } = tokenBlocks(read(path.join(appDir, 'globals.css')));
    const missing = new Set<string>();
    for (const file of files(appDir)) for (const m of read(file).matchAll(/var\((--[a-z0-9-]+)/g)) if (!light.has(m[1]!) && !m[1]!.startsWith('--series-')) missing.add(`${path.relative(appDir, file)}: ${m[1]}`);
    expect([...missing]).toEqual([]);
    for (let n = 1; n <= 8; n++) expect(light.has(`--series-${n}`)).toBe(true);
  });
});

describe('the theme boot script (runs before first paint)', () => {
  const run = (stored: string | null, throws = false) => {
    const attrs: Record<string, string> = {};
    const localStorage = { getItem: (k: string) => (throws ? (() => { throw new Error('blocked'); })() : k === THEME_STORAGE_KEY ? stored : null) };
    const document = { documentElement: { setAttribute: (k: string, v: string) => (attrs[k] = v) } };
    new Function('localStorage', 'document', THEME_BOOT_SCRIPT)(localStorage, document);
    return attrs['data-theme'] ?? null;
  };
  it('applies a stored light or dark choice, leaves "system" and anything else to the media query', () => {
    expect(run('dark')).toBe('dark');
    expect(run('light')).toBe('light');
    expect(run(null)).toBeNull();
    expect(run('"><script>')).toBeNull();
    expect(run('dark', true)).toBeNull();
  });
});
