// usbredir packet serializer, with the same caps-dependent layouts as the parser. Pure.
//
// Usage (we are the usb-host):
//   const writer = new UsbredirWriter({ role: 'usb-host', caps: ourCaps });
//   send(writer.hello('spicectl 0.1'));            // first, always with the 12-byte header
//   ... on the peer's hello: writer.setPeerCaps(hello.caps)
//   send(writer.encode({ type: 'deviceConnect', id: 0n, ... }));
//
// * `role` is OUR role: the writer encodes packets our side may send; others throw.
// * Nothing but hello may be written before setPeerCaps() (the protocol says: send only the
//   hello until the peer's hello has arrived); afterwards the header is 16 bytes when both
//   sides advertised ids64, else 12.
// * Misuse by the caller (a packet our role may not send, a value out of range, data that the
//   direction forbids, a cap the receiver lacks) throws RangeError: it is a bug, not peer data.
// * encodeParts() returns [headers, data] so large bulk data need not be copied (writev).

import { negotiate, type CapsWords, type NegotiatedCaps } from './caps.js';
import { checkPacket, typeHeaderSize, wireName, type WireContext } from './layout.js';
import {
  EP_COUNT,
  EpType,
  HEADER_SIZE_32,
  HELLO_VERSION_SIZE,
  MAX_INTERFACES,
  PacketType,
  type UsbredirPacket,
  type UsbredirRole,
} from './proto.js';

export interface UsbredirWriterOptions {
  /** Our role; only packets this role may send are encoded. */
  role: UsbredirRole;
  /** The caps words we advertise in our hello. */
  caps: CapsWords;
}

export class UsbredirWriter {
  readonly role: UsbredirRole;
  readonly ourCaps: readonly number[];
  private peer: readonly number[] | null = null;
  private neg: NegotiatedCaps | null = null;

  constructor(opts: UsbredirWriterOptions) {
    this.role = opts.role;
    this.ourCaps = Object.freeze(opts.caps.map((w) => w >>> 0));
  }

  /** Record the caps from the peer's hello: enables non-hello packets and caps layouts. */
  setPeerCaps(caps: CapsWords): void {
    this.peer = Object.freeze(caps.map((w) => w >>> 0));
    this.neg = negotiate(this.ourCaps, this.peer);
  }

  get peerCaps(): readonly number[] | null {
    return this.peer;
  }

  get negotiated(): NegotiatedCaps | null {
    return this.neg;
  }

  /** Our hello: version text (at most 63 bytes of UTF-8) and our caps. */
  hello(version: string): Buffer {
    return this.encode({ type: 'hello', id: 0n, version, caps: [...this.ourCaps] });
  }

  /** One packet as a single buffer. */
  encode(packet: UsbredirPacket): Buffer {
    const parts = this.encodeParts(packet);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** One packet as [header + type header] or [header + type header, data] (data not copied). */
  encodeParts(packet: UsbredirPacket): Buffer[] {
    const name = wireName(packet.type);
    if (packet.type !== 'hello' && !this.neg) {
      throw new RangeError(`usbredir: cannot send ${name} before the peer's hello has arrived (send only hello first)`);
    }
    const ctx: WireContext = {
      sender: this.role,
      receiverCaps: this.peer ?? [],
      negotiated: this.neg,
    };
    const ths = typeHeaderSize(packet.type, ctx);
    if (ths === null) throw new RangeError(`usbredir: a ${this.role} may not send ${name}`);

    let data: Buffer = EMPTY;
    switch (packet.type) {
      case 'hello': {
        if (!sameCaps(packet.caps, this.ourCaps)) {
          throw new RangeError('usbredir: hello caps differ from the caps this writer was created with');
        }
        data = Buffer.alloc(4 * packet.caps.length);
        packet.caps.forEach((w, i) => data.writeUInt32LE(w >>> 0, 4 * i));
        break;
      }
      case 'filterFilter':
        if (packet.filter.includes('\0')) throw new RangeError('usbredir: filter_filter text contains a NUL');
        data = Buffer.from(`${packet.filter}\0`, 'utf8');
        break;
      case 'controlPacket':
      case 'bulkPacket':
      case 'isoPacket':
      case 'interruptPacket':
      case 'bufferedBulkPacket':
        data = packet.data;
        break;
      default:
        break;
    }
    const err = checkPacket(packet, data.length, ctx);
    if (err) throw new RangeError(`usbredir: ${err}`);

    // The hello always has the 12-byte header (the peer's caps are unknown to the peer's parser).
    const hs = packet.type === 'hello' || !this.neg ? HEADER_SIZE_32 : this.neg.headerSize;
    const length = ths + data.length;
    const head = Buffer.alloc(hs + ths);
    head.writeUInt32LE(PacketType[packet.type], 0);
    head.writeUInt32LE(length, 4);
    if (typeof packet.id !== 'bigint' || packet.id < 0n) throw new RangeError(`usbredir: ${name} id must be a non-negative bigint`);
    if (hs === HEADER_SIZE_32) {
      if (packet.id > 0xffffffffn) throw new RangeError(`usbredir: ${name} id ${packet.id} does not fit the 32-bit id header`);
      head.writeUInt32LE(Number(packet.id), 8);
    } else {
      if (packet.id > 0xffffffffffffffffn) throw new RangeError(`usbredir: ${name} id ${packet.id} exceeds 64 bits`);
      head.writeBigUInt64LE(packet.id, 8);
    }
    writeTypeHeader(head.subarray(hs), packet, ths);
    return data.length ? [head, data] : [head];
  }
}

const EMPTY = Buffer.alloc(0);

function sameCaps(a: CapsWords, b: CapsWords): boolean {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (((a[i] ?? 0) >>> 0) !== ((b[i] ?? 0) >>> 0)) return false;
  return true;
}

function u8(v: number, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new RangeError(`usbredir: ${field}=${v} is not a u8`);
  return v;
}
function u16(v: number, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`usbredir: ${field}=${v} is not a u16`);
  return v;
}
function u32(v: number, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`usbredir: ${field}=${v} is not a u32`);
  return v;
}

