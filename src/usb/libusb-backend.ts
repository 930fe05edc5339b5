// The only file that imports the native 'usb' package (lazily, so commands that do not touch
// real devices never load libusb). Everything else codes against the structural interfaces
// below, which the real package satisfies (checked at compile time at the bottom of this
// file) and which tests fake (test/usb/fake-usb.ts).
//
//   listLocalDevices()                 every device libusb sees, with sysfs speed / drivers
//   openLibusbDevice('0781:5567')      find one device by vid:pid | bus-port | serial:S, open it,
//                                      detach kernel drivers, claim interfaces -> LibusbDevice
//                                      (a UsbDeviceBackend; src/usb/libusb-device.ts)
import { readFileSync, readlinkSync, readdirSync } from 'node:fs';
import { basename } from 'node:path';
import type * as UsbPackage from 'usb';
import { SpiceError } from '../util/errors.js';
import type { HostLog } from './host.js';
import { LIBUSB, LibusbDevice, libusbErrorName, type LibusbDeviceOptions } from './libusb-device.js';
import { matchesSelector, vidPid, type LocalDevice } from './local-device.js';

/** The subset of the 'usb' package `usb list` uses, so tests can pass a fake. */
export interface UsbModule {
  getDeviceList(): UsbDeviceLike[];
}
export interface UsbDeviceLike {
  busNumber: number;
  deviceAddress: number;
  portNumbers: number[];
  deviceDescriptor: {
    bDeviceClass: number; bDeviceSubClass: number; bDeviceProtocol: number; idVendor: number; idProduct: number;
    bcdDevice: number; iManufacturer: number; iProduct: number; iSerialNumber: number;
  };
  configDescriptor?: { interfaces: { bInterfaceClass: number; bInterfaceSubClass: number; bInterfaceProtocol: number; bAlternateSetting: number }[][] } | null;
  open(): void;
  close(): void;
  getStringDescriptor(index: number, cb: (err?: unknown, value?: string) => void): void;
}

// ---- what opening a device needs (the 'usb' 2.18 Device / Interface / Endpoint / Transfer) ----

/** A LibUSBException: `errno` is a LIBUSB_ERROR_* code (< 0) for calls that fail at once, or a
 *  LIBUSB_TRANSFER_* status (> 0) for a transfer that completed with an error. */
