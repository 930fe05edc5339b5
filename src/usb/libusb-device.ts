// A real USB device through libusb (the 'usb' 2.18 package), as a UsbDeviceBackend for the
// usbredir host. This file never imports 'usb': libusb-backend.ts hands it the module object
// (or a test hands it test/usb/fake-usb.ts).
//
// Lifecycle: open() opens the device, reads its descriptors (raw bytes by GET_DESCRIPTOR, else
// rebuilt from libusb's parsed ones), detaches the kernel driver from every interface that has
// one (remembering which), and claims every interface. close() cancels what is outstanding,
// releases the interfaces, RE-ATTACHES the kernel drivers it detached and closes the device;
// it always runs to the end, also after errors and when the device is gone.
//
// Transfers: control on EP0 through a cancellable libusb Transfer (raw bmRequestType,
// bRequest, wValue, wIndex); bulk and interrupt through the claimed interface's endpoint
// objects (Endpoint.makeTransfer, so they can be cancelled). Default timeouts follow
// usbredirhost: control 5 s, bulk and interrupt none (the guest's driver times out and
// cancels; the host's interrupt polling waits for data). Standard SET_CONFIGURATION,
// SET_INTERFACE and CLEAR_FEATURE(ENDPOINT_HALT) control requests are turned into the libusb
// calls, so libusb and the kernel keep their state right.
//
// Isochronous: refused with status inval. The package's Transfer is allocated without iso
// packet descriptors (libusb_alloc_transfer(0)) and has no API to set them, so iso transfers
// cannot be done through 'usb' 2.18.
//
// libusb outcomes -> usbredir statuses: PIPE/STALL -> stall, TIMEOUT -> timeout, OVERFLOW ->
// babble, CANCELLED -> cancelled, NO_DEVICE -> ioerror and a 'gone' event, anything else ->
// ioerror. (A call that fails at once carries LIBUSB_ERROR_* (< 0), a completed transfer its
// LIBUSB_TRANSFER_* status (> 0); both are mapped.)
//
// Bulk streams: not in the package either, so UAS alternate settings are hidden from the guest
// (hide-uas.ts): a UAS drive is driven with Bulk-Only.

import { EventEmitter } from 'node:events';
import { SpiceError } from '../util/errors.js';
import {
  dataIn,
  dataOut,
  DescriptorType,
  failed,
  interfacesAt,
  parseConfigDescriptor,
  parseDeviceDescriptor,
  StandardRequest,
  type ConfigurationInfo,
  type ControlSetup,
  type InterfaceInfo,
  type TransferOptions,
  type TransferResult,
  type TransferStatus,
  type UsbDeviceBackend,
  type UsbDeviceInfo,
  type UsbSpeed,
} from './backend.js';
import { hideUasAltSettings } from './hide-uas.js';
import type { HostLog } from './host.js';
import type {
  LibusbConfigDescriptorLike,
  LibusbDeviceLike,
  LibusbEndpointLike,
  LibusbErrorLike,
  LibusbInterfaceLike,
  LibusbModule,
  LibusbTransferCallback,
  LibusbTransferLike,
} from './libusb-backend.js';
import { vidPid, type LocalDevice } from './local-device.js';
import type { CancelSignal } from './cancel.js';

/** libusb's numbers (ABI-stable; test/usb/libusb-device.test.ts checks them against the package). */
export const LIBUSB = {
  ERROR_IO: -1,
  ERROR_INVALID_PARAM: -2,
  ERROR_ACCESS: -3,
  ERROR_NO_DEVICE: -4,
  ERROR_NOT_FOUND: -5,
  ERROR_BUSY: -6,
  ERROR_TIMEOUT: -7,
  ERROR_OVERFLOW: -8,
  ERROR_PIPE: -9,
  ERROR_INTERRUPTED: -10,
  ERROR_NO_MEM: -11,
  ERROR_NOT_SUPPORTED: -12,
  ERROR_OTHER: -99,
  TRANSFER_COMPLETED: 0,
  TRANSFER_ERROR: 1,
  TRANSFER_TIMED_OUT: 2,
  TRANSFER_CANCELLED: 3,
  TRANSFER_STALL: 4,
  TRANSFER_NO_DEVICE: 5,
  TRANSFER_OVERFLOW: 6,
  TRANSFER_TYPE_CONTROL: 0,
  TRANSFER_TYPE_ISOCHRONOUS: 1,
  TRANSFER_TYPE_BULK: 2,
  TRANSFER_TYPE_INTERRUPT: 3,
} as const;

const ERROR_NAMES = new Map<number, string>(
  Object.entries(LIBUSB)
    .filter(([k]) => k.startsWith('ERROR_') || (k.startsWith('TRANSFER_') && !k.startsWith('TRANSFER_TYPE_')))
    .map(([k, v]) => [v, `LIBUSB_${k}`]),
);

function errnoOf(e: unknown): number | undefined {
  const n = (e as { errno?: unknown } | null | undefined)?.errno;
  return typeof n === 'number' ? n : undefined;
}

