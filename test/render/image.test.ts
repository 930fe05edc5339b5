import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compressSync } from 'lz4-napi';
import { decodeImage, ImageStore, parseImageDescriptor } from '../../src/render/image.js';
import { Surface } from '../../src/render/surface.js';
import { BitmapFlags, BitmapFmt, ImageFlags, ImageType } from '../../src/render/types.js';
import {
  decodesOrProtocolError, descriptor, lzEncodeBytes, lzEncodeRgb, paletteBytes, pixel, rng, throwsProtocol, u32, u64,
} from './helpers.js';

const noSurfaces = (): Surface | undefined => undefined;
const PREFIX = [0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0]; // pretend message fields before the image

/** A message body with the image at offset PREFIX.length and `tail` bytes after it. */
function body(image: number[], tail: number[] = []): Buffer {
  return Buffer.from([...PREFIX, ...image, ...tail]);
}

/** A 32BIT top-down 2x2 BITMAP image. */
function bitmap32(id: bigint, flags = 0): number[] {
  return [
    ...descriptor(id, ImageType.BITMAP, flags, 2, 2),
    BitmapFmt['32BIT'], BitmapFlags.TOP_DOWN, ...u32(2), ...u32(2), ...u32(8), ...u32(0),
    1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 10, 11, 12, 0,
  ];
}

test('descriptor parsing', () => {
  const d = parseImageDescriptor(body(descriptor(0x1122334455667788n, 101, 3, 640, 480)), PREFIX.length);
  assert.deepEqual(d, { id: 0x1122334455667788n, type: 101, flags: 3, width: 640, height: 480 });
});

test('BITMAP 32BIT, CACHE_ME stores it and FROM_CACHE / FROM_CACHE_LOSSLESS return it', () => {
  const store = new ImageStore();
  const img = decodeImage(body(bitmap32(42n, ImageFlags.CACHE_ME)), PREFIX.length, store, noSurfaces);
  assert.deepEqual(pixel(img.data, 3), [10, 11, 12, 255]);
  assert.equal(store.imageCount, 1);
  assert.equal(store.pixels, 4);
  const again = decodeImage(body(descriptor(42n, ImageType.FROM_CACHE, 0, 2, 2)), PREFIX.length, store, noSurfaces);
  assert.equal(again, img);
  assert.equal(decodeImage(body(descriptor(42n, ImageType.FROM_CACHE_LOSSLESS, 0, 2, 2)), PREFIX.length, store, noSurfaces), img);
  throwsProtocol(() => decodeImage(body(descriptor(42n, ImageType.FROM_CACHE, 0, 3, 2)), PREFIX.length, store, noSurfaces), /descriptor says/);
  store.putImage(43n, img, true);
  throwsProtocol(() => decodeImage(body(descriptor(43n, ImageType.FROM_CACHE_LOSSLESS, 0, 2, 2)), PREFIX.length, store, noSurfaces), /lossy/);

  store.invalidate([42n, 999n]);
  assert.equal(store.hasImage(42n), false);
  throwsProtocol(() => decodeImage(body(descriptor(42n, ImageType.FROM_CACHE, 0, 2, 2)), PREFIX.length, store, noSurfaces), /not in the pixmap cache/);
  store.invalidateAll();
  assert.equal(store.imageCount, 0);
  assert.equal(store.pixels, 0);
});

test('images without CACHE_ME are not cached; the cache never evicts on its own', () => {
  const store = new ImageStore();
  decodeImage(body(bitmap32(1n)), PREFIX.length, store, noSurfaces);
  assert.equal(store.imageCount, 0);
  for (let i = 0; i < 500; i++) decodeImage(body(bitmap32(BigInt(i), ImageFlags.CACHE_ME)), PREFIX.length, store, noSurfaces);
  assert.equal(store.imageCount, 500);
  const small = new ImageStore(6);
  decodeImage(body(bitmap32(1n, ImageFlags.CACHE_ME)), PREFIX.length, small, noSurfaces);
  throwsProtocol(() => decodeImage(body(bitmap32(2n, ImageFlags.CACHE_ME)), PREFIX.length, small, noSurfaces), /overflow/);
});

test('a bitmap whose size differs from the descriptor is refused', () => {
  const img = bitmap32(5n);
  img.splice(0, 18, ...descriptor(5n, ImageType.BITMAP, 0, 3, 2));
  throwsProtocol(() => decodeImage(body(img), PREFIX.length, new ImageStore(), noSurfaces), /bitmap is 2x2, descriptor says 3x2/);
});

test('HIGH_BITS_SET keeps alpha 255 on xRGB images', () => {
  const img = decodeImage(body(bitmap32(5n, ImageFlags.HIGH_BITS_SET)), PREFIX.length, new ImageStore(), noSurfaces);
  for (let i = 0; i < 4; i++) assert.equal(img.data[i * 4 + 3], 255);
});

