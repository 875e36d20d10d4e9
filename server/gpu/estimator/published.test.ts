import { describe, expect, test } from 'vitest';
import { errorPct, estimatedFigure, PUBLISHED } from './configs/published';

// Every real config.json fixture against the figure vLLM logged or its authors published for it
// (sources in configs/SOURCES.md); the same table feeds `npm run bench:estimator`.
describe('estimates against published figures', () => {
  for (const figure of PUBLISHED) {
    const spec = Object.entries(figure.spec).map(([k, v]) => `${k} ${v}`).join(', ') || 'TP 1';
    test(`${figure.model} (${spec}): ${figure.kind} within ${figure.tolerancePct}% of ${figure.source}`, () => {
      const estimated = estimatedFigure(figure);
      expect(Math.abs(errorPct(estimated, figure.value))).toBeLessThan(figure.tolerancePct);
    });
  }
});