/** "LIBUSB_ERROR_PIPE" for a LibUSBException (or the message of another error). */
export function libusbErrorName(e: unknown): string {
  const n = errnoOf(e);
  if (n !== undefined && ERROR_NAMES.has(n)) return ERROR_NAMES.get(n)!;
  return e instanceof Error ? e.message : String(e);
}

/** usbredir status of a libusb error (LIBUSB_ERROR_* or LIBUSB_TRANSFER_*). */
export function libusbStatus(e: unknown): TransferStatus {
  switch (errnoOf(e)) {
    case LIBUSB.ERROR_PIPE:
    case LIBUSB.TRANSFER_STALL:
      return 'stall';
    case LIBUSB.ERROR_TIMEOUT:
    case LIBUSB.TRANSFER_TIMED_OUT:
      return 'timeout';
    case LIBUSB.ERROR_OVERFLOW:
    case LIBUSB.TRANSFER_OVERFLOW:
      return 'babble';
    case LIBUSB.TRANSFER_CANCELLED:
      return 'cancelled';
    default:
      return 'ioerror';
  }
}

/** The device is gone (unplugged): LIBUSB_ERROR_NO_DEVICE or LIBUSB_TRANSFER_NO_DEVICE. */
export function isNoDevice(e: unknown): boolean {
  const n = errnoOf(e);
  return n === LIBUSB.ERROR_NO_DEVICE || n === LIBUSB.TRANSFER_NO_DEVICE;
}

// ---- raw descriptors rebuilt from libusb's parsed ones (when GET_DESCRIPTOR fails) ------------

/** The 18-byte device descriptor from libusb's parsed fields. */
export function deviceDescriptorBytes(d: LibusbDeviceLike['deviceDescriptor']): Buffer {
  const b = Buffer.alloc(18);
  b[0] = 18;
  b[1] = DescriptorType.device;
  b.writeUInt16LE(d.bcdUSB & 0xffff, 2);
  b[4] = d.bDeviceClass;
  b[5] = d.bDeviceSubClass;
  b[6] = d.bDeviceProtocol;
  b[7] = d.bMaxPacketSize0;
  b.writeUInt16LE(d.idVendor & 0xffff, 8);
  b.writeUInt16LE(d.idProduct & 0xffff, 10);
  b.writeUInt16LE(d.bcdDevice & 0xffff, 12);
  b[14] = d.iManufacturer;
  b[15] = d.iProduct;
  b[16] = d.iSerialNumber;
  b[17] = d.bNumConfigurations;
  return b;
}

/**
 * A configuration descriptor set from libusb's parsed configuration: configuration, its extra
 * bytes, then per alternate setting the interface descriptor, its extra bytes, and each
 * endpoint with its extra bytes (libusb keeps class-specific descriptors, IADs and SuperSpeed
 * companions in `extra`, in order). wTotalLength is what was rebuilt.
 */
export function configDescriptorBytes(c: LibusbConfigDescriptorLike): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(9);
  head[0] = 9;
  head[1] = DescriptorType.configuration;
  head[4] = c.bNumInterfaces;
  head[5] = c.bConfigurationValue;
  head[6] = c.iConfiguration;
  head[7] = c.bmAttributes;
  head[8] = c.bMaxPower;
  parts.push(head, c.extra ?? Buffer.alloc(0));
  for (const alts of c.interfaces) {
    for (const i of alts) {
      parts.push(
        Buffer.from([9, DescriptorType.interface, i.bInterfaceNumber, i.bAlternateSetting, i.endpoints.length, i.bInterfaceClass, i.bInterfaceSubClass, i.bInterfaceProtocol, i.iInterface]),
        i.extra ?? Buffer.alloc(0),
      );
      for (const e of i.endpoints) {
        const len = e.bLength >= 9 ? 9 : 7;
        const eb = Buffer.alloc(len);
        eb[0] = len;
        eb[1] = DescriptorType.endpoint;
        eb[2] = e.bEndpointAddress;
        eb[3] = e.bmAttributes;
        eb.writeUInt16LE(e.wMaxPacketSize & 0xffff, 4);
        eb[6] = e.bInterval;
        if (len === 9) {
          eb[7] = e.bRefresh;
          eb[8] = e.bSynchAddress;
        }
        parts.push(eb, e.extra ?? Buffer.alloc(0));
      }
    }
  }
  const all = Buffer.concat(parts);
  all.writeUInt16LE(Math.min(all.length, 0xffff), 2);
  return all;
}

// ---- the device --------------------------------------------------------------------------------

