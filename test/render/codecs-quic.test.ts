import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { decodeQuic, parseQuicHeader, QUIC_MAGIC, QuicImageType, quicFamily } from '../../src/render/codecs/quic.js';
import { decodeImage, ImageStore } from '../../src/render/image.js';
import { ImageType, MAX_PIXELS } from '../../src/render/types.js';
import {
  codecData, decodeAll, diffPixels, fixture, FIXTURES, fixtureImages, pairBySize, recording,
} from './codecs-fixtures.js';
import { decodesOrProtocolError, descriptor, rng, throwsProtocol, u32 } from './helpers.js';

const expand5 = (c: number): number => (c << 3) | (c >> 2);

/** Expected B,G,R,A bytes for raw input pixels of a QUIC type (as the oracle encoder read them). */
function expected(type: number, raw: Buffer, pixels: number): Buffer {
  const out = Buffer.alloc(pixels * 4);
  const bpp = [0, 1, 2, 3, 4, 4][type]!;
  for (let i = 0; i < pixels; i++) {
    const s = i * bpp;
    const d = i * 4;
    switch (type) {
      case QuicImageType.GRAY: out[d] = out[d + 1] = out[d + 2] = raw[s]!; out[d + 3] = 255; break;
      case QuicImageType.RGB16: {
        const v = raw.readUInt16LE(s);
        out[d] = expand5(v & 31); out[d + 1] = expand5((v >> 5) & 31); out[d + 2] = expand5((v >> 10) & 31); out[d + 3] = 255;
        break;
      }
      case QuicImageType.RGB24:
      case QuicImageType.RGB32: out[d] = raw[s]!; out[d + 1] = raw[s + 1]!; out[d + 2] = raw[s + 2]!; out[d + 3] = 255; break;
      default: raw.copy(out, d, s, s + 4);
    }
  }
  return out;
}

const ORACLE = readdirSync(FIXTURES + 'quic-oracle').filter((f) => f.endsWith('.quic')).sort();

test('QUIC: code tables (bucket layout of evolution 3, escape codes within the 26-bit limit)', () => {
  const f8 = quicFamily(8);
  const f5 = quicFamily(5);
  assert.equal(f8.nBuckets, 8);
  assert.equal(f5.nBuckets, 5);
  assert.deepEqual([0, 1, 2, 3, 6, 7, 14, 15, 30, 31, 62, 63, 126, 127, 255].map((v) => f8.bucketOf[v]),
    [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]);
  assert.deepEqual([0, 1, 2, 3, 6, 7, 14, 15, 31].map((v) => f5.bucketOf[v]), [0, 1, 1, 2, 2, 3, 3, 4, 4]);
  for (const f of [f8, f5]) {
    for (let l = 0; l < f.bpc; l++) {
      assert.ok(f.notGRcwlen[l]! <= 26);
      // Every residual has a codeword: nGR plain ones plus 2^suffix escapes cover 2^bpc values.
      assert.ok(f.nGR[l]! + f.notGRsuffixmask[l]! + 1 >= 1 << f.bpc);
    }
  }
});

test('QUIC: vectors from the spice-common encoder decode exactly (GRAY, RGB16, RGB24, RGB32, RGBA)', () => {
  assert.ok(ORACLE.length >= 14);
  const types = new Set<number>();
  for (const name of ORACLE) {
    const data = fixture(`quic-oracle/${name}`);
    const raw = fixture(`quic-oracle/${name.replace(/\.quic$/, '.raw.gz')}`);
    const h = parseQuicHeader(data);
    types.add(h.type);
    const img = decodeQuic(data);
    assert.equal(img.width, h.width);
    assert.equal(img.height, h.height);
    assert.equal(img.hasAlpha, h.type === QuicImageType.RGBA, name);
    const exp = expected(h.type, raw, h.width * h.height);
    assert.equal(diffPixels(img.data, exp, h.width * h.height), 0, `${name}: pixels differ from the encoder's input`);
  }
  assert.deepEqual([...types].sort(), [1, 2, 3, 4, 5]);
});

test('QUIC: real Xspice images (RGB32 screen, RGBA windows) equal the uncompressed capture of the same scene', () => {
  const quic = decodeAll(recording('quic.bin'));
  const off = decodeAll(recording('off.bin.gz'));
  const kinds = new Set(quic.map((x) => x.img.desc.type));
  assert.deepEqual([...kinds], [ImageType.QUIC]);
  const quicTypes = new Set(quic.map((x) => parseQuicHeader(codecData(x.img)).type));
  assert.deepEqual([...quicTypes].sort(), [QuicImageType.RGB32, QuicImageType.RGBA]);
  // Two recordings of one scene differ a little in timing (an extra redraw here and there):
  // compare the images both have (the k-th image of each size).
  const pairs = pairBySize(quic, off);
  assert.ok(pairs.length >= quic.length - 2 && pairs.length >= 14, `${pairs.length} of ${quic.length} images paired`);
  for (const [q, o] of pairs) {
    assert.equal(o.img.desc.type, ImageType.BITMAP);
    const { width, height } = q.decoded;
    assert.equal(q.decoded.hasAlpha, o.decoded.hasAlpha, `${width}x${height}`);
    assert.equal(diffPixels(q.decoded.data, o.decoded.data, width * height), 0, `image ${q.img.index} ${width}x${height}`);
  }
});

