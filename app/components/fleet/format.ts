/** Number formatting shared by the fleet pages: sizes in binary units, as nvidia-smi and vLLM print them. */
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes) || bytes < 0) return '—';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

export function formatMiB(mib: number | null | undefined): string {
  return mib === null || mib === undefined ? '—' : formatBytes(mib * 1024 * 1024);
}

/** The first 12 hex digits: enough to tell versions apart at a glance; the full hash is in the tooltip. */
export function shortSha(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 12) : '—';
}

/** A share in 0..100, clamped, for bar widths; 0 when either side is unknown. */
export function percentOf(part: number | null | undefined, whole: number | null | undefined): number {
  if (!part || !whole || whole <= 0) return 0;
  return Math.max(0, Math.min(100, (part / whole) * 100));
}

/** "3 min ago"-style age in the UI language; '' when unknown. */
export function formatAge(value: string | Date | null | undefined, locale: string, now = Date.now()): string {
  if (!value) return '';
  const then = new Date(value).getTime();
  if (Number.isNaN(then)) return '';
  const seconds = Math.round((then - now) / 1000);
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  const abs = Math.abs(seconds);
  if (abs < 60) return rtf.format(seconds, 'second');
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), 'minute');
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), 'hour');
  return rtf.format(Math.round(seconds / 86400), 'day');
}

/** Parses "k=v, k2=v2" (labels typed by a person) into a record; returns the offending part when malformed. */
export function parseLabels(text: string): { labels: Record<string, string> } | { error: string } {
  const labels: Record<string, string> = {};
  for (const raw of text.split(/[,\n]/)) {
    const part = raw.trim();
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = eq > 0 ? part.slice(0, eq).trim() : '';
    if (!key) return { error: part };
    labels[key] = part.slice(eq + 1).trim();
  }
  return { labels };
}

/** Parses "name=path" lines into LoRA adapters; returns the offending line when malformed. */
export function parseAdapters(text: string): { adapters: { name: string; path: string }[] } | { error: string } {
  const adapters: { name: string; path: string }[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const eq = line.indexOf('=');
    if (eq <= 0 || eq === line.length - 1) return { error: line };
    adapters.push({ name: line.slice(0, eq).trim(), path: line.slice(eq + 1).trim() });
  }
  return { adapters };
}
