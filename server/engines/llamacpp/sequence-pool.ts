/**
 * A fixed set of context sequences handed out first come, first served. A request waits in the FIFO queue
 * until a sequence is free; a waiter whose client went away leaves the queue at once.
 */
type Waiter<T> = { resolve: (item: T) => void; reject: (error: unknown) => void; signal?: AbortSignal; onAbort: () => void };

export class SequencePool<T> {
  private readonly free: T[];
  private readonly queue: Waiter<T>[] = [];
  private inUse = 0;
  private closed = false;

  /** `reset` clears an item's state between requests, so no request sees another's tokens. */
  constructor(
    items: T[],
    private readonly reset: (item: T) => Promise<void>,
  ) {
    this.free = [...items];
  }

  get running(): number {
    return this.inUse;
  }

  get waiting(): number {
    return this.queue.length;
  }

  acquire(signal?: AbortSignal): Promise<T> {
    if (this.closed) return Promise.reject(new Error('engine is shutting down'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    const item = this.free.shift();
    if (item !== undefined) {
      this.inUse++;
      return Promise.resolve(item);
    }
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const at = this.queue.indexOf(waiter);
          if (at !== -1) this.queue.splice(at, 1);
          reject(signal!.reason);
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  async release(item: T): Promise<void> {
    try {
      await this.reset(item);
    } finally {
      const next = this.queue.shift();
      if (next) {
        next.signal?.removeEventListener('abort', next.onAbort);
        next.resolve(item);
      } else {
        this.inUse--;
        this.free.push(item);
      }
    }
  }

  /** Refuses new work and fails everyone still waiting. */
  close(): void {
    this.closed = true;
    for (const waiter of this.queue.splice(0)) {
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.reject(new Error('engine is shutting down'));
    }
  }
}
