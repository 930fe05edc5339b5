import { Reader } from '../reader.js';
import { Writer } from '../writer.js';

// Port channel (type 10) messages on top of the spicevmc set (digest §8.3).
export const MsgPort = { init: 201, event: 202 } as const;
export const MsgcPort = { event: 201 } as const;
export const PortEvent = { opened: 0, closed: 1, break: 2 } as const;
export const PORT_EVENT_NAMES: Record<number, string> = { 0: 'opened', 1: 'closed', 2: 'break' };

// PORT_INIT: u32 name_size (incl. NUL), u32 ptr name (offset from the body start), u8 opened;
//   the name bytes follow.
export function parsePortInit(body: Buffer): { name: string; opened: boolean } {
  const r = new Reader(body, 0, 'PORT_INIT');
  const size = r.u32('name_size');
  const ptr = r.u32('name');
  const opened = r.u8('opened') !== 0;
  const name = r.at(ptr, 'name').bytes(size, 'name').toString('utf8').replace(/\0.*$/s, '');
  return { name, opened };
}

export function encodePortInit(name: string, opened: boolean): Buffer {
  const n = Buffer.from(`${name}\0`, 'utf8');
  return new Writer(9 + n.length).u32(n.length).u32(9).u8(opened ? 1 : 0).bytes(n).finish();
}

// PORT_EVENT (both directions): u8 event
export function parsePortEvent(body: Buffer): number {
  return new Reader(body, 0, 'PORT_EVENT').u8('event');
}
export function encodePortEvent(event: number): Buffer {
  return new Writer(1).u8(event).finish();
}
