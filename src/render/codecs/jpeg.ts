// JPEG and JPEG_ALPHA images (digest §4.4/§4.6; behaviour of spice-common canvas_base.c
// canvas_get_jpeg / canvas_get_jpeg_alpha). Baseline JFIF from spice-server's jpeg encoder,
// decoded with jpeg-js under explicit resolution and memory limits.
//
// JPEG_ALPHA payload: the JPEG (jpeg_size bytes) then an LZ stream of type XXXA carrying the
// alpha channel, whose top_down must match the TOP_DOWN flag. The JPEG rows are always
// top-down; the alpha stream is bottom-up unless TOP_DOWN. Colours are premultiplied (the server
// encodes the RGB of a premultiplied RGBA image). Both image kinds are lossy.

import jpeg from 'jpeg-js';
import { ProtocolError } from '../../util/errors.js';
import { checkImageSize, type DecodedImage } from '../types.js';
import { decodeLz, LzImageType, parseLzHeader } from './lz.js';

export const JpegAlphaFlags = { TOP_DOWN: 1 } as const;

/**
 * Largest JPEG we decode (pixels). spice-server sends JPEG for parts of a screen; jpeg-js
 * allocates all coefficient blocks up front (about 20 bytes per pixel), so this also bounds
 * what a hostile header can make us allocate (~ 400 MiB at most).
 */
export const JPEG_MAX_PIXELS = 4096 * 4096;
/** jpeg-js memory accounting: ~12 B/px coefficients (4:4:4), 3 B/px planes, 4 B/px output. */
const JPEG_BYTES_PER_PIXEL = 24;
const JPEG_SLACK_MB = 16;

/** Width and height from the first SOFn marker, without decoding. */
export function jpegSize(data: Uint8Array): { width: number; height: number } {
  const n = data.length;
  if (n < 4 || data[0] !== 0xff || data[1] !== 0xd8) throw new ProtocolError('JPEG image does not start with an SOI marker');
  let p = 2;
  for (;;) {
    // Markers may be preceded by any number of 0xFF fill bytes.
    while (p < n && data[p] === 0xff && data[p + 1] === 0xff) p++;
    if (p + 4 > n) throw new ProtocolError('JPEG image is truncated before its frame header');
    if (data[p] !== 0xff) throw new ProtocolError(`JPEG image has garbage at offset ${p} instead of a marker`);
    const m = data[p + 1]!;
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      p += 2;
      continue;
    }
    if (m === 0xda || m === 0xd9) throw new ProtocolError('JPEG image has no frame header before its scan');
    const len = (data[p + 2]! << 8) | data[p + 3]!;
    if (len < 2 || p + 2 + len > n) throw new ProtocolError(`JPEG marker 0x${m.toString(16)} has a bad length ${len}`);
    const isSof = m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
    if (isSof) {
      if (len < 8) throw new ProtocolError('JPEG frame header is truncated');
      const height = (data[p + 5]! << 8) | data[p + 6]!;
      const width = (data[p + 7]! << 8) | data[p + 8]!;
      return { width, height };
    }
    p += 2 + len;
  }
}

/**
 * Decodes a JPEG to B,G,R,A pixels (alpha 255), top-down. When `expect` is given, a JPEG of any
 * other size is refused before decoding.
 */
export function decodeJpeg(data: Uint8Array, expect?: { width: number; height: number }): DecodedImage {
  const { width, height } = jpegSize(data);
  checkImageSize(width, height, 'JPEG image');
  if (width * height > JPEG_MAX_PIXELS) {
    throw new ProtocolError(`JPEG image ${width}x${height} exceeds the ${JPEG_MAX_PIXELS}-pixel JPEG limit`);
  }
  if (expect && (expect.width !== width || expect.height !== height)) {
    throw new ProtocolError(`JPEG image is ${width}x${height}, descriptor says ${expect.width}x${expect.height}`);
  }
  const pixels = width * height;
  let raw: { width: number; height: number; data: Uint8Array };
  try {
    raw = jpeg.decode(data, {
      useTArray: true,
      formatAsRGBA: true,
      // spice-server's JPEGs come from libjpeg: strict parsing turns truncation into an error.
      tolerantDecoding: false,
      maxResolutionInMP: pixels / 1e6 + 1e-6,
      maxMemoryUsageInMB: JPEG_SLACK_MB + Math.ceil((pixels * JPEG_BYTES_PER_PIXEL) / (1024 * 1024)),
    });
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    throw new ProtocolError(`JPEG image does not decode: ${msg}`);
  }
  if (raw.width !== width || raw.height !== height || raw.data.length < pixels * 4) {
    throw new ProtocolError(`JPEG image decoded to ${raw.width}x${raw.height}, its header says ${width}x${height}`);
  }
  const out = Buffer.from(raw.data.buffer, raw.data.byteOffset, pixels * 4);
  for (let i = 0, n = pixels * 4; i < n; i += 4) {
    const r = out[i]!;
    out[i] = out[i + 2]!;
    out[i + 2] = r;
    out[i + 3] = 255;
  }
  return { width, height, data: out, hasAlpha: false };
}

/**
 * JPEG_ALPHA payload (the data after data_size): data[0, jpegSize) is the JPEG, the rest an LZ
 * XXXA stream with the alpha channel. Returns premultiplied B,G,R,A pixels with hasAlpha.
 */
export function decodeJpegAlpha(data: Uint8Array, jpegBytes: number, flags: number,
                                expect?: { width: number; height: number }): DecodedImage {
  if (!Number.isInteger(jpegBytes) || jpegBytes <= 0 || jpegBytes >= data.length) {
    throw new ProtocolError(`JPEG_ALPHA jpeg_size ${jpegBytes} does not fit its ${data.length}-byte data`);
  }
  const buf = Buffer.from(data.buffer, data.byteOffset, data.length);
  const alpha = buf.subarray(jpegBytes);
  // Check the alpha stream's header before the (expensive) JPEG decode.
  const h = parseLzHeader(alpha);
  const topDown = (flags & JpegAlphaFlags.TOP_DOWN) !== 0;
  if (h.type !== LzImageType.XXXA) throw new ProtocolError(`JPEG_ALPHA alpha stream has LZ type ${h.type}, not XXXA`);
  if (h.topDown !== topDown) throw new ProtocolError('JPEG_ALPHA alpha stream orientation does not match its TOP_DOWN flag');
  const base = decodeJpeg(buf.subarray(0, jpegBytes), expect);
  if (h.width !== base.width || h.height !== base.height) {
    throw new ProtocolError(`JPEG_ALPHA alpha is ${h.width}x${h.height}, the JPEG is ${base.width}x${base.height}`);
  }
  return decodeLz(alpha, { alphaInto: base });
}
