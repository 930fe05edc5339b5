// SPICE GLZ image decoder (digest §4.6; behaviour of spice-gtk decode-glz.c / decode-glz-tmpl.c,
// encoder spice-server glz-encode.tmpl.c) and ZLIB_GLZ_RGB (zlib-wrapped GLZ).
//
// Header (BIG-endian): u32 magic 0x20205A4C, u32 version 0x00010001, u8 (LZ type in the low 4
// bits, top_down in bit 4), u32 width, u32 height, u32 stride, u64 image id, u32 win_head_dist.
// Body: a control byte, then until the image's units are produced:
//   ctrl < 32: ctrl+1 literal units (RGB32/RGB24: B,G,R bytes; RGB16: u16 big-endian x555;
//              palette: one packed byte; alpha: one byte).
//   ctrl >= 32: a copy of L units, L = ctrl >> 5 (7: plus following bytes while they are 255,
//     plus the last one). Low nibble: first 4 bits of the pixel offset; bit 4 = "long offset".
//     Next byte: offset bits 4..11. Next byte c: c >> 6 = number of image-distance bytes.
//       short form: image_dist = (c & 63) + bytes << 6, 14, 22.
//       long form:  offset += (c & 31) << 12; image_dist = bytes << 0, 8, 16; if bit 5 of c,
//                   one more byte adds << 17 to the offset.
//     L += 2 (palette, alpha), += 1 (RGB16), += 0 (RGB24/32).
//     image_dist 0: copy from this image, (offset + 1) units back (overlap allowed);
//     else: from pixel `offset` of window image (id - image_dist).
// Units are pixels, except for palette images: packed bytes (1/2/8 pixels for PLT8/4/1), and
// offsets and lengths scale accordingly. RGBA = an RGB32 pass, then an alpha pass.
// Pixels are in stream order (bottom row first unless top_down); decoded images join the window.

import { inflateSync } from 'node:zlib';
import { ProtocolError } from '../../util/errors.js';
import { ALPHA_MASK } from '../pixels.js';
import { checkImageSize, MAX_PIXELS, type DecodedImage } from '../types.js';
import type { GlzWindow, GlzWindowImage } from '../glz-window.js';
import { expand5, nativePalette } from './bitmap.js';
import { LZ_MAGIC, LZ_VERSION, LzImageType } from './lz.js';

export const GLZ_HEADER_SIZE = 33;

export interface GlzHeader {
  type: number;
  topDown: boolean;
  width: number;
  height: number;
  stride: number;
  id: bigint;
  winHeadDist: number;
  /** Pixels addressed by references: width*height, or stride*pixels-per-byte*height (palette). */
  gross: number;
}

export interface GlzOptions {
  /** xRGB palette for the palette types (spice-server never sends those as GLZ). */
  palette?: Uint32Array | null;
  /** Refuse (before decoding) a stream whose header gives another size. */
  expect?: { width: number; height: number };
}

/** Pixels per packed byte of the palette types. */
const PLT_PPB: Record<number, number> = {
  [LzImageType.PLT1_LE]: 8, [LzImageType.PLT1_BE]: 8, [LzImageType.PLT4_LE]: 2,
  [LzImageType.PLT4_BE]: 2, [LzImageType.PLT8]: 1,
};

/** One input byte yields at most ~256 units (a 255-byte length run); more is a lie. */
const MAX_UNITS_PER_BYTE = 256;