/** Write the type-specific header of p into th (exactly ths bytes, pre-zeroed). */
function writeTypeHeader(th: Buffer, p: UsbredirPacket, ths: number): void {
  switch (p.type) {
    case 'hello': {
      const v = Buffer.from(p.version, 'utf8');
      if (v.length > HELLO_VERSION_SIZE - 1 || v.includes(0)) {
        throw new RangeError(`usbredir: hello version must be at most ${HELLO_VERSION_SIZE - 1} bytes without NUL`);
      }
      v.copy(th, 0);
      return;
    }
    case 'deviceConnect':
      th[0] = u8(p.speed, 'speed');
      th[1] = u8(p.deviceClass, 'deviceClass');
      th[2] = u8(p.deviceSubclass, 'deviceSubclass');
      th[3] = u8(p.deviceProtocol, 'deviceProtocol');
      th.writeUInt16LE(u16(p.vendorId, 'vendorId'), 4);
      th.writeUInt16LE(u16(p.productId, 'productId'), 6);
      if (ths >= 10) {
        if (p.deviceVersionBcd === undefined) {
          throw new RangeError('usbredir: device_connect needs deviceVersionBcd (cap connect_device_version is shared)');
        }
        th.writeUInt16LE(u16(p.deviceVersionBcd, 'deviceVersionBcd'), 8);
      }
      return;
    case 'interfaceInfo':
      if (p.interfaces.length > MAX_INTERFACES) throw new RangeError(`usbredir: more than ${MAX_INTERFACES} interfaces`);
      th.writeUInt32LE(p.interfaces.length, 0);
      p.interfaces.forEach((it, i) => {
        th[4 + i] = u8(it.number, 'interface');
        th[36 + i] = u8(it.class, 'interface class');
        th[68 + i] = u8(it.subclass, 'interface subclass');
        th[100 + i] = u8(it.protocol, 'interface protocol');
      });
      return;
    case 'epInfo':
      if (p.endpoints.length > EP_COUNT) throw new RangeError(`usbredir: ep_info has ${p.endpoints.length} entries (max ${EP_COUNT})`);
      for (let i = 0; i < EP_COUNT; i++) {
        const e = p.endpoints[i] ?? { type: EpType.invalid, interval: 0, interface: 0 };
        th[i] = u8(e.type, `ep ${i} type`);
        th[32 + i] = u8(e.interval, `ep ${i} interval`);
        th[64 + i] = u8(e.interface, `ep ${i} interface`);
        if (ths >= 160) th.writeUInt16LE(u16(e.maxPacketSize ?? 0, `ep ${i} maxPacketSize`), 96 + 2 * i);
        if (ths >= 288) th.writeUInt32LE(u32(e.maxStreams ?? 0, `ep ${i} maxStreams`), 160 + 4 * i);
      }
      return;
    case 'deviceDisconnect':
    case 'reset':
    case 'getConfiguration':
    case 'cancelDataPacket':
    case 'filterReject':
    case 'filterFilter':
    case 'deviceDisconnectAck':
      return;
    case 'setConfiguration':
      th[0] = u8(p.configuration, 'configuration');
      return;
    case 'configurationStatus':
      th[0] = u8(p.status, 'status');
      th[1] = u8(p.configuration, 'configuration');
      return;
    case 'setAltSetting':
      th[0] = u8(p.interface, 'interface');
      th[1] = u8(p.alt, 'alt');
      return;
    case 'getAltSetting':
      th[0] = u8(p.interface, 'interface');
      return;
    case 'altSettingStatus':
      th[0] = u8(p.status, 'status');
      th[1] = u8(p.interface, 'interface');
      th[2] = u8(p.alt, 'alt');
      return;
    case 'startIsoStream':
      th[0] = u8(p.endpoint, 'endpoint');
      th[1] = u8(p.pktsPerUrb, 'pktsPerUrb');
      th[2] = u8(p.noUrbs, 'noUrbs');
      return;
    case 'stopIsoStream':
    case 'startInterruptReceiving':
    case 'stopInterruptReceiving':
      th[0] = u8(p.endpoint, 'endpoint');
      return;
    case 'isoStreamStatus':
    case 'interruptReceivingStatus':
      th[0] = u8(p.status, 'status');
      th[1] = u8(p.endpoint, 'endpoint');
      return;
    case 'allocBulkStreams':
      th.writeUInt32LE(u32(p.endpoints, 'endpoints'), 0);
      th.writeUInt32LE(u32(p.noStreams, 'noStreams'), 4);
      return;
    case 'freeBulkStreams':
      th.writeUInt32LE(u32(p.endpoints, 'endpoints'), 0);
      return;
    case 'bulkStreamsStatus':
      th.writeUInt32LE(u32(p.endpoints, 'endpoints'), 0);
      th.writeUInt32LE(u32(p.noStreams, 'noStreams'), 4);
      th[8] = u8(p.status, 'status');
      return;
    case 'startBulkReceiving':
      th.writeUInt32LE(u32(p.streamId, 'streamId'), 0);
      th.writeUInt32LE(u32(p.bytesPerTransfer, 'bytesPerTransfer'), 4);
      th[8] = u8(p.endpoint, 'endpoint');
      th[9] = u8(p.noTransfers, 'noTransfers');
      return;
    case 'stopBulkReceiving':
      th.writeUInt32LE(u32(p.streamId, 'streamId'), 0);
      th[4] = u8(p.endpoint, 'endpoint');
      return;
    case 'bulkReceivingStatus':
      th.writeUInt32LE(u32(p.streamId, 'streamId'), 0);
      th[4] = u8(p.endpoint, 'endpoint');
      th[5] = u8(p.status, 'status');
      return;
    case 'controlPacket':
      th[0] = u8(p.endpoint, 'endpoint');
      th[1] = u8(p.request, 'request');
      th[2] = u8(p.requestType, 'requestType');
      th[3] = u8(p.status, 'status');
      th.writeUInt16LE(u16(p.value, 'value'), 4);
      th.writeUInt16LE(u16(p.index, 'index'), 6);
      th.writeUInt16LE(u16(p.length, 'length'), 8);
      return;
    case 'bulkPacket': {
      th[0] = u8(p.endpoint, 'endpoint');
      th[1] = u8(p.status, 'status');
      const len = u32(p.length, 'length');
      if (ths < 10 && len > 0xffff) {
        throw new RangeError(`usbredir: bulk_packet length ${len} needs cap 32bits_bulk_length on both sides`);
      }
      th.writeUInt16LE(len & 0xffff, 2);
      th.writeUInt32LE(u32(p.streamId, 'streamId'), 4);
      if (ths >= 10) th.writeUInt16LE(len >>> 16, 8);
      return;
    }
    case 'isoPacket':
    case 'interruptPacket':
      th[0] = u8(p.endpoint, 'endpoint');
      th[1] = u8(p.status, 'status');
      th.writeUInt16LE(u16(p.length, 'length'), 2);
      return;
    case 'bufferedBulkPacket':
      th.writeUInt32LE(u32(p.streamId, 'streamId'), 0);
      th.writeUInt32LE(u32(p.length, 'length'), 4);
      th[8] = u8(p.endpoint, 'endpoint');
      th[9] = u8(p.status, 'status');
      return;
  }
}
