import { describe, expect, it } from 'vitest';
import { formatAge, formatBytes, parseAdapters, parseLabels, percentOf, shortSha } from './format';

describe('fleet formatting', () => {
  it('formats sizes in binary units with sensible precision', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(80 * 1024 ** 3)).toBe('80.0 GiB');
    expect(formatBytes(141 * 1024 ** 3)).toBe('141 GiB');
    expect(formatBytes(null)).toBe('—');
    expect(formatBytes(Number.NaN)).toBe('—');
    expect(formatBytes(-1)).toBe('—');
  });

  it('shortens hashes and clamps percentages', () => {
    expect(shortSha('a'.repeat(64))).toBe('a'.repeat(12));
    expect(shortSha(null)).toBe('—');
    expect(percentOf(50, 200)).toBe(25);
    expect(percentOf(300, 200)).toBe(100);
    expect(percentOf(5, 0)).toBe(0);
    expect(percentOf(null, 10)).toBe(0);
  });

  it('says how long ago in the chosen language', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    expect(formatAge('2026-01-01T11:57:00Z', 'en', now)).toBe('3 minutes ago');
    expect(formatAge('2026-01-01T11:57:00Z', 'zh-CN', now)).toBe('3分钟前');
    expect(formatAge(null, 'en', now)).toBe('');
  });

  it('parses labels and names the malformed part', () => {
    expect(parseLabels('zone=a, gpu = h100\n')).toEqual({ labels: { zone: 'a', gpu: 'h100' } });
    expect(parseLabels('')).toEqual({ labels: {} });
    expect(parseLabels('zone=a, oops')).toEqual({ error: 'oops' });
    expect(parseLabels('=x')).toEqual({ error: '=x' });
  });

  it('parses LoRA adapters as name=path lines', () => {
    expect(parseAdapters('sql=/models/sql-lora\n\nchat = /m/c')).toEqual({ adapters: [{ name: 'sql', path: '/models/sql-lora' }, { name: 'chat', path: '/m/c' }] });
    expect(parseAdapters('nopath=')).toEqual({ error: 'nopath=' });
    expect(parseAdapters('/just/a/path')).toEqual({ error: '/just/a/path' });
  });
});
