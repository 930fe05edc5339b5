// The bus speed an emulated device presents, and the --usb-speed option that picks it.
import { SpiceError } from '../../util/errors.js';

/** A bus speed an emulated device can run at. */
export type LinkSpeed = 'super' | 'high' | 'full';
/**
 * What the user asks for. 'auto' (the default) plugs the device as SuperSpeed: QEMU then puts it
 * on the USB 3 half of an xHCI port, where the guest enumerates it with one reset instead of two
 * (~130 ms less per plug). A guest that enumerates it as a USB 2 device instead (EHCI, UHCI: a
 * 64-byte device-descriptor read followed by a second reset or an 8-byte read, which USB 3
 * enumeration does not do) gets high-speed descriptors from then on, since a USB 2 host cannot use a 512-byte ep0.
 */
export type EmulatedSpeed = LinkSpeed | 'auto';
export const EMULATED_SPEEDS: readonly EmulatedSpeed[] = ['auto', 'super', 'high', 'full'];
export const DEFAULT_EMULATED_SPEED: EmulatedSpeed = 'auto';

export function parseEmulatedSpeed(v: string | undefined, flag = '--usb-speed'): EmulatedSpeed {
  if (v === undefined) return DEFAULT_EMULATED_SPEED;
  const s = v.toLowerCase();
  if ((EMULATED_SPEEDS as readonly string[]).includes(s)) return s as EmulatedSpeed;
  throw new SpiceError('usage', `${flag} must be ${EMULATED_SPEEDS.join(', ')}, not "${v}"`);
}
