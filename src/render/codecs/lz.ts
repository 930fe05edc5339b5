// SPICE LZ image decoder (digest §4.6; spice-common lz.c / lz_decompress_tmpl.c).
//
// Header: seven BIG-endian u32: magic 0x20205A4C, version 0x00010001, type, width, height,
// stride, top_down. Body: control bytes until the expected number of units is produced.
//   ctrl < 32: literal run of ctrl+1 units.
//   ctrl >= 32: match. L = ctrl >> 5 (if 7, add following bytes while they are 255, plus the
//     last one); offset = ((ctrl & 31) << 8) + next byte; if that byte is 255 and
//     (ctrl & 31) == 31 the offset is instead (two more bytes, big-endian) + 8191 ("far").
//     Then offset += 1; length = L + bias (RGB32/24: 0, RGB16: 1, PLT/A8/alpha: 2).
//     Copy `length` units from `offset` units back (overlap allowed, unit by unit).
// Units: RGB32/RGB24 pixels (literal B,G,R), RGB16 pixels (literal u16 BIG-endian x555),
// PLT bytes (packed indices, stride*height of them), A8 bytes, alpha pass = pixel alpha bytes.
// RGBA = an RGB32 pass then an alpha pass over the same pixels. XXXA = the alpha pass alone.

import { ProtocolError } from '../../util/errors.js';
import { allocPixels, flipRows } from '../pixels.js';
import { checkImageSize, type DecodedImage } from '../types.js';
import { expand5, nativePalette } from './bitmap.js';

export const LzImageType = {
  PLT1_LE: 1,
  PLT1_BE: 2,
  PLT4_LE: 3,
  PLT4_BE: 4,
  PLT8: 5,
  RGB16: 6,
  RGB24: 7,
  RGB32: 8,
  RGBA: 9,
  XXXA: 10,
  A8: 11,
} as const;

export const LZ_MAGIC = 0x20205a4c;
export const LZ_VERSION = 0x00010001;
export const LZ_HEADER_SIZE = 28;
/** Largest 'near' match offset (biased); larger ones use the far form. */
export const LZ_MAX_DISTANCE = 8191;

export interface LzHeader { type: number; width: number; height: number; stride: number; topDown: boolean }

export interface LzOptions {
  /** xRGB palette for the PLT types (from the LZ_PLT payload). */
  palette?: Uint32Array | null;
  /** XXXA only: the image whose alpha channel the stream provides (colours are kept). */
  alphaInto?: DecodedImage;
}

const PLT_BITS: Record<number, number> = {
  [LzImageType.PLT1_LE]: 1, [LzImageType.PLT1_BE]: 1, [LzImageType.PLT4_LE]: 4,
  [LzImageType.PLT4_BE]: 4, [LzImageType.PLT8]: 8,
};

/** One output unit may come from at most this many units per input byte (255-byte length runs). */
const MAX_UNITS_PER_BYTE = 256;

export function isLzPaletteType(type: number): boolean {
  return PLT_BITS[type] !== undefined;
}

export function parseLzHeader(data: Buffer): LzHeader {
  if (data.length < LZ_HEADER_SIZE) throw new ProtocolError(`LZ image is truncated: ${data.length}-byte header, ${LZ_HEADER_SIZE} needed`);
  const magic = data.readUInt32BE(0);
  if (magic !== LZ_MAGIC) throw new ProtocolError(`LZ image has bad magic 0x${magic.toString(16)}`);
  const version = data.readUInt32BE(4);
  if (version !== LZ_VERSION) throw new ProtocolError(`LZ image has unsupported version 0x${version.toString(16)}`);
  const type = data.readUInt32BE(8);
  if (type < LzImageType.PLT1_LE || type > LzImageType.A8) throw new ProtocolError(`LZ image type ${type} is unknown`);
  const width = data.readUInt32BE(12);
  const height = data.readUInt32BE(16);
  const stride = data.readUInt32BE(20);
  const topDown = data.readUInt32BE(24) !== 0;
  checkImageSize(width, height, 'LZ image');
  return { type, width, height, stride, topDown };
}

