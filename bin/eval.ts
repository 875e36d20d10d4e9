import { PerplexityInputError, perplexityOfFile } from '../server/evaluation/perplexity';
import { options, required, UsageError } from './args';

function positiveInt(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, not "${value}"`);
  return n;
}

/** `enclave eval perplexity --model FILE.gguf --text FILE [--context N] [--threads N]`: prints {"perplexity","tokens"}. */
export async function evalPerplexityCommand(args: string[]): Promise<number> {
  const { values } = options(args, { model: { type: 'string' }, text: { type: 'string' }, context: { type: 'string' }, threads: { type: 'string' } });
  const modelPath = required(values.model, '--model');
  const textPath = required(values.text, '--text');
  const contextSize = positiveInt(values.context, '--context', 1024);
  if (contextSize < 2) throw new UsageError('--context must be at least 2');
  // One thread by default: on small CPU hosts more threads make llama.cpp hundreds of times slower.
  const threads = positiveInt(values.threads, '--threads', 1);
  try {
    const result = await perplexityOfFile({ modelPath, textPath, contextSize, threads });
    process.stdout.write(JSON.stringify({ perplexity: result.perplexity, tokens: result.tokens }) + '\n');
    return 0;
  } catch (e) {
    if (e instanceof PerplexityInputError) throw new Error(e.message);
    throw e;
  }
}
