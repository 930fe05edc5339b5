import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeLz, LzImageType, parseLzHeader } from '../../src/render/codecs/lz.js';
import {
  decodesOrProtocolError, emitMatch, lzEncodeBytes, lzEncodeRgb, lzEncodeRgb16, lzHeader, pixel, rng, throwsProtocol,
} from './helpers.js';

const expand5 = (c: number): number => (c << 3) | (c >> 2);

/** Random-ish pixels with runs and repeated rows so the encoder finds matches. */
function samplePixels(width: number, height: number, seed: number, alpha = false): number[][] {
  const r = rng(seed);
  const px: number[][] = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (y > 0 && r() < 0.3) { px.push([...px[(y - 1) * width + x]!]); continue; }
      if (x > 0 && r() < 0.4) { px.push([...px[px.length - 1]!]); continue; }
      px.push([Math.floor(r() * 256), Math.floor(r() * 256), Math.floor(r() * 256), alpha ? Math.floor(r() * 256) : 255]);
    }
  }
  return px;
}

function assertPixels(data: Buffer, expected: number[][]): void {
  expected.forEach((p, i) => assert.deepEqual(pixel(data, i), p, `pixel ${i}`));
}

test('hand-assembled RGB32: literal, run match, literal', () => {
  const body = [0x00, 1, 2, 3, 0x40, 0x00, 0x00, 9, 8, 7];
  const img = decodeLz(Buffer.from([...lzHeader(LzImageType.RGB32, 4, 1, 16, true), ...body]));
  assert.equal(img.width, 4);
  assert.equal(img.height, 1);
  assert.equal(img.hasAlpha, false);
  assertPixels(img.data, [[1, 2, 3, 255], [1, 2, 3, 255], [1, 2, 3, 255], [9, 8, 7, 255]]);
});

test('hand-assembled PLT8: bias of 2 on matches, palette expansion, bottom-up rows', () => {
  // Stream (bottom row first): bottom = 2 2 2, top = 2 2 1  -> literal [2], match L=2 (4 units), literal [1]
  const body = [0x00, 2, 0x40, 0x00, 0x00, 1];
  const data = Buffer.from([...lzHeader(LzImageType.PLT8, 3, 2, 3, false), ...body]);
  const pal = new Uint32Array([0x000000, 0x112233, 0xaabbcc]);
  const img = decodeLz(data, { palette: pal });
  assertPixels(img.data, [
    [0xcc, 0xbb, 0xaa, 255], [0xcc, 0xbb, 0xaa, 255], [0x33, 0x22, 0x11, 255], // top row (second in stream)
    [0xcc, 0xbb, 0xaa, 255], [0xcc, 0xbb, 0xaa, 255], [0xcc, 0xbb, 0xaa, 255],
  ]);
});

test('hand-assembled RGB16: big-endian x555 literals, bias of 1', () => {
  // pixel 0x7c1f = r31 g0 b31; then match L=1 (2 units) offset 1
  const body = [0x00, 0x7c, 0x1f, 0x20, 0x00];
  const img = decodeLz(Buffer.from([...lzHeader(LzImageType.RGB16, 3, 1, 6, true), ...body]));
  for (let i = 0; i < 3; i++) assert.deepEqual(pixel(img.data, i), [255, 0, 255, 255]);
});

test('RGB32 / RGB24 / RGBA / XXXA round trips through the test encoder, both orientations', () => {
  for (const topDown of [true, false]) {
    for (const type of [7, 8, 9, 10] as const) {
      const w = 23, h = 17;
      const px = samplePixels(w, h, 7 + type, type >= 9);
      const img = decodeLz(lzEncodeRgb(type, w, h, px, topDown));
      assert.equal(img.hasAlpha, type >= 9);
      const expected = px.map((p) => (type === 10 ? [0, 0, 0, p[3]!] : type === 9 ? p : [p[0]!, p[1]!, p[2]!, 255]));
      assertPixels(img.data, expected);
    }
  }
});

