import type { LlamaModel, Token } from 'node-llama-cpp';

/**
 * Turns generated tokens into text one token at a time. SentencePiece needs the preceding tokens to place
 * leading spaces, and a multi-byte character can span tokens, so an incomplete character (U+FFFD) is held
 * until the token that completes it arrives.
 */
export class TokenText {
  private context: Token[];
  private pending: Token[] = [];

  constructor(
    private readonly model: LlamaModel,
    precedingTokens: readonly Token[],
  ) {
    this.context = precedingTokens.slice(-8);
  }

  push(token: Token): string {
    this.pending.push(token);
    const text = this.model.detokenize(this.pending, false, this.context);
    if (text.endsWith('\uFFFD') && this.pending.length < 4) return '';
    this.context = [...this.context, ...this.pending].slice(-8);
    this.pending = [];
    return text;
  }

  /** Whatever is still held when generation ends, replacement characters included. */
  flush(): string {
    if (this.pending.length === 0) return '';
    const text = this.model.detokenize(this.pending, false, this.context);
    this.pending = [];
    return text;
  }
}
