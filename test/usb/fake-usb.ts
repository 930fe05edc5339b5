// A fake of the 'usb' 2.18 package (the parts src/usb/libusb-*.ts and hotplug.ts use), with
// the semantics of the real one where they matter:
// * Device.open()/close() (close throws while a transfer is pending), interfaces of the active
//   configuration as Interface objects indexed like the package (interface(n) by number),
//   configDescriptor / allConfigDescriptors parsed from raw bytes (with `extra`).
// * Interface.claim() throws LIBUSB_ERROR_BUSY while a kernel driver is bound;
//   detach/attachKernelDriver; release(cb) resets the alt setting; setAltSetting(alt, cb).
// * Device.setConfiguration() fails with BUSY while interfaces are claimed; afterwards the
//   "kernel" binds its drivers to the new configuration's interfaces again.
// * Transfer (control on EP0 with the 8-byte setup in front) and Endpoint.makeTransfer:
//   completions are asynchronous, errors carry LIBUSB_TRANSFER_* statuses, cancel() reports
//   CANCELLED, a timeout > 0 reports TIMED_OUT for a transfer the device does not answer.
// * vanish(): the device is unplugged: every call fails with NO_DEVICE, pending transfers
//   complete with TRANSFER_NO_DEVICE.
// Every call is recorded in `calls` (module-wide, in order); errors are injected with `fail`.
import { EventEmitter } from 'node:events';
import type {
  LibusbConfigDescriptorLike,
  LibusbDeviceLike,
  LibusbEndpointDescriptorLike,
  LibusbEndpointLike,
  LibusbErrorLike,
  LibusbInterfaceDescriptorLike,
  LibusbInterfaceLike,
  LibusbModule,
  LibusbTransferCallback,
  LibusbTransferLike,
} from '../../src/usb/libusb-backend.js';
import { LIBUSB } from '../../src/usb/libusb-device.js';
import { languageDescriptor, stringDescriptor, type TransferResult } from '../../src/usb/backend.js';

export class FakeLibUSBException extends Error implements LibusbErrorLike {
  constructor(readonly errno: number) {
    super(NAMES.get(errno) ?? `LIBUSB error ${errno}`);
    this.name = 'LibUSBException';
  }
}
const NAMES = new Map<number, string>(
  Object.entries(LIBUSB)
    .filter(([k]) => !k.startsWith('TRANSFER_TYPE'))
    .map(([k, v]) => [v, `LIBUSB_${k}`]),
);

const err = (errno: number): FakeLibUSBException => new FakeLibUSBException(errno);
const later = (fn: () => void): void => void setImmediate(fn);

// ---- descriptors -------------------------------------------------------------------------------

/** Parse raw configuration bytes the way libusb does (non-standard descriptors into `extra`). */
export function parseConfigLikeLibusb(raw: Buffer): LibusbConfigDescriptorLike {
  const cfg: LibusbConfigDescriptorLike = {
    bLength: raw[0]!,
    bDescriptorType: raw[1]!,
    wTotalLength: raw.readUInt16LE(2),
    bNumInterfaces: raw[4]!,
    bConfigurationValue: raw[5]!,
    iConfiguration: raw[6]!,
    bmAttributes: raw[7]!,
    bMaxPower: raw[8]!,
    extra: Buffer.alloc(0),
    interfaces: [],
  };
  let iface: LibusbInterfaceDescriptorLike | null = null;
  let ep: LibusbEndpointDescriptorLike | null = null;
  const append = (b: Buffer): void => {
    if (ep) ep.extra = Buffer.concat([ep.extra, b]);
    else if (iface) iface.extra = Buffer.concat([iface.extra, b]);
    else cfg.extra = Buffer.concat([cfg.extra, b]);
  };
  for (let off = raw[0]!; off + 2 <= raw.length; ) {
    const len = raw[off]!;
    const type = raw[off + 1]!;
    if (len < 2) break;
    const d = raw.subarray(off, off + len);
    if (type === 4) {
      iface = {
        bLength: len, bDescriptorType: 4, bInterfaceNumber: d[2]!, bAlternateSetting: d[3]!, bNumEndpoints: d[4]!,
        bInterfaceClass: d[5]!, bInterfaceSubClass: d[6]!, bInterfaceProtocol: d[7]!, iInterface: d[8]!, extra: Buffer.alloc(0), endpoints: [],
      };
      ep = null;
      let group = cfg.interfaces.find((g) => g[0]!.bInterfaceNumber === iface!.bInterfaceNumber);
      if (!group) cfg.interfaces.push((group = []));
      group.push(iface);
    } else if (type === 5 && iface) {
      ep = {
        bLength: len, bDescriptorType: 5, bEndpointAddress: d[2]!, bmAttributes: d[3]!, wMaxPacketSize: d.readUInt16LE(4), bInterval: d[6]!,
        bRefresh: len >= 9 ? d[7]! : 0, bSynchAddress: len >= 9 ? d[8]! : 0, extra: Buffer.alloc(0),
      };
      iface.endpoints.push(ep);
    } else {
      append(Buffer.from(d));
    }
    off += len;
  }
  return cfg;
}