export interface LibusbDeviceOptions {
  log?: HostLog;
  /** Control transfer timeout (default 5000 ms; libusb needs one > 0). */
  controlTimeoutMs?: number;
  /** Bulk transfer timeout (default 0 = none: the guest's driver times out and cancels). */
  bulkTimeoutMs?: number;
  /** Interrupt transfer timeout (default 0 = none: interrupt IN polling waits for data). */
  interruptTimeoutMs?: number;
  /** How long a cancelled transfer may take to report back before it resolves 'cancelled' anyway (default 1000 ms). */
  cancelGraceMs?: number;
  /** Bound on waiting for outstanding transfers / libusb callbacks in close(), setConfiguration() (default 2000 ms). */
  settleTimeoutMs?: number;
  /** What the listing knows (speed from sysfs, strings). */
  local?: LocalDevice;
  sysRoot?: string;
}

export interface LibusbDeviceEvents {
  /** The device went away (LIBUSB_ERROR_NO_DEVICE, a failed reset, or markGone()): detach it from the guest and close(). */
  gone: [reason: string];
}

interface Outstanding {
  endpoint: number;
  settled: Promise<void>;
  cancel: () => void;
}

const EMPTY = Buffer.alloc(0);
const TYPE_NAMES = ['control', 'iso', 'bulk', 'interrupt'] as const;

function speedOf(s: string | undefined): UsbSpeed {
  if (s === 'low' || s === 'full' || s === 'high' || s === 'super') return s;
  if (s === 'super+') return 'super';
  return 'unknown';
}

/** Resolve with `p`'s value, or 'timed-out' after `ms` at the latest (a rejection resolves undefined). */
function bounded<T>(p: Promise<T>, ms: number): Promise<T | 'timed-out'> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve('timed-out'), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      () => {
        clearTimeout(t);
        resolve(undefined as T);
      },
    );
  });
}

/** A node-style callback call as a promise of its error (undefined = success); a throw is an error too. */
function callbackError(start: (cb: (err?: LibusbErrorLike) => void) => void): Promise<LibusbErrorLike | undefined> {
  return new Promise((resolve) => {
    try {
      start((err) => resolve(err ?? undefined));
    } catch (e) {
      resolve(e as LibusbErrorLike);
    }
  });
}

export class LibusbDevice extends EventEmitter<LibusbDeviceEvents> implements UsbDeviceBackend {
  readonly info: UsbDeviceInfo;
  readonly deviceDescriptor: Buffer;
  /** What the device listing knew about it (bus-port, speed, drivers before we detached them). */
  readonly local: LocalDevice;
  /** The package's device object (for diagnostics). */
  readonly raw: LibusbDeviceLike;
  private readonly mod: LibusbModule;
  private readonly log: HostLog | undefined;
  private readonly configs: Buffer[];
  private readonly parsed: (ConfigurationInfo | null)[];
  private config: number;
  private readonly alts = new Map<number, number>();
  private readonly claimed = new Set<number>();
  /** Interface numbers whose kernel driver we detached (re-attached on close). */
  private readonly detached = new Set<number>();
  private readonly outstanding = new Set<Outstanding>();
  private readonly controlTimeout: number;
  private readonly bulkTimeout: number;
  private readonly interruptTimeout: number;
  private readonly cancelGrace: number;
  private readonly settleTimeout: number;
  private ops: Promise<unknown> = Promise.resolve();
  private goneReason: string | null = null;
  private closing: Promise<void> | null = null;

  /** Open `raw`, read descriptors, detach kernel drivers, claim interfaces. Undoes it all on failure. */
  static async open(mod: LibusbModule, raw: LibusbDeviceLike, opts: LibusbDeviceOptions = {}): Promise<LibusbDevice> {
    const where = `${vidPid({ vendorId: raw.deviceDescriptor.idVendor, productId: raw.deviceDescriptor.idProduct })} at ${opts.local?.busPort ?? `bus ${raw.busNumber} address ${raw.deviceAddress}`}`;
    try {
      raw.open();
    } catch (e) {
      throw openError(e, `cannot open USB device ${where}`, raw);
    }
    let dev: LibusbDevice | null = null;
    try {
      const probe = new Prober(mod, raw, opts.controlTimeoutMs ?? 5000);
      const deviceDescriptor = await probe.deviceDescriptor();
      const configs = await probe.configDescriptors(deviceDescriptor[17] ?? raw.deviceDescriptor.bNumConfigurations);
      dev = new LibusbDevice(mod, raw, deviceDescriptor, configs, opts);
      await dev.claimAll();
      opts.log?.info(`usb: opened ${dev.info.description}; interfaces ${[...dev.claimed].join(',') || '(none)'} claimed${dev.detached.size ? `, kernel driver detached from ${[...dev.detached].join(',')}` : ''}`);
      return dev;
    } catch (e) {
      if (dev) await dev.close();
      else {
        try {
          raw.close();
        } catch {
          /* already closed */
        }
      }
      if (e instanceof SpiceError) throw e;
      throw openError(e, `cannot use USB device ${where}`, raw);
    }
  }

