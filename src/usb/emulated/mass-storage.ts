// An emulated USB mass-storage device (Bulk-Only Transport, SCSI transparent command set)
// backed by an image file: a USB stick (SCSI disk, PDT 0) or a CD/DVD-ROM drive (MMC, PDT 5,
// read-only ISO). It implements UsbDeviceBackend, so UsbredirHost drives it exactly like a
// real device.
//
// USB side (docs/protocol-digest.md §10.1): SuperSpeed (1024-byte bulk endpoints with their
// companion descriptors, a BOS, ep0 of 512), high speed (512-byte bulk) or full speed (64);
// endpoints 0x81 IN / 0x02 OUT, one configuration, one interface 08/06/50; strings
// 1 manufacturer, 2 product, 3 serial (>= 12 hex digits, stable per image path); device
// qualifier and other-speed configuration for a high-speed device; GET_STATUS,
// CLEAR/SET_FEATURE (ENDPOINT_HALT, and the USB 3 link/function features), SET_SEL and
// SET_ISOCH_DELAY, Bulk-Only Mass Storage Reset (0x21/0xFF) and Get Max LUN (0xA1/0xFE).
// Everything else stalls.
//
// Why SuperSpeed is offered: a guest enumerates a SuperSpeed device with one port reset and no
// 64-byte probe (Linux's "new scheme" is for USB 2 only), which on QEMU's xHCI saves a second
// reset and its ~130 ms of guest-side waiting per plug. QEMU attaches such a device to the
// USB 3 half of an xHCI port; on a USB 2 controller the guest would find a 512-byte ep0 it
// cannot use, so with speed 'auto' the device answers as a high-speed one once the guest's
// requests show USB 2 enumeration (a 64-byte descriptor read, then a reset; speed.ts).

import { createHash } from 'node:crypto';
import { resolve as resolvePath } from 'node:path';
import {
  dataIn,
  dataOut,
  DescriptorType,
  failed,
  interfacesAt,
  languageDescriptor,
  parseConfigDescriptor,
  StandardRequest,
  stringDescriptor,
  type ControlSetup,
  type DeviceTraceEvent,
  type InterfaceInfo,
  type TransferOptions,
  type TransferResult,
  type TransferStatus,
  type UsbDeviceBackend,
  type UsbDeviceInfo,
} from '../backend.js';
import { SpiceError } from '../../util/errors.js';
import { BulkOnlyTransport } from './bot.js';
import { UasTransport } from './uas.js';
import { describeFsError, ImageFile } from './image-file.js';
import { ScsiCd } from './scsi-cd.js';
import { ScsiDisk } from './scsi-disk.js';
import type { ScsiLogicalUnit } from './scsi.js';
import { DEFAULT_EMULATED_SPEED, EMULATED_SPEEDS, type EmulatedSpeed, type LinkSpeed } from './speed.js';

export const BULK_IN_EP = 0x81;
export const BULK_OUT_EP = 0x02;
/** UAS pipes (alt setting 1): data in/out share the Bulk-Only endpoints' addresses. */
export const UAS_EP = { command: 0x04, status: 0x83, dataIn: BULK_IN_EP, dataOut: BULK_OUT_EP } as const;
/** Streams per UAS endpoint, as a SuperSpeed companion's MaxStreams exponent (2^3 = 8: queue depth 6 in
 *  Linux; each stream costs the guest a transfer ring to set up, 32 made the probe ~10 ms slower). */
const UAS_MAX_STREAMS_EXP = 3;

export type MassStorageKind = 'disk' | 'cd';
export type { EmulatedSpeed };

