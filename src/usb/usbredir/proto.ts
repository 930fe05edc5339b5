// usbredir protocol constants and packet types (protocol version 0.7).
//
// Wire facts (docs/protocol-digest.md §9, usbredir docs/usb-redirection-protocol.md):
// little-endian, packed. Every packet starts with a header
//   u32 type, u32 length (bytes after the header), u32 id      (12 bytes)
// or, once BOTH hellos advertised cap 64bits_ids,
//   u32 type, u32 length, u64 id                                (16 bytes).
// The hello itself always uses the 12-byte header. After the header comes a per-type
// fixed header (its size can depend on negotiated caps) and, for a few types, data.
//
// Ids are `bigint` everywhere (exact for 64-bit ids; a Map key like any other).
// Packet `type` is a camelCase name; `PacketType` maps names to wire numbers.

/** The two ends of a usbredir stream. We (spicectl) are the usb-host. */
export type UsbredirRole = 'usb-host' | 'usb-guest';

export function otherRole(role: UsbredirRole): UsbredirRole {
  return role === 'usb-host' ? 'usb-guest' : 'usb-host';
}

/** Protocol version implemented (0.7), as usbredir's USBREDIR_VERSION. */
export const USBREDIR_PROTOCOL_VERSION = 0x000701;

/** Wire numbers of every packet type. */
export const PacketType = {
  hello: 0,
  deviceConnect: 1,
  deviceDisconnect: 2,
  reset: 3,
  interfaceInfo: 4,
  epInfo: 5,
  setConfiguration: 6,
  getConfiguration: 7,
  configurationStatus: 8,
  setAltSetting: 9,
  getAltSetting: 10,
  altSettingStatus: 11,
  startIsoStream: 12,
  stopIsoStream: 13,
  isoStreamStatus: 14,
  startInterruptReceiving: 15,
  stopInterruptReceiving: 16,
  interruptReceivingStatus: 17,
  allocBulkStreams: 18,
  freeBulkStreams: 19,
  bulkStreamsStatus: 20,
  cancelDataPacket: 21,
  filterReject: 22,
  filterFilter: 23,
  deviceDisconnectAck: 24,
  startBulkReceiving: 25,
  stopBulkReceiving: 26,
  bulkReceivingStatus: 27,
  controlPacket: 100,
  bulkPacket: 101,
  isoPacket: 102,
  interruptPacket: 103,
  bufferedBulkPacket: 104,
} as const;

export type PacketTypeName = keyof typeof PacketType;

const typeNames = new Map<number, PacketTypeName>(
  (Object.keys(PacketType) as PacketTypeName[]).map((k) => [PacketType[k], k]),
);

/** The name of a wire type number, or undefined for an unknown type. */
export function packetTypeName(type: number): PacketTypeName | undefined {
  return typeNames.get(type);
}

/** Capability bit numbers (bit n of caps word n/32). */
export const Cap = {
  /** USB 3 bulk streams; ep_info gains max_streams. Requires epInfoMaxPacketSize. */
  bulkStreams: 0,
  /** device_connect carries device_version_bcd. */
  connectDeviceVersion: 1,
  /** filter_reject / filter_filter packets. */
  filter: 2,
  /** device_disconnect_ack packet. */
  deviceDisconnectAck: 3,
  /** ep_info carries max_packet_size. */
  epInfoMaxPacketSize: 4,
  /** 64-bit ids in the packet header. */
  ids64: 5,
  /** bulk_packet carries length_high. */
  bulkLength32: 6,
  /** start/stop_bulk_receiving, bulk_receiving_status, buffered_bulk_packet. */
  bulkReceiving: 7,
} as const;

export type CapName = keyof typeof Cap;

/** Status codes of replies. Any other value must be treated as an error. */
export const Status = {
  success: 0,
  cancelled: 1,
  inval: 2,
  ioerror: 3,
  stall: 4,
  timeout: 5,
  babble: 6,
} as const;

export const Speed = {
  low: 0,
  full: 1,
  high: 2,
  super: 3,
  unknown: 255,
} as const;

/** ep_info endpoint types (the first four match the USB spec's bmAttributes). */
export const EpType = {
  control: 0,
  iso: 1,
  bulk: 2,
  interrupt: 3,
  invalid: 255,
} as const;

export function statusName(status: number): string {
  for (const [k, v] of Object.entries(Status)) if (v === status) return k;
  return `unknown(${status})`;
}

/** Largest bulk transfer (bulk_packet length, buffered bulk length, bytes_per_transfer). */
export const MAX_BULK_TRANSFER_SIZE = 128 * 1024 * 1024;
/** Largest header.length accepted (as usbredirparser: 1 KiB of headers + the largest bulk). */
export const MAX_PACKET_LENGTH = 1024 + MAX_BULK_TRANSFER_SIZE;
/** Size of the NUL-terminated version field of hello. */
export const HELLO_VERSION_SIZE = 64;
/** Header sizes: before the hello exchange / with 32-bit ids, and with 64-bit ids. */
export const HEADER_SIZE_32 = 12;
export const HEADER_SIZE_64 = 16;
/** interface_info and ep_info array sizes. */
export const MAX_INTERFACES = 32;
export const EP_COUNT = 32;

