import { test } from 'node:test';
import assert from 'node:assert/strict';
import jpeg from 'jpeg-js';
import { decodeJpeg, decodeJpegAlpha, JPEG_MAX_PIXELS, jpegSize } from '../../src/render/codecs/jpeg.js';
import { LzImageType } from '../../src/render/codecs/lz.js';
import { decodeImage, ImageStore } from '../../src/render/image.js';
import { BitmapFlags, BitmapFmt, ImageFlags, ImageType } from '../../src/render/types.js';
import {
  alphaOf, codecData, decodeAll, fixtureImages, pairBySize, psnr, recording, screenshot,
} from './codecs-fixtures.js';
import { replay } from './replay.js';
import { decodesOrProtocolError, descriptor, lzEncodeRgb, pixel, rng, throwsProtocol, u32 } from './helpers.js';

/** A baseline JPEG of a smooth w x h test pattern (jpeg-js encoder), and its RGBA source. */
function makeJpeg(w: number, h: number, quality = 90): { jpg: Buffer; rgba: Buffer } {
  const rgba = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      rgba[i] = (x * 255) / Math.max(1, w - 1);
      rgba[i + 1] = (y * 255) / Math.max(1, h - 1);
      rgba[i + 2] = 128;
      rgba[i + 3] = 255;
    }
  }
  return { jpg: jpeg.encode({ width: w, height: h, data: rgba }, quality).data, rgba };
}

/** Same pixels as B,G,R,A. */
function toBgra(rgba: Buffer): Buffer {
  const out = Buffer.from(rgba);
  for (let i = 0; i < out.length; i += 4) { out[i] = rgba[i + 2]!; out[i + 2] = rgba[i]!; }
  return out;
}

test('JPEG: real QEMU images (qxl console, JPEG of 32BIT bitmaps): replay within 30 dB of the screendump', (t) => {
  const msgs = recording('qemu-jpeg.bin');
  const imgs = fixtureImages(msgs).filter((x) => x.desc.type === ImageType.JPEG);
  assert.ok(imgs.length >= 10);
  for (const x of imgs) assert.deepEqual(jpegSize(codecData(x)), { width: x.desc.width, height: x.desc.height });
  const r = replay(msgs);
  const ref = screenshot('qemu-jpeg.png');
  assert.equal(r.primary!.width, ref.width);
  const db = psnr(r.primary!.data, ref.bgra, ref.width * ref.height);
  t.diagnostic(`qemu-jpeg: final frame PSNR ${db.toFixed(1)} dB`);
  assert.ok(db >= 30, `PSNR ${db.toFixed(1)} dB`);
  // Every JPEG is cached as lossy when flagged CACHE_ME.
  for (const x of imgs) if (x.desc.flags & ImageFlags.CACHE_ME) assert.equal(r.store.isLossy(x.desc.id), true);
});

test('JPEG_ALPHA: real Xspice images: alpha exact, colour within 30 dB of the uncompressed capture', (t) => {
  const off = decodeAll(recording('off.bin.gz'));
  // auto.bin: auto_glz chose JPEG for the photo-like images itself (the realistic case).
  // jpeg-alpha.bin: QUIC mode with JPEG forced on every RGBA image, text strips included.
  for (const name of ['auto.bin', 'jpeg-alpha.bin']) {
    const pairs = pairBySize(decodeAll(recording(name)), off).filter(([a]) => a.img.desc.type === ImageType.JPEG_ALPHA);
    assert.ok(pairs.length >= (name === 'auto.bin' ? 1 : 10), `${name}: ${pairs.length} pairs`);
    const report: string[] = [];
    for (const [a, o] of pairs) {
      const { width, height } = a.decoded;
      assert.equal(a.decoded.hasAlpha, true);
      assert.deepEqual(alphaOf(a.decoded), alphaOf(o.decoded), `${name}: alpha of ${width}x${height}`);
      const db = psnr(a.decoded.data, o.decoded.data, width * height);
      report.push(`${width}x${height} ${db.toFixed(1)}`);
      // 13-pixel strips of yellow-on-navy text do not survive the server's JPEG (quality 85,
      // 4:2:0 chroma): libjpeg itself decodes them to ~13 dB. Everything else must reach 30 dB.
      if (height > 16) assert.ok(db >= 30, `${name} image ${a.img.index} ${width}x${height}: PSNR ${db.toFixed(1)} dB`);
      else assert.ok(db >= 10, `${name} image ${a.img.index} ${width}x${height}: PSNR ${db.toFixed(1)} dB`);
    }
    t.diagnostic(`${name} JPEG_ALPHA PSNR (dB): ${report.join(', ')}`);
  }
  const r = replay(recording('auto.bin'));
  const ref = screenshot('twice.png');
  const db = psnr(r.primary!.data, ref.bgra, ref.width * ref.height);
  t.diagnostic(`auto.bin: final frame PSNR ${db.toFixed(1)} dB`);
  assert.ok(db >= 30);
});

