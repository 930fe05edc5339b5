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
  | { op: 'copyBits'; base: DisplayBase; srcPos: Point }
  | { op: 'rop3'; base: DisplayBase; src: number; srcArea: Rect; brush: Brush; rop3: number; scaleMode: number; mask: QMask }
  | { op: 'stroke'; base: DisplayBase; path: Path; attr: LineAttr; brush: Brush; foreMode: number; backMode: number }
  | { op: 'text'; base: DisplayBase; str: GlyphString; backArea: Rect; foreBrush: Brush; backBrush: Brush; foreMode: number; backMode: number }
  | { op: 'composite'; base: DisplayBase; composite: Composite };

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

// DRAW_ROP3: base, ptr src, Rect src_area, Brush, u8 rop3, u8 scale_mode, QMask
export function parseDrawRop3(body: Buffer): DrawOp {
  const r = new Reader(body, 0, 'DRAW_ROP3');
  return {
    op: 'rop3', base: readBase(r), src: r.u32('src_bitmap'), srcArea: readRect(r, 'src_area'),
    brush: readBrush(r), rop3: r.u8('rop3'), scaleMode: r.u8('scale_mode'), mask: readMask(r),
  };
}

/** Path segment flags (flags8 path_flags: bit numbers 0, 1, 3, 4). */
export const PathFlags = { BEGIN: 1, END: 2, CLOSE: 8, BEZIER: 16 } as const;
/** LineAttr flags (flags8 line_flags: START_WITH_GAP = bit 2, STYLED = bit 3). */
export const LineFlags = { START_WITH_GAP: 4, STYLED: 8 } as const;

/** One path segment: flags and its points as fixed 28.4 pairs x0,y0,x1,y1,... */
export interface PathSegment { flags: number; points: Int32Array }
export type Path = PathSegment[];
/** LineAttr: flags; when STYLED, the dash lengths (fixed 28.4). */
export interface LineAttr { flags: number; style: Int32Array | null }

// Path (at a ptr): u32 num_segments, then num_segments x {u8 flags, u32 count, PointFix[count]} inline.
// PointFix = i32 x, i32 y, fixed 28.4.
export function parsePath(body: Buffer, ptr: number): Path {
  const r = new Reader(body, 0, 'path').at(ptr, 'path');
  const n = r.u32('path.num_segments');
  if (n * 5 > r.remaining) throw new ProtocolError(`display: path declares ${n} segments in ${r.remaining} bytes`);
  const segs: Path = [];
  for (let i = 0; i < n; i++) {
    const flags = r.u8('path.seg.flags');
    const count = r.u32('path.seg.count');
    if (count * 8 > r.remaining) throw new ProtocolError(`display: path segment declares ${count} points in ${r.remaining} bytes`);
    const points = new Int32Array(count * 2);
    for (let k = 0; k < count * 2; k++) points[k] = r.i32('path.point');
    segs.push({ flags, points });
  }
  return segs;
}

// LineAttr: u8 flags; if STYLED: u8 style_nseg; if STYLED: u32 ptr to style_nseg x fixed28.4
function readLineAttr(r: Reader, body: Buffer): LineAttr {
  const flags = r.u8('attr.flags');
  if (!(flags & LineFlags.STYLED)) return { flags, style: null };
  const nseg = r.u8('attr.style_nseg');
  const ptr = r.u32('attr.style');
  if (nseg === 0 || ptr === 0) return { flags, style: null };
  const sr = new Reader(body, 0, 'line style').at(ptr, 'attr.style');
  const style = new Int32Array(nseg);
  for (let i = 0; i < nseg; i++) style[i] = sr.i32('attr.style[]');
  return { flags, style };
}

// DRAW_STROKE: base, ptr Path, LineAttr, Brush, u16 fore_mode, u16 back_mode
export function parseDrawStroke(body: Buffer): DrawOp {
  const r = new Reader(body, 0, 'DRAW_STROKE');
  const base = readBase(r);
  const pathPtr = r.u32('path');
  const attr = readLineAttr(r, body);
  const brush = readBrush(r);
  const foreMode = r.u16('fore_mode');
  const backMode = r.u16('back_mode');
  return { op: 'stroke', base, path: parsePath(body, pathPtr), attr, brush, foreMode, backMode };
}

/** String flags (flags8 string_flags). */
export const StringFlags = { RASTER_A1: 1, RASTER_A4: 2, RASTER_A8: 4, RASTER_TOP_DOWN: 8 } as const;

