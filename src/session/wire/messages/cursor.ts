import { Reader } from '../reader.js';

export const CursorFlags = { none: 1, cacheMe: 2, fromCache: 4 } as const;

export interface CursorShape {
  flags: number;
  /** absent when flags has NONE */
  header?: { unique: bigint; type: number; width: number; height: number; hotX: number; hotY: number };
  data: Buffer;
}

// Cursor: u16 flags; unless NONE: {u64 unique, u8 type, u16 width, u16 height, u16 hot_spot_x,
//   u16 hot_spot_y}, then the shape data to the end of the message
function readCursor(r: Reader): CursorShape {
  const flags = r.u16('cursor flags');
  if (flags & CursorFlags.none) return { flags, data: Buffer.alloc(0) };
  const header = {
    unique: r.u64('unique'),
    type: r.u8('type'),
    width: r.u16('width'),
    height: r.u16('height'),
    hotX: r.u16('hot_spot_x'),
    hotY: r.u16('hot_spot_y'),
  };
  return { flags, header, data: r.rest() };
}

// INIT: Point16 position, u16 trail_length, u16 trail_frequency, u8 visible, Cursor
export function parseCursorInit(body: Buffer) {
  const r = new Reader(body, 0, 'CURSOR_INIT');
  const x = r.i16('x');
  const y = r.i16('y');
  r.u16('trail_length');
  r.u16('trail_frequency');
  const visible = r.u8('visible') !== 0;
  return { x, y, visible, cursor: readCursor(r) };
}

// SET: Point16 position, u8 visible, Cursor
export function parseCursorSet(body: Buffer) {
  const r = new Reader(body, 0, 'CURSOR_SET');
  const x = r.i16('x');
  const y = r.i16('y');
  const visible = r.u8('visible') !== 0;
  return { x, y, visible, cursor: readCursor(r) };
}

// MOVE: Point16 position
export function parseCursorMove(body: Buffer) {
  const r = new Reader(body, 0, 'CURSOR_MOVE');
  return { x: r.i16('x'), y: r.i16('y') };
}

// INVAL_ONE: u64 id
export function parseCursorInvalOne(body: Buffer): bigint {
  return new Reader(body, 0, 'CURSOR_INVAL_ONE').u64('id');
}
