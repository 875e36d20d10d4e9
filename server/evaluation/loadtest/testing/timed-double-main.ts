import { startTimedDouble } from './timed-engine-double';

/** The timed double in a process of its own (argv: firstTokenMs interTokenMs tokens); reports its port over IPC. */
const [first = '40', gap = '15', tokens = '8'] = process.argv.slice(2);
const double = await startTimedDouble({ firstTokenMs: Number(first), interTokenMs: Number(gap), tokens: Number(tokens) });
process.send?.({ port: double.port });
const stop = () => void double.close().then(() => process.exit(0));
process.on('disconnect', stop);
process.on('SIGTERM', stop);
