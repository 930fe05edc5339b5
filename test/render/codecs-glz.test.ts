import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync, inflateSync } from 'node:zlib';
import { decodeGlz, decodeZlibGlz, GLZ_HEADER_SIZE, parseGlzHeader } from '../../src/render/codecs/glz.js';
import { LzImageType } from '../../src/render/codecs/lz.js';
import { GlzWindow, glzWindowPixels, GLZ_WINDOW_MAX_PIXELS } from '../../src/render/glz-window.js';
import { decodeImage, ImageStore } from '../../src/render/image.js';
import { ImageType } from '../../src/render/types.js';
import { codecData, decodeAll, diffPixels, fixtureImages, pairBySize, recording } from './codecs-fixtures.js';
import { glzHeader, glzLiterals, glzRef, scanGlzPass } from './glz-tools.js';
import { decodesOrProtocolError, descriptor, pixel, rng, throwsProtocol, u32 } from './helpers.js';

const RGB32 = LzImageType.RGB32;
const px3 = (n: number): number[] => [n & 255, (n * 7) & 255, (n * 13) & 255];
const bgra = (n: number): number[] => [...px3(n), 255];

/** An RGB32 GLZ stream of literal pixels 0..w*h-1 (keys n -> px3(n + seed)). */
function literalImage(id: bigint, w: number, h: number, whd: number, seed = 0, topDown = true): Buffer {
  const body: number[] = [];
  for (let i = 0; i < w * h; i += 32) {
    const units: number[][] = [];
    for (let k = i; k < Math.min(w * h, i + 32); k++) units.push(px3(k + seed));
    body.push(...glzLiterals(units));
  }
  return Buffer.from([...glzHeader(RGB32, topDown, w, h, w * 4, id, whd), ...body]);
}

test('GLZ: hand-assembled RGB32 with an in-image run and a literal', () => {
  const w = new GlzWindow();
  // A, then copy 2 units from 1 back (a run), then B.
  const data = Buffer.from([...glzHeader(RGB32, true, 4, 1, 16, 5n, 0), ...glzLiterals([[1, 2, 3]]), ...glzRef(2, 0, 1), ...glzLiterals([[9, 8, 7]])]);
  const img = decodeGlz(data, w);
  assert.equal(img.hasAlpha, false);
  assert.deepEqual([0, 1, 2, 3].map((i) => pixel(img.data, i)), [[1, 2, 3, 255], [1, 2, 3, 255], [1, 2, 3, 255], [9, 8, 7, 255]]);
  assert.equal(w.has(5n), true);
  assert.deepEqual(parseGlzHeader(data), { type: RGB32, topDown: true, width: 4, height: 1, stride: 16, id: 5n, winHeadDist: 0, gross: 4 });
});

test('GLZ: references into earlier images (short and long forms, 0-3 distance bytes, offsets past 2^17)', () => {
  const w = new GlzWindow();
  decodeGlz(literalImage(100n, 8, 4, 0), w); // pixels n = 0..31
  // Image 101: its 32 pixels copied from image 100 in two pieces, swapped.
  const b = decodeGlz(Buffer.from([...glzHeader(RGB32, true, 8, 4, 32, 101n, 1), ...glzRef(16, 1, 16), ...glzRef(16, 1, 0, true)]), w);
  for (let i = 0; i < 32; i++) assert.deepEqual(pixel(b.data, i), bgra(((i + 16) % 32)));
  // Far distances: put an image at id 100 + 70, + 20000 (short form, 1 and 2 extra bytes), and
  // reference them from later ids; long form with 1..3 distance bytes.
  for (const [base, dist, long] of [[200n, 70, false], [300n, 20000, false], [400n, 300, true], [500n, 70000, true], [600n, 5, true]] as const) {
    decodeGlz(literalImage(base, 4, 2, 0, Number(base)), w);
    const img = decodeGlz(Buffer.from([...glzHeader(RGB32, true, 4, 2, 16, base + BigInt(dist), dist), ...glzRef(8, dist, 0, long)]), w);
    for (let i = 0; i < 8; i++) assert.deepEqual(pixel(img.data, i), bgra(i + Number(base)), `dist ${dist}`);
  }
  // A big image (400x400, one literal then a run) and a reference at pixel 150000 (very long offset).
  const big = Buffer.from([...glzHeader(RGB32, true, 400, 400, 1600, 1000n, 0), ...glzLiterals([[1, 1, 1], [2, 2, 2]]),
    ...glzRef(149998, 0, 1), ...glzLiterals([[5, 6, 7], [8, 9, 10]]), ...glzRef(9998, 0, 1)]);
  decodeGlz(big, w);
  const far = decodeGlz(Buffer.from([...glzHeader(RGB32, true, 3, 1, 12, 1001n, 1), ...glzRef(3, 1, 149999)]), w);
  assert.deepEqual([0, 1, 2].map((i) => pixel(far.data, i)), [[2, 2, 2, 255], [5, 6, 7, 255], [8, 9, 10, 255]]);
});

