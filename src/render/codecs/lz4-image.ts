// SPICE LZ4 image (digest §4.6; spice-common canvas_base.c canvas_get_lz4):
//   u8 top_down, u8 SpiceBitmapFmt (16BIT, 24BIT, 32BIT, RGBA),
//   then repeated { u32 BIG-endian compressed length, LZ4 block } to the end of the data.
// Blocks come from LZ4 streaming compression: a match may reach back into the output of earlier
// blocks, so all blocks decode into one contiguous buffer. Rows are packed (stride width*bpp).

import { ProtocolError } from '../../util/errors.js';
import { BitmapFlags, BitmapFmt, checkImageSize, type DecodedImage } from '../types.js';
import { decodeBitmap } from './bitmap.js';

/** LZ4 can expand one input byte to at most ~255 output bytes; anything claiming more is a lie. */
const MAX_RATIO = 256;

/**
 * Decodes one raw LZ4 block src[start, end) into out at op. Matches may reference any earlier
 * byte of out (offset <= op). Returns the new output position. Throws ProtocolError on any
 * malformed or overflowing input.
 */
export function lz4DecodeBlock(src: Uint8Array, start: number, end: number, out: Uint8Array, op: number): number {
  const oend = out.length;
  let ip = start;
  if (end <= start) throw new ProtocolError('LZ4 block is empty');
  while (ip < end) {
    const token = src[ip++]!;
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (ip >= end) throw new ProtocolError('LZ4 block is truncated in a literal length');
        b = src[ip++]!;
        lit += b;
      } while (b === 255);
    }
    if (lit > end - ip) throw new ProtocolError('LZ4 block is truncated: literals run past its end');
    if (lit > oend - op) throw new ProtocolError('LZ4 block writes past the end of the image');
    out.set(src.subarray(ip, ip + lit), op);
    ip += lit;
    op += lit;
    if (ip === end) break; // the last sequence has literals only
    if (end - ip < 2) throw new ProtocolError('LZ4 block is truncated in a match offset');
    const offset = src[ip]! | (src[ip + 1]! << 8);
    ip += 2;
    if (offset === 0 || offset > op) throw new ProtocolError(`LZ4 match offset ${offset} points before the start of the image`);
    let len = token & 15;
    if (len === 15) {
      let b: number;
      do {
        if (ip >= end) throw new ProtocolError('LZ4 block is truncated in a match length');
        b = src[ip++]!;
        len += b;
      } while (b === 255);
    }
    len += 4;
    if (len > oend - op) throw new ProtocolError('LZ4 match writes past the end of the image');
    const ref = op - offset;
    if (offset >= len) {
      out.copyWithin(op, ref, ref + len);
      op += len;
    } else {
      for (let i = 0; i < len; i++) out[op + i] = out[ref + i]!;
      op += len;
    }
  }
  return op;
}

const LZ4_BPP: Record<number, number> = {
  [BitmapFmt['16BIT']]: 2, [BitmapFmt['24BIT']]: 3, [BitmapFmt['32BIT']]: 4, [BitmapFmt.RGBA]: 4,
};

/** Decodes a SPICE LZ4 image payload (the data after data_size) of width x height pixels. */
export function decodeLz4Image(data: Buffer, width: number, height: number): DecodedImage {
  checkImageSize(width, height, 'LZ4 image');
  if (data.length < 2) throw new ProtocolError('LZ4 image is truncated: no header');
  const topDown = data[0]!;
  const format = data[1]!;
  const bpp = LZ4_BPP[format];
  if (bpp === undefined) throw new ProtocolError(`LZ4 image has unsupported bitmap format ${format}`);
  const size = width * height * bpp;
  if (size > (data.length - 2) * MAX_RATIO) {
    throw new ProtocolError(`LZ4 image claims ${width}x${height} from only ${data.length} bytes`);
  }
  const packed = Buffer.alloc(size);
  let p = 2;
  let op = 0;
  if (p >= data.length) throw new ProtocolError('LZ4 image has no blocks');
  while (p < data.length) {
    if (data.length - p < 4) throw new ProtocolError('LZ4 image is truncated in a block length');
    const len = data.readUInt32BE(p);
    p += 4;
    if (len > data.length - p) throw new ProtocolError(`LZ4 block of ${len} bytes runs past the end of the image data`);
    op = lz4DecodeBlock(data, p, p + len, packed, op);
    p += len;
  }
  if (op !== size) throw new ProtocolError(`LZ4 image decoded to ${op} bytes, ${size} expected for ${width}x${height}`);
  return decodeBitmap({
    format, flags: topDown ? BitmapFlags.TOP_DOWN : 0, width, height, stride: width * bpp, data: packed,
  });
}
