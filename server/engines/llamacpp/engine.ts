import { randomInt } from 'node:crypto';
import { getLlama, LlamaLogLevel, TokenBias, type Llama, type LlamaContext, type LlamaContextSequence, type LlamaModel, type Token } from 'node-llama-cpp';
import type { EngineArgs } from './args';
import { Embedder } from './embeddings';
import { createEngineMetrics, type EngineMetrics } from './engine-metrics';
import { badRequest, EngineError } from './errors';
import { OffThreadTokenizer } from './off-thread-tokenizer';
import { promptByteLimit } from './prompt-size';
import { SequencePool } from './sequence-pool';
import { StopDetector } from './stop-detector';
import { TokenText } from './token-text';

/**
 * Prompts up to this size are tokenized on the event loop: a few milliseconds at most (llama.cpp takes
 * about 0.7 ms per KB), less than the round trip to the tokenizer thread and its queue behind long ones.
 */
const INLINE_TOKENIZE_BYTES = 8 * 1024;

export type SamplingOptions = { maxTokens?: number; temperature: number; topP: number; seed?: number; stop: string[]; ignoreEos?: boolean };

/** A request checked against the context: tokenized, with its token budget settled. */
export type PreparedPrompt = { tokens: Token[]; maxTokens: number; stops: string[]; sampling: SamplingOptions; trimLeadingSpace: boolean };

export type GenerationOutcome = {
  finishReason: 'stop' | 'length';
  promptTokens: number;
  completionTokens: number;
  /** The client went away (or the engine is stopping) before generation ended. */
  aborted: boolean;
};

/** One model loaded with `sequences` parallel slots; each request holds one slot while it generates. */
export class LlamaCppEngine {
  private readonly active = new Set<{ controller: AbortController; done: Promise<unknown> }>();
  private stopping = false;

  /** Prompts of more bytes than this cannot fit the context, whatever their tokens: refused untokenized. */
  private readonly promptByteLimit: number;

  /** /v1/embeddings: its own context, made at the first request. */
  readonly embedder: Embedder;

  private constructor(
    readonly name: string,
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly pool: SequencePool<LlamaContextSequence>,
    private readonly tokenizer: OffThreadTokenizer,
    readonly metrics: EngineMetrics,
    threads: number,
  ) {
    this.promptByteLimit = promptByteLimit(model, context.contextSize);
    this.embedder = new Embedder(model, context.contextSize, threads);
  }

  static async load(args: EngineArgs): Promise<LlamaCppEngine> {
    const llama = await getLlama({
      gpu: false,
      build: 'never',
      maxThreads: args.threads,
      logLevel: LlamaLogLevel.warn,
      // llama.cpp's own messages go to stderr: stdout carries only the listening line.
      logger: (level, message) => process.stderr.write(`[llama.cpp ${level}] ${message.trimEnd()}\n`),
    });
    const model = await llama.loadModel({ modelPath: args.model });
    const context = await model.createContext({
      sequences: args.sequences,
      contextSize: args.context,
      threads: args.threads,
      // "auto" turns flash attention on, which on these CPUs is about 3x slower for both prompt and generation.
      flashAttention: false,
    });
    const sequences = Array.from({ length: args.sequences }, () => context.getSequence());
    const pool = new SequencePool(sequences, (sequence) => sequence.clearHistory());
    const metrics = createEngineMetrics(args.name, () => ({ running: pool.running, waiting: pool.waiting }));
    const tokenizer = new OffThreadTokenizer(args.model);
    // In the background: the engine serves meanwhile, and a long prompt waits for the thread off the loop.
    tokenizer.start().catch((error: unknown) => process.stderr.write(`llamacpp engine: ${error instanceof Error ? error.message : String(error)}\n`));
    return new LlamaCppEngine(args.name, llama, model, context, pool, tokenizer, metrics, args.threads);
  }

