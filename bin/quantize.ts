import { FILE_TYPE } from '../server/gguf/format';
import { quantizeGguf, type QuantizeType } from '../server/lifecycle/quantize/quantize';
import { options, required, UsageError } from './args';

/** `enclave quantize --in IN.gguf --out OUT.gguf --type f16|q8_0`: prints the run's figures as JSON. */
export async function quantizeCommand(args: string[]): Promise<number> {
  const { values } = options(args, ['in', 'out', 'type']);
  const input = required(values.in, '--in');
  const output = required(values.out, '--out');
  const type = required(values.type, '--type');
  if (!(type in FILE_TYPE)) throw new UsageError(`--type must be f16 or q8_0, got ${type}`);
  const result = await quantizeGguf(input, output, type as QuantizeType);
  process.stdout.write(JSON.stringify({ ...result, seconds: Number(result.seconds.toFixed(3)) }) + '\n');
  return 0;
}
