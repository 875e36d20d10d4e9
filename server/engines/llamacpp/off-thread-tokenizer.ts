import { Worker } from 'node:worker_threads';
import type { Token } from 'node-llama-cpp';

const WORKER = new URL('./tokenizer-worker.mjs', import.meta.url);

type Pending = { resolve: (tokens: Token[]) => void; reject: (error: Error) => void };

/** How long a closing thread may take to release llama.cpp and exit before it is terminated. */
const CLOSE_GRACE_MS = 10_000;

/**
 * Asks the thread to release llama.cpp and exit on its own. worker.terminate() on a thread holding the
 * native addon can abort the whole process ("terminate called after throwing an instance of
 * 'Napi::Error'"), so it is only the last resort for a thread that does not exit in time.
 */
async function endThread(worker: Worker): Promise<void> {
  if (worker.threadId === -1) return;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.postMessage({ close: true });
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), CLOSE_GRACE_MS)));
  if ((await Promise.race([exited, late])) === 'late') await worker.terminate();
  clearTimeout(timer);
}

/**
 * Tokenizes on a worker thread holding the model's vocabulary, so a long prompt (seconds of llama.cpp's
 * synchronous tokenizer) never stalls the event loop that writes every other client's stream. Prompts
 * queue in the worker one after another; a worker that dies fails what it held and is started again on
 * the next call.
 */
export class OffThreadTokenizer {
  private worker: Worker | undefined;
  /** The thread last started, ready or still loading, until it exits. */
  private thread: Worker | undefined;
  private ready: Promise<Worker> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;

  constructor(private readonly modelPath: string) {}

  /** Starts the worker now rather than on the first long prompt (which would wait seconds for it). */
  start(): Promise<void> {
    return this.spawn().then(() => undefined);
  }

  async tokenize(text: string): Promise<Token[]> {
    const worker = await this.spawn();
    const id = this.nextId++;
    return new Promise<Token[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, text });
    });
  }

  /** Ends the thread (a loading one once it is up) and waits for it to exit. */
  async close(): Promise<void> {
    this.closed = true;
    const thread = this.thread;
    this.worker = undefined;
    this.ready = undefined;
    // A thread still loading reads the request once it is up.
    if (thread) await endThread(thread);
  }

  private spawn(): Promise<Worker> {
    if (this.closed) return Promise.reject(new Error('engine is shutting down'));
    if (this.ready) return this.ready;
    const ready = new Promise<Worker>((resolve, reject) => {
      const worker = new Worker(WORKER, { workerData: { modelPath: this.modelPath } });
      this.thread = worker;
      // The tokenizer must not keep a stopping engine alive.
      worker.unref();
      worker.on('message', (message: { ready?: true; failed?: string; id?: number; tokens?: Uint32Array; error?: string }) => {
        if (message.ready) {
          // close() already asked this thread to end.
          if (this.closed) return reject(new Error('engine is shutting down'));
          this.worker = worker;
          return resolve(worker);
        }
        if (message.failed !== undefined) {
          // The thread releases what it loaded and exits by itself.
          return reject(new Error(`the tokenizer thread could not load the model: ${message.failed}`));
        }
        const waiting = this.pending.get(message.id!);
        if (!waiting) return;
        this.pending.delete(message.id!);
        if (message.tokens) waiting.resolve(Array.from(message.tokens) as Token[]);
        else waiting.reject(new Error(`tokenization failed (${message.error})`));
      });
      const lost = (why: Error) => {
        if (this.worker === worker) {
          this.worker = undefined;
          this.ready = undefined;
        }
        reject(why);
        for (const [id, waiting] of this.pending) {
          this.pending.delete(id);
          waiting.reject(why);
        }
      };
      worker.on('error', (error) => lost(new Error(`the tokenizer thread failed: ${error.name}`)));
      worker.on('exit', (code) => {
        if (this.thread === worker) this.thread = undefined;
        lost(new Error(`the tokenizer thread exited (code ${code})`));
      });
    });
    this.ready = ready;
    // A thread that never came up is tried again on the next call.
    ready.catch(() => {
      if (this.ready === ready) this.ready = undefined;
    });
    return ready;
  }
}
