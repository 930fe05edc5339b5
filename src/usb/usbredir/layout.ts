// Per-type header sizes and validity rules, shared by the parser (checks what the peer
// sent) and the writer (checks what we are about to send). Pure.
//
// Type-specific header sizes (bytes); "+data" types may carry data after it:
//   hello 64 +caps words            device_connect 8, or 10 with shared connectDeviceVersion
//   interface_info 132              ep_info 96 / 160 (shared epInfoMaxPacketSize) / 288 (shared bulkStreams)
//   set_configuration 1  configuration_status 2  set_alt_setting 2  get_alt_setting 1
//   alt_setting_status 3  start_iso_stream 3  stop_iso_stream 1  iso_stream_status 2
//   start/stop_interrupt_receiving 1  interrupt_receiving_status 2  alloc_bulk_streams 8
//   free_bulk_streams 4  bulk_streams_status 9  start_bulk_receiving 10  stop_bulk_receiving 5
//   bulk_receiving_status 6  control_packet 10 +data  bulk_packet 8, or 10 with shared
//   bulkLength32 +data  iso_packet 4 +data  interrupt_packet 4 +data  buffered_bulk_packet 10 +data
//   device_disconnect, reset, get_configuration, cancel_data_packet, filter_reject,
//   device_disconnect_ack 0; filter_filter 0 +data (NUL-terminated filter text)

import { hasCap, type CapsWords, type NegotiatedCaps } from './caps.js';
import {
  Cap,
  HELLO_VERSION_SIZE,
  MAX_BULK_TRANSFER_SIZE,
  MAX_INTERFACES,
  PACKET_SENDER,
  type PacketTypeName,
  type UsbredirPacket,
  type UsbredirRole,
} from './proto.js';

/** Who sends the packet and what each side advertised. */
export interface WireContext {
  /** The side that sends the packet. */
  sender: UsbredirRole;
  /** Caps the receiving side advertised (packets like filter_filter need only its cap). */
  receiverCaps: CapsWords;
  /** Both sides' caps; null before the hello exchange (then no caps are shared). */
  negotiated: NegotiatedCaps | null;
}

/** usbredir's own name for a type (snake_case), for messages. */
const WIRE_NAMES = new Map<PacketTypeName, string>();
export function wireName(type: PacketTypeName): string {
  let name = WIRE_NAMES.get(type);
  if (name === undefined) WIRE_NAMES.set(type, (name = type.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)));
  return name;
}

function shared(ctx: WireContext, cap: number): boolean {
  return ctx.negotiated !== null && ctx.negotiated.has(cap);
}

/**
 * Size of the type-specific header of `type` sent by ctx.sender, or null when that side
 * may not send this type. For hello, the fixed part (version) only.
 */
export function typeHeaderSize(type: PacketTypeName, ctx: WireContext): number | null {
  const allowed = PACKET_SENDER[type];
  if (allowed !== 'both' && allowed !== ctx.sender) return null;
  switch (type) {
    case 'hello':
      return HELLO_VERSION_SIZE;
    case 'deviceConnect':
      return shared(ctx, Cap.connectDeviceVersion) ? 10 : 8;
    case 'interfaceInfo':
      return 4 + 4 * MAX_INTERFACES;
    case 'epInfo':
      if (shared(ctx, Cap.bulkStreams)) return 32 * (1 + 1 + 1 + 2 + 4);
      if (shared(ctx, Cap.epInfoMaxPacketSize)) return 32 * (1 + 1 + 1 + 2);
      return 32 * 3;
    case 'deviceDisconnect':
    case 'reset':
    case 'getConfiguration':
    case 'cancelDataPacket':
    case 'filterReject':
    case 'filterFilter':
    case 'deviceDisconnectAck':
      return 0;
    case 'setConfiguration':
    case 'getAltSetting':
    case 'stopIsoStream':
    case 'startInterruptReceiving':
    case 'stopInterruptReceiving':
      return 1;
    case 'configurationStatus':
    case 'setAltSetting':
    case 'isoStreamStatus':
    case 'interruptReceivingStatus':
      return 2;
    case 'altSettingStatus':
    case 'startIsoStream':
      return 3;
    case 'freeBulkStreams':
      return 4;
    case 'stopBulkReceiving':
      return 5;
    case 'bulkReceivingStatus':
      return 6;
    case 'allocBulkStreams':
      return 8;
    case 'bulkStreamsStatus':
      return 9;
    case 'startBulkReceiving':
      return 10;
    case 'controlPacket':
      return 10;
    case 'bulkPacket':
      return shared(ctx, Cap.bulkLength32) ? 10 : 8;
    case 'isoPacket':
    case 'interruptPacket':
      return 4;
    case 'bufferedBulkPacket':
      return 10;
  }
}

/** Types that may have bytes after their type header (hello: the caps words). */
export function mayHaveData(type: PacketTypeName): boolean {
  switch (type) {
    case 'hello':
    case 'filterFilter':
    case 'controlPacket':
    case 'bulkPacket':
    case 'isoPacket':
    case 'interruptPacket':
    case 'bufferedBulkPacket':
      return true;
    default:
      return false;
  }
}

