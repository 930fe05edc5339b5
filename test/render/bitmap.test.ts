import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBitmap, bitmapRowBytes } from '../../src/render/codecs/bitmap.js';
import { BitmapFlags, BitmapFmt } from '../../src/render/types.js';
import { decodesOrProtocolError, pixel, rng, throwsProtocol } from './helpers.js';

const TD = BitmapFlags.TOP_DOWN;
const pal = new Uint32Array([0x000000, 0xff0000, 0x00ff00, 0x0000ff, 0x123456]);
const P = (i: number): number[] => { const v = pal[i] ?? 0; return [v & 255, (v >> 8) & 255, (v >> 16) & 255, 255]; };

function pixels(data: Buffer, n: number): number[][] {
  return Array.from({ length: n }, (_, i) => pixel(data, i));
}

test('1BIT_LE and 1BIT_BE with padded stride', () => {
  // 10 pixels: 1 0 1 1 0 0 0 1 | 1 0
  const le = Buffer.from([0b10001101, 0b00000001, 0xee]);
  const be = Buffer.from([0b10110001, 0b10000000, 0xee]);
  const want = [1, 0, 1, 1, 0, 0, 0, 1, 1, 0].map(P);
  for (const [format, data] of [[BitmapFmt['1BIT_LE'], le], [BitmapFmt['1BIT_BE'], be]] as const) {
    const img = decodeBitmap({ format, flags: TD, width: 10, height: 1, stride: 3, data, palette: pal });
    assert.deepEqual(pixels(img.data, 10), want);
    assert.equal(img.hasAlpha, false);
  }
});

test('4BIT_LE / 4BIT_BE / 8BIT, bottom-up rows', () => {
  const w = 3, h = 2;
  // rows in stream order: bottom row first
  const le = Buffer.from([0x10, 0x02, 0x43, 0x00]); // bottom: 0 1 2 ; top: 3 4 0
  const be = Buffer.from([0x01, 0x20, 0x34, 0x00]);
  const b8 = Buffer.from([0, 1, 2, 3, 4, 0]);
  const want = [3, 4, 0, 0, 1, 2].map(P);
  assert.deepEqual(pixels(decodeBitmap({ format: BitmapFmt['4BIT_LE'], flags: 0, width: w, height: h, stride: 2, data: le, palette: pal }).data, 6), want);
  assert.deepEqual(pixels(decodeBitmap({ format: BitmapFmt['4BIT_BE'], flags: 0, width: w, height: h, stride: 2, data: be, palette: pal }).data, 6), want);
  assert.deepEqual(pixels(decodeBitmap({ format: BitmapFmt['8BIT'], flags: 0, width: w, height: h, stride: 3, data: b8, palette: pal }).data, 6), want);
});

test('palette index beyond the palette is opaque black', () => {
  const img = decodeBitmap({ format: BitmapFmt['8BIT'], flags: TD, width: 2, height: 1, stride: 2, data: Buffer.from([200, 1]), palette: pal });
  assert.deepEqual(pixels(img.data, 2), [[0, 0, 0, 255], P(1)]);
});

test('16BIT x555, 24BIT, 32BIT (pad byte ignored), RGBA and 8BIT_A', () => {
  const d16 = Buffer.alloc(4);
  d16.writeUInt16LE(0x7c00, 0); // red
  d16.writeUInt16LE(0x03ff, 2); // green + blue
  assert.deepEqual(pixels(decodeBitmap({ format: BitmapFmt['16BIT'], flags: TD, width: 2, height: 1, stride: 4, data: d16 }).data, 2),
    [[0, 0, 255, 255], [255, 255, 0, 255]]);
  const d24 = Buffer.from([1, 2, 3, 4, 5, 6, 0, 0]);
  assert.deepEqual(pixels(decodeBitmap({ format: BitmapFmt['24BIT'], flags: TD, width: 2, height: 1, stride: 8, data: d24 }).data, 2),
    [[1, 2, 3, 255], [4, 5, 6, 255]]);
  const d32 = Buffer.from([1, 2, 3, 0, 4, 5, 6, 77]);
  const i32 = decodeBitmap({ format: BitmapFmt['32BIT'], flags: TD, width: 2, height: 1, stride: 8, data: d32 });
  assert.deepEqual(pixels(i32.data, 2), [[1, 2, 3, 255], [4, 5, 6, 255]]);
  assert.equal(i32.hasAlpha, false);
  const iA = decodeBitmap({ format: BitmapFmt.RGBA, flags: TD, width: 2, height: 1, stride: 8, data: d32 });
  assert.deepEqual(pixels(iA.data, 2), [[1, 2, 3, 0], [4, 5, 6, 77]]);
  assert.equal(iA.hasAlpha, true);
  const i8 = decodeBitmap({ format: BitmapFmt['8BIT_A'], flags: 0, width: 2, height: 2, stride: 4, data: Buffer.from([1, 2, 9, 9, 3, 4, 9, 9]) });
  assert.deepEqual(pixels(i8.data, 4), [[0, 0, 0, 3], [0, 0, 0, 4], [0, 0, 0, 1], [0, 0, 0, 2]]);
  assert.equal(i8.hasAlpha, true);
});

test('row sizes', () => {
  assert.equal(bitmapRowBytes(BitmapFmt['1BIT_BE'], 9), 2);
  assert.equal(bitmapRowBytes(BitmapFmt['4BIT_BE'], 3), 2);
  assert.equal(bitmapRowBytes(BitmapFmt['24BIT'], 3), 9);
});

test('malformed bitmaps throw ProtocolError', () => {
  const data = Buffer.alloc(4 * 4 * 4);
  const ok = { format: BitmapFmt['32BIT'], flags: TD, width: 4, height: 4, stride: 16, data };
  decodeBitmap(ok);
  for (let n = 0; n < data.length - 16 + 1; n++) throwsProtocol(() => decodeBitmap({ ...ok, data: data.subarray(0, n) }), /truncated/);
  throwsProtocol(() => decodeBitmap({ ...ok, stride: 15 }), /stride/);
  throwsProtocol(() => decodeBitmap({ ...ok, format: 11 }), /unknown/);
  throwsProtocol(() => decodeBitmap({ ...ok, format: BitmapFmt['8BIT'] }), /palette/);
  throwsProtocol(() => decodeBitmap({ ...ok, width: 0 }), /size/);
  throwsProtocol(() => decodeBitmap({ ...ok, width: 0x7fffffff, height: 0x7fffffff }), /limit/);
  throwsProtocol(() => decodeBitmap({ ...ok, width: 4000, height: 4000, stride: 16000 }), /truncated/);
});

test('random bitmap parameters never crash', () => {
  const r = rng(4);
  for (let k = 0; k < 300; k++) {
    const data = Buffer.alloc(Math.floor(r() * 200));
    decodesOrProtocolError(() => decodeBitmap({
      format: Math.floor(r() * 12), flags: Math.floor(r() * 8), width: Math.floor(r() * 20), height: Math.floor(r() * 20),
      stride: Math.floor(r() * 90) - 5, data, palette: r() < 0.5 ? pal : null,
    }));
  }
});