export function parseGlzHeader(data: Uint8Array): GlzHeader {
  if (data.length < GLZ_HEADER_SIZE) throw new ProtocolError(`GLZ image is truncated: ${data.length}-byte header, ${GLZ_HEADER_SIZE} needed`);
  const dv = new DataView(data.buffer, data.byteOffset, data.length);
  const magic = dv.getUint32(0);
  if (magic !== LZ_MAGIC) throw new ProtocolError(`GLZ image has bad magic 0x${magic.toString(16)}`);
  const version = dv.getUint32(4);
  if (version !== LZ_VERSION) throw new ProtocolError(`GLZ image has unsupported version 0x${version.toString(16)}`);
  const tb = data[8]!;
  const type = tb & 0x0f;
  const topDown = (tb >> 4) !== 0;
  if (type < LzImageType.PLT1_LE || type > LzImageType.RGBA) throw new ProtocolError(`GLZ image type ${type} is not a GLZ type`);
  const width = dv.getUint32(9);
  const height = dv.getUint32(13);
  const stride = dv.getUint32(17);
  const id = dv.getBigUint64(21);
  const winHeadDist = dv.getUint32(29);
  checkImageSize(width, height, 'GLZ image');
  let gross = width * height;
  const ppb = PLT_PPB[type];
  if (ppb !== undefined) {
    if (stride * ppb < width) throw new ProtocolError(`GLZ palette image stride ${stride} is too small for width ${width}`);
    gross = stride * ppb * height;
    if (gross > MAX_PIXELS) throw new ProtocolError(`GLZ palette image stride ${stride} x height ${height} exceeds the ${MAX_PIXELS}-pixel limit`);
  }
  return { type, topDown, width, height, stride, id, winHeadDist, gross };
}

type Kind = 'rgb32' | 'rgb16' | 'plt' | 'alpha';

interface PassContext {
  data: Uint8Array;
  px: Uint32Array;
  out: Uint8Array;
  gross: number;
  id: bigint;
  window: GlzWindow;
  refs: Map<number, GlzWindowImage>;
  /** Palette types: pixels per byte, kind of packing, native palette. */
  ppb: number;
  type: number;
  pal: Uint32Array | null;
}

function truncated(kind: Kind): never {
  throw new ProtocolError(`GLZ image data is truncated (${kind} pass)`);
}

function windowImage(c: PassContext, dist: number): GlzWindowImage {
  let img = c.refs.get(dist);
  if (img) return img;
  const refId = c.id - BigInt(dist);
  img = refId >= 0n ? c.window.get(refId) : undefined;
  if (!img) throw new ProtocolError(`GLZ image ${c.id} refers to image ${refId}, which is not in the GLZ window`);
  c.refs.set(dist, img);
  return img;
}

/** Expands one packed palette byte into pixels at op. */
function pltLiteral(c: PassContext, byte: number, op: number): void {
  const { px, pal } = c;
  const p = pal!;
  switch (c.type) {
    case LzImageType.PLT8:
      px[op] = p[byte]!;
      break;
    case LzImageType.PLT4_LE:
      px[op] = p[byte & 15]!;
      px[op + 1] = p[byte >> 4]!;
      break;
    case LzImageType.PLT4_BE:
      px[op] = p[byte >> 4]!;
      px[op + 1] = p[byte & 15]!;
      break;
    case LzImageType.PLT1_LE:
      for (let k = 0; k < 8; k++) px[op + k] = p[(byte >> k) & 1]!;
      break;
    default: // PLT1_BE
      for (let k = 0; k < 8; k++) px[op + k] = p[(byte >> (7 - k)) & 1]!;
  }
}

