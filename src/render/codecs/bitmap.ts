// SPICE BITMAP payload -> B,G,R,A pixels (digest §4.4; spice-common pixman_utils.c conversions).
// Formats: 1BIT_LE/BE, 4BIT_LE/BE, 8BIT (palette), 16BIT (x555, u16 LE), 24BIT (B,G,R),
// 32BIT (B,G,R,x), RGBA (B,G,R,A premultiplied), 8BIT_A (alpha only). Rows are bottom-up
// unless TOP_DOWN; each row starts at a multiple of stride.

import { ProtocolError } from '../../util/errors.js';
import { allocPixels, argbToNative, ALPHA_MASK } from '../pixels.js';
import { BitmapFlags, BitmapFmt, checkImageSize, type DecodedImage } from '../types.js';

export interface BitmapInput {
  format: number;
  /** Bitmap flags; only TOP_DOWN (4) matters here. */
  flags: number;
  width: number;
  height: number;
  /** Bytes from one row to the next in data. */
  stride: number;
  data: Buffer;
  /** xRGB entries, needed by the 1/4/8-bit formats. */
  palette?: Uint32Array | null;
}

const BITS: Record<number, number> = {
  [BitmapFmt['1BIT_LE']]: 1, [BitmapFmt['1BIT_BE']]: 1,
  [BitmapFmt['4BIT_LE']]: 4, [BitmapFmt['4BIT_BE']]: 4,
  [BitmapFmt['8BIT']]: 8, [BitmapFmt['16BIT']]: 16, [BitmapFmt['24BIT']]: 24,
  [BitmapFmt['32BIT']]: 32, [BitmapFmt.RGBA]: 32, [BitmapFmt['8BIT_A']]: 8,
};

/** Bits per pixel of a SpiceBitmapFmt, or undefined when unknown. */
export function bitmapBitsPerPixel(format: number): number | undefined {
  return BITS[format];
}

/** True for the palette formats (1/4/8-bit). */
export function bitmapHasPalette(format: number): boolean {
  return format >= BitmapFmt['1BIT_LE'] && format <= BitmapFmt['8BIT'];
}

/** Minimum bytes of one row. */
export function bitmapRowBytes(format: number, width: number): number {
  const bits = BITS[format];
  if (bits === undefined) throw new ProtocolError(`bitmap format ${format} is unknown`);
  return Math.ceil((width * bits) / 8);
}

/** Palette entries as native opaque pixel words; missing entries are opaque black. */
export function nativePalette(pal: Uint32Array, size: number): Uint32Array {
  const out = new Uint32Array(size).fill(ALPHA_MASK >>> 0);
  for (let i = 0; i < Math.min(size, pal.length); i++) out[i] = argbToNative((pal[i]! | 0xff000000) >>> 0);
  return out;
}

/** 5-bit channel -> 8 bits. */
export function expand5(c: number): number {
  return (c << 3) | (c >> 2);
}

export function decodeBitmap(b: BitmapInput): DecodedImage {
  const { format, width, height, stride, data } = b;
  checkImageSize(width, height, 'bitmap');
  const bits = BITS[format];
  if (bits === undefined) throw new ProtocolError(`bitmap format ${format} is unknown`);
  const rowBytes = Math.ceil((width * bits) / 8);
  if (!Number.isInteger(stride) || stride < rowBytes) {
    throw new ProtocolError(`bitmap stride ${stride} is less than the ${rowBytes} bytes a ${width}-pixel row needs`);
  }
  const need = stride * (height - 1) + rowBytes;
  if (data.length < need) {
    throw new ProtocolError(`bitmap data is truncated: ${width}x${height} stride ${stride} needs ${need} bytes, ${data.length} present`);
  }
  let pal: Uint32Array | null = null;
  if (bitmapHasPalette(format)) {
    if (!b.palette) throw new ProtocolError(`bitmap format ${format} needs a palette and none was sent`);
    pal = nativePalette(b.palette, 1 << bits);
  }
  const topDown = (b.flags & BitmapFlags.TOP_DOWN) !== 0;
  const out = allocPixels(width, height);
  const o = new Uint32Array(out.buffer, out.byteOffset, width * height);
  let hasAlpha = false;

  for (let row = 0; row < height; row++) {
    const s = row * stride;
    const y = topDown ? row : height - 1 - row;
    const d = y * width; // pixel index
    const db = d * 4; // byte index
    switch (format) {
      case BitmapFmt['1BIT_LE']:
        for (let x = 0; x < width; x++) o[d + x] = pal![(data[s + (x >> 3)]! >> (x & 7)) & 1]!;
        break;
      case BitmapFmt['1BIT_BE']:
        for (let x = 0; x < width; x++) o[d + x] = pal![(data[s + (x >> 3)]! >> (7 - (x & 7))) & 1]!;
        break;
      case BitmapFmt['4BIT_LE']:
        for (let x = 0; x < width; x++) o[d + x] = pal![(data[s + (x >> 1)]! >> ((x & 1) * 4)) & 15]!;
        break;
      case BitmapFmt['4BIT_BE']:
        for (let x = 0; x < width; x++) o[d + x] = pal![(data[s + (x >> 1)]! >> ((1 - (x & 1)) * 4)) & 15]!;
        break;
      case BitmapFmt['8BIT']:
        for (let x = 0; x < width; x++) o[d + x] = pal![data[s + x]!]!;
        break;
      case BitmapFmt['16BIT']:
        for (let x = 0; x < width; x++) {
          const v = data[s + 2 * x]! | (data[s + 2 * x + 1]! << 8);
          const p = db + 4 * x;
          out[p] = expand5(v & 31);
          out[p + 1] = expand5((v >> 5) & 31);
          out[p + 2] = expand5((v >> 10) & 31);
          out[p + 3] = 255;
        }
        break;
      case BitmapFmt['24BIT']:
        for (let x = 0; x < width; x++) {
          const p = db + 4 * x;
          const q = s + 3 * x;
          out[p] = data[q]!;
          out[p + 1] = data[q + 1]!;
          out[p + 2] = data[q + 2]!;
          out[p + 3] = 255;
        }
        break;
      case BitmapFmt['32BIT']:
        data.copy(out, db, s, s + width * 4);
        for (let p = db + 3, e = db + width * 4; p < e; p += 4) out[p] = 255;
        break;
      case BitmapFmt.RGBA:
        data.copy(out, db, s, s + width * 4);
        hasAlpha = true;
        break;
      case BitmapFmt['8BIT_A']:
        for (let x = 0; x < width; x++) out[db + 4 * x + 3] = data[s + x]!;
        hasAlpha = true;
        break;
    }
  }
  return { width, height, data: out, hasAlpha };
}
