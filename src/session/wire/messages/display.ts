import { ProtocolError } from '../../../util/errors.js';
import { parseWaitList, type WaitItem } from './common.js';
import { Reader } from '../reader.js';
import { Writer } from '../writer.js';

// Geometry: Rect = i32 top, left, bottom, right; Point = i32 x, y. Pointers (ptr) are u32 offsets
// from the start of the message body; images are decoded by render/image.ts at those offsets.
export interface Rect { top: number; left: number; bottom: number; right: number }
export type Clip = Rect[] | null;
export interface Point { x: number; y: number }

/** Clip rect lists longer than this are not a real desktop; refuse them. */
const MAX_CLIP_RECTS = 65536;

function readRect(r: Reader, field: string): Rect {
  return { top: r.i32(`${field}.top`), left: r.i32(`${field}.left`), bottom: r.i32(`${field}.bottom`), right: r.i32(`${field}.right`) };
}
function readPoint(r: Reader, field: string): Point {
  return { x: r.i32(`${field}.x`), y: r.i32(`${field}.y`) };
}

// Clip: u8 type (0 NONE, 1 RECTS); RECTS: u32 num_rects, Rect[num_rects] inline
function readClip(r: Reader): Clip {
  const type = r.u8('clip.type');
  if (type === 0) return null;
  if (type !== 1) throw new ProtocolError(`display: unknown clip type ${type}`);
  const n = r.u32('clip.num_rects');
  if (n > MAX_CLIP_RECTS || n * 16 > r.remaining) throw new ProtocolError(`display: clip declares ${n} rects in ${r.remaining} bytes`);
  const rects: Rect[] = [];
  for (let i = 0; i < n; i++) rects.push(readRect(r, 'clip.rect'));
  return rects;
}

// DisplayBase: u32 surface_id, Rect box, Clip
export interface DisplayBase { surfaceId: number; box: Rect; clip: Clip }
function readBase(r: Reader): DisplayBase {
  return { surfaceId: r.u32('surface_id'), box: readRect(r, 'box'), clip: readClip(r) };
}

// Brush: u8 type; 1 SOLID -> u32 color; 2 PATTERN -> u32 ptr image, Point pos
export type Brush = { kind: 'none' } | { kind: 'solid'; color: number } | { kind: 'pattern'; image: number; pos: Point };
function readBrush(r: Reader): Brush {
  const type = r.u8('brush.type');
  if (type === 0) return { kind: 'none' };
  if (type === 1) return { kind: 'solid', color: r.u32('brush.color') };
  if (type === 2) return { kind: 'pattern', image: r.u32('brush.pattern'), pos: readPoint(r, 'brush.pos') };
  throw new ProtocolError(`display: unknown brush type ${type}`);
}

// QMask: u8 flags (INVERS=1), Point pos, u32 ptr bitmap (0 = none)
export interface QMask { flags: number; pos: Point; bitmap: number }
function readMask(r: Reader): QMask {
  return { flags: r.u8('mask.flags'), pos: readPoint(r, 'mask.pos'), bitmap: r.u32('mask.bitmap') };
}

export type DrawOp =
  | { op: 'fill'; base: DisplayBase; brush: Brush; rop: number; mask: QMask }
  | { op: 'copy' | 'blend'; base: DisplayBase; src: number; srcArea: Rect; rop: number; scaleMode: number; mask: QMask }
  | { op: 'opaque'; base: DisplayBase; src: number; srcArea: Rect; brush: Brush; rop: number; scaleMode: number; mask: QMask }
  | { op: 'blackness' | 'whiteness' | 'invers'; base: DisplayBase; mask: QMask }
  | { op: 'transparent'; base: DisplayBase; src: number; srcArea: Rect; srcColor: number; trueColor: number }
  | { op: 'alphaBlend'; base: DisplayBase; alphaFlags: number; alpha: number; src: number; srcArea: Rect }
  | { op: 'copyBits'; base: DisplayBase; srcPos: Point };

// DRAW_FILL: base, Brush, u16 rop_descriptor, QMask
export function parseDrawFill(body: Buffer): DrawOp {
  const r = new Reader(body, 0, 'DRAW_FILL');
  return { op: 'fill', base: readBase(r), brush: readBrush(r), rop: r.u16('rop'), mask: readMask(r) };
}

// DRAW_COPY / DRAW_BLEND: base, ptr src, Rect src_area, u16 rop, u8 scale_mode, QMask
export function parseDrawCopy(body: Buffer, op: 'copy' | 'blend'): DrawOp {
  const r = new Reader(body, 0, op === 'copy' ? 'DRAW_COPY' : 'DRAW_BLEND');
  return {
    op, base: readBase(r), src: r.u32('src_bitmap'), srcArea: readRect(r, 'src_area'),
    rop: r.u16('rop'), scaleMode: r.u8('scale_mode'), mask: readMask(r),
  };
}

// DRAW_OPAQUE: base, ptr src, Rect src_area, Brush, u16 rop, u8 scale_mode, QMask
export function parseDrawOpaque(body: Buffer): DrawOp {
  const r = new Reader(body, 0, 'DRAW_OPAQUE');
  return {
    op: 'opaque', base: readBase(r), src: r.u32('src_bitmap'), srcArea: readRect(r, 'src_area'),
    brush: readBrush(r), rop: r.u16('rop'), scaleMode: r.u8('scale_mode'), mask: readMask(r),
  };
}