/** ep_info / stream-bitmask index of an endpoint address: OUT 0-15 -> 0-15, IN 0-15 -> 16-31. */
export function epIndex(address: number): number {
  return ((address & 0x80) >> 3) | (address & 0x0f);
}

/** The endpoint address of an ep_info index (inverse of epIndex). */
export function epAddress(index: number): number {
  return ((index & 0x10) << 3) | (index & 0x0f);
}

/** True for an IN (device-to-host) endpoint address. */
export function isInEndpoint(address: number): boolean {
  return (address & 0x80) !== 0;
}

// ---- packets ----------------------------------------------------------------------------

interface Base {
  /** Header id: echoed in replies; 0 for unsolicited packets. Always bigint. */
  id: bigint;
}

export interface HelloPacket extends Base {
  type: 'hello';
  /** Free-form version text (at most 63 bytes of UTF-8 on the wire). */
  version: string;
  /** Capability words, as sent (all words, including ones we don't know). */
  caps: number[];
}

export interface DeviceConnectPacket extends Base {
  type: 'deviceConnect';
  speed: number;
  deviceClass: number;
  deviceSubclass: number;
  deviceProtocol: number;
  vendorId: number;
  productId: number;
  /** Present on the wire only when both sides have cap connectDeviceVersion. */
  deviceVersionBcd?: number;
}

export interface UsbredirInterface {
  /** bInterfaceNumber */
  number: number;
  class: number;
  subclass: number;
  protocol: number;
}

export interface InterfaceInfoPacket extends Base {
  type: 'interfaceInfo';
  /** At most 32 entries (interface_count). */
  interfaces: UsbredirInterface[];
}

export interface UsbredirEndpointInfo {
  /** EpType value. */
  type: number;
  interval: number;
  interface: number;
  /** Present on the wire only with cap epInfoMaxPacketSize on both sides. */
  maxPacketSize?: number;
  /** Present on the wire only with cap bulkStreams on both sides. */
  maxStreams?: number;
}

export interface EpInfoPacket extends Base {
  type: 'epInfo';
  /**
   * Indexed by epIndex(address): 0-15 OUT, 16-31 IN. The parser always returns 32 entries;
   * the writer fills missing trailing entries with type invalid.
   */
  endpoints: UsbredirEndpointInfo[];
}

export interface EmptyPacket<T extends string> extends Base {
  type: T;
}

export type DeviceDisconnectPacket = EmptyPacket<'deviceDisconnect'>;
export type ResetPacket = EmptyPacket<'reset'>;
export type GetConfigurationPacket = EmptyPacket<'getConfiguration'>;
/** header.id is the id of the data packet to cancel. */
export type CancelDataPacketPacket = EmptyPacket<'cancelDataPacket'>;
export type FilterRejectPacket = EmptyPacket<'filterReject'>;
export type DeviceDisconnectAckPacket = EmptyPacket<'deviceDisconnectAck'>;

export interface SetConfigurationPacket extends Base {
  type: 'setConfiguration';
  configuration: number;
}
export interface ConfigurationStatusPacket extends Base {
  type: 'configurationStatus';
  status: number;
  configuration: number;
}
export interface SetAltSettingPacket extends Base {
  type: 'setAltSetting';
  interface: number;
  alt: number;
}
export interface GetAltSettingPacket extends Base {
  type: 'getAltSetting';
  interface: number;
}
export interface AltSettingStatusPacket extends Base {
  type: 'altSettingStatus';
  status: number;
  interface: number;
  alt: number;
}
export interface StartIsoStreamPacket extends Base {
  type: 'startIsoStream';
  endpoint: number;
  pktsPerUrb: number;
  noUrbs: number;
}
export interface StopIsoStreamPacket extends Base {
  type: 'stopIsoStream';
  endpoint: number;
}
export interface IsoStreamStatusPacket extends Base {
  type: 'isoStreamStatus';
  status: number;
  endpoint: number;
}
export interface StartInterruptReceivingPacket extends Base {
  type: 'startInterruptReceiving';
  endpoint: number;
}
export interface StopInterruptReceivingPacket extends Base {
  type: 'stopInterruptReceiving';
  endpoint: number;
}
export interface InterruptReceivingStatusPacket extends Base {
  type: 'interruptReceivingStatus';
  status: number;
  endpoint: number;
}
export interface AllocBulkStreamsPacket extends Base {
  type: 'allocBulkStreams';
  /** Bitmask of endpoint indexes (epIndex). */
  endpoints: number;
  noStreams: number;
}
export interface FreeBulkStreamsPacket extends Base {
  type: 'freeBulkStreams';
  endpoints: number;
}
export interface BulkStreamsStatusPacket extends Base {
  type: 'bulkStreamsStatus';
  endpoints: number;
  noStreams: number;
  status: number;
}
export interface FilterFilterPacket extends Base {
  type: 'filterFilter';
  /** The filter text, without its terminating NUL (rules '|', tokens ','). */
  filter: string;
}
export interface StartBulkReceivingPacket extends Base {
  type: 'startBulkReceiving';
  streamId: number;
  bytesPerTransfer: number;
  endpoint: number;
  noTransfers: number;
}
export interface StopBulkReceivingPacket extends Base {
  type: 'stopBulkReceiving';
  streamId: number;
  endpoint: number;
}
export interface BulkReceivingStatusPacket extends Base {
  type: 'bulkReceivingStatus';
  streamId: number;
  endpoint: number;
  status: number;
}