test('QUIC: truncated data throws ProtocolError (or, cut only in the final padding, decodes identically)', () => {
  for (const x of fixtureImages(recording('quic.bin')).filter((i) => i.payload.readUInt32LE(0) > 1000).slice(0, 4)) {
    const data = codecData(x);
    const full = decodeQuic(data);
    for (const cut of [0, 3, 19, 20, 24, 100, data.length >> 1, data.length - 40, data.length - 12, data.length - 8, data.length - 4, data.length - 1]) {
      const part = Buffer.from(data.subarray(0, Math.max(0, cut)));
      try {
        const img = decodeQuic(part);
        assert.ok(cut >= data.length - 8, `cut at ${cut} of ${data.length} decoded without error`);
        assert.ok(img.data.equals(full.data));
      } catch (e) {
        throwsProtocol(() => { throw e; });
      }
    }
  }
});

test('QUIC: garbage after a valid header, and random streams, give pixels or a ProtocolError', () => {
  const r = rng(99);
  for (let k = 0; k < 300; k++) {
    const w = 1 + Math.floor(r() * 40);
    const h = 1 + Math.floor(r() * 40);
    const type = 1 + Math.floor(r() * 5);
    const body = Buffer.alloc(Math.floor(r() * 2000));
    for (let i = 0; i < body.length; i++) body[i] = r() < 0.5 ? Math.floor(r() * 256) : (k & 1 ? 0xff : 0);
    const data = Buffer.concat([Buffer.from([...u32(QUIC_MAGIC), ...u32(0), ...u32(type), ...u32(w), ...u32(h)]), body]);
    decodesOrProtocolError(() => decodeQuic(data));
  }
  // Bit flips in a real stream.
  const real = codecData(fixtureImages(recording('quic.bin')).find((i) => i.desc.width === 96)!);
  for (let k = 0; k < 200; k++) {
    const d = Buffer.from(real);
    const at = 20 + Math.floor(r() * (d.length - 20));
    d[at] = d[at]! ^ (1 << Math.floor(r() * 8));
    decodesOrProtocolError(() => decodeQuic(d));
  }
});

test('QUIC: bad headers and lying sizes are refused before any big allocation', () => {
  const hdr = (magic: number, version: number, type: number, w: number, h: number) =>
    Buffer.concat([Buffer.from([...u32(magic), ...u32(version), ...u32(type), ...u32(w), ...u32(h)]), Buffer.alloc(64)]);
  throwsProtocol(() => decodeQuic(hdr(0x12345678, 0, 4, 8, 8)), /bad magic/);
  throwsProtocol(() => decodeQuic(hdr(QUIC_MAGIC, 1, 4, 8, 8)), /version/);
  throwsProtocol(() => decodeQuic(hdr(QUIC_MAGIC, 0, 0, 8, 8)), /type 0/);
  throwsProtocol(() => decodeQuic(hdr(QUIC_MAGIC, 0, 6, 8, 8)), /type 6/);
  throwsProtocol(() => decodeQuic(hdr(QUIC_MAGIC, 0, 4, 0, 8)), /invalid size/);
  throwsProtocol(() => decodeQuic(hdr(QUIC_MAGIC, 0, 4, 0xffffffff, 0xffffffff)), /limit/);
  throwsProtocol(() => decodeQuic(hdr(QUIC_MAGIC, 0, 4, 8192, MAX_PIXELS / 8192)), /claims 8192x8192/);
  throwsProtocol(() => decodeQuic(hdr(QUIC_MAGIC, 0, 5, 4000, 3000)), /claims/);
  throwsProtocol(() => decodeQuic(Buffer.alloc(7)), /truncated/);
});

test('QUIC through decodeImage: descriptor checks, data_size, caching', () => {
  const x = fixtureImages(recording('quic.bin')).find((i) => i.desc.width === 96)!;
  const data = codecData(x);
  const { width, height } = x.desc;
  const msg = (w: number, h: number, size: number, payload: Buffer, flags = 0) =>
    Buffer.concat([Buffer.from([...descriptor(7n, ImageType.QUIC, flags, w, h), ...u32(size)]), payload]);
  const store = new ImageStore();
  const img = decodeImage(msg(width, height, data.length, data, 1), 0, store, () => undefined);
  assert.equal(img.width, 96);
  assert.equal(store.hasImage(7n), true);
  assert.equal(store.isLossy(7n), false);
  assert.equal(decodeImage(Buffer.from(descriptor(7n, ImageType.FROM_CACHE_LOSSLESS, 0, width, height)), 0, store, () => undefined), img);
  throwsProtocol(() => decodeImage(msg(width + 1, height, data.length, data), 0, store, () => undefined), /QUIC stream is 96x72, descriptor says 97x72/);
  throwsProtocol(() => decodeImage(msg(width, height, data.length + 1, data), 0, store, () => undefined), /truncated/);
  throwsProtocol(() => decodeImage(msg(width, height, 0x7fffffff, data), 0, store, () => undefined), /truncated/);
});

test('QUIC: throughput on the captured images', (t) => {
  const imgs = fixtureImages(recording('quic.bin')).map((x) => codecData(x));
  let px = 0;
  let best = Infinity;
  for (let it = 0; it < 5; it++) {
    const t0 = performance.now();
    px = 0;
    for (const d of imgs) {
      const img = decodeQuic(d);
      px += img.width * img.height;
    }
    best = Math.min(best, performance.now() - t0);
  }
  t.diagnostic(`QUIC: ${(px / 1e6).toFixed(2)} MP in ${best.toFixed(1)} ms = ${(px / 1e3 / best).toFixed(0)} MP/s`);
});
