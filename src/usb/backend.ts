// The interface every USB device backend implements for the usbredir usb-host side
// (src/usb/host.ts): a real device through libusb (later), or an emulated device
// (src/usb/emulated/). Everything that can block is a Promise, so a libusb device fits.
//
// Conventions:
// * Transfers resolve, they never reject for device-level outcomes: a STALL, an I/O error,
//   a timeout or a cancellation is a TransferResult with that status. A rejection means a
//   bug or a lost device; the host maps it to status ioerror and logs it.
// * IN transfers resolve with `data` (at most the requested length); OUT transfers with
//   `length` = bytes the device accepted.
// * Cancellation is per transfer, through TransferOptions.signal (a CancelSignal, see cancel.ts). A transfer
//   cancelled before it completed resolves with status 'cancelled'; one that already
//   completed resolves with its real result. cancelAll() aborts everything outstanding.
// * Descriptors are raw USB bytes; parseConfigDescriptor() turns a configuration
//   descriptor set into the interface / endpoint tables usbredir needs.

import { Status } from './usbredir/proto.js';
import type { FilterDevice } from './filter.js';
import type { CancelSignal } from './cancel.js';

export type UsbSpeed = 'low' | 'full' | 'high' | 'super' | 'unknown';

/** Outcome of a transfer or request, named as usbredir's status codes. */
export type TransferStatus = 'success' | 'cancelled' | 'inval' | 'ioerror' | 'stall' | 'timeout' | 'babble';

/** usbredir wire value of a status. */
export const TRANSFER_STATUS_CODE: Readonly<Record<TransferStatus, number>> = {
  success: Status.success,
  cancelled: Status.cancelled,
  inval: Status.inval,
  ioerror: Status.ioerror,
  stall: Status.stall,
  timeout: Status.timeout,
  babble: Status.babble,
};

export function statusCode(status: TransferStatus): number {
  return TRANSFER_STATUS_CODE[status];
}

/** usbredir speed byte of a speed name. */
export function speedCode(speed: UsbSpeed): number {
  switch (speed) {
    case 'low':
      return 0;
    case 'full':
      return 1;
    case 'high':
      return 2;
    case 'super':
      return 3;
    default:
      return 255;
  }
}

export interface TransferResult {
  status: TransferStatus;
  /** IN transfers: the bytes read (never more than requested). */
  data?: Buffer;
  /** Bytes transferred: data.length for IN, bytes accepted for OUT. */
  length: number;
}

export interface TransferOptions {
  /** Abort = cancel this transfer (usbredir cancel_data_packet, detach, reset). */
  signal?: CancelSignal;
  /** Bulk streams (USB 3): the stream of the transfer; 0 or absent = none. */
  streamId?: number;
}

/** The 8-byte SETUP packet of a control transfer. */
export interface ControlSetup {
  /** bmRequestType: bit 7 direction (1 = IN), bits 6-5 type, bits 4-0 recipient. */
  requestType: number;
  request: number;
  value: number;
  index: number;
  /** wLength: bytes requested (IN) or sent (OUT). */
  length: number;
}

export type EndpointType = 'control' | 'iso' | 'bulk' | 'interrupt';

export interface EndpointInfo {
  /** bEndpointAddress (bit 7 = IN). */
  address: number;
  type: EndpointType;
  /** bmAttributes as in the descriptor. */
  attributes: number;
  /** Bytes per packet (wMaxPacketSize bits 0-10). */
  maxPacketSize: number;
  /** Extra transactions per microframe (wMaxPacketSize bits 11-12), high speed iso/interrupt. */
  mult: number;
  /** bInterval as in the descriptor. */
  interval: number;
  /** bInterfaceNumber of the interface it belongs to. */
  interfaceNumber: number;
  /** Bulk streams (USB 3 SuperSpeed companion); 0 when none. */
  maxStreams: number;
}

export interface InterfaceInfo {
  number: number;
  altSetting: number;
  class: number;
  subclass: number;
  protocol: number;
  /** iInterface string index. */
  stringIndex: number;
  endpoints: EndpointInfo[];
}