/** One decoding pass over c.gross pixels starting at data[ip]; returns the new input position. */
function glzPass(c: PassContext, ip: number, kind: Kind): number {
  const { data, px, out, gross } = c;
  const end = data.length;
  const scale = kind === 'plt' ? c.ppb : 1;
  const bias = kind === 'rgb32' ? 0 : kind === 'rgb16' ? 1 : 2;
  const amask = ALPHA_MASK | 0;
  let op = 0;
  if (ip >= end) truncated(kind);
  let ctrl = data[ip++]!;
  for (;;) {
    if (ctrl >= 32) {
      let len = ctrl >> 5;
      let pixelFlag = (ctrl >> 4) & 1;
      let ofs = ctrl & 0x0f;
      let b: number;
      if (len === 7) {
        do {
          if (ip >= end) truncated(kind);
          b = data[ip++]!;
          len += b;
        } while (b === 255);
      }
      if (end - ip < 2) truncated(kind);
      ofs += data[ip++]! << 4;
      b = data[ip++]!;
      const nDist = (b >> 6) & 3;
      let dist: number;
      if (end - ip < nDist) truncated(kind);
      if (!pixelFlag) {
        dist = b & 0x3f;
        for (let k = 0; k < nDist; k++) dist += data[ip++]! * 2 ** (6 + 8 * k);
      } else {
        pixelFlag = (b >> 5) & 1;
        ofs += (b & 0x1f) << 12;
        dist = 0;
        for (let k = 0; k < nDist; k++) dist += data[ip++]! << (8 * k);
        if (pixelFlag) {
          if (ip >= end) truncated(kind);
          ofs += data[ip++]! << 17;
        }
      }
      len += bias;
      if (dist === 0) ofs += 1;
      ofs *= scale;
      len *= scale;
      if (len > gross - op) throw new ProtocolError(`GLZ match of ${len} pixels runs past the end of image ${c.id}`);
      if (dist === 0) {
        let ref = op - ofs;
        if (ref < 0) throw new ProtocolError(`GLZ match offset ${ofs} points before the start of image ${c.id} (at pixel ${op})`);
        if (kind === 'alpha') {
          for (let e = op + len, d = op * 4 + 3, s = ref * 4 + 3; op < e; op++, d += 4, s += 4) out[d] = out[s]!;
        } else if (ofs >= len) {
          px.copyWithin(op, ref, ref + len);
          op += len;
        } else {
          for (const e = op + len; op < e;) px[op++] = px[ref++]!;
        }
      } else {
        const src = windowImage(c, dist);
        if (ofs + len > src.gross) {
          throw new ProtocolError(`GLZ image ${c.id} copies pixels ${ofs}..${ofs + len} of image ${src.id}, which has ${src.gross}`);
        }
        if (kind === 'alpha') {
          if (src.hasAlpha) {
            const s8 = new Uint8Array(src.px.buffer, src.px.byteOffset, src.gross * 4);
            for (let e = op + len, d = op * 4 + 3, s = ofs * 4 + 3; op < e; op++, d += 4, s += 4) out[d] = s8[s]!;
          } else {
            // spice-gtk keeps 0 in the pad byte of images without alpha.
            for (let e = op + len, d = op * 4 + 3; op < e; op++, d += 4) out[d] = 0;
          }
        } else {
          const sp = src.px;
          for (let e = op + len, s = ofs; op < e; op++, s++) px[op] = sp[s]! | amask;
        }
      }
    } else {
      const n = ctrl + 1;
      if (n * scale > gross - op) throw new ProtocolError(`GLZ literal run of ${n} units runs past the end of image ${c.id}`);
      switch (kind) {
        case 'rgb32':
          if (end - ip < n * 3) truncated(kind);
          for (let k = 0, d = op * 4; k < n; k++, d += 4, ip += 3) {
            out[d] = data[ip]!;
            out[d + 1] = data[ip + 1]!;
            out[d + 2] = data[ip + 2]!;
            out[d + 3] = 255;
          }
          break;
        case 'rgb16':
          if (end - ip < n * 2) truncated(kind);
          for (let k = 0, d = op * 4; k < n; k++, d += 4, ip += 2) {
            const v = (data[ip]! << 8) | data[ip + 1]!;
            out[d] = expand5(v & 31);
            out[d + 1] = expand5((v >> 5) & 31);
            out[d + 2] = expand5((v >> 10) & 31);
            out[d + 3] = 255;
          }
          break;
        case 'alpha':
          if (end - ip < n) truncated(kind);
          for (let k = 0, d = op * 4 + 3; k < n; k++, d += 4) out[d] = data[ip++]!;
          break;
        case 'plt':
          if (end - ip < n) truncated(kind);
          for (let k = 0; k < n; k++) pltLiteral(c, data[ip++]!, op + k * scale);
          break;
      }
      op += n * scale;
    }
    if (op >= gross) break;
    if (ip >= end) truncated(kind);
    ctrl = data[ip++]!;
  }
  return ip;
}

/**
 * Decodes a GLZ stream (header + body), resolving references through `window`, and adds the
 * decoded image to the window (then releases what the header's win_head_dist allows).
 * Returns B,G,R,A pixels, top-down (RGBA: premultiplied, hasAlpha).
 */
