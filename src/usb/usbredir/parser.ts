// Incremental usbredir parser: feed it the unframed byte stream of a usbredir channel in
// chunks of any size; it returns the packets completed by each chunk. Pure (no I/O).
//
// Usage (we are the usb-host, so we parse what the usb-guest sends):
//   const parser = new UsbredirParser({ role: 'usb-host', caps: ourCaps });
//   for (const packet of parser.feed(chunk)) handle(packet);
//
// * `role` is OUR role; the parser reads packets sent by the other role (a fake guest in
//   tests uses role 'usb-guest' to read what a usb-host sends).
// * `caps` are the caps WE advertise in our hello. Layouts that depend on caps use the
//   caps both sides advertised, known once the peer's hello has been parsed: from the next
//   packet on, the header has a 64-bit id if both advertised ids64 (the hello itself always
//   has the 12-byte header). Packets the receiver must have a cap for (filter_filter,
//   device_disconnect_ack, bulk receiving) are checked against our caps, as usbredirparser does.
// * The first packet must be the peer's hello; a second hello is an error.
// * Ids are bigint. `data` buffers may be views of the chunks passed to feed() (zero copy when a
//   packet lies inside one chunk): don't reuse chunk memory after feeding it.
// * Any malformed input throws ProtocolError; the parser then stays failed (every later feed
//   throws the same error), since the stream cannot be resynchronised. Packets completed
//   earlier in the same feed() call are dropped with the error.
// * Memory: bytes are queued as they arrive; nothing is allocated from a declared length
//   before those bytes are here. header.length is capped (maxPacketLength, default 128 MiB +
//   1 KiB), and lengths are checked as soon as the header / type header is complete.

import { ProtocolError } from '../../util/errors.js';
import { negotiate, type CapsWords, type NegotiatedCaps } from './caps.js';
import { checkPacket, mayHaveData, typeHeaderSize, wireName, type PacketHead, type WireContext } from './layout.js';
import {
  EP_COUNT,
  HEADER_SIZE_32,
  HELLO_VERSION_SIZE,
  MAX_INTERFACES,
  MAX_PACKET_LENGTH,
  otherRole,
  packetTypeName,
  type DeviceConnectPacket,
  type HelloPacket,
  type PacketTypeName,
  type UsbredirEndpointInfo,
  type UsbredirPacket,
  type UsbredirRole,
} from './proto.js';

/** Largest hello accepted: the version field plus 1024 caps words. */
export const MAX_HELLO_LENGTH = HELLO_VERSION_SIZE + 4 * 1024;
/** Largest filter_filter string accepted (bytes incl. NUL). */
export const MAX_FILTER_LENGTH = 1024 * 1024;

export interface UsbredirParserOptions {
  /** Our role; the parser reads packets sent by the other role. */
  role: UsbredirRole;
  /** The caps words we advertise (or will advertise) in our own hello. */
  caps: CapsWords;
  /** Largest header.length accepted; at most (and by default) MAX_PACKET_LENGTH. */
  maxPacketLength?: number;
}

interface Pending {
  type: PacketTypeName;
  id: bigint;
  length: number;
  typeHeaderSize: number;
  head: PacketHead | null;
}

export class UsbredirParser {
  readonly role: UsbredirRole;
  readonly ourCaps: readonly number[];
  private readonly maxPacketLength: number;

  private chunks: Buffer[] = [];
  private first = 0; // index of the first live chunk
  private offset = 0; // read offset inside chunks[first]
  private buffered = 0;

  private pending: Pending | null = null;
  private hello: HelloPacket | null = null;
  private neg: NegotiatedCaps | null = null;
  private failure: ProtocolError | null = null;

  constructor(opts: UsbredirParserOptions) {
    this.role = opts.role;
    this.ourCaps = Object.freeze(opts.caps.map((w) => w >>> 0));
    const max = opts.maxPacketLength ?? MAX_PACKET_LENGTH;
    if (!Number.isInteger(max) || max < HELLO_VERSION_SIZE || max > MAX_PACKET_LENGTH) {
      throw new RangeError(`maxPacketLength must be ${HELLO_VERSION_SIZE}..${MAX_PACKET_LENGTH}, got ${max}`);
    }
    this.maxPacketLength = max;
  }

  /** The peer's hello, once parsed. */
  get peerHello(): HelloPacket | null {
    return this.hello;
  }

  /** Our caps and the peer's, once the peer's hello has been parsed. */
  get negotiated(): NegotiatedCaps | null {
    return this.neg;
  }

