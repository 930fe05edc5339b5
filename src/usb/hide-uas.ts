// Real USB 3 drives usually offer USB Attached SCSI as alternate setting 1 of their mass-storage
// interface, and a guest's UAS driver then asks for bulk streams. libusb through the `usb`
// package cannot allocate streams, and QEMU drops a redirected device whose usb-host refuses
// them. So the guest is shown the device's configuration without its UAS alternate settings
// (where a Bulk-Only one exists): it drives the drive with Bulk-Only, which works everywhere.

import { DescriptorType } from './backend.js';

const MASS_STORAGE = 0x08;
const UAS_PROTOCOL = 0x62;

/** A configuration descriptor set without UAS alternate settings that have a sibling; same bytes when there are none. */
export function hideUasAltSettings(config: Buffer): Buffer {
  if (config.length < 9 || config[1] !== DescriptorType.configuration) return config;
  const total = Math.min(config.readUInt16LE(2), config.length);
  // Descriptor boundaries, grouped by interface descriptor (a group runs to the next interface).
  const groups: { start: number; end: number; iface: number; uas: boolean }[] = [];
  let off = config[0]!;
  while (off + 2 <= total) {
    const len = config[off]!;
    if (len < 2 || off + len > total) return config; // malformed: leave it to the guest to judge
    if (config[off + 1] === DescriptorType.interface && len >= 9) {
      groups.push({ start: off, end: off + len, iface: config[off + 2]!, uas: config[off + 5] === MASS_STORAGE && config[off + 7] === UAS_PROTOCOL });
    } else if (groups.length) {
      groups[groups.length - 1]!.end = off + len;
    }
    off += len;
  }
  const drop = groups.filter((g) => g.uas && groups.some((o) => o.iface === g.iface && !o.uas));
  if (!drop.length) return config;
  const parts: Buffer[] = [];
  let from = 0;
  for (const g of drop) {
    parts.push(config.subarray(from, g.start));
    from = g.end;
  }
  parts.push(config.subarray(from, total));
  const out = Buffer.concat(parts);
  out.writeUInt16LE(out.length, 2);
  return out;
}