test('JPEG: decodes to B,G,R,A with alpha 255; size checks before decoding', () => {
  const { jpg, rgba } = makeJpeg(40, 24);
  const img = decodeJpeg(jpg, { width: 40, height: 24 });
  assert.equal(img.hasAlpha, false);
  for (let i = 0; i < 40 * 24; i++) assert.equal(img.data[i * 4 + 3], 255);
  assert.ok(psnr(img.data, toBgra(rgba), 40 * 24) > 35);
  throwsProtocol(() => decodeJpeg(jpg, { width: 41, height: 24 }), /JPEG image is 40x24, descriptor says 41x24/);
  // A header claiming a huge frame is refused from the header alone.
  const huge = Buffer.from(jpg);
  const sof = huge.indexOf(Buffer.from([0xff, 0xc0]));
  huge.writeUInt16BE(60000, sof + 5);
  huge.writeUInt16BE(60000, sof + 7);
  throwsProtocol(() => decodeJpeg(huge), /limit/);
  huge.writeUInt16BE(4097, sof + 5);
  huge.writeUInt16BE(4096, sof + 7);
  throwsProtocol(() => decodeJpeg(huge), new RegExp(`${JPEG_MAX_PIXELS}-pixel JPEG limit`));
  // Within the limit but with no data behind it: an error, quickly.
  huge.writeUInt16BE(4000, sof + 5);
  huge.writeUInt16BE(4000, sof + 7);
  const t0 = performance.now();
  throwsProtocol(() => decodeJpeg(huge.subarray(0, sof + 200)));
  assert.ok(performance.now() - t0 < 5000);
});

test('JPEG: truncated, garbage and corrupted data throw ProtocolError', () => {
  const real = codecData(fixtureImages(recording('qemu-jpeg.bin')).filter((x) => x.desc.type === ImageType.JPEG)[3]!);
  for (let cut = 0; cut < real.length - 2; cut += Math.max(1, Math.floor(real.length / 97))) {
    throwsProtocol(() => decodeJpeg(real.subarray(0, cut)));
  }
  throwsProtocol(() => decodeJpeg(Buffer.from('definitely not a jpeg')), /SOI/);
  throwsProtocol(() => decodeJpeg(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0, 2])), /no frame header/);
  throwsProtocol(() => decodeJpeg(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0xff, 0xff])), /bad length/);
  const r = rng(11);
  for (let k = 0; k < 150; k++) {
    const d = Buffer.from(real);
    for (let n = 0; n < 4; n++) d[Math.floor(r() * d.length)] = Math.floor(r() * 256);
    decodesOrProtocolError(() => decodeJpeg(d));
  }
  for (let k = 0; k < 100; k++) {
    const d = Buffer.from([0xff, 0xd8, ...Array.from({ length: Math.floor(r() * 400) }, () => Math.floor(r() * 256))]);
    decodesOrProtocolError(() => decodeJpeg(d));
  }
});

test('JPEG_ALPHA: layout checks (jpeg_size, alpha stream type, orientation and size)', () => {
  const { jpg } = makeJpeg(8, 4);
  const alphaPx = Array.from({ length: 32 }, (_, i) => [0, 0, 0, i * 8]);
  const good = (topDown: boolean) => Buffer.concat([jpg, lzEncodeRgb(10, 8, 4, alphaPx, topDown)]);
  for (const topDown of [true, false]) {
    const img = decodeJpegAlpha(good(topDown), jpg.length, topDown ? 1 : 0, { width: 8, height: 4 });
    assert.equal(img.hasAlpha, true);
    for (let i = 0; i < 32; i++) assert.equal(pixel(img.data, i)[3], i * 8, `alpha ${i} topDown=${topDown}`);
  }
  throwsProtocol(() => decodeJpegAlpha(good(true), jpg.length, 0), /orientation/);
  throwsProtocol(() => decodeJpegAlpha(good(true), 0, 1), /jpeg_size 0/);
  throwsProtocol(() => decodeJpegAlpha(good(true), good(true).length, 1), /does not fit/);
  throwsProtocol(() => decodeJpegAlpha(good(true), jpg.length + 3, 1), /LZ image/);
  const rgbAlpha = Buffer.concat([jpg, lzEncodeRgb(8, 8, 4, alphaPx, true)]);
  throwsProtocol(() => decodeJpegAlpha(rgbAlpha, jpg.length, 1), /not XXXA/);
  const small = Buffer.concat([jpg, lzEncodeRgb(10, 4, 4, alphaPx.slice(0, 16), true)]);
  throwsProtocol(() => decodeJpegAlpha(small, jpg.length, 1), /alpha is 4x4, the JPEG is 8x4/);
  const alphaType = LzImageType.XXXA;
  assert.equal(alphaType, 10);
});