test('GLZ window: images older than id - win_head_dist are released; a missing reference is a ProtocolError', () => {
  const w = new GlzWindow();
  for (let id = 0n; id < 5n; id++) decodeGlz(literalImage(id, 2, 2, Number(id), Number(id)), w);
  assert.deepEqual(w.ids(), [0n, 1n, 2n, 3n, 4n]);
  assert.equal(w.pixels, 20);
  // Image 5 may still reference image 2 (released only after it is decoded), then keeps 4 and 5.
  const img = decodeGlz(Buffer.from([...glzHeader(RGB32, true, 2, 2, 8, 5n, 1), ...glzRef(4, 3, 0)]), w);
  for (let i = 0; i < 4; i++) assert.deepEqual(pixel(img.data, i), bgra(i + 2));
  assert.deepEqual(w.ids(), [4n, 5n]);
  throwsProtocol(() => decodeGlz(Buffer.from([...glzHeader(RGB32, true, 2, 2, 8, 6n, 2), ...glzRef(4, 3, 0)]), w),
    /image 6 refers to image 3, which is not in the GLZ window/);
  throwsProtocol(() => decodeGlz(Buffer.from([...glzHeader(RGB32, true, 2, 2, 8, 2n, 0), ...glzRef(4, 7, 0)]), w),
    /refers to image -5/);
  // Copying past the end of the referenced image.
  throwsProtocol(() => decodeGlz(Buffer.from([...glzHeader(RGB32, true, 2, 2, 8, 6n, 2), ...glzRef(4, 1, 1)]), w),
    /copies pixels 1\.\.5 of image 5, which has 4/);
  w.clear();
  assert.equal(w.imageCount, 0);
  assert.equal(w.pixels, 0);
});

test('GLZ window: memory bound evicts the oldest images; the same id replaces', () => {
  const w = new GlzWindow(10);
  decodeGlz(literalImage(1n, 2, 2, 1), w);
  decodeGlz(literalImage(2n, 2, 2, 2), w);
  decodeGlz(literalImage(3n, 2, 2, 3), w);
  assert.deepEqual(w.ids(), [2n, 3n]);
  assert.equal(w.pixels, 8);
  decodeGlz(literalImage(3n, 1, 1, 3), w);
  assert.equal(w.pixels, 5);
  // win_head_dist 0: nothing older is needed any more.
  decodeGlz(literalImage(4n, 1, 1, 0), w);
  assert.deepEqual(w.ids(), [4n]);
  throwsProtocol(() => decodeGlz(literalImage(9n, 4, 4, 0), w), /more than the 10-pixel window/);
});

