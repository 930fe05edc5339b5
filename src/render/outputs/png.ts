// Minimal PNG encoder (8-bit RGBA) and decoder (what screenshot tools write: grey, grey+alpha,
// RGB, RGBA at 8/16 bits, palette at 1/2/4/8 bits with tRNS, Adam7 interlace too).

import { promisify } from 'node:util';
import { deflate, deflateSync, inflateSync } from 'node:zlib';
import { ProtocolError } from '../../util/errors.js';
import { MAX_PIXELS } from '../types.js';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO-HDLC, as PNG and zlib use). */
export function crc32(buf: Uint8Array, crc = 0): number {
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One PNG chunk: length, type, data, CRC (exported for tests that build odd files). */
export function pngChunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** PNG header + filtered rows of 8-bit RGBA pixels (stride width*4, top-down), ready to deflate. */
function prepare(width: number, height: number, rgba: Buffer): { ihdr: Buffer; raw: Buffer } {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0 || width * height > MAX_PIXELS) {
    throw new RangeError(`encodePng: invalid size ${width}x${height}`);
  }
  const stride = width * 4;
  if (rgba.length < stride * height) throw new RangeError(`encodePng: ${rgba.length} bytes for ${width}x${height} RGBA`);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // colour type RGBA
  // compression 0, filter 0, interlace 0
  // Per row: filter None, Sub or Up, whichever has the smallest sum of |signed bytes|.
  const raw = Buffer.alloc((stride + 1) * height);
  const sub = Buffer.alloc(stride);
  const up = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const row = rgba.subarray(y * stride, (y + 1) * stride);
    const dst = y * (stride + 1);
    let sNone = 0, sSub = 0, sUp = 0;
    for (let i = 0; i < stride; i++) {
      const v = row[i]!;
      const a = i >= 4 ? row[i - 4]! : 0;
      const b = y > 0 ? rgba[(y - 1) * stride + i]! : 0;
      const s = (v - a) & 0xff;
      const u = (v - b) & 0xff;
      sub[i] = s;
      up[i] = u;
      sNone += v < 128 ? v : 256 - v;
      sSub += s < 128 ? s : 256 - s;
      sUp += u < 128 ? u : 256 - u;
    }
    if (sSub < sNone && sSub <= sUp) { raw[dst] = 1; sub.copy(raw, dst + 1); }
    else if (sUp < sNone) { raw[dst] = 2; up.copy(raw, dst + 1); }
    else { raw[dst] = 0; row.copy(raw, dst + 1); }
  }
  return { ihdr, raw };
}