test('BITMAP 8BIT with a palette pointer, PAL_CACHE_ME then PAL_FROM_CACHE, palette invalidation', () => {
  const store = new ImageStore();
  const imgStart = PREFIX.length;
  const imgLen = 18 + 14 + 4 + 4; // descriptor, bitmap header, palette ptr, 2x2 data
  const palPtr = imgStart + imgLen;
  const image = [
    ...descriptor(7n, ImageType.BITMAP, 0, 2, 2),
    BitmapFmt['8BIT'], BitmapFlags.PAL_CACHE_ME, ...u32(2), ...u32(2), ...u32(2), ...u32(palPtr),
    0, 1, 2, 1,
  ];
  const img = decodeImage(body(image, paletteBytes(77n, [0x102030, 0x405060, 0x708090])), imgStart, store, noSurfaces);
  // bottom-up: first data row is the bottom row
  assert.deepEqual([0, 1, 2, 3].map((i) => pixel(img.data, i)), [
    [0x90, 0x80, 0x70, 255], [0x60, 0x50, 0x40, 255], [0x30, 0x20, 0x10, 255], [0x60, 0x50, 0x40, 255],
  ]);
  assert.equal(store.paletteCount, 1);

  const fromCache = [
    ...descriptor(8n, ImageType.BITMAP, 0, 2, 1),
    BitmapFmt['8BIT'], BitmapFlags.PAL_FROM_CACHE | BitmapFlags.TOP_DOWN, ...u32(2), ...u32(1), ...u32(2), ...u64(77n),
    2, 0,
  ];
  const img2 = decodeImage(body(fromCache), imgStart, store, noSurfaces);
  assert.deepEqual(pixel(img2.data, 0), [0x90, 0x80, 0x70, 255]);
  store.invalidatePalette(77n);
  throwsProtocol(() => decodeImage(body(fromCache), imgStart, store, noSurfaces), /palette 77/);
  store.putPalette({ unique: 77n, ents: new Uint32Array([1, 2, 3]) });
  store.invalidateAllPalettes();
  assert.equal(store.paletteCount, 0);

  // palette pointers outside the body, or palettes cut short
  throwsProtocol(() => decodeImage(body(image), imgStart, store, noSurfaces));
  throwsProtocol(() => decodeImage(body(image, paletteBytes(77n, [1, 2, 3]).slice(0, 15)), imgStart, store, noSurfaces));
  // null palette pointer for a palette format
  const nullPal = [...image];
  nullPal.splice(18 + 14, 4, ...u32(0));
  throwsProtocol(() => decodeImage(body(nullPal), imgStart, store, noSurfaces), /palette/);
});

test('LZ_RGB, LZ_PLT and LZ4 images', () => {
  const store = new ImageStore();
  const r = rng(1);
  const w = 6, h = 5;
  const px = Array.from({ length: w * h }, () => [Math.floor(r() * 256), Math.floor(r() * 256), Math.floor(r() * 256), 255]);

  const lz = lzEncodeRgb(8, w, h, px, false);
  const lzImg = decodeImage(body([...descriptor(1n, ImageType.LZ_RGB, ImageFlags.CACHE_ME, w, h), ...u32(lz.length), ...lz]),
    PREFIX.length, store, noSurfaces);
  px.forEach((p, i) => assert.deepEqual(pixel(lzImg.data, i), p));
  assert.ok(store.hasImage(1n));
  throwsProtocol(() => decodeImage(body([...descriptor(1n, ImageType.LZ_RGB, 0, w + 1, h), ...u32(lz.length), ...lz]),
    PREFIX.length, store, noSurfaces), /LZ stream is 6x5, descriptor says 7x5/);

  const idx = Array.from({ length: w * h }, (_, i) => i % 3);
  const plt = lzEncodeBytes(5, w, h, w, idx, true);
  const imgStart = PREFIX.length;
  const palPtr = imgStart + 18 + 1 + 4 + 4 + plt.length;
  const pltImage = [...descriptor(2n, ImageType.LZ_PLT, 0, w, h), BitmapFlags.PAL_CACHE_ME, ...u32(plt.length), ...u32(palPtr), ...plt];
  const pltImg = decodeImage(body(pltImage, paletteBytes(9n, [0xff0000, 0x00ff00, 0x0000ff])), imgStart, store, noSurfaces);
  const cols = [[0, 0, 255, 255], [0, 255, 0, 255], [255, 0, 0, 255]];
  idx.forEach((v, i) => assert.deepEqual(pixel(pltImg.data, i), cols[v]));
  assert.ok(store.getPalette(9n));
  // an LZ_RGB stream inside LZ_PLT (and vice versa) is refused
  throwsProtocol(() => decodeImage(body([...descriptor(2n, ImageType.LZ_PLT, 0, w, h), BitmapFlags.PAL_FROM_CACHE,
    ...u32(lz.length), ...u64(9n), ...lz]), imgStart, store, noSurfaces), /not a palette type/);
  throwsProtocol(() => decodeImage(body([...descriptor(2n, ImageType.LZ_RGB, 0, w, h), ...u32(plt.length), ...plt]),
    imgStart, store, noSurfaces), /palette LZ type/);

  const raw = Buffer.from(px.flatMap((p) => p));
  const blk = compressSync(raw).subarray(4);
  const lz4 = Buffer.concat([Buffer.from([1, BitmapFmt['32BIT'], 0, 0, 0, 0]), blk]);
  lz4.writeUInt32BE(blk.length, 2);
  const lz4Img = decodeImage(body([...descriptor(3n, ImageType.LZ4, 0, w, h), ...u32(lz4.length), ...lz4]), PREFIX.length, store, noSurfaces);
  px.forEach((p, i) => assert.deepEqual(pixel(lz4Img.data, i), p));
});

