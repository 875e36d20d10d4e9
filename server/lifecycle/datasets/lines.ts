/** One line of a byte stream: its 1-based number and text, or why it could not be read as text. */
export type Line = { number: number; text: string } | { number: number; error: string };

const NEWLINE = 0x0a;

/**
 * Splits a byte stream into lines without holding more than one line (up to `maxLineBytes`) in memory:
 * a longer line is reported and skipped to its end, so one huge line cannot exhaust memory.
 * `onChunk` sees every byte (for the file's hash) in order.
 */
export async function* readLines(source: AsyncIterable<Uint8Array | string>, maxLineBytes: number, onChunk: (chunk: Buffer) => void): AsyncGenerator<Line> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  let number = 1;

  const finish = (): Line => {
    const line = number++;
    if (tooLong) return { number: line, error: `the line is longer than ${maxLineBytes} bytes` };
    let bytes = parts.length === 1 ? parts[0] : Buffer.concat(parts, size);
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    try {
      return { number: line, text: decoder.decode(bytes) };
    } catch {
      return { number: line, error: 'the line is not valid UTF-8' };
    }
  };
  const take = (piece: Buffer) => {
    if (tooLong) return;
    size += piece.length;
    if (size > maxLineBytes) {
      tooLong = true;
      parts = [];
    } else if (piece.length > 0) parts.push(piece);
  };

  for await (const raw of source) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    onChunk(chunk);
    let start = 0;
    let end: number;
    while ((end = chunk.indexOf(NEWLINE, start)) !== -1) {
      // Copy: the stream may reuse its chunk buffers, and a line can outlive the chunk it came from.
      take(Buffer.from(chunk.subarray(start, end)));
      yield finish();
      parts = [];
      size = 0;
      tooLong = false;
      start = end + 1;
    }
    if (start < chunk.length) take(Buffer.from(chunk.subarray(start)));
  }
  if (size > 0 || tooLong) yield finish();
}