// ---- behaviour scripting -----------------------------------------------------------------------

export interface FakeSetup {
  requestType: number;
  request: number;
  value: number;
  index: number;
  length: number;
}

/** How the fake device answers a transfer: data (IN), bytes taken (OUT), a LIBUSB_TRANSFER_* error, or never. */
export type FakeReply = { data?: Buffer; actual?: number; errno?: number } | 'hang';

export type FakeOp =
  | 'open' | 'close' | 'claim' | 'release' | 'isKernelDriverActive' | 'detachKernelDriver' | 'attachKernelDriver'
  | 'setAltSetting' | 'setConfiguration' | 'reset' | 'clearHalt' | 'submit';

export interface FakeDeviceOptions {
  busNumber?: number;
  deviceAddress?: number;
  portNumbers?: number[];
  /** 18 raw bytes. */
  device: Buffer;
  /** Raw configuration descriptor sets, by index. */
  configs: Buffer[];
  /** bConfigurationValue active at the start (default: the first configuration's; 0 = unconfigured). */
  activeConfig?: number;
  strings?: Record<number, string>;
  /** Interfaces a kernel driver is bound to (and re-binds to after SET_CONFIGURATION). */
  kernelDrivers?: number[];
}

/** Status of a TransferResult as the LIBUSB_TRANSFER_* error a real device would produce. */
export function replyOf(r: TransferResult): FakeReply {
  const errno = {
    success: undefined, stall: LIBUSB.TRANSFER_STALL, timeout: LIBUSB.TRANSFER_TIMED_OUT, cancelled: LIBUSB.TRANSFER_CANCELLED,
    babble: LIBUSB.TRANSFER_OVERFLOW, ioerror: LIBUSB.TRANSFER_ERROR, inval: LIBUSB.TRANSFER_ERROR,
  }[r.status];
  return { ...(r.data ? { data: r.data } : {}), actual: r.length, ...(errno !== undefined ? { errno } : {}) };
}

// ---- transfers ---------------------------------------------------------------------------------

export class FakeTransfer implements LibusbTransferLike {
  private active = false;
  private timer: NodeJS.Timeout | null = null;
  private generation = 0;

  constructor(
    private readonly device: FakeDevice,
    readonly endpoint: number,
    readonly type: number,
    readonly timeout: number,
    private readonly callback: LibusbTransferCallback,
  ) {}

  get pending(): boolean {
    return this.active;
  }