test('GLZ: window size to advertise (spice-gtk: clamp(ram_hint / 2, 12 MiB, 64 MiB) / 4)', () => {
  assert.equal(glzWindowPixels(0), 3 * 1024 * 1024);
  assert.equal(glzWindowPixels(16 * 1024 * 1024), 3 * 1024 * 1024);
  assert.equal(glzWindowPixels(64 * 1024 * 1024), 8 * 1024 * 1024);
  assert.equal(glzWindowPixels(1024 * 1024 * 1024), 16 * 1024 * 1024);
  assert.equal(glzWindowPixels(Number.NaN), 3 * 1024 * 1024);
  assert.equal(GLZ_WINDOW_MAX_PIXELS, 16 * 1024 * 1024);
});

test('GLZ: bottom-up images are flipped for drawing but referenced in stream order', () => {
  const w = new GlzWindow();
  const img = decodeGlz(literalImage(1n, 2, 2, 0, 0, false), w); // stream: bottom row 0 1, top row 2 3
  assert.deepEqual([0, 1, 2, 3].map((i) => pixel(img.data, i)), [bgra(2), bgra(3), bgra(0), bgra(1)]);
  const ref = decodeGlz(Buffer.from([...glzHeader(RGB32, true, 1, 1, 4, 2n, 1), ...glzRef(1, 1, 0)]), w);
  assert.deepEqual(pixel(ref.data, 0), bgra(0));
  // Top-down images share the window's buffer (no copy).
  const td = decodeGlz(literalImage(3n, 2, 2, 0), w);
  assert.equal(td.data.buffer, w.get(3n)!.px.buffer);
});

test('GLZ: RGB16 (big-endian x555 literals, length bias 1) and RGB24', () => {
  const w = new GlzWindow();
  const d16 = Buffer.from([...glzHeader(LzImageType.RGB16, true, 4, 1, 8, 1n, 0), ...glzLiterals([[0x7c, 0x1f]]), ...glzRef(1, 0, 1), ...glzLiterals([[0x03, 0xe0]])]);
  const a = decodeGlz(d16, w);
  assert.deepEqual([0, 1, 2, 3].map((i) => pixel(a.data, i)), [[255, 0, 255, 255], [255, 0, 255, 255], [255, 0, 255, 255], [0, 255, 0, 255]]);
  const d24 = Buffer.from([...glzHeader(LzImageType.RGB24, true, 2, 1, 6, 2n, 1), ...glzLiterals([[1, 2, 3]]), ...glzRef(1, 1, 3)]);
  const b = decodeGlz(d24, w);
  assert.deepEqual([pixel(b.data, 0), pixel(b.data, 1)], [[1, 2, 3, 255], [0, 255, 0, 255]]);
});

test('GLZ: RGBA = colour pass then alpha pass (bias 2); alpha copied from RGBA images, 0 from images without alpha', () => {
  const w = new GlzWindow();
  decodeGlz(literalImage(1n, 4, 1, 0), w); // RGB32: no alpha
  const rgba1 = Buffer.from([...glzHeader(LzImageType.RGBA, true, 4, 1, 16, 2n, 1),
    ...glzLiterals([[1, 1, 1], [2, 2, 2], [3, 3, 3], [4, 4, 4]]), // colour pass
    ...glzLiterals([[10]]), ...glzRef(1, 0, 1)]); // alpha: 10, then run of 3
  const a = decodeGlz(rgba1, w);
  assert.equal(a.hasAlpha, true);
  assert.deepEqual([0, 1, 2, 3].map((i) => pixel(a.data, i)), [[1, 1, 1, 10], [2, 2, 2, 10], [3, 3, 3, 10], [4, 4, 4, 10]]);
  const rgba2 = Buffer.from([...glzHeader(LzImageType.RGBA, true, 4, 2, 16, 3n, 2),
    ...glzRef(4, 1, 0), ...glzRef(4, 2, 0), // colour: image 2 then image 1
    ...glzRef(2, 1, 0), ...glzRef(2, 2, 0)]); // alpha: 4 from image 2, 4 from image 1 (no alpha)
  const b = decodeGlz(rgba2, w);
  assert.deepEqual([0, 3, 4, 7].map((i) => pixel(b.data, i)), [[1, 1, 1, 10], [4, 4, 4, 10], [...px3(0), 0], [...px3(3), 0]]);
  // Colour copied from an RGBA image into an image without alpha stays opaque.
  const c = decodeGlz(Buffer.from([...glzHeader(RGB32, true, 4, 1, 16, 4n, 2), ...glzRef(4, 2, 0)]), w);
  assert.deepEqual(pixel(c.data, 0), [1, 1, 1, 255]);
});