test('JPEG / JPEG_ALPHA through decodeImage: lossy in the cache, FROM_CACHE_LOSSLESS refuses, CACHE_REPLACE_ME replaces', () => {
  const { jpg } = makeJpeg(2, 2);
  const store = new ImageStore();
  const none = () => undefined;
  const jmsg = Buffer.from([...descriptor(5n, ImageType.JPEG, ImageFlags.CACHE_ME, 2, 2), ...u32(jpg.length), ...jpg]);
  const lossy = decodeImage(jmsg, 0, store, none);
  assert.equal(store.isLossy(5n), true);
  assert.equal(decodeImage(Buffer.from(descriptor(5n, ImageType.FROM_CACHE, 0, 2, 2)), 0, store, none), lossy);
  throwsProtocol(() => decodeImage(Buffer.from(descriptor(5n, ImageType.FROM_CACHE_LOSSLESS, 0, 2, 2)), 0, store, none), /lossy/);
  // The lossless version replaces it.
  const bmp = Buffer.from([
    ...descriptor(5n, ImageType.BITMAP, ImageFlags.CACHE_REPLACE_ME, 2, 2),
    BitmapFmt['32BIT'], BitmapFlags.TOP_DOWN, ...u32(2), ...u32(2), ...u32(8), ...u32(0),
    1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 10, 11, 12, 0,
  ]);
  const lossless = decodeImage(bmp, 0, store, none);
  assert.equal(store.isLossy(5n), false);
  assert.equal(store.imageCount, 1);
  assert.equal(store.pixels, 4);
  assert.equal(decodeImage(Buffer.from(descriptor(5n, ImageType.FROM_CACHE_LOSSLESS, 0, 2, 2)), 0, store, none), lossless);
  // JPEG_ALPHA: u8 flags, u32 jpeg_size, u32 data_size, data.
  const alpha = lzEncodeRgb(10, 2, 2, [[0, 0, 0, 1], [0, 0, 0, 2], [0, 0, 0, 3], [0, 0, 0, 4]], true);
  const data = Buffer.concat([jpg, alpha]);
  const amsg = Buffer.from([...descriptor(6n, ImageType.JPEG_ALPHA, ImageFlags.CACHE_ME, 2, 2), 1, ...u32(jpg.length), ...u32(data.length), ...data]);
  const a = decodeImage(amsg, 0, store, none);
  assert.deepEqual([0, 1, 2, 3].map((i) => pixel(a.data, i)[3]), [1, 2, 3, 4]);
  assert.equal(store.isLossy(6n), true);
  throwsProtocol(() => decodeImage(Buffer.from(descriptor(6n, ImageType.FROM_CACHE_LOSSLESS, 0, 2, 2)), 0, store, none), /lossy/);
  const wrong = Buffer.from([...descriptor(7n, ImageType.JPEG, 0, 3, 2), ...u32(jpg.length), ...jpg]);
  throwsProtocol(() => decodeImage(wrong, 0, store, none), /JPEG image is 2x2, descriptor says 3x2/);
  const short = Buffer.from([...descriptor(7n, ImageType.JPEG_ALPHA, 0, 2, 2), 1, ...u32(jpg.length), ...u32(data.length + 5), ...data]);
  throwsProtocol(() => decodeImage(short, 0, store, none), /truncated/);
});

test('JPEG: throughput on the captured images', (t) => {
  for (const [name, type] of [['qemu-jpeg.bin', ImageType.JPEG], ['jpeg-alpha.bin', ImageType.JPEG_ALPHA]] as const) {
    const imgs = fixtureImages(recording(name)).filter((x) => x.desc.type === type);
    let best = Infinity;
    let px = 0;
    for (let it = 0; it < 3; it++) {
      const store = new ImageStore();
      const t0 = performance.now();
      px = 0;
      for (const x of imgs) {
        const img = decodeImage(x.msg.body, x.offset, store, () => undefined);
        px += img.width * img.height;
      }
      best = Math.min(best, performance.now() - t0);
    }
    t.diagnostic(`${name}: ${(px / 1e6).toFixed(3)} MP in ${best.toFixed(1)} ms = ${(px / 1e3 / best).toFixed(1)} MP/s`);
  }
});