  private constructor(mod: LibusbModule, raw: LibusbDeviceLike, deviceDescriptor: Buffer, configs: Buffer[], opts: LibusbDeviceOptions) {
    super();
    this.mod = mod;
    this.raw = raw;
    this.log = opts.log;
    this.deviceDescriptor = deviceDescriptor;
    // The guest never sees UAS alternate settings: it would ask for bulk streams (hide-uas.ts).
    this.configs = configs.map(hideUasAltSettings);
    this.parsed = this.configs.map((c) => {
      try {
        return parseConfigDescriptor(c);
      } catch (e) {
        this.log?.warn(`usb: malformed configuration descriptor: ${(e as Error).message}`);
        return null;
      }
    });
    this.controlTimeout = opts.controlTimeoutMs ?? 5000;
    this.bulkTimeout = opts.bulkTimeoutMs ?? 0;
    this.interruptTimeout = opts.interruptTimeoutMs ?? 0;
    this.cancelGrace = opts.cancelGraceMs ?? 1000;
    this.settleTimeout = opts.settleTimeoutMs ?? 2000;
    let active: number;
    try {
      active = raw.configDescriptor?.bConfigurationValue ?? 0;
    } catch {
      active = 0;
    }
    this.config = active;
    const dd = parseDeviceDescriptor(deviceDescriptor);
    const d = raw.deviceDescriptor;
    this.local = opts.local ?? {
      busNumber: raw.busNumber,
      busPort: `${raw.busNumber}-${raw.portNumbers?.length ? raw.portNumbers.join('.') : '0'}`,
      deviceAddress: raw.deviceAddress,
      deviceClass: d.bDeviceClass,
      deviceSubclass: d.bDeviceSubClass,
      deviceProtocol: d.bDeviceProtocol,
      vendorId: d.idVendor,
      productId: d.idProduct,
      bcdDevice: d.bcdDevice,
      interfaces: [],
      speed: 'unknown',
      drivers: [],
    };
    const name = [this.local.manufacturer, this.local.product].filter(Boolean).join(' ');
    this.info = {
      speed: speedOf(this.local.speed),
      bcdUSB: dd.bcdUSB,
      deviceClass: dd.deviceClass,
      deviceSubclass: dd.deviceSubclass,
      deviceProtocol: dd.deviceProtocol,
      vendorId: dd.vendorId,
      productId: dd.productId,
      bcdDevice: dd.bcdDevice,
      ...(this.local.manufacturer ? { manufacturer: this.local.manufacturer } : {}),
      ...(this.local.product ? { product: this.local.product } : {}),
      ...(this.local.serial ? { serial: this.local.serial } : {}),
      description: `USB device ${vidPid(dd)}${name ? ` ${name}` : ''} at ${this.local.busPort}`,
    };
  }

  // ---- state --------------------------------------------------------------------------------

  get configuration(): number {
    return this.config;
  }

  /** Why the device is gone, or null while it is there. */
  get gone(): string | null {
    return this.goneReason;
  }

  /** Interface numbers we claimed / whose kernel driver we detached (for diagnostics and tests). */
  get claimedInterfaces(): number[] {
    return [...this.claimed].sort((a, b) => a - b);
  }
  get detachedInterfaces(): number[] {
    return [...this.detached].sort((a, b) => a - b);
  }

  configDescriptor(index: number): Buffer | undefined {
    return this.configs[index];
  }

  private activeIndex(): number {
    const i = this.parsed.findIndex((c) => c?.value === this.config);
    return i >= 0 ? i : 0;
  }

  currentInterfaces(): InterfaceInfo[] {
    const cfg = this.parsed[this.activeIndex()];
    return cfg ? interfacesAt(cfg, (n) => this.alts.get(n) ?? 0) : [];
  }

  altSetting(interfaceNumber: number): number | undefined {
    const cfg = this.parsed[this.activeIndex()];
    if (!cfg?.interfaces.some((i) => i.number === interfaceNumber)) return undefined;
    return this.alts.get(interfaceNumber) ?? 0;
  }

  /**
   * Mark the device gone (hotplug saw it unplugged, or libusb said NO_DEVICE): every later
   * request fails with ioerror without touching libusb, outstanding ones are cancelled, and
   * 'gone' is emitted once (on a later tick).
   */
  markGone(reason = 'the device was unplugged'): void {
    if (this.goneReason !== null) return;
    this.goneReason = reason;
    this.log?.warn(`usb: ${this.info.description}: ${reason}`);
    this.cancelAll();
    process.nextTick(() => this.emit('gone', reason));
  }

  // ---- transfers ----------------------------------------------------------------------------