test('GLZ: palette types expand through a palette; offsets and lengths count packed bytes; row padding', () => {
  const pal = new Uint32Array([0x000000, 0xff0000, 0x00ff00, 0x0000ff]);
  const R = [0, 0, 255, 255], G = [0, 255, 0, 255], B = [255, 0, 0, 255], K = [0, 0, 0, 255];
  const w = new GlzWindow();
  // PLT8 3x2, stride 4 (one padding byte per row), top-down: row0 = 1 2 3 (pad), row1 = copy of row0.
  const p8 = decodeGlz(Buffer.from([...glzHeader(LzImageType.PLT8, true, 3, 2, 4, 1n, 0), ...glzLiterals([[1], [2], [3], [0]]), ...glzRef(2, 0, 4)]), w, { palette: pal });
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((i) => pixel(p8.data, i)), [R, G, B, R, G, B]);
  assert.equal(w.get(1n)!.gross, 8);
  // PLT4_BE 4x1 (2 bytes): 0x12 0x30 -> 1 2 3 0; PLT4_LE: 0x21 0x03 -> 1 2 3 0.
  const p4be = decodeGlz(Buffer.from([...glzHeader(LzImageType.PLT4_BE, true, 4, 1, 2, 2n, 1), ...glzLiterals([[0x12], [0x30]])]), w, { palette: pal });
  const p4le = decodeGlz(Buffer.from([...glzHeader(LzImageType.PLT4_LE, true, 4, 1, 2, 3n, 2), ...glzLiterals([[0x21], [0x03]])]), w, { palette: pal });
  for (const img of [p4be, p4le]) assert.deepEqual([0, 1, 2, 3].map((i) => pixel(img.data, i)), [R, G, B, K]);
  // PLT1_BE 10x2, stride 2 (16 gross pixels a row), bottom-up: stream row 0 (the bottom row) = 0xA0 0x40.
  const p1 = decodeGlz(Buffer.from([...glzHeader(LzImageType.PLT1_BE, false, 10, 2, 2, 4n, 3), ...glzLiterals([[0xa0], [0x40], [0xff], [0xc0]])]), w, { palette: pal });
  assert.deepEqual(Array.from({ length: 10 }, (_, i) => pixel(p1.data, i)), Array(10).fill(R));
  assert.deepEqual(Array.from({ length: 10 }, (_, i) => pixel(p1.data, 10 + i)), [R, K, R, K, K, K, K, K, K, R]);
  assert.equal(w.get(4n)!.gross, 32);
  const p1le = decodeGlz(Buffer.from([...glzHeader(LzImageType.PLT1_LE, true, 8, 1, 1, 5n, 4), ...glzLiterals([[0x05]])]), w, { palette: pal });
  assert.deepEqual(Array.from({ length: 8 }, (_, i) => pixel(p1le.data, i)), [R, K, R, K, K, K, K, K]);
  // PLT4_LE 8x2 (stride 4): row 1 copies row 0 by an in-image reference of 4 bytes = 8 pixels.
  const p4 = decodeGlz(Buffer.from([...glzHeader(LzImageType.PLT4_LE, true, 8, 2, 4, 6n, 5), ...glzLiterals([[0x21], [0x03], [0x12], [0x30]]), ...glzRef(2, 0, 4)]), w, { palette: pal });
  assert.deepEqual(Array.from({ length: 16 }, (_, i) => pixel(p4.data, i)), [R, G, B, K, G, R, K, B, R, G, B, K, G, R, K, B]);
  // PLT8 from another image: 8 bytes of image 1 (offset in packed bytes).
  const x8 = decodeGlz(Buffer.from([...glzHeader(LzImageType.PLT8, true, 3, 2, 4, 7n, 6), ...glzRef(6, 6, 0)]), w, { palette: pal });
  assert.ok(x8.data.equals(p8.data));
  throwsProtocol(() => decodeGlz(Buffer.from([...glzHeader(LzImageType.PLT8, true, 3, 2, 4, 8n, 0), ...glzLiterals([[1]])]), w), /without a palette/);
  throwsProtocol(() => parseGlzHeader(Buffer.from(glzHeader(LzImageType.PLT4_LE, true, 9, 2, 4, 8n, 0))), /stride 4 is too small/);
});

