import fs from 'node:fs';
import { parseSglangStartupLog } from '../engines/sglang/startup-log';
import { hasMeasurement, parseVllmStartupLog, type StartupMeasurement } from '../engines/vllm/startup-log';

/** Engines whose start-up log says what they measured (vLLM's memory profile, SGLang's pool lines); others (TGI) give nothing. */
const PARSERS: Record<string, (log: string) => StartupMeasurement> = { vllm: parseVllmStartupLog, sglang: parseSglangStartupLog };

/** The start-up log is at most a few hundred KiB; a log grown past this is read from its end. */
const MAX_READ = 4 * 1024 * 1024;
/** The first line of every start (vLLM V0 and V1; SGLang's ServerArgs): where the last start begins when the offset is unknown. */
const START_BANNER = /vLLM API server version|server_args=ServerArgs\(/g;

/** The text from the last start banner on (the whole text when there is none). */
function lastStart(text: string): string {
  let at = -1;
  for (const m of text.matchAll(START_BANNER)) at = m.index;
  return at < 0 ? text : text.slice(text.lastIndexOf('\n', at) + 1);
}

/** The log's size now: a restart appends to the same file, so this start's lines begin here. */
export function logSize(logPath: string): number {
  try {
    return fs.statSync(logPath).size;
  } catch {
    return 0;
  }
}

function readFrom(logPath: string, offset: number): string {
  const fd = fs.openSync(logPath, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const start = Math.max(Math.min(offset, size), size - MAX_READ);
    const buffer = Buffer.alloc(size - start);
    fs.readSync(fd, buffer, 0, buffer.length, start);
    return buffer.toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * What the engine measured during this start, read from its log from `fromOffset` (where this start
 * began writing). For an adopted process the offset is unknown: the last MAX_READ bytes from the last
 * start banner on. Null when the engine prints no such figures or the log cannot be read.
 */
export function measureStart(engine: string, logPath: string, fromOffset?: number): StartupMeasurement | null {
  const parse = PARSERS[engine];
  if (!parse) return null;
  try {
    const text = readFrom(logPath, fromOffset ?? 0);
    const m = parse(fromOffset === undefined ? lastStart(text) : text);
    return hasMeasurement(m) ? m : null;
  } catch {
    return null;
  }
}
