import { monotonicMs } from '../clock';

/** Answers each IPC message with its reading of the shared clock (clock.test.ts). */
process.on('message', () => process.send?.(monotonicMs()));
process.on('disconnect', () => process.exit(0));
process.send?.('ready');