test('RGB16 round trip', () => {
  const w = 19, h = 11;
  const r = rng(3);
  const vals: number[] = [];
  for (let i = 0; i < w * h; i++) vals.push(r() < 0.5 && i > 0 ? vals[i - 1]! : Math.floor(r() * 0x8000));
  for (const topDown of [true, false]) {
    const img = decodeLz(lzEncodeRgb16(w, h, vals, topDown));
    vals.forEach((v, i) => assert.deepEqual(pixel(img.data, i), [expand5(v & 31), expand5((v >> 5) & 31), expand5(v >> 10), 255]));
  }
});

test('A8 round trip gives alpha-only pixels', () => {
  const w = 9, h = 5;
  const bytes = Array.from({ length: w * h }, (_, i) => (i * 37) % 256 & (i % 3 ? 0xff : 0xf0));
  const img = decodeLz(lzEncodeBytes(LzImageType.A8, w, h, w, bytes, false));
  assert.equal(img.hasAlpha, true);
  bytes.forEach((a, i) => assert.deepEqual(pixel(img.data, i), [0, 0, 0, a]));
});

test('XXXA merges alpha into a given image', () => {
  const w = 4, h = 2;
  const px = samplePixels(w, h, 11, true);
  const base = { width: w, height: h, data: Buffer.alloc(w * h * 4, 0x42), hasAlpha: false };
  const img = decodeLz(lzEncodeRgb(10, w, h, px, true), { alphaInto: base });
  px.forEach((p, i) => assert.deepEqual(pixel(img.data, i), [0x42, 0x42, 0x42, p[3]]));
  assert.equal(base.data[3], 0x42, 'base image untouched');
  throwsProtocol(() => decodeLz(lzEncodeRgb(10, w, h, px, true), { alphaInto: { ...base, width: 3 } }));
});

test('palette types PLT1/PLT4 LE/BE and PLT8 with padded stride', () => {
  const pal = new Uint32Array(Array.from({ length: 256 }, (_, i) => (i * 0x010203) & 0xffffff));
  const ent = (i: number): number[] => { const v = pal[i]!; return [v & 255, (v >> 8) & 255, (v >> 16) & 255, 255]; };
  const w = 13, h = 6;
  const r = rng(5);
  const idx = Array.from({ length: w * h }, () => Math.floor(r() * 256));
  const cases = [
    { type: LzImageType.PLT1_LE, bits: 1, le: true },
    { type: LzImageType.PLT1_BE, bits: 1, le: false },
    { type: LzImageType.PLT4_LE, bits: 4, le: true },
    { type: LzImageType.PLT4_BE, bits: 4, le: false },
    { type: LzImageType.PLT8, bits: 8, le: false },
  ];
  for (const c of cases) {
    const stride = Math.ceil((w * c.bits) / 8) + 1; // one spare byte per row
    const mask = (1 << c.bits) - 1;
    const bytes: number[] = new Array(stride * h).fill(0);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = idx[y * w + x]! & mask;
        const bit = x * c.bits;
        const shift = c.le ? bit & 7 : 8 - c.bits - (bit & 7);
        bytes[y * stride + (bit >> 3)]! |= v << shift;
      }
    }
    for (const topDown of [true, false]) {
      const img = decodeLz(lzEncodeBytes(c.type, w, h, stride, bytes, topDown), { palette: pal });
      idx.forEach((v, i) => assert.deepEqual(pixel(img.data, i), ent(v & mask), `type ${c.type} pixel ${i}`));
    }
  }
});

test('far offsets (distance > 8191) and long lengths (255-byte extensions)', () => {
  const w = 100, h = 200;
  const r = rng(9);
  const bytes = Array.from({ length: w * h }, () => Math.floor(r() * 256));
  for (let i = 0; i < 9500; i++) bytes[9500 + i] = bytes[i]!; // repeats 9500 bytes back only
  const pal = new Uint32Array(Array.from({ length: 256 }, (_, i) => i * 0x010101));
  const enc = lzEncodeBytes(LzImageType.PLT8, w, h, w, bytes, true, { minDistance: 8192 });
  assert.ok(enc.length < w * h - 9000, 'the repeat was encoded as (far) matches');
  const img = decodeLz(enc, { palette: pal });
  bytes.forEach((v, i) => assert.equal(img.data[i * 4], v));

  // 5000 identical pixels: one literal, then a match with many 255 extension bytes.
  const n = 5000;
  const px = Array.from({ length: n }, () => [5, 6, 7, 255]);
  const long = lzEncodeRgb(8, n, 1, px, true);
  assert.ok(long.length < 60);
  assertPixels(decodeLz(long).data, px);
});