test('GLZ: malformed streams throw ProtocolError', () => {
  const w = new GlzWindow();
  decodeGlz(literalImage(1n, 4, 4, 0), w);
  const hdr = (type: number, width: number, height: number, id = 9n) => glzHeader(type, true, width, height, width * 4, id, 0);
  throwsProtocol(() => decodeGlz(Buffer.alloc(10), w), /truncated: 10-byte header/);
  const bad = Buffer.from(hdr(RGB32, 2, 2));
  bad[0] = 0;
  throwsProtocol(() => decodeGlz(bad, w), /bad magic/);
  const badv = Buffer.from(hdr(RGB32, 2, 2));
  badv[7] = 2;
  throwsProtocol(() => decodeGlz(badv, w), /version/);
  for (const t of [0, 10, 11, 15]) throwsProtocol(() => decodeGlz(Buffer.from(hdr(t, 2, 2)), w), /not a GLZ type/);
  throwsProtocol(() => decodeGlz(Buffer.from(hdr(RGB32, 0, 2)), w), /invalid size/);
  throwsProtocol(() => decodeGlz(Buffer.from([...hdr(RGB32, 65536, 65536), 0]), w), /limit/);
  throwsProtocol(() => decodeGlz(Buffer.from([...hdr(RGB32, 8000, 8000), 0, 1, 2, 3]), w), /claims 8000x8000 from only 37 bytes/);
  throwsProtocol(() => decodeGlz(Buffer.from(hdr(RGB32, 2, 2)), w), /truncated/);
  throwsProtocol(() => decodeGlz(Buffer.from([...hdr(RGB32, 2, 1), ...glzLiterals([[1, 2, 3], [4, 5, 6], [7, 8, 9]])]), w), /literal run of 3 units runs past/);
  throwsProtocol(() => decodeGlz(Buffer.from([...hdr(RGB32, 2, 1), ...glzLiterals([[1, 2, 3]]), ...glzRef(2, 0, 1)]), w), /match of 2 pixels runs past/);
  throwsProtocol(() => decodeGlz(Buffer.from([...hdr(RGB32, 4, 1), ...glzLiterals([[1, 2, 3]]), ...glzRef(2, 0, 2)]), w), /points before the start/);
  throwsProtocol(() => decodeGlz(Buffer.from([...hdr(RGB32, 4, 1), ...glzLiterals([[1, 2, 3]]), 0xe0]), w), /truncated/);
  throwsProtocol(() => decodeGlz(Buffer.from([...hdr(LzImageType.RGBA, 1, 1), ...glzLiterals([[1, 2, 3]])]), w), /truncated \(alpha pass\)/);
  // Every truncation of a real stream, and random corruption.
  const real = fixtureImages(recording('glz.bin')).filter((x) => x.desc.type === ImageType.GLZ_RGB);
  for (const x of real.slice(10, 16)) {
    const data = codecData(x);
    for (let cut = 0; cut < data.length; cut++) {
      const win = new GlzWindow();
      throwsProtocol(() => decodeGlz(data.subarray(0, cut), win));
    }
  }
  const r = rng(5);
  for (let k = 0; k < 400; k++) {
    const x = real[Math.floor(r() * real.length)]!;
    const d = Buffer.from(codecData(x));
    for (let n = 0; n < 3; n++) {
      const at = GLZ_HEADER_SIZE + Math.floor(r() * (d.length - GLZ_HEADER_SIZE));
      d[at] = Math.floor(r() * 256);
    }
    decodesOrProtocolError(() => decodeGlz(d, new GlzWindow()));
  }
  for (let k = 0; k < 200; k++) {
    const body = Array.from({ length: Math.floor(r() * 300) }, () => Math.floor(r() * 256));
    decodesOrProtocolError(() => decodeGlz(Buffer.from([...glzHeader(1 + Math.floor(r() * 9), r() < 0.5, 1 + Math.floor(r() * 30), 1 + Math.floor(r() * 30), 40, BigInt(k), Math.floor(r() * 4)), ...body]), w, { palette: new Uint32Array(3) }));
  }
});

