import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { expect, test } from 'vitest';
import { PairedBars } from './paired-bars';

const GiB = 1024 ** 3;
const draw = (rows: Parameters<typeof PairedBars>[0]['rows']) =>
  renderToStaticMarkup(createElement(PairedBars, { label: 'memory', legend: ['Predicted', 'Measured'], format: (v: number) => `${(v / GiB).toFixed(2)} GiB`, rows, testId: 't' }));
const widths = (svg: string) => [...svg.matchAll(/<rect x="150" y="[\d.]+" width="([\d.]+)"/g)].map((m) => Number(m[1]));

test('each row draws the prediction and the measurement as bars on one axis from zero', () => {
  const svg = draw([
    { label: 'Weights per GPU', predicted: 14.96 * GiB, measured: 14.99 * GiB },
    { label: 'KV cache per GPU', predicted: 2.64 * GiB, measured: 3.81 * GiB },
  ]);
  expect(svg.match(/data-testid="paired-row"/g)).toHaveLength(2);
  const [pw, mw, pk, mk] = widths(svg);
  // Lengths in proportion to the values: the KV cache gap reads as a gap.
  expect(pk! / mk!).toBeCloseTo(2.64 / 3.81, 2);
  expect(pw! / mw!).toBeCloseTo(14.96 / 14.99, 2);
  expect(svg).toContain('14.99 GiB');
});

test('a missing figure draws no bar and says so; nothing breaks on zeros', () => {
  const svg = draw([{ label: 'KV cache per GPU', predicted: null, measured: 0 }]);
  expect(svg).toContain('—');
  expect(svg.match(/data-testid="bar-predicted"/g)).toBeNull();
  expect(svg.match(/data-testid="bar-measured"/g)).toHaveLength(1);
  expect(svg).not.toContain('NaN');
});
