// The engine's tokenizer thread: the model's vocabulary alone (no weights), tokenizing prompts too long to
// tokenize on the engine's event loop, where every other client's stream is written. Started by
// off-thread-tokenizer.ts; messages are { id, text } in, { id, tokens } or { id, error } out, and
// { close: true } in to end the thread.
// Plain JavaScript: under tsx's loader this thread took several times longer to start.
import { parentPort, workerData } from 'node:worker_threads';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';

const port = parentPort;
let llama;
let model;

// The thread ends by releasing llama.cpp and closing its port, so it exits on its own: terminating a thread
// that holds the native addon can abort the whole process ("terminate called after throwing an instance of
// 'Napi::Error'").
async function end() {
  await model?.dispose().catch(() => {});
  await llama?.dispose().catch(() => {});
  port.close();
}

try {
  llama = await getLlama({ gpu: false, build: 'never', maxThreads: 1, logLevel: LlamaLogLevel.error, logger: () => {} });
  model = await llama.loadModel({ modelPath: workerData.modelPath, vocabOnly: true });
  port.on('message', (message) => {
    if (message.close) return void end();
    const { id, text } = message;
    try {
      const tokens = Uint32Array.from(model.tokenize(text, false));
      port.postMessage({ id, tokens }, [tokens.buffer]);
    } catch (error) {
      // Never the text: the name of what failed is enough.
      port.postMessage({ id, error: error instanceof Error ? error.name : 'Error' });
    }
  });
  port.postMessage({ ready: true });
} catch (error) {
  port.postMessage({ failed: error instanceof Error ? error.message : String(error) });
  await end();
}
