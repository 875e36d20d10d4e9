import fs from 'node:fs/promises';
import { getLlama, LlamaLogLevel, type ControlledEvaluateInputItem, type LlamaModel, type Token } from 'node-llama-cpp';
import { perplexityWindows, scoredTokenCount } from './perplexity-windows';

export type PerplexityResult = {
  perplexity: number;
  /** Tokens whose probability was scored (see perplexity-windows.ts): with BOS, every token of the text. */
  tokens: number;
  /** Mean negative log-likelihood per scored token, in nats: ln(perplexity). */
  meanNll: number;
  contextSize: number;
  windows: number;
};

/** Bad input the user can fix: the CLI prints its message and nothing else. */
export class PerplexityInputError extends Error {}

/**
 * The smallest float32 probability: a token whose softmax underflowed to 0 counts as this rather than making
 * the whole figure infinite (ln of it is about -103, so it still dominates the mean as it should).
 */
const PROBABILITY_FLOOR = 1.4e-45;

/** Perplexity of `text` under an already loaded model: exp(mean negative log-likelihood of each next token). */
export async function perplexityOfText(model: LlamaModel, text: string, options: { contextSize: number; threads: number }): Promise<PerplexityResult> {
  if (text.trim() === '') throw new PerplexityInputError('the text is empty');
  const tokens = model.tokenize(text, false);
  if (tokens.length < 2) throw new PerplexityInputError(`the text is ${tokens.length} token; perplexity needs at least 2`);
  const bos = model.tokens.bos != null && model.tokens.shouldPrependBosToken ? model.tokens.bos : null;

  const context = await model.createContext({
    contextSize: options.contextSize,
    threads: options.threads,
    // Flash attention is several times slower on these CPUs (see server/engines/llamacpp/engine.ts).
    flashAttention: false,
  });
  try {
    const sequence = context.getSequence();
    // The context may be rounded by llama.cpp: windows follow the size it really has.
    const windows = perplexityWindows(tokens, Math.min(context.contextSize, options.contextSize), bos);
    let nll = 0;
    let scored = 0;
    for (const window of windows) {
      await sequence.clearHistory();
      // Greedy sampling (the default) leaves the candidates untouched, so these are the softmax of the raw logits.
      const outputs = await sequence.controlledEvaluate(
        window.input.map((token): ControlledEvaluateInputItem => [token as Token, { generateNext: { probabilities: true } }]),
      );
      window.predicts.forEach((next, i) => {
        const probability = outputs[i]?.next.probabilities?.get(next as Token) ?? 0;
        nll -= Math.log(Math.max(probability, PROBABILITY_FLOOR));
        scored++;
      });
    }
    if (scored !== scoredTokenCount(tokens.length, bos !== null)) throw new Error(`scored ${scored} tokens of ${tokens.length}`);
    const meanNll = nll / scored;
    return { perplexity: Math.exp(meanNll), tokens: scored, meanNll, contextSize: context.contextSize, windows: windows.length };
  } finally {
    await context.dispose();
  }
}

/** Loads a GGUF model on the CPU, measures the text file's perplexity, and unloads everything. */
export async function perplexityOfFile(options: { modelPath: string; textPath: string; contextSize?: number; threads?: number }): Promise<PerplexityResult> {
  const text = await readInput(options.textPath, 'text');
  if (text.trim() === '') throw new PerplexityInputError(`the text file ${options.textPath} is empty`);
  await readInput(options.modelPath, 'model', 0);
  const threads = options.threads ?? 1;
  const llama = await getLlama({
    gpu: false,
    build: 'never',
    maxThreads: threads,
    logLevel: LlamaLogLevel.error,
    logger: (level, message) => process.stderr.write(`[llama.cpp ${level}] ${message.trimEnd()}\n`),
  });
  try {
    let model: LlamaModel;
    try {
      model = await llama.loadModel({ modelPath: options.modelPath });
    } catch (e) {
      throw new PerplexityInputError(`the model ${options.modelPath} could not be loaded: ${e instanceof Error ? e.message : String(e)}`);
    }
    return await perplexityOfText(model, text, { contextSize: options.contextSize ?? 1024, threads });
  } finally {
    await llama.dispose();
  }
}

/** Reads a file (or only checks it exists, with `limit` 0), turning file-system errors into messages that name it. */
async function readInput(file: string, what: string, limit?: 0): Promise<string> {
  try {
    if (limit === 0) {
      const stat = await fs.stat(file);
      if (!stat.isFile()) throw new PerplexityInputError(`the ${what} ${file} is not a file`);
      return '';
    }
    return await fs.readFile(file, 'utf8');
  } catch (e) {
    if (e instanceof PerplexityInputError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new PerplexityInputError(`the ${what} file ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (e as Error).message}`);
  }
}
