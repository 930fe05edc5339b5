// The only file that imports the native 'usb' package (lazily, so commands that do not touch
// real devices never load libusb).
import { readFileSync, readlinkSync, readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { SpiceError } from '../util/errors.js';
import type { LocalDevice } from './local-device.js';

/** The subset of the 'usb' package we use, so tests can pass a fake. */
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

export async function loadUsb(): Promise<UsbModule> {
  try {
    const m = (await import('usb')) as unknown as { usb: UsbModule };
    return m.usb;
  } catch (e) {
    throw new SpiceError('input', `cannot load libusb (the 'usb' package): ${(e as Error).message}`);
  }
}

const SYS = '/sys/bus/usb/devices';
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

/** Every device libusb sees, with what sysfs tells about speed and drivers. */
export async function listLocalDevices(usb?: UsbModule, sysRoot = SYS): Promise<LocalDevice[]> {
  const mod = usb ?? (await loadUsb());
  const out: LocalDevice[] = [];
  for (const d of mod.getDeviceList()) {
    const dd = d.deviceDescriptor;
    const busPort = `${d.busNumber}-${d.portNumbers.length ? d.portNumbers.join('.') : '0'}`;
    const sysName = d.portNumbers.length ? busPort : `usb${d.busNumber}`;
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
    // Strings need the device open; without permission they stay unknown.
    try {
      d.open();
      dev.manufacturer = await stringDescriptor(d, dd.iManufacturer);
      dev.product = await stringDescriptor(d, dd.iProduct);
      dev.serial = await stringDescriptor(d, dd.iSerialNumber);
      d.close();
    } catch {
      /* not permitted: sysfs may still know */
      dev.manufacturer ??= sysRead(`${sysRoot}/${sysName}/manufacturer`);
      dev.product ??= sysRead(`${sysRoot}/${sysName}/product`);
      dev.serial ??= sysRead(`${sysRoot}/${sysName}/serial`);
    }
    out.push(dev);
  }
  return out;
}
