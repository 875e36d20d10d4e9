#!/usr/bin/env -S node --import tsx
// Executable entry of the trainer double: `node --import tsx trainer-double.bin.ts --output-dir DIR`.
import { parseDoubleOptions, runTrainerDouble } from './trainer-double';

// Synchronous writes, so every line is out before an exit(137) "crash".
const emit = (event: object) => process.stdout.write(`${JSON.stringify(event)}\n`);

try {
  const code = await runTrainerDouble(parseDoubleOptions(process.argv.slice(2), process.env), emit);
  process.exit(code);
} catch (err) {
  emit({ event: 'error', message: (err as Error).message });
  process.exit(1);
}