  submit(buffer: Buffer): this {
    const dev = this.device;
    const isControl = this.type === LIBUSB.TRANSFER_TYPE_CONTROL;
    dev.log(`submit ep=0x${this.endpoint.toString(16)} type=${this.type} len=${buffer.length} timeout=${this.timeout}`);
    if (this.active) throw new Error('Transfer is already active');
    if (!dev.isOpen) throw new Error('Device is not open');
    if (dev.gone) throw err(LIBUSB.ERROR_NO_DEVICE);
    dev.check('submit');
    this.active = true;
    const gen = ++this.generation;
    dev.pending.add(this);
    if (this.timeout > 0) {
      this.timer = setTimeout(() => this.complete(gen, LIBUSB.TRANSFER_TIMED_OUT, buffer, 0), this.timeout);
    }
    let reply: FakeReply | Promise<FakeReply>;
    let room: number;
    let offset: number;
    if (isControl) {
      const setup: FakeSetup = { requestType: buffer[0]!, request: buffer[1]!, value: buffer.readUInt16LE(2), index: buffer.readUInt16LE(4), length: buffer.readUInt16LE(6) };
      const isIn = (setup.requestType & 0x80) !== 0;
      dev.controls.push({ ...setup, data: isIn ? undefined : Buffer.from(buffer.subarray(8)) });
      reply = dev.answerControl(setup, isIn ? undefined : buffer.subarray(8));
      room = isIn ? buffer.length - 8 : 0;
      offset = 8;
    } else {
      const isIn = (this.endpoint & 0x80) !== 0;
      dev.transfers.push({ endpoint: this.endpoint, type: this.type, timeout: this.timeout, ...(isIn ? { length: buffer.length } : { data: Buffer.from(buffer) }) });
      reply = dev.onTransfer(this.endpoint, isIn ? buffer.length : buffer);
      room = isIn ? buffer.length : 0;
      offset = 0;
    }
    void Promise.resolve(reply).then(
      (r) => {
        if (r === 'hang') return;
        let actual = r.actual ?? (r.data ? r.data.length : 0);
        let errno = r.errno ?? 0;
        if (r.data && room > 0) {
          r.data.copy(buffer, offset, 0, Math.min(r.data.length, room));
          if (r.data.length > room && !errno) errno = LIBUSB.TRANSFER_OVERFLOW;
          actual = Math.min(r.data.length, room);
        } else if (!r.data && (this.endpoint & 0x80) === 0 && !isControl) {
          actual = Math.min(r.actual ?? buffer.length, buffer.length);
        } else if (isControl && (buffer[0]! & 0x80) === 0) {
          actual = Math.min(r.actual ?? buffer.length - 8, buffer.length - 8);
        }
        later(() => this.complete(gen, errno, buffer, actual));
      },
      () => later(() => this.complete(gen, LIBUSB.TRANSFER_ERROR, buffer, 0)),
    );
    return this;
  }

  /** Deliver the completion (once per submission). */
  complete(gen: number, errno: number, buffer: Buffer, actual: number): void {
    if (!this.active || gen !== this.generation) return;
    this.active = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.device.pending.delete(this);
    this.device.log(`complete ep=0x${this.endpoint.toString(16)} ${errno ? (NAMES.get(errno) ?? errno) : 'ok'} actual=${actual}`);
    this.callback.call(this, errno ? err(errno) : undefined, buffer, actual);
  }

  cancel(): boolean {
    this.device.log(`cancel ep=0x${this.endpoint.toString(16)}`);
    if (!this.active) return false;
    if (this.device.cancelIgnored) return true; // a lost cancellation: the completion never comes
    const gen = this.generation;
    later(() => this.complete(gen, LIBUSB.TRANSFER_CANCELLED, Buffer.alloc(0), 0));
    return true;
  }

  /** Complete with NO_DEVICE (the device vanished). */
  vanish(): void {
    const gen = this.generation;
    later(() => this.complete(gen, LIBUSB.TRANSFER_NO_DEVICE, Buffer.alloc(0), 0));
  }
}

class FakeEndpoint extends EventEmitter implements LibusbEndpointLike {
  readonly address: number;
  readonly direction: 'in' | 'out';
  readonly transferType: number;
  timeout = 0;
  constructor(
    private readonly device: FakeDevice,
    readonly descriptor: LibusbEndpointDescriptorLike,
  ) {
    super();
    this.address = descriptor.bEndpointAddress;
    this.direction = this.address & 0x80 ? 'in' : 'out';
    this.transferType = descriptor.bmAttributes & 3;
  }
  makeTransfer(timeout: number, callback: LibusbTransferCallback): FakeTransfer {
    return new FakeTransfer(this.device, this.address, this.transferType, timeout, callback);
  }
  clearHalt(callback: (error: LibusbErrorLike | undefined) => void): void {
    this.device.log(`clearHalt 0x${this.address.toString(16)}`);
    this.device.async(callback, () => {
      this.device.check('clearHalt');
      this.device.halted.delete(this.address);
    });
  }
}