export interface MassStorageOptions {
  kind?: MassStorageKind;
  /** Disk only: refuse writes (DATA PROTECT / WRITE PROTECTED, WP bit in MODE SENSE). CDs are always read-only. */
  readOnly?: boolean;
  /** 'auto' (default: SuperSpeed, high speed on a USB 2 bus), 'super' (1024-byte bulk
   *  packets), 'high' (512) or 'full' (64). */
  speed?: EmulatedSpeed;
  vendorId?: number;
  productId?: number;
  bcdDevice?: number;
  manufacturer?: string;
  product?: string;
  /** USB serial number (and SCSI unit serial); default: 24 hex digits derived from the image path. */
  serial?: string;
  /** INQUIRY vendor (8 chars), product (16), revision (4). */
  inquiryVendor?: string;
  inquiryProduct?: string;
  inquiryRevision?: string;
  /** Disk only: logical block size (default 512). */
  blockSize?: number;
  /** Offer USB Attached SCSI (alt setting 1) beside Bulk-Only at SuperSpeed (default true). */
  uas?: boolean;
  /** Called when the guest ejects the medium. */
  onEject?: () => void;
  /** Called when 'auto' finds the guest enumerating the device as USB 2 (see speed.ts). */
  onSpeedChange?: (speed: LinkSpeed, reason: string) => void;
  /** Called when the guest selects Bulk-Only (alt setting 0) or UAS (alt setting 1). */
  onTransport?: (transport: 'bot' | 'uas') => void;
}

/** Default ids: pid.codes test VID/PID for the stick; Red Hat's id for an emulated CD (as spice-gtk). */
const DEFAULTS = {
  disk: { vendorId: 0x1209, productId: 0x0001, product: 'spicectl USB disk', inquiryProduct: 'USB disk' },
  cd: { vendorId: 0x2b23, productId: 0xcdcd, product: 'spicectl USB CD-ROM', inquiryProduct: 'USB CD-ROM' },
} as const;

/** A stable serial number for an image: 24 uppercase hex digits. */
export function serialForImage(path: string): string {
  return createHash('sha256').update(resolvePath(path)).digest('hex').slice(0, 24).toUpperCase();
}

