import { SpiceError } from '../util/errors.js';
import type { FilterDevice } from './filter.js';

/**
 * A device described on the command line, for filter checks without the hardware:
 *   "vid=0x0781,pid=0x5567[,class=0x00][,bcd=0x0100][,if=08/06/50+03/01/01]"
 * Numbers are hex with or without 0x; interfaces are class/subclass/protocol joined by '+'.
 */
export function parseDeviceSpec(spec: string): FilterDevice {
  const dev: FilterDevice = { deviceClass: 0, vendorId: -1, productId: -1, bcdDevice: 0, interfaces: [] };
  const num = (v: string, key: string, max: number) => {
    const n = /^(0x)?[0-9a-f]+$/i.test(v) ? parseInt(v.replace(/^0x/i, ''), 16) : NaN;
    if (!Number.isFinite(n) || n > max) throw new SpiceError('usage', `device spec "${spec}": ${key}=${v} is not a hex number up to 0x${max.toString(16)}`);
    return n;
  };
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [key, value = ''] = part.split('=');
    switch (key) {
      case 'vid': dev.vendorId = num(value, key, 0xffff); break;
      case 'pid': dev.productId = num(value, key, 0xffff); break;
      case 'class': dev.deviceClass = num(value, key, 0xff); break;
      case 'bcd': dev.bcdDevice = num(value, key, 0xffff); break;
      case 'if':
        (dev as { interfaces: FilterDevice['interfaces'] }).interfaces = value.split('+').map((i) => {
          const [c, s = '0', p = '0'] = i.split('/');
          return { class: num(c!, 'if class', 0xff), subclass: num(s, 'if subclass', 0xff), protocol: num(p, 'if protocol', 0xff) };
        });
        break;
      default:
        throw new SpiceError('usage', `device spec "${spec}": unknown key "${key}" (known: vid, pid, class, bcd, if)`);
    }
  }
  if (dev.vendorId < 0 || dev.productId < 0) throw new SpiceError('usage', `device spec "${spec}" needs vid= and pid=`);
  return dev;
}