export function decodeGlz(data: Uint8Array, window: GlzWindow, opts: GlzOptions = {}): DecodedImage {
  const h = parseGlzHeader(data);
  const { type, width, height, gross } = h;
  if (opts.expect && (opts.expect.width !== width || opts.expect.height !== height)) {
    throw new ProtocolError(`GLZ image ${h.id} is ${width}x${height}, descriptor says ${opts.expect.width}x${opts.expect.height}`);
  }
  const ppb = PLT_PPB[type];
  const units = ppb !== undefined ? gross / ppb : gross;
  if (units > (data.length - GLZ_HEADER_SIZE) * MAX_UNITS_PER_BYTE + MAX_UNITS_PER_BYTE) {
    throw new ProtocolError(`GLZ image claims ${width}x${height} from only ${data.length} bytes`);
  }
  let pal: Uint32Array | null = null;
  if (ppb !== undefined) {
    if (!opts.palette) throw new ProtocolError(`GLZ palette image ${h.id} arrived without a palette`);
    pal = nativePalette(opts.palette, ppb === 1 ? 256 : ppb === 2 ? 16 : 2);
  }
  const buf = Buffer.alloc(gross * 4);
  const px = new Uint32Array(buf.buffer, buf.byteOffset, gross);
  const c: PassContext = { data, px, out: buf, gross, id: h.id, window, refs: new Map(), ppb: ppb ?? 1, type, pal };
  const hasAlpha = type === LzImageType.RGBA;
  switch (type) {
    case LzImageType.RGB16:
      glzPass(c, GLZ_HEADER_SIZE, 'rgb16');
      break;
    case LzImageType.RGB24:
    case LzImageType.RGB32:
      glzPass(c, GLZ_HEADER_SIZE, 'rgb32');
      break;
    case LzImageType.RGBA: {
      const ip = glzPass(c, GLZ_HEADER_SIZE, 'rgb32');
      glzPass(c, ip, 'alpha');
      break;
    }
    default:
      glzPass(c, GLZ_HEADER_SIZE, 'plt');
  }
  window.add({ id: h.id, px, gross, hasAlpha }, h.winHeadDist);
  return toImage(buf, h, hasAlpha);
}

/** The window's stream-order pixels as a top-down width x height image (shared when possible). */
function toImage(buf: Buffer, h: GlzHeader, hasAlpha: boolean): DecodedImage {
  const { width, height } = h;
  const rowPx = h.gross / height;
  if (h.topDown && rowPx === width) return { width, height, data: buf, hasAlpha };
  const out = Buffer.alloc(width * height * 4);
  const rowBytes = width * 4;
  for (let y = 0; y < height; y++) {
    const s = (h.topDown ? y : height - 1 - y) * rowPx * 4;
    buf.copy(out, y * rowBytes, s, s + rowBytes);
  }
  return { width, height, data: out, hasAlpha };
}

/** Largest inflated GLZ stream we accept: a 33-byte header + literals of MAX_PIXELS pixels. */
const MAX_GLZ_DATA = GLZ_HEADER_SIZE + MAX_PIXELS * 4 + Math.ceil(MAX_PIXELS / 8) + 64;
/** zlib (deflate) expands at most ~1032:1. */
const MAX_ZLIB_RATIO = 1032;

/**
 * ZLIB_GLZ_RGB: inflates `data` (a zlib stream) to exactly glzDataSize bytes and decodes the
 * result as GLZ.
 */
export function decodeZlibGlz(data: Uint8Array, glzDataSize: number, window: GlzWindow, opts: GlzOptions = {}): DecodedImage {
  if (!Number.isInteger(glzDataSize) || glzDataSize < GLZ_HEADER_SIZE || glzDataSize > MAX_GLZ_DATA) {
    throw new ProtocolError(`ZLIB_GLZ image declares an impossible GLZ size ${glzDataSize}`);
  }
  if (glzDataSize > data.length * MAX_ZLIB_RATIO + 64) {
    throw new ProtocolError(`ZLIB_GLZ image claims ${glzDataSize} bytes from only ${data.length} compressed bytes`);
  }
  let glz: Buffer;
  try {
    glz = inflateSync(data, { maxOutputLength: glzDataSize });
  } catch (e) {
    const msg = (e as Error).message?.split('\n')[0] ?? String(e);
    throw new ProtocolError(`ZLIB_GLZ image does not inflate to its declared ${glzDataSize} bytes: ${msg}`);
  }
  if (glz.length !== glzDataSize) {
    throw new ProtocolError(`ZLIB_GLZ image inflated to ${glz.length} bytes, ${glzDataSize} declared`);
  }
  return decodeGlz(glz, window, opts);
}
