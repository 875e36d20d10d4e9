/**
 * What the chat knows of each model's context: its size in tokens and how many characters a token
 * holds, so a history can be fitted before it is sent. Nothing here tokenizes (the web role has no
 * tokenizer for a vLLM model): the size comes from the deployment's spec or from the engine's own
 * refusal ("context holds 2048"), and the ratio from each answered turn's usage (prompt tokens against
 * the characters sent). Per process: every web process learns within a turn or two.
 */
export interface ContextWindow {
  /** The model's context in tokens (prompt and completion together); undefined until known. */
  tokens: number | undefined;
  /** Characters per token, learned; starts low (3, where English is about 4) so estimates err long. */
  charsPerToken: number;
}

/** Numbers an engine's context refusal gives: the context, and the prompt's tokens when it says. */
export interface ContextRefusal {
  contextTokens: number;
  promptTokens: number | undefined;
}

const PATTERNS: [RegExp, (m: RegExpExecArray) => ContextRefusal][] = [
  // The built-in engine: "The prompt is 2082 tokens; this model's context holds 2048 including the completion."
  [/prompt is (\d+) tokens; this model's context holds (\d+)/i, (m) => ({ promptTokens: Number(m[1]), contextTokens: Number(m[2]) })],
  // ...and, refused by size alone: "The prompt is 90000 bytes; this model's context holds 2048 tokens ..."
  [/prompt is \d+ bytes; this model's context holds (\d+) tokens/i, (m) => ({ promptTokens: undefined, contextTokens: Number(m[1]) })],
  // vLLM: "maximum context length is 4096 tokens. However, you requested 5000 tokens (4900 in the messages, 100 in the completion)"
  [/maximum context length is (\d+) tokens\..*?\((\d+) in the messages/is, (m) => ({ contextTokens: Number(m[1]), promptTokens: Number(m[2]) })],
  // newer vLLM: "... maximum context length is 4096 tokens. However, your request has 5000 input tokens."
  [/maximum context length is (\d+) tokens\..*?has (\d+) input tokens/is, (m) => ({ contextTokens: Number(m[1]), promptTokens: Number(m[2]) })],
  // OpenAI and others: "maximum context length is 4096 tokens" alone.
  [/maximum context length is (\d+) tokens/i, (m) => ({ contextTokens: Number(m[1]), promptTokens: undefined })],
];

/** The numbers in an engine's context-length refusal; null when the message is not one. */
export function parseContextRefusal(message: string): ContextRefusal | null {
  for (const [pattern, read] of PATTERNS) {
    const m = pattern.exec(message);
    if (m) return read(m);
  }
  return null;
}

const INITIAL_CHARS_PER_TOKEN = 3;

export class ContextWindows {
  private readonly byModel = new Map<string, ContextWindow>();
  /** Decaying sums of answered turns' characters and prompt tokens, per model. */
  private readonly seen = new Map<string, { chars: number; tokens: number }>();

  get(model: string): ContextWindow {
    return this.byModel.get(model) ?? { tokens: undefined, charsPerToken: INITIAL_CHARS_PER_TOKEN };
  }

  /** A size the deployment declares (spec.maxModelLen, the built-in engine's context): used until an engine says otherwise. */
  declare(model: string, tokens: number | undefined): void {
    if (tokens === undefined || this.get(model).tokens !== undefined) return;
    this.byModel.set(model, { ...this.get(model), tokens });
  }

  /** An engine refused a prompt of `promptChars` characters: its context, and the ratio when it counted the prompt. */
  refused(model: string, refusal: ContextRefusal, promptChars: number): void {
    const current = this.get(model);
    const ratio = refusal.promptTokens ? promptChars / refusal.promptTokens : current.charsPerToken;
    // A refusal's ratio is the truth for this very prompt: take the lower, so the next estimate errs long.
    this.byModel.set(model, { tokens: refusal.contextTokens, charsPerToken: Math.max(0.5, Math.min(current.charsPerToken, ratio)) });
  }

  /**
   * An answered turn: `promptTokens` for `promptChars` characters. Characters and tokens are averaged
   * separately, so each turn counts by its size: a short question, mostly template tokens, barely moves
   * the ratio; a long one, where the text's own tokens dominate, moves it most.
   */
  answered(model: string, promptTokens: number, promptChars: number): void {
    if (promptTokens <= 0 || promptChars <= 0) return;
    const current = this.get(model);
    const seen = this.seen.get(model) ?? { chars: 0, tokens: 0 };
    const next = { chars: seen.chars * 0.8 + promptChars, tokens: seen.tokens * 0.8 + promptTokens };
    this.seen.set(model, next);
    this.byModel.set(model, { ...current, charsPerToken: Math.max(0.5, next.chars / next.tokens) });
  }
}

/** The web role's one memory of model contexts. */
export const contextWindows = new ContextWindows();