test('hand-built far match decodes at the right distance', () => {
  // PLT8, 8200 + 3 bytes: literals for 8200 bytes, then a 3-unit match from 8200 back (far form).
  const n = 8200;
  const body: number[] = [];
  const vals = Array.from({ length: n }, (_, i) => (i * 7) & 255);
  for (let i = 0; i < n; i += 32) {
    const c = vals.slice(i, i + 32);
    body.push(c.length - 1, ...c);
  }
  emitMatch(body, 1, n); // L=1 + bias 2 = 3 units
  assert.equal(body[body.length - 3], 255, 'far form used');
  const img = decodeLz(Buffer.from([...lzHeader(LzImageType.PLT8, n + 3, 1, n + 3, true), ...body]), {
    palette: new Uint32Array(Array.from({ length: 256 }, (_, i) => i)),
  });
  assert.deepEqual([img.data[n * 4], img.data[(n + 1) * 4], img.data[(n + 2) * 4]], [vals[0], vals[1], vals[2]]);
});

test('header parsing', () => {
  const h = parseLzHeader(Buffer.from(lzHeader(8, 640, 480, 2560, false)));
  assert.deepEqual(h, { type: 8, width: 640, height: 480, stride: 2560, topDown: false });
});

test('malformed LZ streams throw ProtocolError', () => {
  const good = lzEncodeRgb(9, 7, 5, samplePixels(7, 5, 1, true));
  decodeLz(good);
  for (let n = 0; n < good.length; n++) throwsProtocol(() => decodeLz(good.subarray(0, n)));

  const bad = (patch: (b: Buffer) => void): Buffer => { const b = Buffer.from(good); patch(b); return b; };
  throwsProtocol(() => decodeLz(bad((b) => b.writeUInt32BE(0x12345678, 0))), /magic/);
  throwsProtocol(() => decodeLz(bad((b) => b.writeUInt32BE(2, 4))), /version/);
  throwsProtocol(() => decodeLz(bad((b) => b.writeUInt32BE(12, 8))), /type 12/);
  throwsProtocol(() => decodeLz(bad((b) => b.writeUInt32BE(0, 12))), /size/);
  throwsProtocol(() => decodeLz(bad((b) => { b.writeUInt32BE(100000, 12); b.writeUInt32BE(100000, 16); })), /limit/);
  throwsProtocol(() => decodeLz(bad((b) => { b.writeUInt32BE(4000, 12); b.writeUInt32BE(4000, 16); })), /only/);

  const hdr = lzHeader(8, 4, 1, 16, true);
  throwsProtocol(() => decodeLz(Buffer.from([...hdr, 0x40, 0x00])), /before the start/);
  throwsProtocol(() => decodeLz(Buffer.from([...hdr, 0x00, 1, 2, 3, 0xe0, 10, 0x00])), /past the end/);
  throwsProtocol(() => decodeLz(Buffer.from([...hdr, 0x04, ...new Array(15).fill(1)])), /past the end/);
  throwsProtocol(() => decodeLz(Buffer.from([...lzHeader(5, 4, 1, 4, true), 0x03, 1, 2, 3, 4])), /palette/);
  throwsProtocol(() => decodeLz(Buffer.from([...lzHeader(5, 4, 1, 3, true), 0x02, 1, 2, 3]), { palette: new Uint32Array(4) }), /stride/);
  throwsProtocol(() => decodeLz(Buffer.from([...hdr, 0x00, 1, 2, 3, 0x00, 1, 2, 3])), /truncated/);
});

test('garbage after a valid header never crashes', () => {
  const r = rng(77);
  for (let k = 0; k < 300; k++) {
    const type = 1 + Math.floor(r() * 11);
    const w = 1 + Math.floor(r() * 40), h = 1 + Math.floor(r() * 40);
    const body = Array.from({ length: Math.floor(r() * 400) }, () => Math.floor(r() * 256));
    const data = Buffer.from([...lzHeader(type, w, h, w * 4, r() < 0.5), ...body]);
    decodesOrProtocolError(() => decodeLz(data, { palette: new Uint32Array(16) }));
  }
});
