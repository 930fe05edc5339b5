// Builders for display-channel message bodies (digest §4.3 layouts) and a DisplayChannel that
// can be fed messages directly, for the ops-*.test.ts files. Not a test file itself.

import { DisplayChannel, type DisplayOptions } from '../../src/session/channels/display.js';
import { silentLogger } from '../../src/util/log.js';
import { Writer } from '../../src/session/wire/writer.js';
import { capsWords } from '../../src/session/wire/caps.js';
import { DisplayCap, MsgDisplay } from '../../src/session/wire/enums.js';
import type { Rect } from '../../src/render/types.js';

export const R = (left: number, top: number, right: number, bottom: number): Rect => ({ top, left, bottom, right });

export function rect(w: Writer, r: Rect): Writer {
  return w.i32(r.top).i32(r.left).i32(r.bottom).i32(r.right);
}

/** DisplayBase: u32 surface_id, Rect box, Clip (0 none / 1 rects). */
export function base(w: Writer, box: Rect, clip: Rect[] | null = null, surfaceId = 0): Writer {
  w.u32(surfaceId);
  rect(w, box);
  if (!clip) return w.u8(0);
  w.u8(1).u32(clip.length);
  for (const c of clip) rect(w, c);
  return w;
}

/**
 * A message body whose fixed part points at blobs appended after it: fixed(ptrs) must write the
 * same number of bytes whatever the pointer values.
 */
export function withBlobs(fixed: (ptrs: number[]) => Buffer, blobs: Buffer[]): Buffer {
  const len = fixed(blobs.map(() => 0)).length;
  const ptrs: number[] = [];
  let off = len;
  for (const b of blobs) { ptrs.push(off); off += b.length; }
  return Buffer.concat([fixed(ptrs), ...blobs]);
}

export type BrushSpec = { kind: 'none' } | { kind: 'solid'; color: number } | { kind: 'pattern'; x: number; y: number };
/** Brush; a pattern's image pointer is ptr. */
export function brush(w: Writer, b: BrushSpec, ptr = 0): Writer {
  if (b.kind === 'none') return w.u8(0);
  if (b.kind === 'solid') return w.u8(1).u32(b.color);
  return w.u8(2).u32(ptr).i32(b.x).i32(b.y);
}

/** QMask: u8 flags, Point pos, u32 ptr bitmap. */
export function qmask(w: Writer, ptr = 0, pos = { x: 0, y: 0 }, invert = false): Writer {
  return w.u8(invert ? 1 : 0).i32(pos.x).i32(pos.y).u32(ptr);
}

function descriptor(w: Writer, id: bigint, type: number, flags: number, width: number, height: number): Writer {
  return w.u64(id).u8(type).u8(flags).u32(width).u32(height);
}

/** A 32BIT BITMAP image, top-down, from 0xRRGGBB colours (row-major). */
export function bitmap32(width: number, height: number, colors: number[], opts: { id?: bigint; cacheMe?: boolean } = {}): Buffer {
  const w = descriptor(new Writer(), opts.id ?? 1n, 0, opts.cacheMe ? 1 : 0, width, height);
  w.u8(8).u8(4).u32(width).u32(height).u32(width * 4).u32(0);
  for (const c of colors) w.u8(c & 255).u8((c >> 8) & 255).u8((c >> 16) & 255).u8(0);
  return w.finish();
}

/**
 * A 1-bit mask BITMAP from rows of '#' (set) and '.' (clear), in the given bit order, top-down or
 * (default) bottom-up as spice stores bitmaps.
 */
export function maskBitmap(rows: string[], opts: { be?: boolean; topDown?: boolean; id?: bigint; cacheMe?: boolean; stride?: number } = {}): Buffer {
  const width = rows[0]!.length;
  const height = rows.length;
  const stride = opts.stride ?? Math.ceil(width / 8);
  const w = descriptor(new Writer(), opts.id ?? 7n, 0, opts.cacheMe ? 1 : 0, width, height);
  w.u8(opts.be ? 2 : 1).u8(opts.topDown ? 4 : 0).u32(width).u32(height).u32(stride).u32(0);
  const order = opts.topDown ? rows : [...rows].reverse();
  for (const row of order) {
    const bytes = Buffer.alloc(stride);
    for (let x = 0; x < width; x++) {
      if (row[x] !== '#') continue;
      bytes[x >> 3]! |= opts.be ? 0x80 >> (x & 7) : 1 << (x & 7);
    }
    w.bytes(bytes);
  }
  return w.finish();
}

/** FROM_CACHE image descriptor. */
export function fromCache(id: bigint, width: number, height: number): Buffer {
  return descriptor(new Writer(), id, 103, 0, width, height).finish();
}

/** SURFACE image. */
export function surfaceImage(surfaceId: number, width: number, height: number): Buffer {
  return descriptor(new Writer(), 99n, 104, 0, width, height).u32(surfaceId).finish();
}

export function surfaceCreate(id: number, width: number, height: number, format = 32, primary = true): Buffer {
  return new Writer().u32(id).u32(width).u32(height).u32(format).u32(primary ? 1 : 0).finish();
}

/** A DisplayChannel fed directly: messages in, sent messages captured, no socket. */
export class TestDisplay extends DisplayChannel {
  readonly sent: { type: number; body: Buffer }[] = [];
  constructor(opts: Partial<DisplayOptions> = {}, serverCaps: number[] = [DisplayCap.streamReport, DisplayCap.prefCompression]) {
    super({ log: silentLogger, connectionId: () => 0, password: () => ({ value: '', given: false }), openSocket: () => Promise.reject(new Error('no socket')) },
      0, { preferredCompression: null, strict: true, ...opts });
    this.serverChannelCaps = capsWords(serverCaps);
  }
  override send(type: number, body: Buffer): boolean {
    this.sent.push({ type, body });
    return true;
  }
  feed(type: number, body: Buffer): void {
    this.onMessage(type, body);
  }
  /** A primary xRGB surface of w x h. */
  primarySurface(w: number, h: number): this {
    this.feed(MsgDisplay.surfaceCreate, surfaceCreate(0, w, h));
    return this;
  }
  /** Pixel (x, y) of surface id as 0xRRGGBB. */
  rgb(x: number, y: number, id = 0): number {
    const s = this.surfaces.get(id)!;
    const o = (y * s.width + x) * 4;
    return (s.data[o + 2]! << 16) | (s.data[o + 1]! << 8) | s.data[o]!;
  }
  /** Rows of the surface as strings, one char per pixel from the legend (colour -> char). */
  picture(legend: Record<number, string>, id = 0): string[] {
    const s = this.surfaces.get(id)!;
    const rows: string[] = [];
    for (let y = 0; y < s.height; y++) {
      let row = '';
      for (let x = 0; x < s.width; x++) row += legend[this.rgb(x, y, id)] ?? '?';
      rows.push(row);
    }
    return rows;
  }
}