export interface ConfigurationInfo {
  value: number;
  attributes: number;
  maxPowerRaw: number;
  /** Every alternate setting of every interface, in descriptor order. */
  interfaces: InterfaceInfo[];
  numInterfaces: number;
}

/** What a backend says about its device (from the device descriptor and the OS). */
export interface UsbDeviceInfo {
  speed: UsbSpeed;
  bcdUSB: number;
  deviceClass: number;
  deviceSubclass: number;
  deviceProtocol: number;
  vendorId: number;
  productId: number;
  bcdDevice: number;
  manufacturer?: string;
  product?: string;
  serial?: string;
  /** One line for logs and the TUI, e.g. "emulated USB stick disk.img (64 MiB)". */
  description: string;
}

/** Something a backend wants a trace listener to know (SCSI commands of an emulated stick...). */
export type DeviceTraceEvent =
  | {
      kind: 'scsi-command';
      lun: number;
      tag: number;
      opcode: number;
      /** Command name, e.g. "READ(10)". */
      name: string;
      cdb: Buffer;
      /** dCBWDataTransferLength and direction. */
      dataLength: number;
      dataIn: boolean;
      lba?: number;
      blocks?: number;
    }
  | {
      kind: 'scsi-status';
      lun: number;
      tag: number;
      opcode: number;
      /** 0 passed, 1 failed, 2 phase error (bCSWStatus). */
      status: number;
      residue: number;
      /** "KEY/ASC/ASCQ" in hex when the command failed with sense data. */
      sense?: string;
    }
  | { kind: 'bot-reset' }
  | { kind: 'bot-invalid-cbw'; reason: string }
  /** UAS: a Response IU instead of a command's status (invalid IU, overlapped tag...). */
  | { kind: 'uas-response'; tag: number; code: number; reason: string }
  /** UAS: a task ended by task management (ABORT TASK, LOGICAL UNIT RESET...). */
  | { kind: 'uas-abort'; tag: number }
  /** Mass storage: the guest picked Bulk-Only or UAS (alt setting 0 or 1). */
  | { kind: 'transport'; transport: 'bot' | 'uas' }
  | { kind: 'eject' }
  | { kind: 'speed'; speed: UsbSpeed; reason: string }
  | { kind: 'io-error'; op: 'read' | 'write' | 'sync'; message: string };

/**
 * One USB device as the usbredir host drives it. Implementations: emulated devices
 * (src/usb/emulated/) now, libusb later.
 */
export interface UsbDeviceBackend {
  readonly info: UsbDeviceInfo;
  /** The 18-byte device descriptor. */
  readonly deviceDescriptor: Buffer;
  /** Full configuration descriptor set (wTotalLength bytes) of configuration index i. */
  configDescriptor(index: number): Buffer | undefined;
  /** bConfigurationValue of the active configuration; 0 = unconfigured. */
  readonly configuration: number;
  /**
   * Interfaces of the configuration usbredir should describe: the active one, or the first
   * one while unconfigured (as usbredirhost reports the configuration the OS chose), each at
   * its current alternate setting.
   */
  currentInterfaces(): InterfaceInfo[];
  /** Current alternate setting of an interface, or undefined for an unknown interface. */
  altSetting(interfaceNumber: number): number | undefined;

  control(setup: ControlSetup, data?: Buffer, opts?: TransferOptions): Promise<TransferResult>;
  /** IN endpoint: pass the number of bytes wanted; OUT endpoint: pass the data. */
  bulk(endpoint: number, lengthOrData: number | Buffer, opts?: TransferOptions): Promise<TransferResult>;
  /** IN endpoint: pass the number of bytes wanted; OUT endpoint: pass the data. */
  interrupt(endpoint: number, lengthOrData: number | Buffer, opts?: TransferOptions): Promise<TransferResult>;