/** A raster glyph: where it goes (render_pos + glyph_origin), its size and packed rows. */
export interface Glyph { renderPos: Point; origin: Point; width: number; height: number; data: Buffer }
export interface GlyphString { flags: number; bpp: 1 | 4 | 8; glyphs: Glyph[] }

// String (at a ptr): u16 length, u8 flags (only one of A1/A4/A8), then length inline glyphs
//   {Point render_pos, Point glyph_origin, u16 width, u16 height, data[((w*bpp+7)/8)*h]}
export function parseGlyphString(body: Buffer, ptr: number): GlyphString {
  const r = new Reader(body, 0, 'string').at(ptr, 'str');
  const length = r.u16('str.length');
  const flags = r.u8('str.flags');
  const bpp = flags & StringFlags.RASTER_A1 ? 1 : flags & StringFlags.RASTER_A4 ? 4 : flags & StringFlags.RASTER_A8 ? 8 : 0;
  if (bpp === 0) throw new ProtocolError(`display: string flags ${flags} name no raster depth (A1/A4/A8)`);
  if (length * 20 > r.remaining) throw new ProtocolError(`display: string declares ${length} glyphs in ${r.remaining} bytes`);
  const glyphs: Glyph[] = [];
  for (let i = 0; i < length; i++) {
    const renderPos = readPoint(r, 'glyph.render_pos');
    const origin = readPoint(r, 'glyph.glyph_origin');
    const width = r.u16('glyph.width');
    const height = r.u16('glyph.height');
    const data = r.bytes(((width * bpp + 7) >> 3) * height, 'glyph.data');
    glyphs.push({ renderPos, origin, width, height, data });
  }
  return { flags, bpp, glyphs };
}

// DRAW_TEXT: base, ptr String, Rect back_area, Brush fore, Brush back, u16 fore_mode, u16 back_mode
export function parseDrawText(body: Buffer): DrawOp {
  const r = new Reader(body, 0, 'DRAW_TEXT');
  const base = readBase(r);
  const strPtr = r.u32('str');
  const backArea = readRect(r, 'back_area');
  const foreBrush = readBrush(r);
  const backBrush = readBrush(r);
  const foreMode = r.u16('fore_mode');
  const backMode = r.u16('back_mode');
  return { op: 'text', base, str: parseGlyphString(body, strPtr), backArea, foreBrush, backBrush, foreMode, backMode };
}

/** Composite flags (flags32 composite_flags): op in bits 0-7, filters, repeats, presence bits. */
export const CompositeFlags = {
  OP_MASK: 0xff, HAS_MASK: 1 << 19, HAS_SRC_TRANSFORM: 1 << 20, HAS_MASK_TRANSFORM: 1 << 21,
  COMPONENT_ALPHA: 1 << 18, SOURCE_OPAQUE: 1 << 22, MASK_OPAQUE: 1 << 23, DEST_OPAQUE: 1 << 24,
} as const;
/** Affine transform, six 16.16 fixed values (t00 t01 t02 / t10 t11 t12), stored as signed. */
export type Transform = [number, number, number, number, number, number];
export interface Composite {
  flags: number; op: number; srcFilter: number; maskFilter: number; srcRepeat: number; maskRepeat: number;
  src: number; mask: number; srcTransform: Transform | null; maskTransform: Transform | null;
  srcOrigin: Point; maskOrigin: Point;
}

function readTransform(r: Reader, field: string): Transform {
  return [r.i32(field), r.i32(field), r.i32(field), r.i32(field), r.i32(field), r.i32(field)];
}

// DRAW_COMPOSITE: base, u32 flags, ptr src, [ptr mask if HAS_MASK], [Transform src if HAS_SRC_TRANSFORM],
//   [Transform mask if HAS_MASK_TRANSFORM], Point16 src_origin, Point16 mask_origin
export function parseDrawComposite(body: Buffer): DrawOp {
  const r = new Reader(body, 0, 'DRAW_COMPOSITE');
  const base = readBase(r);
  const flags = r.u32('flags');
  const src = r.u32('src_bitmap');
  const mask = flags & CompositeFlags.HAS_MASK ? r.u32('mask_bitmap') : 0;
  const srcTransform = flags & CompositeFlags.HAS_SRC_TRANSFORM ? readTransform(r, 'src_transform') : null;
  const maskTransform = flags & CompositeFlags.HAS_MASK_TRANSFORM ? readTransform(r, 'mask_transform') : null;
  const srcOrigin = { x: r.i16('src_origin.x'), y: r.i16('src_origin.y') };
  const maskOrigin = { x: r.i16('mask_origin.x'), y: r.i16('mask_origin.y') };
  return {
    op: 'composite', base,
    composite: {
      flags, op: flags & 0xff, srcFilter: (flags >>> 8) & 7, maskFilter: (flags >>> 11) & 7,
      srcRepeat: (flags >>> 14) & 3, maskRepeat: (flags >>> 16) & 3,
      src, mask, srcTransform, maskTransform, srcOrigin, maskOrigin,
    },
  };
}