test('ZLIB_GLZ_RGB: inflate to exactly glz_data_size, then GLZ', () => {
  const glz = literalImage(50n, 8, 8, 0);
  const z = deflateSync(glz);
  const w = new GlzWindow();
  const img = decodeZlibGlz(z, glz.length, w);
  assert.deepEqual(pixel(img.data, 63), bgra(63));
  assert.equal(w.has(50n), true);
  throwsProtocol(() => decodeZlibGlz(z, glz.length - 1, new GlzWindow()), /does not inflate to its declared/);
  throwsProtocol(() => decodeZlibGlz(z, glz.length + 1, new GlzWindow()), /inflated to 227 bytes, 228 declared/);
  throwsProtocol(() => decodeZlibGlz(z.subarray(0, z.length - 6), glz.length, new GlzWindow()), /does not inflate|inflated to/);
  throwsProtocol(() => decodeZlibGlz(Buffer.from('not zlib at all'), glz.length, new GlzWindow()), /does not inflate/);
  throwsProtocol(() => decodeZlibGlz(z, 0xffffffff, new GlzWindow()), /impossible GLZ size/);
  throwsProtocol(() => decodeZlibGlz(z, 200_000_000, new GlzWindow()), /claims 200000000 bytes from only/);
  throwsProtocol(() => decodeZlibGlz(z, 10, new GlzWindow()), /impossible GLZ size 10/);
});

test('GLZ / ZLIB_GLZ through decodeImage: the window lives in the ImageStore; descriptor checks', () => {
  const store = new ImageStore();
  const glz = literalImage(1n, 4, 2, 0);
  const msg = Buffer.from([...descriptor(77n, ImageType.GLZ_RGB, 1, 4, 2), ...u32(glz.length), ...glz]);
  const img = decodeImage(msg, 0, store, () => undefined);
  assert.equal(store.glz.has(1n), true);
  assert.equal(store.getImage(77n), img);
  const z = deflateSync(literalImage(2n, 4, 2, 1, 3));
  const zmsg = Buffer.from([...descriptor(78n, ImageType.ZLIB_GLZ_RGB, 0, 4, 2), ...u32(glz.length), ...u32(z.length), ...z]);
  const zimg = decodeImage(zmsg, 0, store, () => undefined);
  assert.deepEqual(pixel(zimg.data, 0), bgra(3));
  assert.deepEqual(store.glz.ids(), [1n, 2n]);
  const wrong = Buffer.from([...descriptor(79n, ImageType.GLZ_RGB, 0, 4, 3), ...u32(glz.length), ...glz]);
  throwsProtocol(() => decodeImage(wrong, 0, store, () => undefined), /GLZ image 1 is 4x2, descriptor says 4x3/);
  const short = Buffer.from([...descriptor(79n, ImageType.ZLIB_GLZ_RGB, 0, 4, 2), ...u32(glz.length), ...u32(z.length + 1), ...z]);
  throwsProtocol(() => decodeImage(short, 0, store, () => undefined), /truncated/);
  // A shared window: two stores (two display channels) with one GlzWindow.
  const shared = new GlzWindow();
  const a = new ImageStore(Infinity, shared);
  const b = new ImageStore(Infinity, shared);
  decodeImage(msg, 0, a, () => undefined);
  const ref = Buffer.from([...glzHeader(RGB32, true, 4, 2, 16, 3n, 2), ...glzRef(8, 2, 0)]);
  const refImg = decodeImage(Buffer.from([...descriptor(80n, ImageType.GLZ_RGB, 0, 4, 2), ...u32(ref.length), ...ref]), 0, b, () => undefined);
  assert.ok(refImg.data.equals(img.data));
});