export interface LibusbErrorLike {
  errno?: number;
  message: string;
}
export type LibusbTransferCallback = (error: LibusbErrorLike | undefined, buffer: Buffer, actualLength: number) => void;
export interface LibusbTransferLike {
  submit(buffer: Buffer): unknown;
  /** true: it was pending and libusb will report it (usually as CANCELLED); false: not pending. */
  cancel(): boolean;
}
export interface LibusbEndpointDescriptorLike {
  bLength: number;
  bDescriptorType: number;
  bEndpointAddress: number;
  bmAttributes: number;
  wMaxPacketSize: number;
  bInterval: number;
  bRefresh: number;
  bSynchAddress: number;
  extra: Buffer;
}
export interface LibusbInterfaceDescriptorLike {
  bLength: number;
  bDescriptorType: number;
  bInterfaceNumber: number;
  bAlternateSetting: number;
  bNumEndpoints: number;
  bInterfaceClass: number;
  bInterfaceSubClass: number;
  bInterfaceProtocol: number;
  iInterface: number;
  extra: Buffer;
  endpoints: LibusbEndpointDescriptorLike[];
}
export interface LibusbConfigDescriptorLike {
  bLength: number;
  bDescriptorType: number;
  wTotalLength: number;
  bNumInterfaces: number;
  bConfigurationValue: number;
  iConfiguration: number;
  bmAttributes: number;
  bMaxPower: number;
  extra: Buffer;
  interfaces: LibusbInterfaceDescriptorLike[][];
}
export interface LibusbEndpointLike {
  address: number;
  direction: 'in' | 'out';
  /** LIBUSB_TRANSFER_TYPE_*: 1 iso, 2 bulk, 3 interrupt. */
  transferType: number;
  makeTransfer(timeout: number, callback: LibusbTransferCallback): LibusbTransferLike;
  clearHalt(callback: (error: LibusbErrorLike | undefined) => void): void;
}
export interface LibusbInterfaceLike {
  interfaceNumber: number;
  altSetting: number;
  endpoints: LibusbEndpointLike[];
  claim(): void;
  release(callback?: (error?: LibusbErrorLike) => void): void;
  isKernelDriverActive(): boolean;
  detachKernelDriver(): void;
  attachKernelDriver(): void;
  setAltSetting(altSetting: number, callback?: (error: LibusbErrorLike | undefined) => void): void;
  endpoint(addr: number): LibusbEndpointLike | undefined;
}
export interface LibusbDeviceLike extends UsbDeviceLike {
  deviceDescriptor: UsbDeviceLike['deviceDescriptor'] & {
    bLength: number; bDescriptorType: number; bcdUSB: number; bMaxPacketSize0: number; bNumConfigurations: number;
  };
  /** Interfaces of the active configuration (while open). */
  interfaces: LibusbInterfaceLike[] | undefined;
  /** Timeout of controlTransfer() in ms (the package treats 0 as 1000). */
  timeout: number;
  /** The active configuration (undefined while unconfigured). */
  readonly configDescriptor: LibusbConfigDescriptorLike | undefined;
  readonly allConfigDescriptors: LibusbConfigDescriptorLike[];
  open(defaultConfig?: boolean): void;
  controlTransfer(
    bmRequestType: number, bRequest: number, wValue: number, wIndex: number, dataOrLength: number | Buffer,
    callback?: (error: LibusbErrorLike | undefined, buffer: Buffer | number | undefined) => void,
  ): unknown;
  setConfiguration(desired: number, callback?: (error: LibusbErrorLike | undefined) => void): void;
  reset(callback: (error?: LibusbErrorLike) => void): void;
}
export interface LibusbModule extends UsbModule {
  getDeviceList(): LibusbDeviceLike[];
  /** new Transfer(device, endpoint, type, timeout, cb): used for cancellable control transfers. */
  Transfer?: new (device: never, endpointAddr: number, type: number, timeout: number, callback: LibusbTransferCallback) => LibusbTransferLike;
  on?(event: 'attach' | 'detach', listener: (device: LibusbDeviceLike) => void): void;
  removeListener?(event: 'attach' | 'detach', listener: (device: LibusbDeviceLike) => void): void;
  _supportedHotplugEvents?(): boolean;
}

let loaded: Promise<LibusbModule> | null = null;

/** The real 'usb' module (loaded once). Throws SpiceError('input') when the addon cannot load. */
export function loadUsb(): Promise<LibusbModule> {
  loaded ??= (async () => {
    try {
      const m = (await import('usb')) as unknown as { usb: LibusbModule };
      return m.usb;
    } catch (e) {
      loaded = null;
      throw new SpiceError('input', `cannot load libusb (the 'usb' package): ${(e as Error).message}`);
    }
  })();
  return loaded;
}

export const SYS_USB_DEVICES = '/sys/bus/usb/devices';
const speeds: Record<string, string> = { '1.5': 'low', '12': 'full', '480': 'high', '5000': 'super', '10000': 'super+', '20000': 'super+' };