class FakeInterface implements LibusbInterfaceLike {
  interfaceNumber = 0;
  altSetting = 0;
  endpoints: FakeEndpoint[] = [];
  descriptor!: LibusbInterfaceDescriptorLike;
  constructor(
    private readonly device: FakeDevice,
    private readonly id: number,
  ) {
    this.refresh();
  }
  private refresh(): void {
    const cfg = this.device.configDescriptor;
    if (!cfg) return;
    this.descriptor = cfg.interfaces[this.id]![this.altSetting]!;
    this.interfaceNumber = this.descriptor.bInterfaceNumber;
    this.endpoints = this.descriptor.endpoints.map((e) => new FakeEndpoint(this.device, e));
  }
  claim(): void {
    const d = this.device;
    d.log(`claim ${this.interfaceNumber}`);
    d.check('claim');
    if (d.driverBound.has(this.interfaceNumber)) throw err(LIBUSB.ERROR_BUSY);
    d.claimed.add(this.interfaceNumber);
  }
  release(callback?: (error?: LibusbErrorLike) => void): void {
    const d = this.device;
    d.log(`release ${this.interfaceNumber}`);
    d.async(callback, () => {
      d.check('release');
      if (!d.claimed.has(this.interfaceNumber)) throw err(LIBUSB.ERROR_NOT_FOUND);
      d.claimed.delete(this.interfaceNumber);
      this.altSetting = 0;
      this.refresh();
    });
  }
  isKernelDriverActive(): boolean {
    this.device.check('isKernelDriverActive');
    return this.device.driverBound.has(this.interfaceNumber);
  }
  detachKernelDriver(): void {
    const d = this.device;
    d.log(`detachKernelDriver ${this.interfaceNumber}`);
    d.check('detachKernelDriver');
    if (!d.driverBound.delete(this.interfaceNumber)) throw err(LIBUSB.ERROR_NOT_FOUND);
  }
  attachKernelDriver(): void {
    const d = this.device;
    d.log(`attachKernelDriver ${this.interfaceNumber}`);
    d.check('attachKernelDriver');
    if (d.claimed.has(this.interfaceNumber) || d.driverBound.has(this.interfaceNumber)) throw err(LIBUSB.ERROR_BUSY);
    d.driverBound.add(this.interfaceNumber);
  }
  setAltSetting(altSetting: number, callback?: (error: LibusbErrorLike | undefined) => void): void {
    const d = this.device;
    d.log(`setAltSetting ${this.interfaceNumber} ${altSetting}`);
    d.async(callback, () => {
      d.check('setAltSetting');
      if (!d.claimed.has(this.interfaceNumber)) throw err(LIBUSB.ERROR_NOT_FOUND);
      if (!d.configDescriptor!.interfaces[this.id]![altSetting]) throw err(LIBUSB.ERROR_NOT_FOUND);
      this.altSetting = altSetting;
      this.refresh();
      d.deviceAlts.set(this.interfaceNumber, altSetting);
    });
  }
  endpoint(addr: number): FakeEndpoint | undefined {
    return this.endpoints.find((e) => e.address === addr);
  }
}

// ---- the device --------------------------------------------------------------------------------

export class FakeDevice implements LibusbDeviceLike {
  busNumber: number;
  deviceAddress: number;
  portNumbers: number[];
  readonly deviceDescriptor: LibusbDeviceLike['deviceDescriptor'];
  readonly rawDevice: Buffer;
  readonly rawConfigs: Buffer[];
  private readonly parsedConfigs: LibusbConfigDescriptorLike[];
  interfaces: FakeInterface[] | undefined = undefined;
  timeout = 1000;
  activeConfig: number;
  readonly strings: Record<number, string>;
  /** Interfaces a kernel driver is bound to now. */
  readonly driverBound: Set<number>;
  /** Interfaces the kernel binds drivers to (after SET_CONFIGURATION too). */
  readonly kernelDrivers: number[];
  readonly claimed = new Set<number>();
  readonly halted = new Set<number>();
  /** Alt settings as the device knows them (reset() puts them back to 0). */
  readonly deviceAlts = new Map<number, number>();
  readonly pending = new Set<FakeTransfer>();
  readonly controls: (FakeSetup & { data?: Buffer })[] = [];
  readonly transfers: { endpoint: number; type: number; timeout: number; length?: number; data?: Buffer }[] = [];
  /** Persistent injected errors (LIBUSB_ERROR_* codes) per operation. */
  readonly fail: Partial<Record<FakeOp, number>> = {};
  isOpen = false;
  gone = false;
  /** cancel() returns true but the completion never comes (to test the grace timer). */
  cancelIgnored = false;
  module: FakeUsb | null = null;
  private readonly ownCalls: string[] = [];

