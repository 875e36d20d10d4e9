import { completeEventsEnd, containsToken, findUsageEvent } from '../../gateway/sse';

const EVENT_END = Buffer.from('\n\n');

/**
 * Times one SSE response as its bytes arrive, with the gateway's byte scanning (no JSON parse per
 * chunk). `now` is read by the caller in the data callback, before any work, so parsing cost never
 * lands inside a measured gap. Events that arrive together in one read get gaps of 0: that is what
 * the client saw.
 */
export class StreamTimer {
  ttftMs = -1;
  itlMs: number[] = [];
  tokenEvents = 0;
  promptTokens: number | null = null;
  completionTokens: number | null = null;
  done = false;
  private lastMs = -1;
  private tail: Buffer | null = null;

  constructor(private readonly t0: number) {}

  onData(chunk: Buffer, now: number): void {
    const buf = this.tail ? Buffer.concat([this.tail, chunk]) : chunk;
    const end = completeEventsEnd(buf);
    this.tail = end < buf.length ? buf.subarray(end) : null;
    if (end === 0) return;
    const events = buf.subarray(0, end);
    let tokens = 0;
    let from = 0;
    while (from < end) {
      let stop = events.indexOf(EVENT_END, from);
      stop = stop === -1 ? end : stop + 2;
      const event = events.subarray(from, stop);
      if (containsToken(event)) tokens++;
      else if (event.includes('[DONE]')) this.done = true;
      from = stop;
    }
    if (tokens > 0) {
      for (let i = 0; i < tokens; i++) {
        if (this.ttftMs < 0) this.ttftMs = now - this.t0;
        else this.itlMs.push(i === 0 ? now - this.lastMs : 0);
      }
      this.lastMs = now;
      this.tokenEvents += tokens;
    }
    const usage = findUsageEvent(events);
    if (usage) {
      this.promptTokens = usage.promptTokens;
      this.completionTokens = usage.completionTokens;
    }
  }
}