  async control(setup: ControlSetup, data?: Buffer, opts?: TransferOptions): Promise<TransferResult> {
    const type = (setup.requestType >> 5) & 3;
    const recipient = setup.requestType & 0x1f;
    const isIn = (setup.requestType & 0x80) !== 0;
    if (type === 0 && isIn && recipient === 0 && setup.request === StandardRequest.getDescriptor && setup.value >> 8 === DescriptorType.configuration) {
      // Answered from the cached set, which hides UAS alternate settings.
      const cfg = this.configs[setup.value & 0xff];
      if (cfg) return dataIn(cfg.subarray(0, Math.min(cfg.length, setup.length)));
    }
    if (type === 0 && !isIn) {
      // State-changing standard requests go through libusb, so the kernel and libusb know.
      if (recipient === 0 && setup.request === StandardRequest.setConfiguration) {
        const st = await this.setConfiguration(setup.value & 0xff);
        return st === 'success' ? dataOut(0) : failed(st);
      }
      if (recipient === 1 && setup.request === StandardRequest.setInterface) {
        const st = await this.setAltSetting(setup.index & 0xff, setup.value & 0xff);
        return st === 'success' ? dataOut(0) : failed(st);
      }
      if (recipient === 2 && setup.request === StandardRequest.clearFeature && setup.value === 0) {
        const ep = this.findEndpoint(setup.index & 0xff);
        if (ep) return this.clearHalt(ep);
      }
    }
    return this.rawControl(setup, isIn ? undefined : (data ?? EMPTY), opts?.signal);
  }

  /** A control transfer as given (no interception). */
  private rawControl(setup: ControlSetup, out: Buffer | undefined, signal?: CancelSignal): Promise<TransferResult> {
    const isIn = out === undefined;
    const Transfer = this.mod.Transfer;
    if (Transfer) {
      const buf = Buffer.alloc(8 + (isIn ? setup.length : out.length));
      buf[0] = setup.requestType;
      buf[1] = setup.request;
      buf.writeUInt16LE(setup.value & 0xffff, 2);
      buf.writeUInt16LE(setup.index & 0xffff, 4);
      buf.writeUInt16LE(isIn ? setup.length : out.length, 6);
      if (!isIn) out.copy(buf, 8);
      return this.track(0, signal, (cb) => {
        const t = new Transfer(this.raw as never, 0, LIBUSB.TRANSFER_TYPE_CONTROL, this.controlTimeout, cb);
        t.submit(buf);
        return t;
      }, (b, actual) => (isIn ? b.subarray(8, 8 + actual) : undefined));
    }
    // No Transfer class: controlTransfer() cannot be cancelled; a cancel resolves at once and
    // the late result is dropped.
    return this.track(0, signal, (cb) => {
      this.raw.timeout = this.controlTimeout;
      this.raw.controlTransfer(setup.requestType, setup.request, setup.value, setup.index, isIn ? setup.length : out, (err, res) => {
        if (Buffer.isBuffer(res)) cb(err, res, res.length);
        else cb(err, EMPTY, typeof res === 'number' ? res : 0);
      });
      return null;
    }, (b) => (isIn ? b : undefined));
  }

  bulk(endpoint: number, lengthOrData: number | Buffer, opts?: TransferOptions): Promise<TransferResult> {
    return this.dataTransfer('bulk', endpoint, lengthOrData, this.bulkTimeout, opts?.signal);
  }

  interrupt(endpoint: number, lengthOrData: number | Buffer, opts?: TransferOptions): Promise<TransferResult> {
    return this.dataTransfer('interrupt', endpoint, lengthOrData, this.interruptTimeout, opts?.signal);
  }

  private dataTransfer(kind: 'bulk' | 'interrupt', endpoint: number, lengthOrData: number | Buffer, timeout: number, signal?: CancelSignal): Promise<TransferResult> {
    const isIn = (endpoint & 0x80) !== 0;
    const hex = `0x${endpoint.toString(16).padStart(2, '0')}`;
    if (isIn !== (typeof lengthOrData === 'number')) {
      this.log?.debug(`usb: ${kind} ${isIn ? 'IN' : 'OUT'} endpoint ${hex} called with ${isIn ? 'data' : 'a length'}`);
      return Promise.resolve(failed('inval'));
    }
    if (this.goneReason !== null || this.closing) return Promise.resolve(failed('ioerror'));
    const ep = this.findEndpoint(endpoint);
    const wanted = kind === 'bulk' ? LIBUSB.TRANSFER_TYPE_BULK : LIBUSB.TRANSFER_TYPE_INTERRUPT;
    if (!ep || ep.transferType !== wanted) {
      const what = ep ? `a ${TYPE_NAMES[ep.transferType & 3]} endpoint` : 'not an endpoint of a claimed interface';
      this.log?.debug(`usb: ${kind} transfer on ${hex} refused: ${what}`);
      return Promise.resolve(failed('inval'));
    }
    const buf = typeof lengthOrData === 'number' ? Buffer.alloc(lengthOrData) : lengthOrData;
    return this.track(endpoint, signal, (cb) => {
      const t = ep.makeTransfer(timeout, cb);
      t.submit(buf);
      return t;
    }, (b, actual) => (isIn ? b.subarray(0, actual) : undefined));
  }

