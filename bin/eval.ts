import { PerplexityInputError, perplexityOfFile } from '../server/lifecycle/quantize/perplexity';
import { numberFlag, options, positiveInteger, required, UsageError } from './args';

/** `enclave eval perplexity --model FILE.gguf --text FILE [--context N] [--threads N]`: prints {"perplexity","tokens"}. */
export async function evalPerplexityCommand(args: string[]): Promise<number> {
  const { values } = options(args, ['model', 'text', 'context', 'threads']);
  const modelPath = required(values.model, '--model');
  const textPath = required(values.text, '--text');
  const contextSize = numberFlag(values.context, '--context', 'a positive integer', positiveInteger) ?? 1024;
  if (contextSize < 2) throw new UsageError('--context must be at least 2');
  // One thread by default: on small CPU hosts more threads make llama.cpp hundreds of times slower.
  const threads = numberFlag(values.threads, '--threads', 'a positive integer', positiveInteger) ?? 1;
  try {
    const result = await perplexityOfFile({ modelPath, textPath, contextSize, threads });
    process.stdout.write(JSON.stringify({ perplexity: result.perplexity, tokens: result.tokens }) + '\n');
    return 0;
  } catch (e) {
    if (e instanceof PerplexityInputError) throw new Error(e.message);
    throw e;
  }
}
