import { createHash } from 'node:crypto';

/**
 * An order-independent digest of a table's rows: each row (one COPY text line) is hashed with SHA-256 and
 * the digests are added modulo 2^256. Two copies of a table with the same rows in any order agree; one
 * row changed, missing or repeated changes the sum. Lines are split here, whatever the chunking.
 */
export class RowHasher {
  private readonly sum = new Uint32Array(8);
  private carry: Buffer = Buffer.alloc(0);
  rows = 0;

  update(chunk: Buffer): void {
    let data = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    let start = 0;
    for (let nl = data.indexOf(10, start); nl !== -1; nl = data.indexOf(10, start)) {
      this.addRow(data.subarray(start, nl));
      start = nl + 1;
    }
    this.carry = Buffer.from(data.subarray(start));
    data = Buffer.alloc(0);
  }

  addRow(line: Buffer | string): void {
    const digest = createHash('sha256').update(line).digest();
    let carry = 0;
    for (let i = 7; i >= 0; i--) {
      const v = this.sum[i]! + digest.readUInt32BE(i * 4) + carry;
      this.sum[i] = v >>> 0;
      carry = v > 0xffffffff ? 1 : 0;
    }
    this.rows++;
  }

  digest(): string {
    if (this.carry.length) throw new Error('a COPY stream ended inside a row');
    return Buffer.from(this.sum.buffer.slice(0)).swap32().toString('hex');
  }
}