test('GLZ: real Xspice images (RGBA, cross-image references) equal the uncompressed capture of the same scene', () => {
  for (const name of ['glz.bin', 'zlib-glz.bin']) {
    const msgs = recording(name);
    const glz = decodeAll(msgs);
    const types = new Set(glz.map((x) => x.img.desc.type));
    assert.ok(types.has(name === 'glz.bin' ? ImageType.GLZ_RGB : ImageType.ZLIB_GLZ_RGB), name);
    // The stream exercises references into earlier images, also further back than the last one.
    const cross: number[] = [];
    for (const x of glz) {
      if (x.img.desc.type !== ImageType.GLZ_RGB && x.img.desc.type !== ImageType.ZLIB_GLZ_RGB) continue;
      const data = x.img.desc.type === ImageType.GLZ_RGB ? codecData(x.img)
        : inflateSync(x.img.payload.subarray(8, 8 + x.img.payload.readUInt32LE(4)));
      const h = parseGlzHeader(data);
      assert.equal(h.type, LzImageType.RGBA);
      const s = scanGlzPass(data, GLZ_HEADER_SIZE, h.gross, 0, 3);
      cross.push(...s.cross.map((c) => c.dist));
      scanGlzPass(data, s.end, h.gross, 2, 1);
    }
    assert.ok(cross.length >= 20, `${name}: ${cross.length} cross-image references`);
    assert.ok(cross.some((d) => d > 1), `${name}: references beyond the previous image`);
    const off = decodeAll(recording('off.bin.gz'));
    const pairs = pairBySize(glz, off);
    assert.ok(pairs.length >= 15, `${name}: ${pairs.length} images to compare`);
    for (const [g, o] of pairs) {
      const { width, height } = g.decoded;
      assert.equal(diffPixels(g.decoded.data, o.decoded.data, width * height), 0, `${name} image ${g.img.index} ${width}x${height}`);
    }
  }
});

test('GLZ: throughput on the captured images', (t) => {
  for (const name of ['glz.bin', 'zlib-glz.bin']) {
    const imgs = fixtureImages(recording(name));
    let best = Infinity;
    let px = 0;
    for (let it = 0; it < 10; it++) {
      const store = new ImageStore();
      let ms = 0;
      px = 0;
      for (const x of imgs) {
        const t0 = performance.now();
        const img = decodeImage(x.msg.body, x.offset, store, () => undefined);
        if (x.desc.type === ImageType.GLZ_RGB || x.desc.type === ImageType.ZLIB_GLZ_RGB) {
          ms += performance.now() - t0;
          px += img.width * img.height;
        }
      }
      best = Math.min(best, ms);
    }
    t.diagnostic(`${name}: ${(px / 1e6).toFixed(3)} MP in ${best.toFixed(2)} ms = ${(px / 1e3 / best).toFixed(0)} MP/s`);
  }
});