  /** Tokens one sequence can hold: prompt and completion together. */
  get contextSize(): number {
    return this.context.contextSize;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  /** Refuses a prompt of `bytes` (or one at least that long) that cannot fit the context whatever its tokens. */
  refuseOversized(bytes: number): void {
    if (bytes <= this.promptByteLimit) return;
    throw badRequest(
      `The prompt is ${bytes} bytes; this model's context holds ${this.contextSize} tokens including the completion, which no prompt over ${this.promptByteLimit} bytes fits.`,
      'messages',
      'context_length_exceeded',
    );
  }

  /**
   * Checks a prompt against the context and tokenizes it, without long synchronous work on the event loop
   * (every other stream is written from it): a prompt that cannot fit by its size alone is refused
   * untokenized, and a long one is tokenized on the tokenizer thread.
   */
  async prepare(promptText: string, sampling: SamplingOptions, trimLeadingSpace = false): Promise<PreparedPrompt> {
    const bytes = Buffer.byteLength(promptText);
    this.refuseOversized(bytes);
    const tokens = bytes <= INLINE_TOKENIZE_BYTES ? this.model.tokenize(promptText, false) : await this.tokenizeOffThread(promptText);
    if (this.model.tokens.bos != null && this.model.tokens.shouldPrependBosToken) tokens.unshift(this.model.tokens.bos);
    if (tokens.length === 0) throw badRequest('The prompt is empty.', 'prompt');
    const room = this.contextSize - tokens.length;
    if (room < 1) {
      throw badRequest(
        `The prompt is ${tokens.length} tokens; this model's context holds ${this.contextSize} including the completion.`,
        'messages',
        'context_length_exceeded',
      );
    }
    // A budget past the context is capped, not refused: the context is the real limit.
    const maxTokens = Math.min(sampling.maxTokens ?? room, room);
    return { tokens, maxTokens, stops: sampling.stop, sampling, trimLeadingSpace };
  }

  private async tokenizeOffThread(promptText: string): Promise<Token[]> {
    try {
      return await this.tokenizer.tokenize(promptText);
    } catch (error) {
      process.stderr.write(`llamacpp engine: ${error instanceof Error ? error.message : 'tokenizer thread failed'}\n`);
      throw new EngineError(503, 'The engine cannot tokenize long prompts right now; try again.', 'server_error');
    }
  }

  /**
   * Waits for a free sequence, generates, and calls `onText` with each piece of text safe to show.
   * `arrivedAt` (performance.now()) is when the request reached the engine: TTFT counts the queue wait, as vLLM's does.
   */
  async generate(prompt: PreparedPrompt, signal: AbortSignal, arrivedAt: number, onText: (text: string) => void): Promise<GenerationOutcome> {
    const controller = new AbortController();
    const forward = () => controller.abort(signal.reason);
    signal.addEventListener('abort', forward, { once: true });
    const run = this.run(prompt, controller.signal, arrivedAt, onText);
    const entry = { controller, done: run.catch(() => undefined) };
    this.active.add(entry);
    try {
      return await run;
    } finally {
      signal.removeEventListener('abort', forward);
      this.active.delete(entry);
    }
  }

  private async run(prompt: PreparedPrompt, signal: AbortSignal, arrivedAt: number, onText: (text: string) => void): Promise<GenerationOutcome> {
    const outcome: GenerationOutcome = { finishReason: 'stop', promptTokens: prompt.tokens.length, completionTokens: 0, aborted: false };
    let sequence: LlamaContextSequence;
    try {
      sequence = await this.pool.acquire(signal);
    } catch (error) {
      if (this.stopping) throw new EngineError(503, 'The engine is shutting down.', 'server_error');
      if (signal.aborted) return { ...outcome, aborted: true };
      throw error;
    }
    this.metrics.prompt(prompt.tokens.length);
    const detector = new StopDetector(prompt.stops);
    const text = new TokenText(this.model, prompt.tokens);
    let trimming = prompt.trimLeadingSpace;
    const emit = (piece: string) => {
      if (trimming) {
        piece = piece.trimStart();
        if (piece) trimming = false;
      }
      if (piece) onText(piece);
    };
    let previous = arrivedAt;
    try {
      const tokens = sequence.evaluate(prompt.tokens, {
        temperature: prompt.sampling.temperature,
        topP: prompt.sampling.topP,
        // Without a seed llama.cpp would use the current second, making simultaneous requests identical.
        seed: prompt.sampling.seed === undefined ? randomInt(2 ** 31) : prompt.sampling.seed >>> 0,
        tokenBias: prompt.sampling.ignoreEos ? this.neverEnd() : undefined,
      });
      for await (const token of tokens) {
        const now = performance.now();
        if (outcome.completionTokens === 0) this.metrics.firstToken((now - arrivedAt) / 1000);
        else this.metrics.interToken((now - previous) / 1000);
        previous = now;
        outcome.completionTokens++;
        emit(detector.push(text.push(token)));
        if (detector.stopped) break;
        if (signal.aborted) {
          outcome.aborted = true;
          break;
        }
        if (outcome.completionTokens >= prompt.maxTokens) {
          outcome.finishReason = 'length';
          break;
        }
      }
      if (!detector.stopped && !outcome.aborted) emit(detector.push(text.flush()) + detector.flush());
      if (!outcome.aborted) this.metrics.finished((performance.now() - arrivedAt) / 1000);
      return outcome;
    } finally {
      this.metrics.generated(outcome.completionTokens);
      await this.pool.release(sequence);
    }
  }

  private neverEnd(): TokenBias {
    const bias = TokenBias.for(this.model);
    for (const token of [this.model.tokens.eos, this.model.tokens.eot]) if (token != null) bias.set(token, 'never');
    return bias;
  }

  /** Refuses new requests, aborts running ones, and frees the model. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    this.pool.close();
    for (const entry of this.active) entry.controller.abort(new Error('engine is shutting down'));
    await Promise.all([...this.active].map((entry) => entry.done));
    await this.tokenizer.close();
    await this.embedder.dispose();
    await this.context.dispose();
    await this.model.dispose();
    await this.llama.dispose();
  }
}