  /**
   * Run one transfer: `start` submits it (returning the cancellable transfer, or null when it
   * cannot be cancelled) and later calls `cb` once. Resolves with the outcome; a cancel
   * (signal / cancelAll) asks libusb to cancel and resolves with what libusb reports (the real
   * result if the transfer had completed), or 'cancelled' after cancelGraceMs at the latest.
   */
  private track(
    endpoint: number,
    signal: CancelSignal | undefined,
    start: (cb: LibusbTransferCallback) => LibusbTransferLike | null,
    inData: (buf: Buffer, actual: number) => Buffer | undefined,
  ): Promise<TransferResult> {
    if (this.goneReason !== null || this.closing) return Promise.resolve(failed('ioerror'));
    if (signal?.aborted) return Promise.resolve(failed('cancelled'));
    return new Promise<TransferResult>((resolve) => {
      let resolved = false;
      let settled = false;
      let cancelRequested = false;
      let grace: NodeJS.Timeout | undefined;
      let handle: LibusbTransferLike | null = null;
      let settleResolve!: () => void;
      const finish = (r: TransferResult): void => {
        if (resolved) return;
        resolved = true;
        if (grace) clearTimeout(grace);
        signal?.removeEventListener('abort', onAbort);
        resolve(r);
      };
      const settle = (): void => {
        if (settled) return;
        settled = true;
        this.outstanding.delete(entry);
        settleResolve();
      };
      const onAbort = (): void => {
        if (resolved || cancelRequested) return;
        cancelRequested = true;
        if (!handle) {
          finish(failed('cancelled')); // cannot cancel: the late result is dropped
          return;
        }
        try {
          handle.cancel();
        } catch (e) {
          this.log?.debug(`usb: cancel on endpoint 0x${endpoint.toString(16)}: ${libusbErrorName(e)}`);
        }
        grace = setTimeout(() => finish(failed('cancelled')), this.cancelGrace);
      };
      const entry: Outstanding = { endpoint, settled: new Promise<void>((r) => (settleResolve = r)), cancel: onAbort };
      this.outstanding.add(entry);
      signal?.addEventListener('abort', onAbort, { once: true });
      const cb: LibusbTransferCallback = (err, buf, actual) => {
        settle();
        const n = Math.max(0, Math.min(actual | 0, buf?.length ?? 0));
        if (!err) {
          const data = inData(buf ?? EMPTY, n);
          finish(data ? dataIn(data) : dataOut(n));
          return;
        }
        if (isNoDevice(err)) this.markGone(`the device is gone (${libusbErrorName(err)})`);
        const data = inData(buf ?? EMPTY, n);
        finish({ status: libusbStatus(err), length: data ? data.length : n, ...(data && data.length ? { data } : {}) });
      };
      try {
        handle = start(cb);
      } catch (e) {
        settle();
        if (isNoDevice(e)) this.markGone(`the device is gone (${libusbErrorName(e)})`);
        this.log?.debug(`usb: submit on endpoint 0x${endpoint.toString(16)} failed: ${libusbErrorName(e)}`);
        const st = libusbStatus(e);
        finish(failed(st === 'cancelled' ? 'ioerror' : st));
      }
    });
  }

  cancelAll(endpoint?: number): void {
    for (const o of [...this.outstanding]) if (endpoint === undefined || o.endpoint === endpoint) o.cancel();
  }

  /** Cancel outstanding transfers (all, or those `which` selects) and wait for libusb to report them (bounded). */
  private async drain(which: (o: Outstanding) => boolean = () => true): Promise<void> {
    const xs = [...this.outstanding].filter(which);
    if (!xs.length) return;
    for (const o of xs) o.cancel();
    const r = await bounded(Promise.all(xs.map((o) => o.settled)), this.settleTimeout);
    if (r === 'timed-out') this.log?.warn(`usb: ${[...this.outstanding].filter(which).length} transfer(s) did not finish after cancelling them`);
  }

  // ---- endpoints and interfaces -------------------------------------------------------------

  private iface(n: number): LibusbInterfaceLike | undefined {
    return (this.raw.interfaces ?? []).find((i) => i.interfaceNumber === n);
  }

  private findEndpoint(address: number): LibusbEndpointLike | undefined {
    for (const n of this.claimed) {
      const ep = this.iface(n)?.endpoint(address);
      if (ep) return ep;
    }
    return undefined;
  }

  private async clearHalt(ep: LibusbEndpointLike): Promise<TransferResult> {
    if (this.goneReason !== null || this.closing) return failed('ioerror');
    const err = await callbackError((cb) => ep.clearHalt(cb));
    if (!err) return dataOut(0);
    if (isNoDevice(err)) this.markGone(`the device is gone (${libusbErrorName(err)})`);
    return failed(libusbStatus(err));
  }

  /** Detach kernel drivers (remembering which) and claim every interface of the active configuration. */
  private async claimAll(): Promise<void> {
    for (const it of this.raw.interfaces ?? []) {
      const n = it.interfaceNumber;
      if (this.claimed.has(n)) continue;
      let active = false;
      try {
        active = it.isKernelDriverActive();
      } catch (e) {
        // LIBUSB_ERROR_NOT_SUPPORTED where the OS has no such notion: nothing to detach.
        this.log?.debug(`usb: interface ${n}: kernel driver state unknown (${libusbErrorName(e)})`);
      }
      if (active) {
        try {
          it.detachKernelDriver();
        } catch (e) {
          throw openError(e, `cannot detach the kernel driver from interface ${n} of ${this.info.description}`, this.raw);
        }
        this.detached.add(n);
        this.log?.info(`usb: detached the kernel driver from interface ${n}`);
      }
      try {
        it.claim();
      } catch (e) {
        throw openError(e, `cannot claim interface ${n} of ${this.info.description}`, this.raw);
      }
      this.claimed.add(n);
    }
  }

