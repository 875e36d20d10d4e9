/**
 * A quantization job's figures, read from its result and spec. The worker writes the result as JSON;
 * both the camelCase the API uses and the snake_case the trainer protocol prints are accepted, so a
 * figure is never hidden by the spelling of its key.
 */
export interface QualityFigures {
  sizeBeforeBytes: number | null;
  sizeAfterBytes: number | null;
  seconds: number | null;
  perplexityBefore: number | null;
  perplexityAfter: number | null;
  /** (after − before) / before, in percent. */
  deltaPct: number | null;
  limitPct: number | null;
  /** Evaluation speed of the source and of the output, tokens per second. */
  speedBefore: number | null;
  speedAfter: number | null;
}

function pick(source: Record<string, unknown> | null | undefined, ...keys: string[]): number | null {
  if (!source) return null;
  for (const key of keys) {
    const value = source[key];
    if (typeof value === 'number' && Number.isFinite(value)) return value;
  }
  return null;
}

export function readQuality(result: Record<string, unknown> | null | undefined, spec: Record<string, unknown> | null | undefined): QualityFigures {
  const perplexityBefore = pick(result, 'perplexityBefore', 'perplexity_before');
  const perplexityAfter = pick(result, 'perplexityAfter', 'perplexity_after');
  let deltaPct = perplexityBefore !== null && perplexityAfter !== null && perplexityBefore > 0 ? ((perplexityAfter - perplexityBefore) / perplexityBefore) * 100 : null;
  if (deltaPct === null) {
    const pct = pick(result, 'deltaPct', 'perplexityDeltaPct', 'perplexity_delta_pct');
    const fraction = pick(result, 'perplexityDelta', 'perplexity_delta');
    deltaPct = pct ?? (fraction !== null ? fraction * 100 : null);
  }
  return {
    sizeBeforeBytes: pick(result, 'sizeBeforeBytes', 'inputBytes', 'sourceBytes', 'size_before_bytes', 'input_bytes'),
    sizeAfterBytes: pick(result, 'sizeAfterBytes', 'outputBytes', 'size_after_bytes', 'output_bytes'),
    seconds: pick(result, 'seconds', 'durationSeconds', 'quantizeSeconds', 'duration_seconds'),
    perplexityBefore,
    perplexityAfter,
    deltaPct,
    limitPct: pick(result, 'maxDeltaPct', 'maxPerplexityDeltaPct') ?? pick(spec, 'maxPerplexityDeltaPct'),
    speedBefore: pick(result, 'tokensPerSecondBefore', 'tokens_per_second_before'),
    speedAfter: pick(result, 'tokensPerSecondAfter', 'tokens_per_second_after'),
  };
}

/** Whether the measured delta is within the limit (null while either is unknown). */
export function withinLimit(q: Pick<QualityFigures, 'deltaPct' | 'limitPct'>): boolean | null {
  if (q.deltaPct === null || q.limitPct === null) return null;
  return q.deltaPct <= q.limitPct;
}