  /** Answers control transfers the default handler does not (GET_DESCRIPTOR, GET_CONFIGURATION); undefined -> stall. */
  onControl: (setup: FakeSetup, data: Buffer | undefined) => FakeReply | Promise<FakeReply> | undefined = () => undefined;
  /** Answers bulk / interrupt transfers (default: OUT takes everything, IN never answers). */
  onTransfer: (endpoint: number, lengthOrData: number | Buffer) => FakeReply | Promise<FakeReply> = (_ep, x) => (typeof x === 'number' ? 'hang' : { actual: x.length });
  /** Called after a successful SET_CONFIGURATION / SET_INTERFACE / reset (to drive scripted firmware). */
  onSetConfiguration: (value: number) => void = () => {};
  onReset: () => void = () => {};

  constructor(o: FakeDeviceOptions) {
    this.busNumber = o.busNumber ?? 1;
    this.deviceAddress = o.deviceAddress ?? 2;
    this.portNumbers = o.portNumbers ?? [1];
    this.rawDevice = o.device;
    this.rawConfigs = o.configs;
    this.parsedConfigs = o.configs.map(parseConfigLikeLibusb);
    const d = o.device;
    this.deviceDescriptor = {
      bLength: d[0]!, bDescriptorType: d[1]!, bcdUSB: d.readUInt16LE(2), bDeviceClass: d[4]!, bDeviceSubClass: d[5]!, bDeviceProtocol: d[6]!,
      bMaxPacketSize0: d[7]!, idVendor: d.readUInt16LE(8), idProduct: d.readUInt16LE(10), bcdDevice: d.readUInt16LE(12),
      iManufacturer: d[14]!, iProduct: d[15]!, iSerialNumber: d[16]!, bNumConfigurations: d[17]!,
    };
    this.activeConfig = o.activeConfig ?? this.parsedConfigs[0]?.bConfigurationValue ?? 0;
    this.strings = o.strings ?? {};
    this.kernelDrivers = o.kernelDrivers ?? [];
    this.driverBound = new Set(this.activeConfig ? this.kernelDrivers.filter((n) => this.hasInterface(n)) : []);
  }

  /** Calls on this device, in order. */
  get calls(): string[] {
    return this.ownCalls;
  }

  log(s: string): void {
    this.ownCalls.push(s);
    this.module?.calls.push(`${this.busNumber}-${this.portNumbers.join('.')}: ${s}`);
  }

  /** Throw the injected error for `op`, or NO_DEVICE when gone. */
  check(op: FakeOp): void {
    if (this.gone) throw err(LIBUSB.ERROR_NO_DEVICE);
    const e = this.fail[op];
    if (e !== undefined) throw err(e);
  }

  /** Run `fn` on a later turn and report its error (or success) to a node-style callback. */
  async<E>(callback: ((error: E | undefined) => void) | undefined, fn: () => void): void {
    later(() => {
      let e: unknown;
      try {
        fn();
      } catch (x) {
        e = x;
      }
      callback?.(e as E | undefined);
    });
  }

  private hasInterface(n: number): boolean {
    return !!this.configDescriptor?.interfaces.some((g) => g[0]!.bInterfaceNumber === n);
  }

  get configDescriptor(): LibusbConfigDescriptorLike | undefined {
    return this.parsedConfigs.find((c) => c.bConfigurationValue === this.activeConfig);
  }

  get allConfigDescriptors(): LibusbConfigDescriptorLike[] {
    return this.parsedConfigs;
  }

  private buildInterfaces(): void {
    const n = this.configDescriptor?.interfaces.length ?? 0;
    this.interfaces = Array.from({ length: n }, (_, i) => new FakeInterface(this, i));
  }

  open(defaultConfig = true): void {
    this.log('open');
    this.check('open');
    this.isOpen = true;
    this.interfaces = [];
    if (defaultConfig) this.buildInterfaces();
  }

  close(): void {
    this.log('close');
    if (this.pending.size) throw new Error("Can't close device with a pending request");
    this.isOpen = false;
    this.interfaces = undefined;
    this.claimed.clear(); // usbfs releases what the handle claimed
  }

  interface(n: number): FakeInterface {
    const it = this.interfaces?.find((i) => i.interfaceNumber === n);
    if (!it) throw new Error(`Interface not found for address: ${n}`);
    return it;
  }