const hex2 = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;

/** Packet fields without data (what is known once the type header has been read). */
type HeadOf<P> = P extends { data: Buffer } ? Omit<P, 'data'> : P;
export type PacketHead = HeadOf<UsbredirPacket>;

/**
 * Check a packet's header fields against the rules of usbredir (usbredirparser's
 * verify_type_header): caps the receiver must have, endpoint directions, length limits,
 * and whether `dataLength` bytes of data are allowed. Returns an error text or null.
 * For filter_filter the NUL terminator is checked by the caller (needs the bytes).
 */
export function checkPacket(p: PacketHead, dataLength: number, ctx: WireContext): string | null {
  const name = wireName(p.type);
  const receiverHas = (cap: number): boolean => hasCap(ctx.receiverCaps, cap);
  const towardHost = ctx.sender === 'usb-guest';
  let ep = -1;
  let length = 0;

  switch (p.type) {
    case 'interfaceInfo':
      if (p.interfaces.length > MAX_INTERFACES) return `interface_info: interface_count ${p.interfaces.length} > ${MAX_INTERFACES}`;
      break;
    case 'startInterruptReceiving':
    case 'stopInterruptReceiving':
    case 'interruptReceivingStatus':
      if (!(p.endpoint & 0x80)) return `${name} on OUT endpoint ${hex2(p.endpoint)} (interrupt receiving needs an IN endpoint)`;
      break;
    case 'filterReject':
    case 'filterFilter':
      if (!receiverHas(Cap.filter)) return `${name} sent to a ${otherSide(ctx.sender)} without cap filter`;
      if (p.type === 'filterFilter' && dataLength < 1) return 'filter_filter without data (needs a NUL-terminated string)';
      break;
    case 'deviceDisconnectAck':
      if (!receiverHas(Cap.deviceDisconnectAck)) return `device_disconnect_ack sent to a ${otherSide(ctx.sender)} without cap device_disconnect_ack`;
      break;
    case 'startBulkReceiving':
    case 'stopBulkReceiving':
    case 'bulkReceivingStatus':
      if (!receiverHas(Cap.bulkReceiving)) return `${name} sent to a ${otherSide(ctx.sender)} without cap bulk_receiving`;
      if (p.type === 'startBulkReceiving' && p.bytesPerTransfer > MAX_BULK_TRANSFER_SIZE) {
        return `start_bulk_receiving: bytes_per_transfer ${p.bytesPerTransfer} > ${MAX_BULK_TRANSFER_SIZE}`;
      }
      if (!(p.endpoint & 0x80)) return `${name} on OUT endpoint ${hex2(p.endpoint)} (bulk receiving needs an IN endpoint)`;
      break;
    case 'controlPacket':
      ep = p.endpoint;
      length = p.length;
      break;
    case 'bulkPacket':
      ep = p.endpoint;
      length = p.length;
      if (length > MAX_BULK_TRANSFER_SIZE) return `bulk_packet: length ${length} > ${MAX_BULK_TRANSFER_SIZE} (128 MiB)`;
      break;
    case 'isoPacket':
    case 'interruptPacket':
      ep = p.endpoint;
      length = p.length;
      break;
    case 'bufferedBulkPacket':
      if (!receiverHas(Cap.bulkReceiving)) return `buffered_bulk_packet sent to a ${otherSide(ctx.sender)} without cap bulk_receiving`;
      ep = p.endpoint;
      length = p.length;
      if (length > MAX_BULK_TRANSFER_SIZE) return `buffered_bulk_packet: length ${length} > ${MAX_BULK_TRANSFER_SIZE} (128 MiB)`;
      break;
    default:
      break;
  }

  if (ep !== -1) {
    const isIn = (ep & 0x80) !== 0;
    // Data flows toward the host on OUT endpoints and toward the guest on IN endpoints.
    const expectData = isIn ? !towardHost : towardHost;
    if (expectData) {
      if (dataLength !== length) {
        return `${name} ep ${hex2(ep)}: ${dataLength} data bytes but header length ${length}`;
      }
    } else {
      if (dataLength !== 0) {
        return `${name} ep ${hex2(ep)} from ${ctx.sender}: ${dataLength} unexpected data bytes (no data flows this way on a${isIn ? 'n IN' : 'n OUT'} endpoint)`;
      }
      if (p.type === 'isoPacket') return `iso_packet ep ${hex2(ep)} sent by ${ctx.sender} in the wrong direction`;
      if (p.type === 'interruptPacket' && towardHost) {
        return `interrupt_packet on IN endpoint ${hex2(ep)} sent by usb-guest (use start_interrupt_receiving)`;
      }
      if (p.type === 'bufferedBulkPacket') return `buffered_bulk_packet ep ${hex2(ep)} sent in the wrong direction`;
    }
  }
  return null;
}

function otherSide(sender: UsbredirRole): UsbredirRole {
  return sender === 'usb-host' ? 'usb-guest' : 'usb-host';
}