  /** Size of the next packet header: 12 until the hello, then 12 or 16. */
  get headerSize(): number {
    return this.neg ? this.neg.headerSize : HEADER_SIZE_32;
  }

  /** Bytes held that do not form a complete packet yet. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** True when no partial packet is held (a clean place for the stream to end). */
  get idle(): boolean {
    return this.buffered === 0 && this.pending === null;
  }

  /** The error that stopped this parser, if any. */
  get error(): ProtocolError | null {
    return this.failure;
  }

  /** Feed the next bytes of the stream; returns the packets they complete, in order. */
  feed(chunk: Uint8Array): UsbredirPacket[] {
    if (this.failure) throw this.failure;
    if (chunk.length) {
      this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      this.buffered += chunk.length;
    }
    const out: UsbredirPacket[] = [];
    try {
      for (;;) {
        const p = this.step();
        if (!p) break;
        out.push(p);
      }
    } catch (e) {
      this.failure = e instanceof ProtocolError ? e : new ProtocolError(`usbredir: ${(e as Error).message}`, { cause: e });
      this.chunks = [];
      this.first = 0;
      this.offset = 0;
      this.buffered = 0;
      throw this.failure;
    }
    return out;
  }

  /** Call when the stream has ended: throws ProtocolError if it ended inside a packet. */
  end(): void {
    if (this.failure) throw this.failure;
    if (this.idle) return;
    const p = this.pending;
    if (!p) {
      throw new ProtocolError(`usbredir: stream ended inside a packet header (${this.buffered} of ${this.headerSize} bytes)`);
    }
    const have = (p.head ? p.typeHeaderSize : 0) + this.buffered;
    throw new ProtocolError(`usbredir: stream ended inside a ${wireName(p.type)} packet (${have} of ${p.length} bytes after the header)`);
  }

  private ctx(): WireContext {
    return { sender: otherRole(this.role), receiverCaps: this.ourCaps, negotiated: this.neg };
  }

  /** Advance by at most one packet; null when more bytes are needed. */
  private step(): UsbredirPacket | null {
    const ctx = this.ctx();
    if (!this.pending) {
      const hs = this.headerSize;
      if (this.buffered < hs) return null;
      const h = this.take(hs);
      const typeNum = h.readUInt32LE(0);
      const length = h.readUInt32LE(4);
      const id = hs === HEADER_SIZE_32 ? BigInt(h.readUInt32LE(8)) : h.readBigUInt64LE(8);
      this.pending = this.checkHeader(typeNum, length, id, ctx);
    }
    const pend = this.pending;
    if (!pend.head) {
      if (this.buffered < pend.typeHeaderSize) return null;
      const th = this.take(pend.typeHeaderSize);
      const head = decodeHead(pend.type, pend.id, th);
      const dataLength = pend.length - pend.typeHeaderSize;
      const err = checkPacket(head, dataLength, ctx);
      if (err) throw new ProtocolError(`usbredir: ${err}`);
      pend.head = head;
    }
    const dataLength = pend.length - pend.typeHeaderSize;
    if (this.buffered < dataLength) return null;
    const data = this.take(dataLength);
    this.pending = null;
    const packet = finish(pend.head, data);
    if (packet.type === 'hello') {
      this.hello = packet;
      this.neg = negotiate(this.ourCaps, packet.caps);
    }
    return packet;
  }

  private checkHeader(typeNum: number, length: number, id: bigint, ctx: WireContext): Pending {
    const type = packetTypeName(typeNum);
    if (type === undefined) throw new ProtocolError(`usbredir: unknown packet type ${typeNum} (length ${length})`);
    const name = wireName(type);
    if (!this.hello && type !== 'hello') {
      throw new ProtocolError(`usbredir: expected hello as the first packet from the ${ctx.sender}, got ${name}`);
    }
    if (this.hello && type === 'hello') throw new ProtocolError(`usbredir: second hello from the ${ctx.sender}`);
    const ths = typeHeaderSize(type, ctx);
    if (ths === null) throw new ProtocolError(`usbredir: ${name} may not be sent by the ${ctx.sender}`);
    if (length > this.maxPacketLength) {
      throw new ProtocolError(`usbredir: ${name} length ${length} exceeds the ${this.maxPacketLength}-byte limit`);
    }
    if (length < ths) throw new ProtocolError(`usbredir: ${name} length ${length} is shorter than its ${ths}-byte header`);
    if (length > ths && !mayHaveData(type)) {
      throw new ProtocolError(`usbredir: ${name} length ${length} != ${ths} (this packet carries no data)`);
    }
    if (type === 'hello') {
      if (length > MAX_HELLO_LENGTH) throw new ProtocolError(`usbredir: hello length ${length} exceeds ${MAX_HELLO_LENGTH}`);
      if ((length - ths) % 4 !== 0) {
        throw new ProtocolError(`usbredir: hello length ${length}: caps part ${length - ths} is not a multiple of 4`);
      }
    }
    if (type === 'filterFilter' && length > MAX_FILTER_LENGTH) {
      throw new ProtocolError(`usbredir: filter_filter length ${length} exceeds ${MAX_FILTER_LENGTH}`);
    }
    return { type, id, length, typeHeaderSize: ths, head: null };
  }