/** Video codec types (enum8 video_codec_type). */
export const VideoCodec = { MJPEG: 1, VP8: 2, H264: 3, VP9: 4, H265: 5 } as const;
export const STREAM_FLAG_TOP_DOWN = 1;
/** SPICE_MAX_NUM_STREAMS */
export const MAX_STREAMS = 64;

export interface StreamCreate {
  surfaceId: number; id: number; flags: number; codec: number; stamp: bigint;
  streamWidth: number; streamHeight: number; srcWidth: number; srcHeight: number; dest: Rect; clip: Clip;
}
// STREAM_CREATE: u32 surface_id, u32 id, u8 flags, u8 codec_type, u64 stamp, u32 stream_width,
//   u32 stream_height, u32 src_width, u32 src_height, Rect dest, Clip clip
export function parseStreamCreate(body: Buffer): StreamCreate {
  const r = new Reader(body, 0, 'STREAM_CREATE');
  return {
    surfaceId: r.u32('surface_id'), id: r.u32('id'), flags: r.u8('flags'), codec: r.u8('codec_type'),
    stamp: r.u64('stamp'), streamWidth: r.u32('stream_width'), streamHeight: r.u32('stream_height'),
    srcWidth: r.u32('src_width'), srcHeight: r.u32('src_height'), dest: readRect(r, 'dest'), clip: readClip(r),
  };
}

/** One encoded frame; width/height/dest only in STREAM_DATA_SIZED. */
export interface StreamFrame { id: number; mmTime: number; width?: number; height?: number; dest?: Rect; data: Buffer }
// STREAM_DATA: u32 id, u32 multi_media_time, u32 data_size, data
export function parseStreamData(body: Buffer): StreamFrame {
  const r = new Reader(body, 0, 'STREAM_DATA');
  const id = r.u32('id');
  const mmTime = r.u32('multi_media_time');
  const size = r.u32('data_size');
  return { id, mmTime, data: r.bytes(size, 'data') };
}
// STREAM_DATA_SIZED: u32 id, u32 multi_media_time, u32 width, u32 height, Rect dest, u32 data_size, data
export function parseStreamDataSized(body: Buffer): StreamFrame {
  const r = new Reader(body, 0, 'STREAM_DATA_SIZED');
  const id = r.u32('id');
  const mmTime = r.u32('multi_media_time');
  const width = r.u32('width');
  const height = r.u32('height');
  const dest = readRect(r, 'dest');
  const size = r.u32('data_size');
  return { id, mmTime, width, height, dest, data: r.bytes(size, 'data') };
}
// STREAM_CLIP: u32 id, Clip
export function parseStreamClip(body: Buffer): { id: number; clip: Clip } {
  const r = new Reader(body, 0, 'STREAM_CLIP');
  return { id: r.u32('id'), clip: readClip(r) };
}
// STREAM_ACTIVATE_REPORT: u32 stream_id, u32 unique_id, u32 max_window_size, u32 timeout_ms
export interface StreamActivateReport { streamId: number; uniqueId: number; maxWindow: number; timeoutMs: number }
export function parseStreamActivateReport(body: Buffer): StreamActivateReport {
  const r = new Reader(body, 0, 'STREAM_ACTIVATE_REPORT');
  return { streamId: r.u32('stream_id'), uniqueId: r.u32('unique_id'), maxWindow: r.u32('max_window_size'), timeoutMs: r.u32('timeout_ms') };
}

