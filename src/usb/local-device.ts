import type { FilterDevice } from './filter.js';

/** A USB device on this machine, as `usb list` shows it and filters check it. */
export interface LocalDevice extends FilterDevice {
  busNumber: number;
  /** "1-2.3": bus, then the port path, as in /sys/bus/usb/devices */
  busPort: string;
  deviceAddress: number;
  /** "low" | "full" | "high" | "super" | "super+" | "unknown" */
  speed: string;
  manufacturer?: string;
  product?: string;
  serial?: string;
  /** kernel drivers bound to its interfaces, e.g. ["usb-storage"] */
  drivers: string[];
}

export function vidPid(d: { vendorId: number; productId: number }): string {
  const h = (v: number) => v.toString(16).padStart(4, '0');
  return `${h(d.vendorId)}:${h(d.productId)}`;
}

/** "vid:pid", "bus-port" or "serial:S" -> does this device match? */
export function matchesSelector(d: LocalDevice, selector: string): boolean {
  if (selector.startsWith('serial:')) return d.serial === selector.slice(7);
  if (/^[0-9a-f]{1,4}:[0-9a-f]{1,4}$/i.test(selector)) {
    const [v, p] = selector.split(':').map((x) => parseInt(x, 16));
    return d.vendorId === v && d.productId === p;
  }
  return d.busPort === selector;
}