type UnitKind = 'rgb32' | 'rgb16' | 'alpha' | 'byte';
const BIAS: Record<UnitKind, number> = { rgb32: 0, rgb16: 1, alpha: 2, byte: 2 };

/**
 * One LZ pass: decodes `units` units from src[ip..] into out. rgb32/rgb16/alpha units are 4-byte
 * pixels of out (alpha touches byte 3 only); byte units are bytes. Returns the new input position.
 */
function lzPass(src: Buffer, ip: number, out: Uint8Array, units: number, kind: UnitKind): number {
  const end = src.length;
  const bias = BIAS[kind];
  const truncated = (): never => { throw new ProtocolError(`LZ image data is truncated (${kind} pass)`); };
  let op = 0;
  if (ip >= end) truncated();
  let ctrl = src[ip++]!;
  for (;;) {
    if (ctrl >= 32) {
      let len = ctrl >> 5;
      if (len === 7) {
        let b: number;
        do {
          if (ip >= end) truncated();
          b = src[ip++]!;
          len += b;
        } while (b === 255);
      }
      if (ip >= end) truncated();
      const code = src[ip++]!;
      let ofs = ((ctrl & 31) << 8) + code;
      if (code === 255 && (ctrl & 31) === 31) {
        if (end - ip < 2) truncated();
        ofs = ((src[ip]! << 8) | src[ip + 1]!) + LZ_MAX_DISTANCE;
        ip += 2;
      }
      len += bias;
      ofs += 1;
      if (ofs > op) throw new ProtocolError(`LZ match offset ${ofs} points before the start of the image (at unit ${op})`);
      if (len > units - op) throw new ProtocolError(`LZ match of ${len} units runs past the end of the image`);
      if (kind === 'alpha') {
        for (let i = 0, d = op * 4 + 3, s = (op - ofs) * 4 + 3; i < len; i++, d += 4, s += 4) out[d] = out[s]!;
      } else {
        const w = kind === 'byte' ? 1 : 4;
        const d = op * w;
        const s = (op - ofs) * w;
        const n = len * w;
        if (ofs >= len) out.copyWithin(d, s, s + n);
        else for (let i = 0; i < n; i++) out[d + i] = out[s + i]!;
      }
      op += len;
    } else {
      const n = ctrl + 1;
      if (n > units - op) throw new ProtocolError(`LZ literal run of ${n} units runs past the end of the image`);
      switch (kind) {
        case 'rgb32': {
          if (end - ip < n * 3) truncated();
          for (let i = 0, d = op * 4; i < n; i++, d += 4, ip += 3) {
            out[d] = src[ip]!;
            out[d + 1] = src[ip + 1]!;
            out[d + 2] = src[ip + 2]!;
            out[d + 3] = 255;
          }
          break;
        }
        case 'rgb16': {
          if (end - ip < n * 2) truncated();
          for (let i = 0, d = op * 4; i < n; i++, d += 4, ip += 2) {
            const v = (src[ip]! << 8) | src[ip + 1]!;
            out[d] = expand5(v & 31);
            out[d + 1] = expand5((v >> 5) & 31);
            out[d + 2] = expand5((v >> 10) & 31);
            out[d + 3] = 255;
          }
          break;
        }
        case 'alpha': {
          if (end - ip < n) truncated();
          for (let i = 0, d = op * 4 + 3; i < n; i++, d += 4) out[d] = src[ip++]!;
          break;
        }
        case 'byte': {
          if (end - ip < n) truncated();
          out.set(src.subarray(ip, ip + n), op);
          ip += n;
          break;
        }
      }
      op += n;
    }
    if (op >= units) break;
    if (ip >= end) truncated();
    ctrl = src[ip++]!;
  }
  return ip;
}

function checkRatio(units: number, data: Buffer, h: LzHeader): void {
  if (units > (data.length - LZ_HEADER_SIZE) * MAX_UNITS_PER_BYTE + MAX_UNITS_PER_BYTE) {
    throw new ProtocolError(`LZ image claims ${h.width}x${h.height} from only ${data.length} bytes`);
  }
}

