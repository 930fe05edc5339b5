import { ProtocolError } from '../../util/errors.js';

/**
 * A little-endian cursor over one message body. Every read checks the remaining length,
 * so a short or lying message fails here, in one place, with the field's name.
 */
export class Reader {
  pos: number;
  constructor(readonly buf: Buffer, pos = 0, readonly what = 'message') {
    this.pos = pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  need(n: number, field: string): void {
    if (n < 0 || this.pos + n > this.buf.length) {
      throw new ProtocolError(
        `${this.what} is truncated: ${field} needs ${n} bytes at offset ${this.pos}, ${this.remaining} left`,
      );
    }
  }

  u8(field = 'u8'): number { this.need(1, field); return this.buf.readUInt8(this.pos++); }
  i8(field = 'i8'): number { this.need(1, field); return this.buf.readInt8(this.pos++); }
  u16(field = 'u16'): number { this.need(2, field); const v = this.buf.readUInt16LE(this.pos); this.pos += 2; return v; }
  i16(field = 'i16'): number { this.need(2, field); const v = this.buf.readInt16LE(this.pos); this.pos += 2; return v; }
  u32(field = 'u32'): number { this.need(4, field); const v = this.buf.readUInt32LE(this.pos); this.pos += 4; return v; }
  i32(field = 'i32'): number { this.need(4, field); const v = this.buf.readInt32LE(this.pos); this.pos += 4; return v; }
  u64(field = 'u64'): bigint { this.need(8, field); const v = this.buf.readBigUInt64LE(this.pos); this.pos += 8; return v; }
  i64(field = 'i64'): bigint { this.need(8, field); const v = this.buf.readBigInt64LE(this.pos); this.pos += 8; return v; }

  /** A zero-copy view of the next n bytes. */
  bytes(n: number, field = 'bytes'): Buffer {
    this.need(n, field);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  rest(): Buffer {
    const v = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return v;
  }

  /** A reader positioned at a pointer (offset from the start of the body); 0 is NULL. */
  at(offset: number, field: string): Reader {
    if (offset <= 0 || offset > this.buf.length) {
      throw new ProtocolError(`${this.what}: pointer ${field}=${offset} is outside the ${this.buf.length}-byte body`);
    }
    return new Reader(this.buf, offset, this.what);
  }
}