  /** The default control answers: standard descriptors from the raw bytes, GET_CONFIGURATION. */
  answerControl(setup: FakeSetup, data: Buffer | undefined): FakeReply | Promise<FakeReply> {
    const custom = this.onControl(setup, data);
    if (custom !== undefined) return custom;
    if (setup.requestType === 0x80 && setup.request === 6) {
      const type = setup.value >> 8;
      const index = setup.value & 0xff;
      let d: Buffer | undefined;
      if (type === 1) d = this.rawDevice;
      else if (type === 2) d = this.rawConfigs[index];
      else if (type === 3) d = index === 0 ? languageDescriptor() : this.strings[index] !== undefined ? stringDescriptor(this.strings[index]!) : undefined;
      return d ? { data: d.subarray(0, setup.length) } : { errno: LIBUSB.TRANSFER_STALL };
    }
    if (setup.requestType === 0x80 && setup.request === 8) return { data: Buffer.from([this.activeConfig]) };
    return { errno: LIBUSB.TRANSFER_STALL };
  }

  controlTransfer(
    bmRequestType: number, bRequest: number, wValue: number, wIndex: number, dataOrLength: number | Buffer,
    callback?: (error: LibusbErrorLike | undefined, buffer: Buffer | number | undefined) => void,
  ): this {
    const isIn = (bmRequestType & 0x80) !== 0;
    const len = isIn ? (dataOrLength as number) : (dataOrLength as Buffer).length;
    const buf = Buffer.alloc(8 + len);
    buf[0] = bmRequestType;
    buf[1] = bRequest;
    buf.writeUInt16LE(wValue, 2);
    buf.writeUInt16LE(wIndex, 4);
    buf.writeUInt16LE(len, 6);
    if (!isIn) (dataOrLength as Buffer).copy(buf, 8);
    const t = new FakeTransfer(this, 0, LIBUSB.TRANSFER_TYPE_CONTROL, this.timeout, (e, b, actual) => callback?.(e, isIn ? b.subarray(8, 8 + actual) : actual));
    try {
      t.submit(buf);
    } catch (e) {
      process.nextTick(() => callback?.(e as LibusbErrorLike, undefined));
    }
    return this;
  }

  setConfiguration(desired: number, callback?: (error: LibusbErrorLike | undefined) => void): void {
    this.log(`setConfiguration ${desired}`);
    this.async(callback, () => {
      this.check('setConfiguration');
      if (this.claimed.size) throw err(LIBUSB.ERROR_BUSY);
      const value = desired === -1 ? 0 : desired;
      if (value !== 0 && !this.parsedConfigs.some((c) => c.bConfigurationValue === value)) throw err(LIBUSB.ERROR_NOT_FOUND);
      this.activeConfig = value;
      this.deviceAlts.clear();
      this.buildInterfaces();
      // the kernel probes its drivers for the new interfaces
      this.driverBound.clear();
      for (const n of this.kernelDrivers) if (this.hasInterface(n)) this.driverBound.add(n);
      this.onSetConfiguration(value);
    });
  }

  reset(callback: (error?: LibusbErrorLike) => void): void {
    this.log('reset');
    this.async(callback, () => {
      this.check('reset');
      this.deviceAlts.clear(); // the package's Interface objects keep their altSetting, as the real one
      this.onReset();
    });
  }

  getStringDescriptor(index: number, cb: (error?: LibusbErrorLike, value?: string) => void): void {
    if (!index) return cb();
    if (!this.isOpen) throw new Error('Device is not open');
    if (this.gone) return cb(err(LIBUSB.ERROR_NO_DEVICE));
    const s = this.strings[index];
    later(() => (s === undefined ? cb(err(LIBUSB.ERROR_PIPE)) : cb(undefined, s)));
  }

  /** Unplug: calls fail with NO_DEVICE, pending transfers complete with TRANSFER_NO_DEVICE. */
  vanish(): void {
    this.log('vanish');
    this.gone = true;
    for (const t of [...this.pending]) t.vanish();
  }
}

// ---- the module --------------------------------------------------------------------------------

export interface FakeUsbOptions {
  /** No Transfer class (control transfers go through device.controlTransfer, not cancellable). */
  noTransferClass?: boolean;
  /** _supportedHotplugEvents() answer (default true). */
  hotplug?: boolean;
  /** usb.on('attach'|'detach') throws (a broken hotplug). */
  onThrows?: boolean;
}

export class FakeUsb extends EventEmitter implements LibusbModule {
  devices: FakeDevice[] = [];
  readonly calls: string[] = [];
  Transfer: LibusbModule['Transfer'];
  private readonly o: FakeUsbOptions;
  listThrows: Error | null = null;
  listCalls = 0;