  setConfiguration(value: number): Promise<TransferStatus>;
  setAltSetting(interfaceNumber: number, alt: number): Promise<TransferStatus>;
  /**
   * Optional, USB 3 bulk streams: allocate `count` streams (ids 1..count) on each endpoint, or
   * free them. A backend without it refuses streams (the guest then cannot use them).
   */
  allocStreams?(endpoints: number[], count: number): Promise<TransferStatus>;
  freeStreams?(endpoints: number[]): Promise<TransferStatus>;
  /** USB port reset. Resolves false when the device did not come back (host disconnects it). */
  reset(): Promise<boolean>;
  /** Abort every outstanding transfer (on one endpoint, or all). */
  cancelAll(endpoint?: number): void;
  /** Release the device (flush and close files, release interfaces). Idempotent. */
  close(): Promise<void>;

  /** Optional: receive device-level trace events (the host wires this to its onTrace). */
  setTraceSink?(sink: ((ev: DeviceTraceEvent) => void) | null): void;
  /**
   * Optional: the device is about to be plugged in (again): an emulated device starts over as
   * if just powered on (unconfigured, no pending sense, a "new medium" event for a CD).
   */
  plugged?(): void;
}

// ---- descriptor helpers ------------------------------------------------------------------

export const DescriptorType = {
  device: 1,
  configuration: 2,
  string: 3,
  interface: 4,
  endpoint: 5,
  deviceQualifier: 6,
  otherSpeedConfiguration: 7,
  interfacePower: 8,
  bos: 0x0f,
  ssEndpointCompanion: 0x30,
} as const;

export const StandardRequest = {
  getStatus: 0,
  clearFeature: 1,
  setFeature: 3,
  setAddress: 5,
  getDescriptor: 6,
  setDescriptor: 7,
  getConfiguration: 8,
  setConfiguration: 9,
  getInterface: 10,
  setInterface: 11,
  synchFrame: 12,
  /** USB 3: the host tells a SuperSpeed device its U1/U2 exit latencies (6 bytes). */
  setSel: 0x30,
  /** USB 3: isochronous delay in ns (wValue). */
  setIsochDelay: 0x31,
} as const;

const EP_TYPES: EndpointType[] = ['control', 'iso', 'bulk', 'interrupt'];

/** Fields of an 18-byte device descriptor. */
export interface DeviceDescriptorFields {
  bcdUSB: number;
  deviceClass: number;
  deviceSubclass: number;
  deviceProtocol: number;
  maxPacketSize0: number;
  vendorId: number;
  productId: number;
  bcdDevice: number;
  iManufacturer: number;
  iProduct: number;
  iSerialNumber: number;
  numConfigurations: number;
}

export function parseDeviceDescriptor(buf: Buffer): DeviceDescriptorFields {
  if (buf.length < 18 || buf[0]! < 18 || buf[1] !== DescriptorType.device) {
    throw new RangeError(`not a device descriptor (${buf.length} bytes, type ${buf[1]})`);
  }
  return {
    bcdUSB: buf.readUInt16LE(2),
    deviceClass: buf[4]!,
    deviceSubclass: buf[5]!,
    deviceProtocol: buf[6]!,
    maxPacketSize0: buf[7]!,
    vendorId: buf.readUInt16LE(8),
    productId: buf.readUInt16LE(10),
    bcdDevice: buf.readUInt16LE(12),
    iManufacturer: buf[14]!,
    iProduct: buf[15]!,
    iSerialNumber: buf[16]!,
    numConfigurations: buf[17]!,
  };
}

/**
 * Parse a configuration descriptor set (configuration, interfaces, endpoints, anything
 * else skipped). Lengths are checked; a malformed set throws RangeError.
 */