  private async releaseAll(): Promise<void> {
    for (const n of [...this.claimed]) {
      const it = this.iface(n);
      this.claimed.delete(n);
      if (!it) continue;
      const err = await bounded(callbackError((cb) => it.release(cb)), this.settleTimeout);
      if (err === 'timed-out') this.log?.warn(`usb: releasing interface ${n} did not finish`);
      else if (err) this.log?.debug(`usb: releasing interface ${n}: ${libusbErrorName(err)}`);
    }
  }

  /** Run control-plane operations (configuration, alt setting, reset) one at a time. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.ops.then(fn, fn);
    this.ops = p.catch(() => undefined);
    return p;
  }

  setConfiguration(value: number): Promise<TransferStatus> {
    return this.serial(async () => {
      if (this.goneReason !== null || this.closing) return 'ioerror';
      if (value === this.config) return 'success'; // nothing to change (as usbredirhost)
      if (value !== 0 && !this.parsed.some((c) => c?.value === value)) return 'inval';
      await this.drain((o) => o.endpoint !== 0);
      await this.releaseAll();
      // libusb: -1 = unconfigured
      const err = await bounded(callbackError((cb) => this.raw.setConfiguration(value === 0 ? -1 : value, cb)), this.settleTimeout);
      if (err === 'timed-out' || err) {
        const status = err === 'timed-out' ? 'timeout' : libusbStatus(err);
        if (err !== 'timed-out' && isNoDevice(err)) this.markGone(`the device is gone (${libusbErrorName(err)})`);
        this.log?.warn(`usb: SET_CONFIGURATION ${value} failed: ${err === 'timed-out' ? 'no answer' : libusbErrorName(err)}`);
        if (this.goneReason === null) await this.claimAll().catch((e: unknown) => this.log?.warn(`usb: re-claiming interfaces: ${(e as Error).message}`));
        return status === 'cancelled' ? 'ioerror' : status;
      }
      this.config = value;
      this.alts.clear();
      try {
        await this.claimAll(); // the kernel may have bound drivers to the new interfaces
      } catch (e) {
        this.log?.warn(`usb: after SET_CONFIGURATION ${value}: ${(e as Error).message}`);
        return 'ioerror';
      }
      return 'success';
    });
  }

  setAltSetting(interfaceNumber: number, alt: number): Promise<TransferStatus> {
    return this.serial(async () => {
      if (this.goneReason !== null || this.closing) return 'ioerror';
      const it = this.iface(interfaceNumber);
      const cfg = this.parsed[this.activeIndex()];
      if (!it || !this.claimed.has(interfaceNumber) || !cfg?.interfaces.some((i) => i.number === interfaceNumber && i.altSetting === alt)) return 'inval';
      const eps = new Set(it.endpoints.map((e) => e.address));
      await this.drain((o) => eps.has(o.endpoint));
      const err = await bounded(callbackError((cb) => it.setAltSetting(alt, cb)), this.settleTimeout);
      if (err === 'timed-out') return 'timeout';
      if (err) {
        if (isNoDevice(err)) this.markGone(`the device is gone (${libusbErrorName(err)})`);
        const st = libusbStatus(err);
        return st === 'cancelled' ? 'ioerror' : st;
      }
      this.alts.set(interfaceNumber, alt);
      return 'success';
    });
  }

  reset(): Promise<boolean> {
    return this.serial(async () => {
      if (this.goneReason !== null || this.closing) return false;
      await this.drain();
      const err = await bounded(callbackError((cb) => this.raw.reset(cb)), Math.max(this.settleTimeout, 5000));
      if (err === 'timed-out' || err) {
        const why = err === 'timed-out' ? 'no answer' : libusbErrorName(err);
        // NOT_FOUND: it re-enumerated as something else; NO_DEVICE: unplugged.
        if (err !== 'timed-out' && (isNoDevice(err) || errnoOf(err) === LIBUSB.ERROR_NOT_FOUND)) this.markGone(`the device did not come back after a reset (${why})`);
        else this.log?.warn(`usb: reset failed: ${why}`);
        return false;
      }
      // Alternate settings are back to 0 on the device; let the package's interfaces follow.
      for (const [n, a] of this.alts) {
        if (a === 0) continue;
        const it = this.iface(n);
        if (it && it.altSetting !== 0) await bounded(callbackError((cb) => it.setAltSetting(0, cb)), this.settleTimeout);
      }
      this.alts.clear();
      return true;
    });
  }

  /**
   * Cancel everything outstanding, release the interfaces, re-attach the kernel drivers we
   * detached, close the device. Always runs to the end (errors are logged); idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.cancelAll();
      await bounded(this.ops, this.settleTimeout); // a running set_configuration / reset
      await this.drain();
      await this.releaseAll();
      for (const n of [...this.detached].sort((a, b) => a - b)) {
        const it = this.iface(n);
        if (!it) {
          this.log?.warn(`usb: cannot re-attach the kernel driver of interface ${n}: not in the current configuration`);
          continue;
        }
        try {
          it.attachKernelDriver();
          this.log?.info(`usb: re-attached the kernel driver to interface ${n}`);
        } catch (e) {
          const msg = `usb: re-attaching the kernel driver to interface ${n}: ${libusbErrorName(e)}`;
          if (this.goneReason !== null || isNoDevice(e)) this.log?.debug(msg);
          else this.log?.warn(msg);
        }
      }
      this.detached.clear();
      // The package refuses to close while a transfer is pending; give late ones a moment.
      for (let attempt = 0; ; attempt++) {
        try {
          this.raw.close();
          break;
        } catch (e) {
          if (attempt >= 20) {
            this.log?.warn(`usb: cannot close the device: ${libusbErrorName(e)}`);
            break;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    })();
    return this.closing;
  }
}

/** Reads the raw descriptors of a freshly opened device. */
class Prober {
  constructor(
    private readonly mod: LibusbModule,
    private readonly raw: LibusbDeviceLike,
    private readonly timeout: number,
  ) {}