export interface StreamReport {
  streamId: number; uniqueId: number; startFrameMmTime: number; endFrameMmTime: number;
  numFrames: number; numDrops: number; lastFrameDelay: number; audioDelay: number;
}
// STREAM_REPORT (c->s): u32 stream_id, u32 unique_id, u32 start_frame_mm_time, u32 end_frame_mm_time,
//   u32 num_frames, u32 num_drops, i32 last_frame_delay, u32 audio_delay (0xFFFFFFFF = no audio)
export function encodeStreamReport(m: StreamReport): Buffer {
  return new Writer(32).u32(m.streamId).u32(m.uniqueId).u32(m.startFrameMmTime).u32(m.endFrameMmTime)
    .u32(m.numFrames).u32(m.numDrops).i32(m.lastFrameDelay).u32(m.audioDelay).finish();
}
export function parseStreamReport(body: Buffer): StreamReport {
  const r = new Reader(body, 0, 'STREAM_REPORT');
  return {
    streamId: r.u32('stream_id'), uniqueId: r.u32('unique_id'), startFrameMmTime: r.u32('start_frame_mm_time'),
    endFrameMmTime: r.u32('end_frame_mm_time'), numFrames: r.u32('num_frames'), numDrops: r.u32('num_drops'),
    lastFrameDelay: r.i32('last_frame_delay'), audioDelay: r.u32('audio_delay'),
  };
}

// PREFERRED_VIDEO_CODEC_TYPE (c->s): u8 n, u8 codecs[n]
export function encodePreferredVideoCodecs(codecs: number[]): Buffer {
  const w = new Writer(1 + codecs.length).u8(codecs.length);
  for (const c of codecs) w.u8(c);
  return w.finish();
}

/** A QMask's image, parsed but not expanded: a 1-bit BITMAP, a cache reference or a surface. */
export interface MaskImage {
  descriptor: { id: bigint; type: number; flags: number; width: number; height: number };
  bitmap?: { format: number; width: number; height: number; stride: number; topDown: boolean; data: Buffer };
  surfaceId?: number;
}
// SpiceImage used as a mask (at a ptr): descriptor {u64 id, u8 type, u8 flags, u32 width, u32 height};
//   BITMAP(0): u8 format (1 = 1BIT_LE, 2 = 1BIT_BE), u8 flags (TOP_DOWN=4, PAL_FROM_CACHE=2), u32 x,
//              u32 y, u32 stride, PAL_FROM_CACHE ? u64 palette_id : u32 ptr palette, stride*y bytes
//   FROM_CACHE(103) / FROM_CACHE_LOSSLESS(106): nothing;  SURFACE(104): u32 surface_id
export function parseMaskImage(body: Buffer, ptr: number): MaskImage {
  const r = new Reader(body, 0, 'mask').at(ptr, 'mask.bitmap');
  const descriptor = { id: r.u64('mask.id'), type: r.u8('mask.type'), flags: r.u8('mask.flags'), width: r.u32('mask.width'), height: r.u32('mask.height') };
  if (descriptor.type === 104) return { descriptor, surfaceId: r.u32('mask.surface_id') };
  if (descriptor.type !== 0) return { descriptor };
  const format = r.u8('mask.format');
  const flags = r.u8('mask.bitmap_flags');
  const width = r.u32('mask.x');
  const height = r.u32('mask.y');
  const stride = r.u32('mask.stride');
  if (flags & 2) r.u64('mask.palette_id'); else r.u32('mask.palette');
  if (format !== 1 && format !== 2) throw new ProtocolError(`display: mask bitmap has format ${format}, not 1-bit`);
  if (width === 0 || height === 0 || width > 65536 || height > 65536 || stride < (width + 7) >> 3) {
    throw new ProtocolError(`display: mask bitmap ${width}x${height} stride ${stride} is impossible`);
  }
  const data = r.bytes(stride * height, 'mask.data');
  return { descriptor, bitmap: { format, width, height, stride, topDown: (flags & 4) !== 0, data } };
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
export interface MonitorHead { monitorId: number; surfaceId: number; width: number; height: number; x: number; y: number; flags: number }
export function parseMonitorsConfig(body: Buffer): { maxAllowed: number; heads: MonitorHead[] } {
  const r = new Reader(body, 0, 'MONITORS_CONFIG');
  const n = r.u16('count');
  const maxAllowed = r.u16('max_allowed');
  const heads: MonitorHead[] = [];
  for (let i = 0; i < n; i++) {
    heads.push({
      monitorId: r.u32('monitor_id'), surfaceId: r.u32('surface_id'), width: r.u32('width'), height: r.u32('height'),
      x: r.u32('x'), y: r.u32('y'), flags: r.u32('flags'),
    });
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
