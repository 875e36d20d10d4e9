import fs from 'node:fs';
import { alignUp, DEFAULT_ALIGNMENT, GGUF_MAGIC, GgufError, tensorBytes, typeName, VALUE_SIZE, ValueType } from './format';

export type GgufScalar = number | bigint | boolean | string;
/** `skippedLength` is set (and `items` empty) when a reader asked to skip arrays that long. */
export type GgufArray = { itemType: number; items: GgufValue[]; skippedLength?: number };
export type GgufValue = GgufScalar | GgufArray;
/** One metadata entry, with its GGUF value type so that a rewrite stores exactly what was read. */
export type GgufEntry = { key: string; type: number; value: GgufValue };
export type GgufTensor = { name: string; ne: number[]; type: number; /** from the start of the data section */ offset: number; bytes: number };

export type GgufLayout = {
  file: string;
  fileBytes: number;
  version: number;
  metadata: GgufEntry[];
  tensors: GgufTensor[];
  alignment: number;
  /** file offset of the tensor data section */
  dataOffset: number;
};

/**
 * Reads a file front to back through a 1 MiB window. A rewrite needs every value with its type; readers
 * that need only a few keys (the memory estimator) may skip long arrays such as the tokenizer's vocabulary.
 */
class Cursor {
  private window = Buffer.alloc(0);
  private start = 0;
  position = 0;
  constructor(
    private fd: number,
    private size: number,
    private file: string,
    private maxArrayItems = Infinity,
  ) {}

  private need(n: number): Buffer {
    if (this.position + n > this.size) throw new GgufError(`${this.file}: truncated GGUF header (needs byte ${this.position + n}, file has ${this.size})`);
    if (this.position < this.start || this.position + n > this.start + this.window.length) {
      const buffer = Buffer.alloc(Math.max(n, 1 << 20));
      const read = fs.readSync(this.fd, buffer, 0, buffer.length, this.position);
      this.window = buffer.subarray(0, read);
      this.start = this.position;
    }
    const at = this.position - this.start;
    this.position += n;
    return this.window.subarray(at, at + n);
  }
  u32() { return this.need(4).readUInt32LE(0); }
  /** A u64 used as a length or offset: anything past 2^53 is corrupt for any file that can exist. */
  length(what: string) {
    const v = this.need(8).readBigUInt64LE(0);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new GgufError(`${this.file}: ${what} ${v} is out of range (corrupt header?)`);
    return Number(v);
  }
  string(what: string) {
    const n = this.length(`${what} length`);
    if (this.position + n > this.size) throw new GgufError(`${this.file}: ${what} of ${n} bytes runs past the end of the file: truncated?`);
    return this.need(n).toString('utf8');
  }
  value(type: number, key: string): GgufValue {
    switch (type) {
      case ValueType.UINT8: return this.need(1).readUInt8(0);
      case ValueType.INT8: return this.need(1).readInt8(0);
      case ValueType.UINT16: return this.need(2).readUInt16LE(0);
      case ValueType.INT16: return this.need(2).readInt16LE(0);
      case ValueType.UINT32: return this.u32();
      case ValueType.INT32: return this.need(4).readInt32LE(0);
      case ValueType.FLOAT32: return this.need(4).readFloatLE(0);
      case ValueType.BOOL: return this.need(1).readUInt8(0) !== 0;
      case ValueType.STRING: return this.string(`value of ${key}`);
      case ValueType.UINT64: return this.need(8).readBigUInt64LE(0);
      case ValueType.INT64: return this.need(8).readBigInt64LE(0);
      case ValueType.FLOAT64: return this.need(8).readDoubleLE(0);
      case ValueType.ARRAY: {
        const itemType = this.u32();
        const n = this.length(`length of array ${key}`);
        // Every item takes at least one byte: a larger count is corrupt, and must not allocate first.
        if (this.position + n > this.size) throw new GgufError(`${this.file}: array ${key} of ${n} items runs past the end of the file: truncated?`);
        if (n > this.maxArrayItems) {
          this.skipItems(itemType, n, key);
          return { itemType, items: [], skippedLength: n };
        }
        const items: GgufValue[] = new Array(n);
        for (let i = 0; i < n; i++) items[i] = this.value(itemType, key);
        return { itemType, items };
      }
      default: throw new GgufError(`${this.file}: metadata ${key} has unknown GGUF value type ${type}`);
    }
  }
  /** Moves past n items without decoding them (fixed-size items in one step). */
  private skipItems(itemType: number, n: number, key: string) {
    const fixed = VALUE_SIZE[itemType];
    if (fixed) {
      this.position += n * fixed;
      if (this.position > this.size) throw new GgufError(`${this.file}: array ${key} runs past the end of the file: truncated?`);
    } else for (let i = 0; i < n; i++) this.value(itemType, key);
  }
}

