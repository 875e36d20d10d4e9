/**
 * The colour theme: "system" follows prefers-color-scheme, "light" and "dark" are fixed. The choice
 * lives in localStorage (per browser, like the window size it depends on), and is applied as
 * data-theme on <html>: "light" or "dark" for a fixed choice, no attribute for "system" (the CSS
 * then follows the media query). app/layout.tsx runs THEME_BOOT_SCRIPT before the body paints, so
 * a dark page never flashes white.
 */
export const THEMES = ['system', 'light', 'dark'] as const;
export type Theme = (typeof THEMES)[number];
export const THEME_STORAGE_KEY = 'enclave.theme';

export function isTheme(value: unknown): value is Theme {
  return typeof value === 'string' && (THEMES as readonly string[]).includes(value);
}

/** Sets or clears data-theme; the stored choice is validated so a tampered value means "system". */
export function applyTheme(theme: Theme, root: HTMLElement = document.documentElement) {
  if (theme === 'system') root.removeAttribute('data-theme');
  else root.setAttribute('data-theme', theme);
}

export function readTheme(): Theme {
  try {
    const stored = window.localStorage.getItem(THEME_STORAGE_KEY);
    return isTheme(stored) ? stored : 'system';
  } catch {
    return 'system'; // storage blocked (privacy settings): the system theme still works
  }
}

export function saveTheme(theme: Theme) {
  try {
    if (theme === 'system') window.localStorage.removeItem(THEME_STORAGE_KEY);
    else window.localStorage.setItem(THEME_STORAGE_KEY, theme);
  } catch {
    // storage blocked: the choice lasts for this page only
  }
  applyTheme(theme);
}

/** Inline, before first paint: the same rule as readTheme + applyTheme, without imports. */
export const THEME_BOOT_SCRIPT = `(function(){try{var t=localStorage.getItem(${JSON.stringify(THEME_STORAGE_KEY)});if(t==='light'||t==='dark')document.documentElement.setAttribute('data-theme',t);}catch(e){}})();`;
