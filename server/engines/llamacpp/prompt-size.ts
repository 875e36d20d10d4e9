import type { LlamaModel } from 'node-llama-cpp';

/**
 * The most prompt bytes that could still fit a context of `contextTokens`, or Infinity where the tokenizer
 * gives no such bound. Each token stands for at most the bytes of the longest token in the vocabulary,
 * so a prompt of more bytes than contextTokens x that needs more tokens than the context holds: it can
 * be refused without tokenizing (a 4 MB prompt takes seconds to tokenize). Measured on the vocabulary's
 * raw pieces ('▁' counts 3 bytes for the 1-byte space it stands for; byte tokens '<0x41>' 6 for 1), so the
 * bound errs long, never short: a prompt that fits is never refused by it. Only SentencePiece and
 * byte-level BPE are bounded: WordPiece and Unigram drop or merge whitespace, so their tokens can cover
 * any number of input bytes.
 */
export function promptByteLimit(model: LlamaModel, contextTokens: number): number {
  if (model.vocabularyType !== 'spm' && model.vocabularyType !== 'bpe') return Infinity;
  const pieces = (model.fileInfo.metadata as { tokenizer?: { ggml?: { tokens?: unknown } } }).tokenizer?.ggml?.tokens;
  if (!Array.isArray(pieces) || pieces.length === 0) return Infinity;
  // At least one whole UTF-8 character: an unknown one can become a single <unk> token.
  let longest = 4;
  for (const piece of pieces) if (typeof piece === 'string') longest = Math.max(longest, Buffer.byteLength(piece));
  return contextTokens * longest;
}