function openGguf(file: string): number {
  try {
    return fs.openSync(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new GgufError(`${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (e as Error).message}`);
  }
}

function readHead(c: Cursor, file: string, size: number) {
  if (size < 4 || c.u32() !== GGUF_MAGIC) throw new GgufError(`${file} is not a GGUF file (bad magic)`);
  const version = c.u32();
  if (version !== 2 && version !== 3) throw new GgufError(`${file}: GGUF version ${version} is not supported (2 or 3)`);
  const tensorCount = c.length('tensor count');
  const metadataCount = c.length('metadata count');
  const metadata: GgufEntry[] = [];
  for (let i = 0; i < metadataCount; i++) {
    const key = c.string('metadata key');
    const type = c.u32();
    metadata.push({ key, type, value: c.value(type, key) });
  }
  return { version, tensorCount, metadata };
}

/** The metadata alone (no tensor table), skipping arrays longer than `maxArrayItems` (their length is kept). */
export function readGgufMetadata(file: string, maxArrayItems = Infinity): { fileBytes: number; version: number; metadata: GgufEntry[] } {
  const fd = openGguf(file);
  try {
    const size = fs.fstatSync(fd).size;
    const { version, metadata } = readHead(new Cursor(fd, size, file, maxArrayItems), file, size);
    return { fileBytes: size, version, metadata };
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads a GGUF v2/v3 header: every metadata entry, every tensor's name, shape, type and place. */
export function readGguf(file: string): GgufLayout {
  const fd = openGguf(file);
  try {
    const size = fs.fstatSync(fd).size;
    const c = new Cursor(fd, size, file);
    const { version, tensorCount, metadata } = readHead(c, file, size);
    const alignEntry = metadata.find((m) => m.key === 'general.alignment');
    const alignment = alignEntry ? Number(alignEntry.value) : DEFAULT_ALIGNMENT;
    // ggml insists on a power of two; anything else would misplace every tensor.
    if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) throw new GgufError(`${file}: general.alignment ${String(alignEntry?.value)} is not a power of two`);

    const tensors: GgufTensor[] = [];
    for (let i = 0; i < tensorCount; i++) {
      const name = c.string('tensor name');
      const dims = c.u32();
      if (dims < 1 || dims > 4) throw new GgufError(`${file}: tensor ${name} has ${dims} dimensions (1 to 4 expected)`);
      const ne = Array.from({ length: dims }, () => c.length(`dimension of ${name}`));
      const type = c.u32();
      const offset = c.length(`offset of ${name}`);
      const bytes = tensorBytes(type, ne);
      if (bytes === null) throw new GgufError(`${file}: tensor ${name} has ${typeName(type)} with shape [${ne}], which this quantizer cannot size`);
      if (offset % alignment !== 0) throw new GgufError(`${file}: tensor ${name} offset ${offset} is not aligned to ${alignment}`);
      tensors.push({ name, ne, type, offset, bytes });
    }
    const dataOffset = alignUp(c.position, alignment);
    for (const t of tensors) {
      if (dataOffset + t.offset + t.bytes > size) throw new GgufError(`${file}: tensor ${t.name} (${t.bytes} bytes at ${dataOffset + t.offset}) runs past the end of the file (${size} bytes): truncated?`);
    }
    return { file, fileBytes: size, version, metadata, tensors, alignment, dataOffset };
  } finally {
    fs.closeSync(fd);
  }
}
