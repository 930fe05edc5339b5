// Fixture access for the codec tests (test/fixtures/display, see its README.md): recorded
// display streams, the images inside them, lossless references and image comparisons.
// Not a test file itself.

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { decodeImage, ImageStore, parseImageDescriptor, type ImageDescriptor } from '../../src/render/image.js';
import { decodePng } from '../../src/render/outputs/png.js';
import type { DecodedImage } from '../../src/render/types.js';
import { drawImageOffset, readRecording, type RecordedMessage } from './replay.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/display/', import.meta.url));

export function fixture(name: string): Buffer {
  const buf = readFileSync(FIXTURES + name);
  return name.endsWith('.gz') ? gunzipSync(buf) : buf;
}

export function recording(name: string): RecordedMessage[] {
  return readRecording(fixture(name));
}

/** The screenshot as B,G,R,A bytes (what a Surface holds). */
export function screenshot(name: string): { width: number; height: number; bgra: Buffer } {
  const png = decodePng(fixture(name));
  const bgra = Buffer.from(png.rgba);
  for (let i = 0; i < bgra.length; i += 4) {
    const r = bgra[i]!;
    bgra[i] = bgra[i + 2]!;
    bgra[i + 2] = r;
  }
  return { width: png.width, height: png.height, bgra };
}

export interface FixtureImage {
  /** Index of the message in the recording. */
  index: number;
  msg: RecordedMessage;
  offset: number;
  desc: ImageDescriptor;
  /** The payload after the descriptor (data_size etc. included). */
  payload: Buffer;
}

/** Every SpiceImage used as the source of a draw, in stream order. */
export function fixtureImages(msgs: RecordedMessage[]): FixtureImage[] {
  const out: FixtureImage[] = [];
  msgs.forEach((msg, index) => {
    const offset = drawImageOffset(msg.type, msg.body);
    if (offset === undefined || offset === 0) return;
    const desc = parseImageDescriptor(msg.body, offset);
    out.push({ index, msg, offset, desc, payload: msg.body.subarray(offset + 18) });
  });
  return out;
}

/** The codec data (after u32 data_size) of a QUIC / GLZ_RGB / JPEG / LZ image. */
export function codecData(img: FixtureImage): Buffer {
  const size = img.payload.readUInt32LE(0);
  return img.payload.subarray(4, 4 + size);
}

/** Decodes every image of a recording in order with one store (as the display channel does). */
export function decodeAll(msgs: RecordedMessage[], store = new ImageStore()): { img: FixtureImage; decoded: DecodedImage }[] {
  return fixtureImages(msgs).map((img) => ({ img, decoded: decodeImage(img.msg.body, img.offset, store, () => undefined) }));
}

/**
 * Pairs images of two recordings of the same scene: the k-th image of size WxH in `a` with the
 * k-th image of that size in `b`.
 */
export function pairBySize<A extends { decoded: DecodedImage }, B extends { decoded: DecodedImage }>(a: A[], b: B[]): [A, B][] {
  const key = (d: DecodedImage): string => `${d.width}x${d.height}`;
  const groups = new Map<string, B[]>();
  for (const x of b) {
    const k = key(x.decoded);
    groups.set(k, [...(groups.get(k) ?? []), x]);
  }
  const seen = new Map<string, number>();
  const out: [A, B][] = [];
  for (const x of a) {
    const k = key(x.decoded);
    const n = seen.get(k) ?? 0;
    seen.set(k, n + 1);
    const match = groups.get(k)?.[n];
    if (match) out.push([x, match]);
  }
  return out;
}

/** Number of pixels whose bytes differ (colour only, or colour and alpha). */
export function diffPixels(a: Buffer, b: Buffer, pixels: number, alpha = true): number {
  let n = 0;
  for (let i = 0; i < pixels * 4; i += 4) {
    if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2] || (alpha && a[i + 3] !== b[i + 3])) n++;
  }
  return n;
}

/** PSNR (dB) of the colour channels; Infinity when identical. */
export function psnr(a: Buffer, b: Buffer, pixels: number): number {
  let se = 0;
  for (let i = 0; i < pixels * 4; i += 4) {
    for (let c = 0; c < 3; c++) {
      const d = a[i + c]! - b[i + c]!;
      se += d * d;
    }
  }
  if (se === 0) return Infinity;
  const mse = se / (pixels * 3);
  return 10 * Math.log10((255 * 255) / mse);
}

/** The alpha bytes of an image, one per pixel. */
export function alphaOf(img: DecodedImage): Uint8Array {
  const a = new Uint8Array(img.width * img.height);
  for (let i = 0; i < a.length; i++) a[i] = img.data[i * 4 + 3]!;
  return a;
}