test('SURFACE images are views of the surface', () => {
  const s = new Surface(3, 4, 4);
  s.fill({ top: 0, left: 0, bottom: 4, right: 4 }, null, 0x112233, 8);
  const img = decodeImage(body([...descriptor(0n, ImageType.SURFACE, 0, 4, 4), ...u32(3)]), PREFIX.length, new ImageStore(),
    (id) => (id === 3 ? s : undefined));
  assert.equal(img.data, s.data);
  assert.equal(img.width, 4);
  throwsProtocol(() => decodeImage(body([...descriptor(0n, ImageType.SURFACE, 0, 4, 4), ...u32(4)]), PREFIX.length,
    new ImageStore(), noSurfaces), /surface 4/);
});

test('empty payloads of the codec image types are ProtocolErrors; unknown types name the type', () => {
  const cases: [number, RegExp][] = [
    [ImageType.QUIC, /QUIC image is truncated/], [ImageType.GLZ_RGB, /GLZ image is truncated/],
    [ImageType.JPEG, /JPEG image does not start with an SOI marker/], [ImageType.ZLIB_GLZ_RGB, /truncated/],
    [ImageType.JPEG_ALPHA, /truncated/],
  ];
  for (const [type, re] of cases) {
    throwsProtocol(() => decodeImage(body([...descriptor(1n, type, 0, 2, 2), ...u32(0)]), PREFIX.length, new ImageStore(), noSurfaces), re);
  }
  throwsProtocol(() => decodeImage(body(descriptor(1n, 55, 0, 2, 2)), PREFIX.length, new ImageStore(), noSurfaces), /type 55 is unknown/);
});

test('truncated, oversized and garbage images throw ProtocolError', () => {
  const full = body(bitmap32(9n, ImageFlags.CACHE_ME));
  for (let n = PREFIX.length; n < full.length; n++) {
    throwsProtocol(() => decodeImage(full.subarray(0, n), PREFIX.length, new ImageStore(), noSurfaces));
  }
  throwsProtocol(() => decodeImage(full, full.length + 5, new ImageStore(), noSurfaces));
  // huge declared sizes: no allocation, just an error
  const huge = [...descriptor(1n, ImageType.BITMAP, 0, 0x10000, 0x10000), BitmapFmt['32BIT'], 4, ...u32(0x10000), ...u32(0x10000),
    ...u32(0x40000), ...u32(0)];
  throwsProtocol(() => decodeImage(body(huge), PREFIX.length, new ImageStore(), noSurfaces), /limit/);
  const lying = [...descriptor(1n, ImageType.BITMAP, 0, 3000, 3000), BitmapFmt['32BIT'], 4, ...u32(3000), ...u32(3000),
    ...u32(12000), ...u32(0), 1, 2, 3];
  throwsProtocol(() => decodeImage(body(lying), PREFIX.length, new ImageStore(), noSurfaces), /truncated/);
  const lz4Lie = [...descriptor(1n, ImageType.LZ4, 0, 2, 2), ...u32(1000), 1, 8];
  throwsProtocol(() => decodeImage(body(lz4Lie), PREFIX.length, new ImageStore(), noSurfaces), /truncated/);

  const r = rng(31);
  const types = [0, 100, 101, 103, 104, 106, 109];
  for (let k = 0; k < 400; k++) {
    const junk = Array.from({ length: Math.floor(r() * 80) }, () => Math.floor(r() * 256));
    const d = descriptor(BigInt(k), types[k % types.length]!, Math.floor(r() * 8), 1 + Math.floor(r() * 6), 1 + Math.floor(r() * 6));
    decodesOrProtocolError(() => decodeImage(body(d, junk), PREFIX.length, new ImageStore(), noSurfaces));
  }
});
