// Pixel helpers for B,G,R,A byte buffers seen as native 32-bit words.

import { ProtocolError } from '../util/errors.js';
import type { DecodedImage } from './types.js';

/** True on little-endian hosts, where the bytes B,G,R,A read as the u32 0xAARRGGBB. */
export const HOST_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The alpha byte of a native pixel word. */
export const ALPHA_MASK = HOST_LE ? 0xff000000 : 0x000000ff;
/** The colour bytes of a native pixel word. */
export const RGB_MASK = HOST_LE ? 0x00ffffff : 0xffffff00;

/** Native pixel word for a SPICE colour u32 (0xAARRGGBB, as in Brush.color or palettes). */
export function argbToNative(c: number): number {
  c >>>= 0;
  if (HOST_LE) return c;
  return (((c & 0xff) << 24) | ((c & 0xff00) << 8) | ((c >>> 8) & 0xff00) | (c >>> 24)) >>> 0;
}

/** A Uint32Array over buf (copied first when buf is not 4-byte aligned). */
export function u32View(buf: Buffer, pixels: number): Uint32Array {
  if (buf.length < pixels * 4) {
    throw new ProtocolError(`pixel buffer has ${buf.length} bytes, ${pixels * 4} needed`);
  }
  if (buf.byteOffset % 4 === 0) return new Uint32Array(buf.buffer, buf.byteOffset, pixels);
  const copy = new Uint32Array(pixels);
  new Uint8Array(copy.buffer).set(buf.subarray(0, pixels * 4));
  return copy;
}

/** Allocates a zeroed, 4-byte aligned pixel buffer for width*height pixels. */
export function allocPixels(width: number, height: number): Buffer {
  // Buffer.alloc never hands out a slice of the shared pool, so byteOffset is 0.
  return Buffer.alloc(width * height * 4);
}

/** Flips rows in place (bottom-up <-> top-down). */
export function flipRows(data: Buffer, stride: number, height: number): void {
  const tmp = Buffer.allocUnsafe(stride);
  for (let top = 0, bot = height - 1; top < bot; top++, bot--) {
    const a = top * stride;
    const b = bot * stride;
    data.copy(tmp, 0, a, a + stride);
    data.copy(data, a, b, b + stride);
    tmp.copy(data, b, 0, stride);
  }
}

/** Forces every alpha byte to 255. */
export function setOpaque(data: Buffer, pixels: number): void {
  for (let i = 3, n = pixels * 4; i < n; i += 4) data[i] = 255;
}

/** Checks that img is internally consistent (size and buffer length). */
export function checkDecoded(img: DecodedImage, what: string): void {
  if (!Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width < 0 || img.height < 0 ||
      img.data.length < img.width * img.height * 4) {
    throw new ProtocolError(`${what}: image ${img.width}x${img.height} has only ${img.data.length} bytes of pixels`);
  }
}