  constructor(devices: FakeDevice[] = [], o: FakeUsbOptions = {}) {
    super();
    this.o = o;
    for (const d of devices) this.add(d);
    this.Transfer = o.noTransferClass
      ? undefined
      : (FakeTransfer as unknown as LibusbModule['Transfer']);
  }

  private add(d: FakeDevice): void {
    d.module = this;
    this.devices.push(d);
  }

  getDeviceList(): FakeDevice[] {
    this.listCalls++;
    if (this.listThrows) throw this.listThrows;
    return this.devices.filter((d) => !d.gone);
  }

  override on(event: string | symbol, listener: (...args: never[]) => void): this {
    if (this.o.onThrows && (event === 'attach' || event === 'detach')) throw new Error('libusb hotplug: cannot start');
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  _supportedHotplugEvents(): boolean {
    return this.o.hotplug ?? true;
  }

  /** Plug a device in (emits 'attach' like libusb hotplug when someone listens). */
  plug(d: FakeDevice): void {
    this.add(d);
    this.emit('attach', d);
  }

  /** Unplug a device (it vanishes; emits 'detach'). */
  unplug(d: FakeDevice): void {
    d.vanish();
    this.devices = this.devices.filter((x) => x !== d);
    this.emit('detach', d);
  }
}

// ---- ready-made devices ------------------------------------------------------------------------

/** Device descriptor bytes. */
export function deviceBytes(o: { vid?: number; pid?: number; bcd?: number; cls?: number; mps0?: number; configs?: number; strings?: [number, number, number] } = {}): Buffer {
  const [m, p, s] = o.strings ?? [1, 2, 3];
  const b = Buffer.from([18, 1, 0x00, 0x02, o.cls ?? 0, 0, 0, o.mps0 ?? 64, 0, 0, 0, 0, 0, 0, m, p, s, o.configs ?? 1]);
  b.writeUInt16LE(o.vid ?? 0x1234, 8);
  b.writeUInt16LE(o.pid ?? 0x5678, 10);
  b.writeUInt16LE(o.bcd ?? 0x0100, 12);
  return b;
}

/**
 * Configuration 1 of a vendor device: interface 0 (0xff) with bulk IN 0x81 / bulk OUT 0x02
 * (512) and interrupt IN 0x83 (8 bytes, bInterval 4) plus a class-specific descriptor after
 * the interface; interface 1 alt 0 (no endpoints) / alt 1 (iso IN 0x84, bulk IN 0x85).
 */
export const VENDOR_CONFIG_1 = Buffer.from([
  9, 2, 0, 0, 2, 1, 0, 0x80, 50,
  9, 4, 0, 0, 3, 0xff, 0, 0, 0,
  5, 0x24, 0x01, 0x02, 0x03, // class-specific (kept in the interface's extra)
  7, 5, 0x81, 2, 0x00, 0x02, 0,
  7, 5, 0x02, 2, 0x00, 0x02, 0,
  7, 5, 0x83, 3, 8, 0, 4,
  9, 4, 1, 0, 0, 0xff, 1, 0, 0,
  9, 4, 1, 1, 2, 0xff, 1, 1, 0,
  7, 5, 0x84, 1, 0xc0, 0x00, 1,
  7, 5, 0x85, 2, 0x00, 0x02, 0,
]);
VENDOR_CONFIG_1.writeUInt16LE(VENDOR_CONFIG_1.length, 2);

/** Configuration 2: one interface 0 (0xff) with bulk IN 0x86 / OUT 0x07. */
export const VENDOR_CONFIG_2 = Buffer.from([
  9, 2, 32, 0, 1, 2, 0, 0x80, 50,
  9, 4, 0, 0, 2, 0xff, 2, 0, 0,
  7, 5, 0x86, 2, 0x00, 0x02, 0,
  7, 5, 0x07, 2, 0x00, 0x02, 0,
]);

/** A two-configuration vendor device; kernel drivers on interfaces 0 and 1 unless told otherwise. */
export function vendorDevice(o: Partial<FakeDeviceOptions> & { vid?: number; pid?: number; serial?: string } = {}): FakeDevice {
  return new FakeDevice({
    device: deviceBytes({ vid: o.vid, pid: o.pid, configs: 2 }),
    configs: [VENDOR_CONFIG_1, VENDOR_CONFIG_2],
    strings: { 1: 'Fake Corp', 2: 'Fake Gadget', 3: o.serial ?? 'FAKE0001' },
    kernelDrivers: [0, 1],
    ...o,
  });
}