function sizeText(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

export class EmulatedMassStorage implements UsbDeviceBackend {
  readonly info: UsbDeviceInfo;
  readonly kind: MassStorageKind;
  readonly lun: ScsiLogicalUnit;
  readonly bot: BulkOnlyTransport;
  /** USB Attached SCSI on alt setting 1, offered at SuperSpeed only (null when turned off). */
  readonly uas: UasTransport | null;
  readonly image: ImageFile;
  readonly requestedSpeed: EmulatedSpeed;
  private link: LinkSpeed;
  /** wLength of the first device-descriptor read since the last reset (USB 2 detection) */
  private firstDescriptorRead: number | null = null;
  private readonly ids: { vendorId: number; productId: number; bcdDevice: number };
  private readonly onSpeedChange: MassStorageOptions['onSpeedChange'];
  private readonly onTransport: MassStorageOptions['onTransport'];
  private readonly strings: string[];
  private config = 0;
  /** Alternate setting of interface 0: 0 Bulk-Only, 1 UAS. */
  private alt = 0;
  private trace: ((ev: DeviceTraceEvent) => void) | null = null;
  private closed = false;

  /** Open an image file and build the device. Throws SpiceError('input') for unusable images. */
  static async open(path: string, opts: MassStorageOptions = {}): Promise<EmulatedMassStorage> {
    const kind = opts.kind ?? 'disk';
    const readOnly = kind === 'cd' ? true : (opts.readOnly ?? false);
    const image = await ImageFile.open(path, { readOnly });
    try {
      return new EmulatedMassStorage(image, { ...opts, kind, serial: opts.serial ?? serialForImage(path) });
    } catch (e) {
      await image.close().catch(() => {});
      throw e;
    }
  }

  constructor(image: ImageFile, opts: MassStorageOptions = {}) {
    this.kind = opts.kind ?? 'disk';
    this.image = image;
    this.requestedSpeed = opts.speed ?? DEFAULT_EMULATED_SPEED;
    if (!EMULATED_SPEEDS.includes(this.requestedSpeed)) throw new SpiceError('usage', `USB speed must be ${EMULATED_SPEEDS.join(', ')}, not "${this.requestedSpeed}"`);
    this.link = this.pluggedSpeed();
    const d = DEFAULTS[this.kind];
    const serial = opts.serial ?? serialForImage(image.path);
    if (!/^[0-9A-Fa-f]{12,}$/.test(serial)) {
      throw new SpiceError('input', `USB serial "${serial}" must be at least 12 hexadecimal digits (mass-storage class requirement)`);
    }
    const blockSize = this.kind === 'cd' ? 2048 : (opts.blockSize ?? 512);
    if (image.size < blockSize) {
      throw new SpiceError('input', `image ${image.path} is too small (${image.size} bytes; at least one ${blockSize}-byte block needed)`);
    }
    const onIoError = (op: 'read' | 'write' | 'sync', err: unknown): void => {
      this.trace?.({ kind: 'io-error', op, message: `${op} ${image.path}: ${describeFsError(err)}` });
    };
    const onEject = (): void => {
      this.trace?.({ kind: 'eject' });
      opts.onEject?.();
    };
    const lunOpts = {
      image,
      vendor: opts.inquiryVendor ?? 'spicectl',
      product: opts.inquiryProduct ?? d.inquiryProduct,
      revision: opts.inquiryRevision ?? '0.1',
      serial,
      onEject,
      onIoError,
    };
    this.lun =
      this.kind === 'cd'
        ? new ScsiCd(lunOpts)
        : new ScsiDisk({ ...lunOpts, blockSize, readOnly: opts.readOnly ?? image.readOnly, removable: true });
    this.bot = new BulkOnlyTransport({
      luns: [this.lun],
      inEndpoint: BULK_IN_EP,
      outEndpoint: BULK_OUT_EP,
      trace: (ev) => this.trace?.(ev),
    });
    this.uas =
      opts.uas === false
        ? null
        : new UasTransport({ luns: [this.lun], endpoints: UAS_EP, trace: (ev) => this.trace?.(ev) });

    const vendorId = opts.vendorId ?? d.vendorId;
    const productId = opts.productId ?? d.productId;
    const bcdDevice = opts.bcdDevice ?? 0x0100;
    const manufacturer = opts.manufacturer ?? 'spicectl';
    const product = opts.product ?? d.product;
    this.strings = ['', manufacturer, product, serial];

    this.ids = { vendorId, productId, bcdDevice };
    this.onSpeedChange = opts.onSpeedChange;
    this.onTransport = opts.onTransport;

    const what = this.kind === 'cd' ? 'CD-ROM' : 'USB stick';
    const ro = this.kind === 'disk' && this.lun.readOnly ? ', read-only' : '';
    this.info = {
      speed: this.link,
      bcdUSB: bcdUsbOf(this.link),
      deviceClass: 0,
      deviceSubclass: 0,
      deviceProtocol: 0,
      vendorId,
      productId,
      bcdDevice,
      manufacturer,
      product,
      serial,
      description: `emulated ${what} ${image.path} (${sizeText(image.size)}${ro})`,
    };
  }

  get configuration(): number {
    return this.config;
  }

  /** The speed the device runs at now (see 'auto'). */
  get speed(): LinkSpeed {
    return this.link;
  }

  private pluggedSpeed(): LinkSpeed {
    return this.requestedSpeed === 'auto' ? 'super' : this.requestedSpeed;
  }

  /** Device descriptor: class per interface, strings 1/2/3, one configuration. */
  get deviceDescriptor(): Buffer {
    const dd = Buffer.alloc(18);
    dd[0] = 18;
    dd[1] = DescriptorType.device;
    dd.writeUInt16LE(bcdUsbOf(this.link), 2);
    dd[7] = this.link === 'super' ? 9 : 64; // 2^9 = 512 bytes at SuperSpeed
    dd.writeUInt16LE(this.ids.vendorId, 8);
    dd.writeUInt16LE(this.ids.productId, 10);
    dd.writeUInt16LE(this.ids.bcdDevice, 12);
    dd[14] = 1;
    dd[15] = 2;
    dd[16] = 3;
    dd[17] = 1;
    return dd;
  }

  configDescriptor(index: number): Buffer | undefined {
    return index === 0 ? configDescriptor(this.link, DescriptorType.configuration, this.offersUas) : undefined;
  }

  /**
   * 'auto' on a USB 2 bus. USB 2 enumeration (Linux's "new scheme", Windows' USB 2 stack) reads
   * 64 bytes of the device descriptor first, then resets the port again or, once addressed,
   * reads its first 8 bytes again; a USB 3 host starts with 8 or 18 bytes. On that signature
   * (a 64-byte read, then a reset or an 8-byte read) the device is a high-speed one from then
   * on: with a 512-byte ep0 a USB 2 host would give up. A 64-byte read alone proves nothing.
   * ep_info follows with the SET_CONFIGURATION that comes next.
   */
  private noticeDescriptorRead(setup: ControlSetup): void {
    if (setup.value >> 8 !== DescriptorType.device || this.config !== 0) return;
    if (this.firstDescriptorRead === null) this.firstDescriptorRead = setup.length;
    else if (this.firstDescriptorRead === 64 && setup.length === 8) this.demoteToHighSpeed();
  }

  private noticeReset(): void {
    if (this.firstDescriptorRead === 64) this.demoteToHighSpeed();
    this.firstDescriptorRead = null;
  }

  private demoteToHighSpeed(): void {
    if (this.requestedSpeed !== 'auto' || this.link !== 'super' || this.config !== 0) return;
    this.link = 'high';
    const reason = 'the guest enumerates the device as USB 2';
    this.trace?.({ kind: 'speed', speed: 'high', reason });
    this.onSpeedChange?.('high', reason);
  }

  /** UAS is offered at SuperSpeed, where it runs over bulk streams (USB 2 UAS is not emulated). */
  get offersUas(): boolean {
    return this.uas !== null && this.link === 'super';
  }

  /** The transport the guest chose: 'uas' once it selected alt setting 1. */
  get transport(): 'bot' | 'uas' {
    return this.alt === 1 ? 'uas' : 'bot';
  }

  currentInterfaces(): InterfaceInfo[] {
    return interfacesAt(parseConfigDescriptor(this.configDescriptor(0)!), () => this.alt);
  }

  altSetting(interfaceNumber: number): number | undefined {
    return interfaceNumber === 0 ? this.alt : undefined;
  }

  setTraceSink(sink: ((ev: DeviceTraceEvent) => void) | null): void {
    this.trace = sink;
  }

  // ---- control ------------------------------------------------------------------------------

  async control(setup: ControlSetup, data?: Buffer, _opts?: TransferOptions): Promise<TransferResult> {
    if (this.closed) return failed('ioerror');
    const type = (setup.requestType >> 5) & 0x03;
    const recipient = setup.requestType & 0x1f;
    const isIn = (setup.requestType & 0x80) !== 0;
    const reply = (buf: Buffer): TransferResult => dataIn(buf.subarray(0, Math.min(buf.length, setup.length)));
    const ok = (): TransferResult => (isIn ? dataIn(Buffer.alloc(0)) : dataOut(data?.length ?? 0));

    if (type === 0) {
      switch (setup.request) {
        case StandardRequest.getDescriptor:
          if (!isIn || recipient !== 0) break;
          this.noticeDescriptorRead(setup);
          {
            const d = this.descriptor(setup.value >> 8, setup.value & 0xff);
            return d ? reply(d) : failed('stall');
          }
        case StandardRequest.getStatus: {
          if (!isIn) break;
          if (recipient === 0 || (recipient === 1 && (setup.index & 0xff) === 0)) return reply(Buffer.alloc(2));
          if (recipient === 2) {
            const ep = setup.index & 0xff;
            if (!this.knownEndpoint(ep)) return failed('stall');
            return reply(Buffer.from([this.alt === 0 && this.bot.isHalted(ep) ? 1 : 0, 0]));
          }
          break;
        }
        case StandardRequest.clearFeature:
        case StandardRequest.setFeature: {
          if (isIn) break;
          const set = setup.request === StandardRequest.setFeature;
          if (recipient === 2 && setup.value === 0) {
            // ENDPOINT_HALT
            const ep = setup.index & 0xff;
            if (!this.knownEndpoint(ep)) return failed('stall');
            if ((ep & 0x0f) !== 0 && this.alt === 0) {
              if (set) this.bot.setHalt(ep);
              else this.bot.clearHalt(ep);
            }
            return ok();
          }
          if (recipient === 0 && setup.value === 1) return ok(); // DEVICE_REMOTE_WAKEUP: accepted, never used
          // USB 3: U1_ENABLE, U2_ENABLE, LTM_ENABLE (device) and FUNCTION_SUSPEND (interface 0):
          // link power states that an emulated link does not have; accepted so the guest goes on.
          if (this.link === 'super' && recipient === 0 && setup.value >= 48 && setup.value <= 50) return ok();
          if (this.link === 'super' && recipient === 1 && setup.value === 0 && (setup.index & 0xff) === 0) return ok();
          break;
        }
        case StandardRequest.setSel:
          if (this.link === 'super' && !isIn && recipient === 0 && setup.length === 6) return ok();
          break;
        case StandardRequest.setIsochDelay:
          if (this.link === 'super' && !isIn && recipient === 0 && setup.length === 0) return ok();
          break;
        case StandardRequest.setAddress:
          return ok(); // handled by QEMU; harmless here
        case StandardRequest.getConfiguration:
          if (isIn && recipient === 0) return reply(Buffer.from([this.config]));
          break;
        case StandardRequest.setConfiguration:
          if (!isIn && recipient === 0) return (await this.setConfiguration(setup.value & 0xff)) === 'success' ? ok() : failed('stall');
          break;
        case StandardRequest.getInterface:
          if (isIn && recipient === 1 && this.config !== 0 && (setup.index & 0xff) === 0) return reply(Buffer.from([this.alt]));
          break;
        case StandardRequest.setInterface:
          if (!isIn && recipient === 1) return (await this.setAltSetting(setup.index & 0xff, setup.value & 0xff)) === 'success' ? ok() : failed('stall');
          break;
        default:
          break;
      }
      return failed('stall');
    }

    if (type === 1 && recipient === 1 && (setup.index & 0xff) === 0) {
      if (setup.request === 0xff && !isIn && setup.value === 0 && setup.length === 0) {
        this.bot.reset(); // Bulk-Only Mass Storage Reset
        return ok();
      }
      if (setup.request === 0xfe && isIn && setup.value === 0 && setup.length >= 1) {
        return reply(Buffer.from([this.bot.maxLun])); // Get Max LUN
      }
    }
    return failed('stall');
  }

  private knownEndpoint(ep: number): boolean {
    if (ep === 0x00 || ep === 0x80 || ep === BULK_IN_EP || ep === BULK_OUT_EP) return true;
    return this.alt === 1 && (ep === UAS_EP.command || ep === UAS_EP.status);
  }

  /** A descriptor by type and index, or undefined (-> stall). */
  descriptor(type: number, index: number): Buffer | undefined {
    switch (type) {
      case DescriptorType.device:
        return index === 0 ? this.deviceDescriptor : undefined;
      case DescriptorType.configuration:
        return this.configDescriptor(index);
      case DescriptorType.string:
        if (index === 0) return languageDescriptor();
        return index < this.strings.length ? stringDescriptor(this.strings[index]!) : undefined;
      case DescriptorType.bos:
        return this.link === 'super' && index === 0 ? bosDescriptor() : undefined;
      case DescriptorType.deviceQualifier: {
        // Only a high-speed device has one (a SuperSpeed device answers a request error).
        if (this.link !== 'high' || index !== 0) return undefined;
        const q = Buffer.alloc(10);
        q[0] = 10;
        q[1] = DescriptorType.deviceQualifier;
        q.writeUInt16LE(0x0200, 2);
        q[7] = 64; // bMaxPacketSize0
        q[8] = 1; // bNumConfigurations
        return q;
      }
      case DescriptorType.otherSpeedConfiguration:
        if (this.link !== 'high' || index !== 0) return undefined;
        return configDescriptor('full', DescriptorType.otherSpeedConfiguration);
      default:
        return undefined; // Microsoft OS string 0xEE, ...: stall
    }
  }

  // ---- data -----------------------------------------------------------------------------------

  async bulk(endpoint: number, lengthOrData: number | Buffer, opts?: TransferOptions): Promise<TransferResult> {
    if (this.closed) return failed('ioerror');
    if (this.alt === 1 && this.uas) return this.uas.bulk(endpoint, lengthOrData, opts);
    if (endpoint === BULK_IN_EP && typeof lengthOrData === 'number') return this.bot.bulkIn(lengthOrData, opts);
    if (endpoint === BULK_OUT_EP && Buffer.isBuffer(lengthOrData)) return this.bot.bulkOut(lengthOrData, opts);
    return failed('stall');
  }

  async interrupt(): Promise<TransferResult> {
    return failed('inval'); // no interrupt endpoints
  }

  async setConfiguration(value: number): Promise<TransferStatus> {
    if (value !== 0 && value !== 1) return 'stall';
    this.config = value;
    this.resetTransports(); // a configuration change resets the endpoints' halt state and the transport
    return 'success';
  }

  async setAltSetting(interfaceNumber: number, alt: number): Promise<TransferStatus> {
    if (interfaceNumber !== 0 || (alt !== 0 && !(alt === 1 && this.offersUas))) return 'stall';
    this.resetTransports();
    this.alt = alt;
    this.trace?.({ kind: 'transport', transport: this.transport });
    this.onTransport?.(this.transport);
    return 'success';
  }

  /** Streams for UAS's status and data pipes (the guest asks for them after selecting alt 1). */
  async allocStreams(endpoints: number[], count: number): Promise<TransferStatus> {
    const streamed: number[] = [UAS_EP.status, UAS_EP.dataIn, UAS_EP.dataOut];
    if (this.alt !== 1 || !this.uas || !endpoints.length || !endpoints.every((e) => streamed.includes(e))) return 'inval';
    return this.uas.allocStreams(Math.min(count, 1 << UAS_MAX_STREAMS_EXP)) ? 'success' : 'inval';
  }

  async freeStreams(): Promise<TransferStatus> {
    this.uas?.freeStreams();
    return 'success';
  }

  private resetTransports(): void {
    this.alt = 0;
    this.bot.usbReset();
    this.uas?.reset();
  }

  plugged(): void {
    this.link = this.pluggedSpeed();
    this.firstDescriptorRead = null;
    this.config = 0;
    this.resetTransports();
    this.lun.powerOn();
  }

  async reset(): Promise<boolean> {
    this.noticeReset();
    this.resetTransports();
    this.config = 0;
    return !this.closed;
  }

  cancelAll(): void {
    this.bot.cancelAll();
    this.uas?.reset();
  }

  /** Flush (fsync) and close the image. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cancelAll();
    await this.image.close();
  }
}

const BULK_MAX_PACKET: Record<LinkSpeed, number> = { super: 1024, high: 512, full: 64 };

function bcdUsbOf(speed: LinkSpeed): number {
  return speed === 'super' ? 0x0320 : 0x0200;
}

/** UAS pipe usage descriptor type and pipe ids. */
const PIPE_USAGE = 0x24;
const Pipe = { command: 1, status: 2, dataIn: 3, dataOut: 4 } as const;

/**
 * Configuration descriptor set: configuration, interface 0 alt 0 08/06/50 (Bulk-Only) with bulk
 * IN 0x81 and bulk OUT 0x02; with `uas`, alt 1 08/06/62 (UAS) with its four pipes, each endpoint
 * followed by its companion and a pipe usage descriptor (UAS's order). At SuperSpeed every
 * endpoint has a companion: no bursts; 2^3 streams on UAS's status and data pipes.
 */
function configDescriptor(speed: LinkSpeed, type: number, uas = false): Buffer {
  const mp = BULK_MAX_PACKET[speed];
  const companion = (streamsExp: number) => (speed === 'super' ? [6, DescriptorType.ssEndpointCompanion, 0, streamsExp, 0, 0] : []);
  const endpoint = (address: number, streamsExp = 0) => [7, DescriptorType.endpoint, address, 0x02, mp & 0xff, mp >> 8, 0, ...companion(streamsExp)];
  const pipe = (address: number, id: number, streamsExp: number) => [...endpoint(address, streamsExp), 4, PIPE_USAGE, id, 0];
  const body = [
    // interface 0 alt 0, 2 endpoints, mass storage / SCSI transparent / Bulk-Only
    9, DescriptorType.interface, 0, 0, 2, 0x08, 0x06, 0x50, 0,
    ...endpoint(BULK_IN_EP),
    ...endpoint(BULK_OUT_EP),
    ...(uas
      ? [
          // interface 0 alt 1, 4 endpoints, mass storage / SCSI transparent / UAS
          9, DescriptorType.interface, 0, 1, 4, 0x08, 0x06, 0x62, 0,
          ...pipe(UAS_EP.command, Pipe.command, 0),
          ...pipe(UAS_EP.status, Pipe.status, UAS_MAX_STREAMS_EXP),
          ...pipe(UAS_EP.dataIn, Pipe.dataIn, UAS_MAX_STREAMS_EXP),
          ...pipe(UAS_EP.dataOut, Pipe.dataOut, UAS_MAX_STREAMS_EXP),
        ]
      : []),
  ];
  const total = 9 + body.length;
  // configuration: 1 interface, value 1, bus powered; bMaxPower in 8 mA units at SuperSpeed
  // (100 mA), 2 mA units otherwise (100 mA)
  const maxPower = speed === 'super' ? 13 : 50;
  return Buffer.from([9, type, total & 0xff, total >> 8, 1, 1, 0, 0x80, maxPower, ...body]);
}

/**
 * BOS: a USB 2.0 extension (LPM supported, as USB 3 requires) and a SuperSpeed USB device
 * capability (full, high and SuperSpeed; full functionality from full speed; exit latencies
 * at their spec maxima, U1 10 us, U2 2047 us).
 */
function bosDescriptor(): Buffer {
  const usb2Extension = [7, 0x10, 0x02, 0x02, 0, 0, 0];
  const superSpeed = [10, 0x10, 0x03, 0x00, 0x0e, 0x00, 0x01, 0x0a, 0xff, 0x07];
  const total = 5 + usb2Extension.length + superSpeed.length;
  return Buffer.from([5, DescriptorType.bos, total & 0xff, total >> 8, 2, ...usb2Extension, ...superSpeed]);
}

/** Open an image as an emulated USB stick. */
export function openEmulatedDisk(path: string, opts: Omit<MassStorageOptions, 'kind'> = {}): Promise<EmulatedMassStorage> {
  return EmulatedMassStorage.open(path, { ...opts, kind: 'disk' });
}

/** Open an ISO as an emulated USB CD-ROM drive. */
export function openEmulatedCd(path: string, opts: Omit<MassStorageOptions, 'kind' | 'readOnly' | 'blockSize'> = {}): Promise<EmulatedMassStorage> {
  return EmulatedMassStorage.open(path, { ...opts, kind: 'cd' });
}