export function parseConfigDescriptor(buf: Buffer): ConfigurationInfo {
  if (buf.length < 9 || buf[0]! < 9 || buf[1] !== DescriptorType.configuration) {
    throw new RangeError('not a configuration descriptor');
  }
  const total = Math.min(buf.readUInt16LE(2), buf.length);
  const cfg: ConfigurationInfo = {
    value: buf[5]!,
    attributes: buf[7]!,
    maxPowerRaw: buf[8]!,
    numInterfaces: buf[4]!,
    interfaces: [],
  };
  let cur: InterfaceInfo | null = null;
  let lastEp: EndpointInfo | null = null;
  let off = buf[0]!;
  while (off + 2 <= total) {
    const len = buf[off]!;
    const type = buf[off + 1]!;
    if (len < 2 || off + len > total) throw new RangeError(`configuration descriptor: bad descriptor length ${len} at offset ${off}`);
    if (type === DescriptorType.interface && len >= 9) {
      cur = {
        number: buf[off + 2]!,
        altSetting: buf[off + 3]!,
        class: buf[off + 5]!,
        subclass: buf[off + 6]!,
        protocol: buf[off + 7]!,
        stringIndex: buf[off + 8]!,
        endpoints: [],
      };
      cfg.interfaces.push(cur);
      lastEp = null;
    } else if (type === DescriptorType.endpoint && len >= 7 && cur) {
      const attributes = buf[off + 3]!;
      const wmps = buf.readUInt16LE(off + 4);
      lastEp = {
        address: buf[off + 2]!,
        type: EP_TYPES[attributes & 3]!,
        attributes,
        maxPacketSize: wmps & 0x7ff,
        mult: (wmps >> 11) & 3,
        interval: buf[off + 6]!,
        interfaceNumber: cur.number,
        maxStreams: 0,
      };
      cur.endpoints.push(lastEp);
    } else if (type === DescriptorType.ssEndpointCompanion && len >= 6 && lastEp) {
      if (lastEp.type === 'bulk') {
        const n = buf[off + 3]! & 0x1f;
        lastEp.maxStreams = n ? 1 << n : 0;
      }
    }
    off += len;
  }
  return cfg;
}

/** The interfaces of a configuration at the given alternate settings (default 0). */
export function interfacesAt(cfg: ConfigurationInfo, alt: (interfaceNumber: number) => number = () => 0): InterfaceInfo[] {
  const numbers = [...new Set(cfg.interfaces.map((i) => i.number))];
  const out: InterfaceInfo[] = [];
  for (const n of numbers) {
    const a = alt(n);
    const it = cfg.interfaces.find((i) => i.number === n && i.altSetting === a) ?? cfg.interfaces.find((i) => i.number === n);
    if (it) out.push(it);
  }
  return out;
}

/** A string descriptor (UTF-16LE), truncated to 126 characters. */
export function stringDescriptor(text: string): Buffer {
  const s = text.slice(0, 126);
  const b = Buffer.alloc(2 + 2 * s.length);
  b[0] = b.length;
  b[1] = DescriptorType.string;
  b.write(s, 2, 'utf16le');
  return b;
}

/** String descriptor 0: the list of language ids (default en-US). */
export function languageDescriptor(langIds: number[] = [0x0409]): Buffer {
  const b = Buffer.alloc(2 + 2 * langIds.length);
  b[0] = b.length;
  b[1] = DescriptorType.string;
  langIds.forEach((id, i) => b.writeUInt16LE(id, 2 + 2 * i));
  return b;
}

/** What a usbredir filter needs to know about a backend's device. */
export function filterDeviceOf(dev: UsbDeviceBackend): FilterDevice {
  return {
    deviceClass: dev.info.deviceClass,
    deviceSubclass: dev.info.deviceSubclass,
    deviceProtocol: dev.info.deviceProtocol,
    vendorId: dev.info.vendorId,
    productId: dev.info.productId,
    bcdDevice: dev.info.bcdDevice,
    interfaces: dev.currentInterfaces().map((i) => ({ class: i.class, subclass: i.subclass, protocol: i.protocol })),
  };
}

/** A result helper: a failed transfer with no data. */
export function failed(status: TransferStatus): TransferResult {
  return { status, length: 0 };
}

/** A result helper: a successful IN transfer. */
export function dataIn(data: Buffer): TransferResult {
  return { status: 'success', data, length: data.length };
}

/** A result helper: a successful OUT transfer. */
export function dataOut(length: number): TransferResult {
  return { status: 'success', length };
}

/** Setup fields as "80 06 0100 0000 0012" for logs. */
export function formatSetup(s: ControlSetup): string {
  const h = (v: number, w: number): string => v.toString(16).padStart(w, '0');
  return `${h(s.requestType, 2)} ${h(s.request, 2)} ${h(s.value, 4)} ${h(s.index, 4)} ${h(s.length, 4)}`;
}
