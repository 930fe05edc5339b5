import { ProtocolError } from '../../util/errors.js';
import { ByteQueue } from './bytequeue.js';

// Data message headers (digest §2.1):
//   mini: u16 type, u32 size                                   (6 bytes)
//   full: u64 serial, u16 type, u32 size, u32 sub_list          (18 bytes)
export const MINI_HEADER_SIZE = 6;
export const FULL_HEADER_SIZE = 18;
/** Largest body we accept; a raw 4K RGBA frame is ~32 MiB. */
export const DEFAULT_MAX_BODY = 128 * 1024 * 1024;

export interface RawMessage {
  type: number;
  body: Buffer;
  /** header + body bytes, as counted on the wire */
  wireSize: number;
}

/** Incremental splitter of a channel's byte stream into messages. Pure: feed() in, messages out. */
export class MessageFramer {
  private readonly q = new ByteQueue();
  private readonly headerSize: number;
  private readonly maxBody: number;

  constructor(readonly opts: { mini: boolean; maxBody?: number; what?: string }) {
    this.headerSize = opts.mini ? MINI_HEADER_SIZE : FULL_HEADER_SIZE;
    this.maxBody = opts.maxBody ?? DEFAULT_MAX_BODY;
  }

  feed(chunk: Buffer): RawMessage[] {
    this.q.push(chunk);
    const out: RawMessage[] = [];
    for (;;) {
      if (this.q.length < this.headerSize) return out;
      const h = this.q.peek(this.headerSize);
      const type = this.opts.mini ? h.readUInt16LE(0) : h.readUInt16LE(8);
      const size = this.opts.mini ? h.readUInt32LE(2) : h.readUInt32LE(10);
      if (size > this.maxBody) {
        throw new ProtocolError(
          `${this.opts.what ?? 'channel'}: message type ${type} declares ${size} bytes, over the ${this.maxBody}-byte limit`,
        );
      }
      if (this.q.length < this.headerSize + size) return out;
      this.q.skip(this.headerSize);
      out.push({ type, body: this.q.take(size), wireSize: this.headerSize + size });
    }
  }

  /** Bytes received but not yet part of a whole message. */
  get buffered(): number {
    return this.q.length;
  }
}

export function encodeMessage(type: number, body: Buffer, mini: boolean, serial: bigint): Buffer {
  if (mini) {
    const out = Buffer.allocUnsafe(MINI_HEADER_SIZE + body.length);
    out.writeUInt16LE(type, 0);
    out.writeUInt32LE(body.length, 2);
    body.copy(out, MINI_HEADER_SIZE);
    return out;
  }
  const out = Buffer.allocUnsafe(FULL_HEADER_SIZE + body.length);
  out.writeBigUInt64LE(serial, 0);
  out.writeUInt16LE(type, 8);
  out.writeUInt32LE(body.length, 10);
  out.writeUInt32LE(0, 14);
  body.copy(out, FULL_HEADER_SIZE);
  return out;
}