const assemble = (ihdr: Buffer, idat: Buffer) =>
  Buffer.concat([SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);

/** Encodes 8-bit RGBA pixels (stride width*4, top-down) as a PNG file. */
export function encodePng(width: number, height: number, rgba: Buffer): Buffer {
  const { ihdr, raw } = prepare(width, height, rgba);
  return assemble(ihdr, deflateSync(raw, { level: 6 }));
}

const deflateAsync = promisify(deflate);

/** encodePng with the compression on libuv's thread pool, so a session's channels keep running. */
export async function encodePngAsync(width: number, height: number, rgba: Buffer): Promise<Buffer> {
  const { ihdr, raw } = prepare(width, height, rgba);
  return assemble(ihdr, await deflateAsync(raw, { level: 6 }));
}

export interface DecodedPng { width: number; height: number; rgba: Buffer }

function fail(msg: string): never {
  throw new ProtocolError(`PNG: ${msg}`);
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

const ADAM7 = [
  [0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2],
] as const; // x0, y0, dx, dy

/** Decodes a PNG file to 8-bit RGBA (16-bit samples scaled as ImageMagick 6 does: floor(v/257)). */
export function decodePng(buf: Buffer): DecodedPng {
  if (buf.length < 8 || !buf.subarray(0, 8).equals(SIGNATURE)) fail('not a PNG file (bad signature)');
  let p = 8;
  let width = 0, height = 0, depth = 0, ctype = -1, interlace = 0;
  let palette: Buffer | null = null;
  let trns: Buffer | null = null;
  const idat: Buffer[] = [];
  let sawEnd = false;
  while (p < buf.length) {
    if (buf.length - p < 12) fail('truncated chunk header');
    const len = buf.readUInt32BE(p);
    const type = buf.toString('latin1', p + 4, p + 8);
    if (len > buf.length - p - 12) fail(`chunk ${JSON.stringify(type)} of ${len} bytes runs past the end of the file`);
    const data = buf.subarray(p + 8, p + 8 + len);
    const crc = buf.readUInt32BE(p + 8 + len);
    if (crc32(buf.subarray(p + 4, p + 8 + len)) !== crc) fail(`chunk ${JSON.stringify(type)} has a bad CRC`);
    p += 12 + len;
    if (type === 'IHDR') {
      if (len !== 13) fail('IHDR has the wrong length');
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      depth = data[8]!;
      ctype = data[9]!;
      if (data[10] !== 0 || data[11] !== 0) fail('unknown compression or filter method');
      interlace = data[12]!;
      if (interlace > 1) fail(`unknown interlace method ${interlace}`);
      if (!DEPTHS[ctype]?.includes(depth)) fail(`unsupported colour type ${ctype} with bit depth ${depth}`);
      if (width === 0 || height === 0 || width * height > MAX_PIXELS) fail(`unsupported size ${width}x${height}`);
    } else if (ctype < 0) {
      fail('first chunk is not IHDR');
    } else if (type === 'PLTE') {
      if (len % 3 !== 0 || len === 0 || len > 768) fail('PLTE has a bad length');
      palette = data;
    } else if (type === 'tRNS') {
      trns = data;
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      sawEnd = true;
      break;
    } else if ((type.charCodeAt(0) & 0x20) === 0) {
      fail(`unknown critical chunk ${JSON.stringify(type)}`);
    }
  }
  if (ctype < 0) fail('no IHDR chunk');
  if (!sawEnd) fail('truncated: no IEND chunk');
  if (idat.length === 0) fail('no image data');
  if (ctype === 3 && !palette) fail('palette image without PLTE');

  const channels = CHANNELS[ctype]!;
  const bpp = Math.max(1, (channels * depth) >> 3); // filter unit in bytes
  const passes = interlace ? ADAM7.map(([x0, y0, dx, dy]) => ({
    x0, y0, dx, dy,
    w: Math.ceil((width - x0) / dx) > 0 ? Math.ceil((width - x0) / dx) : 0,
    h: Math.ceil((height - y0) / dy) > 0 ? Math.ceil((height - y0) / dy) : 0,
  })) : [{ x0: 0, y0: 0, dx: 1, dy: 1, w: width, h: height }];
  let expected = 0;
  for (const ps of passes) if (ps.w > 0 && ps.h > 0) expected += ps.h * (1 + Math.ceil((ps.w * channels * depth) / 8));

  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat), { maxOutputLength: expected + 1 });
  } catch (e) {
    fail(`image data does not inflate (${(e as Error).message})`);
  }
  if (raw.length < expected) fail(`image data is truncated: ${raw.length} of ${expected} bytes`);

  const rgba = Buffer.alloc(width * height * 4);
  // Colour lookups for palette and tRNS.
  let pal: Uint8Array | null = null;
  if (ctype === 3) {
    const n = palette!.length / 3;
    pal = new Uint8Array(256 * 4); // missing entries: opaque black
    for (let i = 0; i < 256; i++) pal[i * 4 + 3] = 255;
    for (let i = 0; i < n; i++) {
      pal[i * 4] = palette![i * 3]!;
      pal[i * 4 + 1] = palette![i * 3 + 1]!;
      pal[i * 4 + 2] = palette![i * 3 + 2]!;
      pal[i * 4 + 3] = trns && i < trns.length ? trns[i]! : 255;
    }
  }
  const keyGray = ctype === 0 && trns && trns.length >= 2 ? trns.readUInt16BE(0) : -1;
  const keyRgb = ctype === 2 && trns && trns.length >= 6 ? [trns.readUInt16BE(0), trns.readUInt16BE(2), trns.readUInt16BE(4)] : null;

  let off = 0;
  for (const ps of passes) {
    if (ps.w === 0 || ps.h === 0) continue;
    const rowLen = Math.ceil((ps.w * channels * depth) / 8);
    let prev = Buffer.alloc(rowLen);
    let cur = Buffer.alloc(rowLen);
    for (let y = 0; y < ps.h; y++) {
      const ft = raw[off]!;
      const line = raw.subarray(off + 1, off + 1 + rowLen);
      off += 1 + rowLen;
      unfilter(ft, line, prev, cur, bpp);
      const oy = ps.y0 + y * ps.dy;
      for (let x = 0; x < ps.w; x++) {
        const o = (oy * width + ps.x0 + x * ps.dx) * 4;
        const si = x * channels;
        switch (ctype) {
          case 0: {
            const v = sample(cur, si, depth);
            const g = to8(v, depth);
            rgba[o] = g; rgba[o + 1] = g; rgba[o + 2] = g; rgba[o + 3] = v === keyGray ? 0 : 255;
            break;
          }
          case 2: {
            const r = sample(cur, si, depth), g = sample(cur, si + 1, depth), b = sample(cur, si + 2, depth);
            rgba[o] = to8(r, depth); rgba[o + 1] = to8(g, depth); rgba[o + 2] = to8(b, depth);
            rgba[o + 3] = keyRgb && r === keyRgb[0] && g === keyRgb[1] && b === keyRgb[2] ? 0 : 255;
            break;
          }
          case 3: {
            const i = sample(cur, si, depth) * 4;
            rgba[o] = pal![i]!; rgba[o + 1] = pal![i + 1]!; rgba[o + 2] = pal![i + 2]!; rgba[o + 3] = pal![i + 3]!;
            break;
          }
          case 4: {
            const g = to8(sample(cur, si, depth), depth);
            rgba[o] = g; rgba[o + 1] = g; rgba[o + 2] = g; rgba[o + 3] = to8(sample(cur, si + 1, depth), depth);
            break;
          }
          case 6:
            rgba[o] = to8(sample(cur, si, depth), depth);
            rgba[o + 1] = to8(sample(cur, si + 1, depth), depth);
            rgba[o + 2] = to8(sample(cur, si + 2, depth), depth);
            rgba[o + 3] = to8(sample(cur, si + 3, depth), depth);
            break;
        }
      }
      // This row becomes the previous one; the old previous buffer is reused for the next row.
      const t = prev;
      prev = cur;
      cur = t;
    }
  }
  return { width, height, rgba };
}

