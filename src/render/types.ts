// Shared render types and the SPICE display constants the renderer needs (spice-protocol enums.h,
// digest §4.3-4.4). Pure data: no I/O.

import { ProtocolError } from '../util/errors.js';

/** A rectangle in SPICE field order; right/bottom are exclusive. */
export interface Rect { top: number; left: number; bottom: number; right: number }

/** Clip rectangles (their union is drawable); null = no clip. */
export type Clip = Rect[] | null;

/**
 * A decoded image: 32-bit pixels, bytes B,G,R,A, top-down, stride width*4.
 * When hasAlpha is false every A byte is 255. When true, colours are premultiplied by alpha
 * (pixman a8r8g8b8, as SPICE RGBA data is).
 */
export interface DecodedImage { width: number; height: number; data: Buffer; hasAlpha: boolean }

/** Palette: u64 unique id and xRGB u32 entries. */
export interface Palette { unique: bigint; ents: Uint32Array }

/** Largest image or surface we accept (pixels); bigger declared sizes are a protocol error. */
export const MAX_PIXELS = 64 * 1024 * 1024;

export const ImageType = {
  BITMAP: 0,
  QUIC: 1,
  LZ_PLT: 100,
  LZ_RGB: 101,
  GLZ_RGB: 102,
  FROM_CACHE: 103,
  SURFACE: 104,
  JPEG: 105,
  FROM_CACHE_LOSSLESS: 106,
  ZLIB_GLZ_RGB: 107,
  JPEG_ALPHA: 108,
  LZ4: 109,
} as const;

export const ImageFlags = { CACHE_ME: 1, HIGH_BITS_SET: 2, CACHE_REPLACE_ME: 4 } as const;

export const BitmapFmt = {
  '1BIT_LE': 1,
  '1BIT_BE': 2,
  '4BIT_LE': 3,
  '4BIT_BE': 4,
  '8BIT': 5,
  '16BIT': 6,
  '24BIT': 7,
  '32BIT': 8,
  RGBA: 9,
  '8BIT_A': 10,
} as const;

export const BitmapFlags = { PAL_CACHE_ME: 1, PAL_FROM_CACHE: 2, TOP_DOWN: 4 } as const;

/** ROP descriptor flags (u16). */
export const Ropd = {
  INVERS_SRC: 1,
  INVERS_BRUSH: 2,
  INVERS_DEST: 4,
  OP_PUT: 8,
  OP_OR: 16,
  OP_AND: 32,
  OP_XOR: 64,
  OP_BLACKNESS: 128,
  OP_WHITENESS: 256,
  OP_INVERS: 512,
  INVERS_RES: 1024,
} as const;

export const SurfaceFmt = {
  '1_A': 1,
  '8_A': 8,
  '16_555': 16,
  '32_xRGB': 32,
  '16_565': 80,
  '32_ARGB': 96,
} as const;

export const AlphaFlags = { DEST_HAS_ALPHA: 1, SRC_SURFACE_HAS_ALPHA: 2 } as const;

export const ScaleMode = { INTERPOLATE: 0, NEAREST: 1 } as const;

const IMAGE_TYPE_NAMES = new Map<number, string>(Object.entries(ImageType).map(([k, v]) => [v, k]));

/** "QUIC (1)" or "unknown (42)". */
export function imageTypeName(type: number): string {
  return `${IMAGE_TYPE_NAMES.get(type) ?? 'unknown'} (${type})`;
}

/** Throws a ProtocolError unless width x height is a usable, bounded image size. */
export function checkImageSize(width: number, height: number, what: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new ProtocolError(`${what}: invalid size ${width}x${height}`);
  }
  if (width * height > MAX_PIXELS) {
    throw new ProtocolError(`${what}: size ${width}x${height} exceeds the ${MAX_PIXELS}-pixel limit`);
  }
}
