/**
 * How a token sequence longer than the context is cut into windows for perplexity.
 *
 * Every window is evaluated from an empty sequence. With a BOS token each window starts with BOS and then
 * up to `contextSize - 1` text tokens, all of which are scored (the first from BOS alone), so every text token
 * is scored exactly once. Without BOS a window's first token only conditions the rest, so consecutive windows
 * overlap by one token and every text token except the very first is scored once.
 */
export type PerplexityWindow = {
  /** The tokens to evaluate, in order. */
  input: number[];
  /** The token each input position predicts (input[j] -> predicts[j]); scored positions only. */
  predicts: number[];
};

export function perplexityWindows(text: readonly number[], contextSize: number, bos: number | null): PerplexityWindow[] {
  if (contextSize < 2) throw new Error(`a context of ${contextSize} tokens cannot predict anything`);
  const perWindow = contextSize - 1;
  const windows: PerplexityWindow[] = [];
  for (let a = bos === null ? 1 : 0; a < text.length; a += perWindow) {
    const b = Math.min(a + perWindow, text.length);
    const scored = text.slice(a, b);
    const input = bos === null ? text.slice(a - 1, b - 1) : [bos, ...text.slice(a, b - 1)];
    windows.push({ input, predicts: scored });
  }
  return windows;
}

/** Tokens scored for a text of `count` tokens: all of them after BOS, all but the first without. */
export function scoredTokenCount(count: number, hasBos: boolean): number {
  return hasBos ? count : Math.max(0, count - 1);
}