/** Sample number idx of a row, as its full-depth value. */
function sample(row: Buffer, idx: number, depth: number): number {
  if (depth === 8) return row[idx]!;
  if (depth === 16) return (row[idx * 2]! << 8) | row[idx * 2 + 1]!;
  const bit = idx * depth;
  return (row[bit >> 3]! >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
}

/** A full-depth sample scaled to 8 bits (16-bit: floor(v/257), matching ImageMagick 6 exports). */
function to8(v: number, depth: number): number {
  if (depth === 8) return v;
  if (depth === 16) return Math.floor(v / 257);
  return Math.round((v * 255) / ((1 << depth) - 1));
}

/** Reverses one PNG filter: line (filtered) -> out, given the previous unfiltered row. */
function unfilter(ft: number, line: Buffer, prev: Buffer, out: Buffer, bpp: number): void {
  const n = line.length;
  switch (ft) {
    case 0:
      line.copy(out);
      break;
    case 1:
      for (let i = 0; i < n; i++) out[i] = (line[i]! + (i >= bpp ? out[i - bpp]! : 0)) & 0xff;
      break;
    case 2:
      for (let i = 0; i < n; i++) out[i] = (line[i]! + prev[i]!) & 0xff;
      break;
    case 3:
      for (let i = 0; i < n; i++) out[i] = (line[i]! + (((i >= bpp ? out[i - bpp]! : 0) + prev[i]!) >> 1)) & 0xff;
      break;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? out[i - bpp]! : 0;
        const b = prev[i]!;
        const c = i >= bpp ? prev[i - bpp]! : 0;
        const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c);
        const pr = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
        out[i] = (line[i]! + pr) & 0xff;
      }
      break;
    default:
      fail(`unknown filter type ${ft}`);
  }
}
