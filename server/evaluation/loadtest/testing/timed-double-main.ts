import { startTimedDouble } from './timed-engine-double';

/** The timed double in a process of its own (argv: firstTokenMs interTokenMs tokens); reports its port over IPC. */
import os from 'node:os';

// The double's timers are the reference the generator is checked against: keep them ahead of neighbours where allowed.
try {
  os.setPriority(0, -10);
} catch {
  // not permitted
}
const [first = '40', gap = '15', tokens = '8'] = process.argv.slice(2);
const double = await startTimedDouble({ firstTokenMs: Number(first), interTokenMs: Number(gap), tokens: Number(tokens) });
process.send?.({ port: double.port });
const stop = () => void double.close().then(() => process.exit(0));
process.on('disconnect', stop);
process.on('SIGTERM', stop);