/** Decodes a complete LZ stream (header + body) to B,G,R,A pixels, top-down. */
export function decodeLz(data: Buffer, opts: LzOptions = {}): DecodedImage {
  const h = parseLzHeader(data);
  const { type, width, height } = h;
  const pixels = width * height;

  const bits = PLT_BITS[type];
  if (bits !== undefined) {
    const rowBytes = Math.ceil((width * bits) / 8);
    if (h.stride < rowBytes) throw new ProtocolError(`LZ palette image stride ${h.stride} is less than the ${rowBytes} bytes a row needs`);
    const units = h.stride * height;
    checkRatio(units, data, h);
    if (!opts.palette) throw new ProtocolError('LZ palette image arrived without a palette');
    const packed = new Uint8Array(units);
    lzPass(data, LZ_HEADER_SIZE, packed, units, 'byte');
    const pal = nativePalette(opts.palette, 1 << bits);
    const out = allocPixels(width, height);
    const o = new Uint32Array(out.buffer, out.byteOffset, pixels);
    for (let row = 0; row < height; row++) {
      const s = row * h.stride;
      const d = (h.topDown ? row : height - 1 - row) * width;
      switch (type) {
        case LzImageType.PLT1_LE:
          for (let x = 0; x < width; x++) o[d + x] = pal[(packed[s + (x >> 3)]! >> (x & 7)) & 1]!;
          break;
        case LzImageType.PLT1_BE:
          for (let x = 0; x < width; x++) o[d + x] = pal[(packed[s + (x >> 3)]! >> (7 - (x & 7))) & 1]!;
          break;
        case LzImageType.PLT4_LE:
          for (let x = 0; x < width; x++) o[d + x] = pal[(packed[s + (x >> 1)]! >> ((x & 1) * 4)) & 15]!;
          break;
        case LzImageType.PLT4_BE:
          for (let x = 0; x < width; x++) o[d + x] = pal[(packed[s + (x >> 1)]! >> ((1 - (x & 1)) * 4)) & 15]!;
          break;
        default:
          for (let x = 0; x < width; x++) o[d + x] = pal[packed[s + x]!]!;
      }
    }
    return { width, height, data: out, hasAlpha: false };
  }

  checkRatio(pixels, data, h);
  if (type === LzImageType.A8) {
    const a = new Uint8Array(pixels);
    lzPass(data, LZ_HEADER_SIZE, a, pixels, 'byte');
    const out = allocPixels(width, height);
    for (let row = 0; row < height; row++) {
      const s = row * width;
      const d = (h.topDown ? row : height - 1 - row) * width * 4 + 3;
      for (let x = 0; x < width; x++) out[d + x * 4] = a[s + x]!;
    }
    return { width, height, data: out, hasAlpha: true };
  }

  const out = allocPixels(width, height);
  let hasAlpha = false;
  switch (type) {
    case LzImageType.RGB16:
      lzPass(data, LZ_HEADER_SIZE, out, pixels, 'rgb16');
      break;
    case LzImageType.RGB24:
    case LzImageType.RGB32:
      lzPass(data, LZ_HEADER_SIZE, out, pixels, 'rgb32');
      break;
    case LzImageType.RGBA: {
      const ip = lzPass(data, LZ_HEADER_SIZE, out, pixels, 'rgb32');
      lzPass(data, ip, out, pixels, 'alpha');
      hasAlpha = true;
      break;
    }
    case LzImageType.XXXA:
      lzPass(data, LZ_HEADER_SIZE, out, pixels, 'alpha');
      hasAlpha = true;
      break;
  }
  if (!h.topDown) flipRows(out, width * 4, height);
  if (type === LzImageType.XXXA && opts.alphaInto) {
    const base = opts.alphaInto;
    if (base.width !== width || base.height !== height || base.data.length < pixels * 4) {
      throw new ProtocolError(`LZ alpha is ${width}x${height} but its image is ${base.width}x${base.height}`);
    }
    const merged = Buffer.from(base.data.subarray(0, pixels * 4));
    for (let i = 3; i < pixels * 4; i += 4) merged[i] = out[i]!;
    return { width, height, data: merged, hasAlpha: true };
  }
  return { width, height, data: out, hasAlpha };
}