function sysRead(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Kernel drivers bound to the interfaces of the device at sysfs name `name` (e.g. "1-2"). */
function driversOf(name: string, sysRoot: string): string[] {
  const out = new Set<string>();
  let entries: string[] = [];
  try {
    entries = readdirSync(sysRoot).filter((e) => e.startsWith(`${name}:`));
  } catch {
    return [];
  }
  for (const e of entries) {
    try {
      out.add(basename(readlinkSync(`${sysRoot}/${e}/driver`)));
    } catch {
      /* no driver bound */
    }
  }
  return [...out];
}

function stringDescriptor(d: UsbDeviceLike, index: number): Promise<string | undefined> {
  if (!index) return Promise.resolve(undefined);
  return new Promise((resolve) => d.getStringDescriptor(index, (err, v) => resolve(err ? undefined : v)));
}

/** "1-2.3" of a device (bus, then the port path), as in /sys/bus/usb/devices. */
export function busPortOf(d: Pick<UsbDeviceLike, 'busNumber' | 'portNumbers'>): string {
  return `${d.busNumber}-${d.portNumbers?.length ? d.portNumbers.join('.') : '0'}`;
}

/**
 * One device as `usb list` shows it: descriptors from libusb, speed and drivers from sysfs,
 * strings when the device may be opened (else from sysfs). `strings: false` skips opening it.
 */
export async function describeDevice(d: UsbDeviceLike, sysRoot = SYS_USB_DEVICES, opts: { strings?: boolean } = {}): Promise<LocalDevice> {
  const dd = d.deviceDescriptor;
  const busPort = busPortOf(d);
  const sysName = d.portNumbers?.length ? busPort : `usb${d.busNumber}`;
  let cfg: UsbDeviceLike['configDescriptor'] = null;
  try {
    cfg = d.configDescriptor;
  } catch {
    cfg = null;
  }
  const interfaces = (cfg?.interfaces ?? [])
    .map((alts) => alts.find((a) => a.bAlternateSetting === 0) ?? alts[0])
    .filter((a): a is NonNullable<typeof a> => !!a)
    .map((a) => ({ class: a.bInterfaceClass, subclass: a.bInterfaceSubClass, protocol: a.bInterfaceProtocol }));
  const dev: LocalDevice = {
    busNumber: d.busNumber,
    busPort,
    deviceAddress: d.deviceAddress,
    deviceClass: dd.bDeviceClass,
    deviceSubclass: dd.bDeviceSubClass,
    deviceProtocol: dd.bDeviceProtocol,
    vendorId: dd.idVendor,
    productId: dd.idProduct,
    bcdDevice: dd.bcdDevice,
    interfaces,
    speed: speeds[sysRead(`${sysRoot}/${sysName}/speed`) ?? ''] ?? 'unknown',
    drivers: driversOf(sysName, sysRoot),
  };
  const fromSysfs = (): void => {
    dev.manufacturer ??= sysRead(`${sysRoot}/${sysName}/manufacturer`);
    dev.product ??= sysRead(`${sysRoot}/${sysName}/product`);
    dev.serial ??= sysRead(`${sysRoot}/${sysName}/serial`);
  };
  if (opts.strings === false) {
    fromSysfs();
    return dev;
  }
  // Strings need the device open; without permission they stay unknown.
  try {
    d.open();
    try {
      dev.manufacturer = await stringDescriptor(d, dd.iManufacturer);
      dev.product = await stringDescriptor(d, dd.iProduct);
      dev.serial = await stringDescriptor(d, dd.iSerialNumber);
    } finally {
      d.close();
    }
  } catch {
    /* not permitted: sysfs may still know */
  }
  fromSysfs();
  return dev;
}

/** Every device libusb sees, with what sysfs tells about speed and drivers. */
export async function listLocalDevices(usb?: UsbModule, sysRoot = SYS_USB_DEVICES): Promise<LocalDevice[]> {
  const mod = usb ?? (await loadUsb());
  const out: LocalDevice[] = [];
  for (const d of mod.getDeviceList()) out.push(await describeDevice(d, sysRoot));
  return out;
}

// ---- selecting and opening one device ---------------------------------------------------------

const SELECTOR_FORMS = 'vid:pid (e.g. 0781:5567), bus-port (e.g. 1-2.3) or serial:S';

/** Throws SpiceError('usage') unless `selector` is vid:pid, bus-port or serial:S. */
export function checkSelector(selector: string): void {
  const ok =
    (selector.startsWith('serial:') && selector.length > 7) ||
    /^[0-9a-f]{1,4}:[0-9a-f]{1,4}$/i.test(selector) ||
    /^\d{1,3}-\d{1,3}(\.\d{1,3})*$/.test(selector);
  if (!ok) throw new SpiceError('usage', `"${selector}" is not a USB device selector; use ${SELECTOR_FORMS}`);
}

/** One line per device for error messages: "1-2 0781:5567 SanDisk Cruzer Blade serial 4C53...". */
export function candidateLine(d: LocalDevice): string {
  const name = [d.manufacturer, d.product].filter(Boolean).join(' ');
  return `${d.busPort} ${vidPid(d)}${name ? ` ${name}` : ''}${d.serial ? ` serial ${d.serial}` : ''}`;
}

/** The single device `selector` picks among `devices` (SpiceError('input') for none or several). */
export function selectDevice<T extends { local: LocalDevice }>(devices: T[], selector: string): T {
  checkSelector(selector);
  const hits = devices.filter((d) => matchesSelector(d.local, selector));
  if (hits.length === 1) return hits[0]!;
  const list = (xs: T[]): string => xs.map((d) => `  ${candidateLine(d.local)}`).join('\n');
  if (!hits.length) {
    throw new SpiceError(
      'input',
      devices.length
        ? `no USB device matches "${selector}"; devices here (pick one by ${SELECTOR_FORMS}):\n${list(devices)}`
        : `no USB device matches "${selector}": libusb sees no devices here (is /dev/bus/usb available? run \`spicectl usb list\`)`,
    );
  }
  throw new SpiceError('input', `${hits.length} USB devices match "${selector}"; pick one by bus-port or serial:S:\n${list(hits)}`);
}

export interface OpenLibusbOptions extends Omit<LibusbDeviceOptions, 'local' | 'sysRoot'> {
  /** The 'usb' module (default: the real one, loaded lazily); tests pass a fake. */
  usb?: LibusbModule;
  log?: HostLog;
  sysRoot?: string;
}

/**
 * Find the device `selector` picks (vid:pid | bus-port | serial:S), open it, read its
 * descriptors, detach kernel drivers from its interfaces and claim them. Throws SpiceError:
 * 'usage' for a malformed selector, 'input' when no device or several match, or the device
 * cannot be opened / claimed (with what to do). Whatever it changed is undone on failure.
 */
export async function openLibusbDevice(selector: string, opts: OpenLibusbOptions = {}): Promise<LibusbDevice> {
  checkSelector(selector);
  const mod = opts.usb ?? (await loadUsb());
  const sysRoot = opts.sysRoot ?? SYS_USB_DEVICES;
  const raws = mod.getDeviceList();
  // Strings (product names, serials) need the device opened: only for serial: selectors, or
  // for the candidates listed in an error.
  const needStrings = selector.startsWith('serial:');
  let devices = await Promise.all(raws.map(async (raw) => ({ raw, local: await describeDevice(raw, sysRoot, { strings: needStrings }) })));
  let picked: (typeof devices)[number];
  try {
    picked = selectDevice(devices, selector);
  } catch (e) {
    if (needStrings) throw e;
    devices = await Promise.all(raws.map(async (raw) => ({ raw, local: await describeDevice(raw, sysRoot) })));
    picked = selectDevice(devices, selector);
  }
  if (!needStrings) picked = { raw: picked.raw, local: await describeDevice(picked.raw, sysRoot) };
  opts.log?.debug(`usb: opening ${candidateLine(picked.local)}`);
  return LibusbDevice.open(mod, picked.raw, { ...opts, local: picked.local, sysRoot });
}

export { LIBUSB, LibusbDevice, libusbErrorName };

// ---- compile-time check: the real package fits the interfaces above -------------------------
type Fits<T extends LibusbModule> = T;
export type RealUsbModuleFits = Fits<typeof UsbPackage.usb>;