  private getDescriptor(type: number, index: number, length: number): Promise<Buffer | null> {
    return new Promise((resolve) => {
      const done = (err: LibusbErrorLike | undefined, data: Buffer | undefined): void => resolve(err || !data ? null : data);
      try {
        const Transfer = this.mod.Transfer;
        if (Transfer) {
          const buf = Buffer.alloc(8 + length);
          buf[0] = 0x80;
          buf[1] = StandardRequest.getDescriptor;
          buf.writeUInt16LE((type << 8) | index, 2);
          buf.writeUInt16LE(length, 6);
          new Transfer(this.raw as never, 0, LIBUSB.TRANSFER_TYPE_CONTROL, this.timeout, (err, b, actual) => done(err, b?.subarray(8, 8 + actual))).submit(buf);
        } else {
          this.raw.timeout = this.timeout;
          this.raw.controlTransfer(0x80, StandardRequest.getDescriptor, (type << 8) | index, 0, length, (err, b) => done(err, Buffer.isBuffer(b) ? b : undefined));
        }
      } catch {
        resolve(null);
      }
    });
  }

  async deviceDescriptor(): Promise<Buffer> {
    const b = await this.getDescriptor(DescriptorType.device, 0, 18);
    if (b && b.length === 18 && b[0] === 18 && b[1] === DescriptorType.device) return Buffer.from(b);
    return deviceDescriptorBytes(this.raw.deviceDescriptor);
  }

  async configDescriptors(count: number): Promise<Buffer[]> {
    let parsed: LibusbConfigDescriptorLike[] = [];
    try {
      parsed = this.raw.allConfigDescriptors ?? [];
    } catch {
      parsed = [];
    }
    const out: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const head = await this.getDescriptor(DescriptorType.configuration, i, 9);
      if (head && head.length >= 9 && head[1] === DescriptorType.configuration) {
        const total = head.readUInt16LE(2);
        const full = total >= 9 ? await this.getDescriptor(DescriptorType.configuration, i, total) : null;
        if (full && full.length === total && full[1] === DescriptorType.configuration) {
          out.push(Buffer.from(full));
          continue;
        }
      }
      const p = parsed[i];
      if (p) out.push(configDescriptorBytes(p));
    }
    return out;
  }
}

/** A SpiceError('input') for a failed open / detach / claim, saying what to do. */
function openError(e: unknown, what: string, raw: LibusbDeviceLike): SpiceError {
  const name = libusbErrorName(e);
  const node = `/dev/bus/usb/${String(raw.busNumber).padStart(3, '0')}/${String(raw.deviceAddress).padStart(3, '0')}`;
  let hint = '';
  switch (errnoOf(e)) {
    case LIBUSB.ERROR_ACCESS:
      hint = `: permission denied; give your user access to ${node} (a udev rule, e.g. MODE="0660", GROUP="plugdev") or run as root`;
      break;
    case LIBUSB.ERROR_BUSY:
      hint = ': another program has claimed it; close that program (or stop its service) and try again';
      break;
    case LIBUSB.ERROR_NO_DEVICE:
      hint = ': the device is gone (unplugged?)';
      break;
    case LIBUSB.ERROR_NOT_SUPPORTED:
      hint = ': not supported on this system (no usbfs / a driver libusb cannot take over)';
      break;
    default:
      hint = ` (${name})`;
  }
  return new SpiceError('input', `${what}${hint}`, { cause: e });
}