// DRAW_BLACKNESS / WHITENESS / INVERS: base, QMask
export function parseDrawSolid(body: Buffer, op: 'blackness' | 'whiteness' | 'invers'): DrawOp {
  const r = new Reader(body, 0, `DRAW_${op.toUpperCase()}`);
  return { op, base: readBase(r), mask: readMask(r) };
}

// DRAW_TRANSPARENT: base, ptr src, Rect src_area, u32 src_color, u32 true_color
export function parseDrawTransparent(body: Buffer): DrawOp {
  const r = new Reader(body, 0, 'DRAW_TRANSPARENT');
  return {
    op: 'transparent', base: readBase(r), src: r.u32('src_bitmap'), srcArea: readRect(r, 'src_area'),
    srcColor: r.u32('src_color'), trueColor: r.u32('true_color'),
  };
}

// DRAW_ALPHA_BLEND: base, u8 alpha_flags, u8 alpha, ptr src, Rect src_area
export function parseDrawAlphaBlend(body: Buffer): DrawOp {
  const r = new Reader(body, 0, 'DRAW_ALPHA_BLEND');
  return {
    op: 'alphaBlend', base: readBase(r), alphaFlags: r.u8('alpha_flags'), alpha: r.u8('alpha'),
    src: r.u32('src_bitmap'), srcArea: readRect(r, 'src_area'),
  };
}

// COPY_BITS: base, Point src_pos
export function parseCopyBits(body: Buffer): DrawOp {
  const r = new Reader(body, 0, 'COPY_BITS');
  return { op: 'copyBits', base: readBase(r), srcPos: readPoint(r, 'src_pos') };
}

// SURFACE_CREATE: u32 surface_id, u32 width, u32 height, u32 format, u32 flags (PRIMARY=1)
export interface SurfaceCreate { surfaceId: number; width: number; height: number; format: number; flags: number }
export function parseSurfaceCreate(body: Buffer): SurfaceCreate {
  const r = new Reader(body, 0, 'SURFACE_CREATE');
  const s = { surfaceId: r.u32('surface_id'), width: r.u32('width'), height: r.u32('height'), format: r.u32('format'), flags: r.u32('flags') };
  if (s.width === 0 || s.height === 0 || s.width > 16384 || s.height > 16384) {
    throw new ProtocolError(`SURFACE_CREATE: surface ${s.surfaceId} has an impossible size ${s.width}x${s.height}`);
  }
  return s;
}
export const SURFACE_FLAG_PRIMARY = 1;

// SURFACE_DESTROY: u32 surface_id
export function parseSurfaceDestroy(body: Buffer): number {
  return new Reader(body, 0, 'SURFACE_DESTROY').u32('surface_id');
}

// INVAL_LIST: u16 count, count x {u8 type, u64 id}
export function parseInvalList(body: Buffer): bigint[] {
  const r = new Reader(body, 0, 'INVAL_LIST');
  const n = r.u16('count');
  const ids: bigint[] = [];
  for (let i = 0; i < n; i++) {
    r.u8('type');
    ids.push(r.u64('id'));
  }
  return ids;
}

// INVAL_ALL_PIXMAPS: wait list (as WAIT_FOR_CHANNELS)
export function parseInvalAllPixmaps(body: Buffer): WaitItem[] {
  return parseWaitList(new Reader(body, 0, 'INVAL_ALL_PIXMAPS'));
}

// INVAL_PALETTE: u64 id
export function parseInvalPalette(body: Buffer): bigint {
  return new Reader(body, 0, 'INVAL_PALETTE').u64('id');
}

// MONITORS_CONFIG: u16 count, u16 max_allowed, count x {u32 monitor_id, surface_id, width, height, x, y, flags}
export interface MonitorHead { monitorId: number; surfaceId: number; width: number; height: number; x: number; y: number }
export function parseMonitorsConfig(body: Buffer): { maxAllowed: number; heads: MonitorHead[] } {
  const r = new Reader(body, 0, 'MONITORS_CONFIG');
  const n = r.u16('count');
  const maxAllowed = r.u16('max_allowed');
  const heads: MonitorHead[] = [];
  for (let i = 0; i < n; i++) {
    heads.push({ monitorId: r.u32('monitor_id'), surfaceId: r.u32('surface_id'), width: r.u32('width'), height: r.u32('height'), x: r.u32('x'), y: r.u32('y') });
    r.u32('flags');
  }
  return { maxAllowed, heads };
}

// STREAM_CREATE: u32 surface_id, u32 id, ... (we only need the id to refuse the stream)
export function parseStreamId(body: Buffer, what: string, offset = 0): number {
  const r = new Reader(body, offset, what);
  return r.u32('id');
}

// INIT (c->s): u8 pixmap_cache_id, i64 pixmap_cache_size, u8 glz_dictionary_id, i32 glz_window_size
export function encodeDisplayInit(cacheId: number, cachePixels: bigint, glzId: number, glzWindow: number): Buffer {
  return new Writer(14).u8(cacheId).i64(cachePixels).u8(glzId).i32(glzWindow).finish();
}

// PREFERRED_COMPRESSION: u8 SpiceImageCompression
export function encodePreferredCompression(c: number): Buffer {
  return new Writer(1).u8(c).finish();
}
