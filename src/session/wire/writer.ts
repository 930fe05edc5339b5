/** Builds a little-endian message body; grows as needed. */
export class Writer {
  private buf: Buffer;
  private len = 0;
  constructor(initial = 64) {
    this.buf = Buffer.alloc(initial);
  }
  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  u8(v: number): this { this.room(1); this.buf.writeUInt8(v, this.len); this.len += 1; return this; }
  u16(v: number): this { this.room(2); this.buf.writeUInt16LE(v, this.len); this.len += 2; return this; }
  i16(v: number): this { this.room(2); this.buf.writeInt16LE(v, this.len); this.len += 2; return this; }
  u32(v: number): this { this.room(4); this.buf.writeUInt32LE(v >>> 0, this.len); this.len += 4; return this; }
  i32(v: number): this { this.room(4); this.buf.writeInt32LE(v, this.len); this.len += 4; return this; }
  u64(v: bigint): this { this.room(8); this.buf.writeBigUInt64LE(v, this.len); this.len += 8; return this; }
  i64(v: bigint): this { this.room(8); this.buf.writeBigInt64LE(v, this.len); this.len += 8; return this; }
  bytes(b: Uint8Array): this { this.room(b.length); this.buf.set(b, this.len); this.len += b.length; return this; }
  get length(): number { return this.len; }
  finish(): Buffer { return this.buf.subarray(0, this.len); }
}