  /** Remove and return the next n buffered bytes (n <= buffered). */
  private take(n: number): Buffer {
    if (n === 0) return EMPTY;
    this.buffered -= n;
    const c0 = this.chunks[this.first]!;
    if (c0.length - this.offset >= n) {
      const b = c0.subarray(this.offset, this.offset + n);
      this.advance(n);
      return b;
    }
    const out = Buffer.allocUnsafe(n);
    let done = 0;
    while (done < n) {
      const c = this.chunks[this.first]!;
      const k = Math.min(c.length - this.offset, n - done);
      c.copy(out, done, this.offset, this.offset + k);
      done += k;
      this.advance(k);
    }
    return out;
  }

  private advance(k: number): void {
    this.offset += k;
    if (this.offset === this.chunks[this.first]!.length) {
      this.chunks[this.first] = EMPTY; // drop the reference
      this.first++;
      this.offset = 0;
      if (this.first === this.chunks.length) {
        this.chunks = [];
        this.first = 0;
      } else if (this.first > 1024 && this.first * 2 > this.chunks.length) {
        this.chunks = this.chunks.slice(this.first);
        this.first = 0;
      }
    }
  }
}

const EMPTY = Buffer.alloc(0);

// Type headers, little-endian, packed. Offsets in bytes from the start of the type header.
function decodeHead(type: PacketTypeName, id: bigint, th: Buffer): PacketHead {
  switch (type) {
    case 'hello': {
      // char version[64] (NUL-terminated; a missing NUL is cut at 63 bytes), caps follow as data
      let end = th.indexOf(0);
      if (end < 0 || end > HELLO_VERSION_SIZE - 1) end = HELLO_VERSION_SIZE - 1;
      return { type, id, version: th.toString('utf8', 0, end), caps: [] };
    }
    case 'deviceConnect': {
      // u8 speed, u8 class, u8 subclass, u8 protocol, u16 vendor, u16 product, [u16 bcd]
      const p: DeviceConnectPacket = {
        type,
        id,
        speed: th[0]!,
        deviceClass: th[1]!,
        deviceSubclass: th[2]!,
        deviceProtocol: th[3]!,
        vendorId: th.readUInt16LE(4),
        productId: th.readUInt16LE(6),
      };
      if (th.length >= 10) p.deviceVersionBcd = th.readUInt16LE(8);
      return p;
    }
    case 'interfaceInfo': {
      // u32 count, u8 interface[32], u8 class[32], u8 subclass[32], u8 protocol[32]
      const count = th.readUInt32LE(0);
      if (count > MAX_INTERFACES) throw new ProtocolError(`usbredir: interface_info: interface_count ${count} > ${MAX_INTERFACES}`);
      const interfaces = [];
      for (let i = 0; i < count; i++) {
        interfaces.push({ number: th[4 + i]!, class: th[36 + i]!, subclass: th[68 + i]!, protocol: th[100 + i]! });
      }
      return { type, id, interfaces };
    }
    case 'epInfo': {
      // u8 type[32], u8 interval[32], u8 interface[32], [u16 max_packet_size[32]], [u32 max_streams[32]]
      const endpoints: UsbredirEndpointInfo[] = [];
      for (let i = 0; i < EP_COUNT; i++) {
        const e: UsbredirEndpointInfo = { type: th[i]!, interval: th[32 + i]!, interface: th[64 + i]! };
        if (th.length >= 160) e.maxPacketSize = th.readUInt16LE(96 + 2 * i);
        if (th.length >= 288) e.maxStreams = th.readUInt32LE(160 + 4 * i);
        endpoints.push(e);
      }
      return { type, id, endpoints };
    }
    case 'deviceDisconnect':
    case 'reset':
    case 'getConfiguration':
    case 'cancelDataPacket':
    case 'filterReject':
    case 'deviceDisconnectAck':
      return { type, id };
    case 'filterFilter':
      return { type, id, filter: '' };
    case 'setConfiguration':
      return { type, id, configuration: th[0]! };
    case 'configurationStatus':
      return { type, id, status: th[0]!, configuration: th[1]! };
    case 'setAltSetting':
      return { type, id, interface: th[0]!, alt: th[1]! };
    case 'getAltSetting':
      return { type, id, interface: th[0]! };
    case 'altSettingStatus':
      return { type, id, status: th[0]!, interface: th[1]!, alt: th[2]! };
    case 'startIsoStream':
      return { type, id, endpoint: th[0]!, pktsPerUrb: th[1]!, noUrbs: th[2]! };
    case 'stopIsoStream':
      return { type, id, endpoint: th[0]! };
    case 'isoStreamStatus':
      return { type, id, status: th[0]!, endpoint: th[1]! };
    case 'startInterruptReceiving':
      return { type, id, endpoint: th[0]! };
    case 'stopInterruptReceiving':
      return { type, id, endpoint: th[0]! };
    case 'interruptReceivingStatus':
      return { type, id, status: th[0]!, endpoint: th[1]! };
    case 'allocBulkStreams':
      return { type, id, endpoints: th.readUInt32LE(0), noStreams: th.readUInt32LE(4) };
    case 'freeBulkStreams':
      return { type, id, endpoints: th.readUInt32LE(0) };
    case 'bulkStreamsStatus':
      return { type, id, endpoints: th.readUInt32LE(0), noStreams: th.readUInt32LE(4), status: th[8]! };
    case 'startBulkReceiving':
      // u32 stream_id, u32 bytes_per_transfer, u8 endpoint, u8 no_transfers
      return { type, id, streamId: th.readUInt32LE(0), bytesPerTransfer: th.readUInt32LE(4), endpoint: th[8]!, noTransfers: th[9]! };
    case 'stopBulkReceiving':
      return { type, id, streamId: th.readUInt32LE(0), endpoint: th[4]! };
    case 'bulkReceivingStatus':
      return { type, id, streamId: th.readUInt32LE(0), endpoint: th[4]!, status: th[5]! };
    case 'controlPacket':
      // u8 endpoint, u8 request, u8 requesttype, u8 status, u16 value, u16 index, u16 length
      return {
        type,
        id,
        endpoint: th[0]!,
        request: th[1]!,
        requestType: th[2]!,
        status: th[3]!,
        value: th.readUInt16LE(4),
        index: th.readUInt16LE(6),
        length: th.readUInt16LE(8),
      };
    case 'bulkPacket': {
      // u8 endpoint, u8 status, u16 length, u32 stream_id, [u16 length_high]
      const high = th.length >= 10 ? th.readUInt16LE(8) : 0;
      return { type, id, endpoint: th[0]!, status: th[1]!, length: high * 0x10000 + th.readUInt16LE(2), streamId: th.readUInt32LE(4) };
    }
    case 'isoPacket':
    case 'interruptPacket':
      // u8 endpoint, u8 status, u16 length
      return { type, id, endpoint: th[0]!, status: th[1]!, length: th.readUInt16LE(2) };
    case 'bufferedBulkPacket':
      // u32 stream_id, u32 length, u8 endpoint, u8 status
      return { type, id, streamId: th.readUInt32LE(0), length: th.readUInt32LE(4), endpoint: th[8]!, status: th[9]! };
  }
}

function finish(head: PacketHead, data: Buffer): UsbredirPacket {
  switch (head.type) {
    case 'hello': {
      const caps: number[] = [];
      for (let o = 0; o + 4 <= data.length; o += 4) caps.push(data.readUInt32LE(o));
      return { ...head, caps };
    }
    case 'filterFilter': {
      if (data[data.length - 1] !== 0) throw new ProtocolError('usbredir: filter_filter data is not NUL-terminated');
      const end = data.indexOf(0);
      return { ...head, filter: data.toString('utf8', 0, end) };
    }
    case 'controlPacket':
    case 'bulkPacket':
    case 'isoPacket':
    case 'interruptPacket':
    case 'bufferedBulkPacket':
      // The head becomes the packet: copying it with a spread cost more than the rest of the parse.
      (head as { data?: Buffer }).data = data;
      return head as UsbredirPacket;
    default:
      return head;
  }
}
