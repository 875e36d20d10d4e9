import { startOpenAIDouble, type OpenAIDoubleOptions } from './openai-double';

/**
 * The double in a process of its own (openai-double-process.ts): argv[2] is its options as JSON (numbers
 * and failures; token texts stay the default). Reports its port over IPC and answers `requests` and
 * `clear` messages there, so nothing but the protocol reaches its HTTP port.
 */
const options = JSON.parse(process.argv[2] ?? '{}') as OpenAIDoubleOptions;
const double = await startOpenAIDouble(options);
process.on('message', (m: { id: number; cmd: 'requests' | 'clear' }) => {
  if (m.cmd === 'clear') double.clear();
  process.send?.({ id: m.id, requests: m.cmd === 'requests' ? double.requests : undefined });
});
const stop = () => void double.close().then(() => process.exit(0));
process.on('disconnect', stop);
process.on('SIGTERM', stop);
process.send?.({ port: double.port });
