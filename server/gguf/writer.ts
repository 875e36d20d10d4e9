import { alignUp, GgufError, ValueType } from './format';
import type { GgufEntry, GgufValue } from './reader';

export type TensorOut = { name: string; ne: number[]; type: number; bytes: number };

/** Serialises values into a growing list of buffers; the header is small next to the tensors. */
class Encoder {
  private parts: Buffer[] = [];
  length = 0;
  private push(b: Buffer) { this.parts.push(b); this.length += b.length; }
  private fixed(n: number, write: (b: Buffer) => void) { const b = Buffer.alloc(n); write(b); this.push(b); }
  u32(v: number) { this.fixed(4, (b) => b.writeUInt32LE(v)); }
  u64(v: number | bigint) { this.fixed(8, (b) => b.writeBigUInt64LE(BigInt(v))); }
  string(s: string) { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.push(b); }
  zeros(n: number) { if (n > 0) this.push(Buffer.alloc(n)); }
  value(type: number, v: GgufValue, key: string) {
    const bad = () => new GgufError(`metadata ${key}: value ${String(v)} does not fit GGUF type ${type}`);
    switch (type) {
      case ValueType.UINT8: return this.fixed(1, (b) => b.writeUInt8(v as number));
      case ValueType.INT8: return this.fixed(1, (b) => b.writeInt8(v as number));
      case ValueType.UINT16: return this.fixed(2, (b) => b.writeUInt16LE(v as number));
      case ValueType.INT16: return this.fixed(2, (b) => b.writeInt16LE(v as number));
      case ValueType.UINT32: return this.fixed(4, (b) => b.writeUInt32LE(v as number));
      case ValueType.INT32: return this.fixed(4, (b) => b.writeInt32LE(v as number));
      case ValueType.FLOAT32: return this.fixed(4, (b) => b.writeFloatLE(v as number));
      case ValueType.BOOL: return this.fixed(1, (b) => b.writeUInt8(v ? 1 : 0));
      case ValueType.STRING: if (typeof v !== 'string') throw bad(); return this.string(v);
      case ValueType.UINT64: return this.fixed(8, (b) => b.writeBigUInt64LE(BigInt(v as number)));
      case ValueType.INT64: return this.fixed(8, (b) => b.writeBigInt64LE(BigInt(v as number)));
      case ValueType.FLOAT64: return this.fixed(8, (b) => b.writeDoubleLE(v as number));
      case ValueType.ARRAY: {
        if (typeof v !== 'object' || v === null || !('items' in v)) throw bad();
        this.u32(v.itemType);
        this.u64(v.items.length);
        for (const item of v.items) this.value(v.itemType, item, key);
        return;
      }
      default: throw bad();
    }
  }
  concat() { return Buffer.concat(this.parts, this.length); }
}

/**
 * A GGUF v3 header, padded to the alignment so that the data section starts right after it, and the
 * offset of each tensor within that section (each aligned, as ggml requires for mmap'd tensors).
 */
export function encodeHeader(metadata: GgufEntry[], tensors: TensorOut[], alignment: number): { header: Buffer; offsets: number[] } {
  const e = new Encoder();
  e.u32(0x46554747);
  e.u32(3);
  e.u64(tensors.length);
  e.u64(metadata.length);
  for (const m of metadata) {
    e.string(m.key);
    e.u32(m.type);
    e.value(m.type, m.value, m.key);
  }
  const offsets: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    e.string(t.name);
    e.u32(t.ne.length);
    for (const n of t.ne) e.u64(n);
    e.u32(t.type);
    e.u64(offset);
    offsets.push(offset);
    offset = alignUp(offset + t.bytes, alignment);
  }
  e.zeros(alignUp(e.length, alignment) - e.length);
  return { header: e.concat(), offsets };
}