/**
 * Data packets carry `data` in one direction only: toward the host for OUT endpoints,
 * toward the guest for IN endpoints; the other direction has an empty `data` and
 * `length` is the requested / transferred byte count. When data is present,
 * data.length === length. `data` may be a view into a buffer passed to the parser.
 */
export interface ControlPacket extends Base {
  type: 'controlPacket';
  /** 0x80 for device-to-host requests, 0x00 otherwise. */
  endpoint: number;
  request: number;
  requestType: number;
  status: number;
  value: number;
  index: number;
  length: number;
  data: Buffer;
}
export interface BulkPacket extends Base {
  type: 'bulkPacket';
  endpoint: number;
  status: number;
  /** Full length: (length_high << 16) | length when cap bulkLength32 is shared. */
  length: number;
  streamId: number;
  data: Buffer;
}
export interface IsoPacket extends Base {
  type: 'isoPacket';
  endpoint: number;
  status: number;
  length: number;
  data: Buffer;
}
export interface InterruptPacket extends Base {
  type: 'interruptPacket';
  endpoint: number;
  status: number;
  length: number;
  data: Buffer;
}
export interface BufferedBulkPacket extends Base {
  type: 'bufferedBulkPacket';
  streamId: number;
  length: number;
  endpoint: number;
  status: number;
  data: Buffer;
}

export type UsbredirPacket =
  | HelloPacket
  | DeviceConnectPacket
  | DeviceDisconnectPacket
  | ResetPacket
  | InterfaceInfoPacket
  | EpInfoPacket
  | SetConfigurationPacket
  | GetConfigurationPacket
  | ConfigurationStatusPacket
  | SetAltSettingPacket
  | GetAltSettingPacket
  | AltSettingStatusPacket
  | StartIsoStreamPacket
  | StopIsoStreamPacket
  | IsoStreamStatusPacket
  | StartInterruptReceivingPacket
  | StopInterruptReceivingPacket
  | InterruptReceivingStatusPacket
  | AllocBulkStreamsPacket
  | FreeBulkStreamsPacket
  | BulkStreamsStatusPacket
  | CancelDataPacketPacket
  | FilterRejectPacket
  | FilterFilterPacket
  | DeviceDisconnectAckPacket
  | StartBulkReceivingPacket
  | StopBulkReceivingPacket
  | BulkReceivingStatusPacket
  | ControlPacket
  | BulkPacket
  | IsoPacket
  | InterruptPacket
  | BufferedBulkPacket;

/** The packet interface for a type name. */
export type PacketOf<T extends PacketTypeName> = Extract<UsbredirPacket, { type: T }>;

/** Packet types that carry data (in the direction of their endpoint). */
export type DataPacket = ControlPacket | BulkPacket | IsoPacket | InterruptPacket | BufferedBulkPacket;

/** Which side may send each packet type ('both' = either side). */
export const PACKET_SENDER: Readonly<Record<PacketTypeName, 'usb-host' | 'usb-guest' | 'both'>> = {
  hello: 'both',
  deviceConnect: 'usb-host',
  deviceDisconnect: 'usb-host',
  reset: 'usb-guest',
  interfaceInfo: 'usb-host',
  epInfo: 'usb-host',
  setConfiguration: 'usb-guest',
  getConfiguration: 'usb-guest',
  configurationStatus: 'usb-host',
  setAltSetting: 'usb-guest',
  getAltSetting: 'usb-guest',
  altSettingStatus: 'usb-host',
  startIsoStream: 'usb-guest',
  stopIsoStream: 'usb-guest',
  isoStreamStatus: 'usb-host',
  startInterruptReceiving: 'usb-guest',
  stopInterruptReceiving: 'usb-guest',
  interruptReceivingStatus: 'usb-host',
  allocBulkStreams: 'usb-guest',
  freeBulkStreams: 'usb-guest',
  bulkStreamsStatus: 'usb-host',
  cancelDataPacket: 'usb-guest',
  filterReject: 'usb-guest',
  filterFilter: 'both',
  deviceDisconnectAck: 'usb-guest',
  startBulkReceiving: 'usb-guest',
  stopBulkReceiving: 'usb-guest',
  bulkReceivingStatus: 'usb-host',
  controlPacket: 'both',
  bulkPacket: 'both',
  isoPacket: 'both',
  interruptPacket: 'both',
  bufferedBulkPacket: 'usb-host',
};
