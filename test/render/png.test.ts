import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { crc32, decodePng, encodePng, pngChunk } from '../../src/render/outputs/png.js';
import { decodesOrProtocolError, rng, throwsProtocol } from './helpers.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));

const chunk = pngChunk;

/** Filters one row (raw bytes) with filter type ft given the previous raw row. */
function filterRow(ft: number, row: Buffer, prev: Buffer, bpp: number): Buffer {
  const out = Buffer.alloc(row.length);
  for (let i = 0; i < row.length; i++) {
    const a = i >= bpp ? row[i - bpp]! : 0, b = prev[i]!, c = i >= bpp ? prev[i - bpp]! : 0;
    let pr = 0;
    if (ft === 1) pr = a;
    else if (ft === 2) pr = b;
    else if (ft === 3) pr = (a + b) >> 1;
    else if (ft === 4) {
      const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      pr = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
    out[i] = (row[i]! - pr) & 0xff;
  }
  return out;
}

/** A non-interlaced PNG from raw rows, cycling through filter types 0-4. */
function buildPng(width: number, height: number, depth: number, ctype: number, rows: Buffer[], extra: Buffer[] = []): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = depth;
  ihdr[9] = ctype;
  const ch = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[ctype]!;
  const bpp = Math.max(1, (ch * depth) >> 3);
  let prev: Buffer = Buffer.alloc(rows[0]!.length);
  const parts: Buffer[] = [];
  rows.forEach((row, y) => {
    const ft = y % 5;
    parts.push(Buffer.from([ft]), filterRow(ft, row, prev, bpp));
    prev = row;
  });
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), ...extra, chunk('IDAT', deflateSync(Buffer.concat(parts))), chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('crc32 check value', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
});

test('encodePng -> decodePng round trip', () => {
  const r = rng(2);
  for (const [w, h] of [[1, 1], [7, 5], [64, 33]] as const) {
    const rgba = Buffer.alloc(w * h * 4);
    for (let i = 0; i < rgba.length; i++) rgba[i] = i > 8 && r() < 0.5 ? rgba[i - 4]! : Math.floor(r() * 256);
    const png = encodePng(w, h, rgba);
    const back = decodePng(png);
    assert.equal(back.width, w);
    assert.equal(back.height, h);
    assert.deepEqual(back.rgba, rgba);
  }
  // a flat image compresses well
  assert.ok(encodePng(200, 200, Buffer.alloc(200 * 200 * 4, 7)).length < 1000);
  assert.throws(() => encodePng(2, 2, Buffer.alloc(3)));
});

test('decodes ImageMagick output: RGB/RGBA 8 and 16 bit, palette (+tRNS, 4-bit), grey 1-bit, grey+alpha, interlaced', () => {
  for (const name of ['rgb8', 'rgba8', 'rgb16', 'rgba16', 'pal', 'pal4', 'pal-trns', 'gray1', 'graya8', 'interlaced']) {
    const img = decodePng(fixture(`${name}.png`));
    assert.equal(img.width, 23, name);
    assert.equal(img.height, 17, name);
    assert.deepEqual(img.rgba, fixture(`${name}.rgba`), name);
  }
});

test('all five filter types, sub-byte grey, grey/RGB tRNS keys', () => {
  const w = 9, h = 10;
  const r = rng(6);
  const rgbRows = Array.from({ length: h }, () => Buffer.from(Array.from({ length: w * 3 }, () => Math.floor(r() * 256))));
  rgbRows[3]!.set([1, 2, 3], 0);
  const trns = Buffer.from([0, 1, 0, 2, 0, 3]);
  const img = decodePng(buildPng(w, h, 8, 2, rgbRows, [chunk('tRNS', trns)]));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 4;
      const src = [...rgbRows[y]!.subarray(x * 3, x * 3 + 3)];
      const key = src[0] === 1 && src[1] === 2 && src[2] === 3;
      assert.deepEqual([...img.rgba.subarray(o, o + 4)], [...src, key ? 0 : 255], `${x},${y}`);
    }
  }
  // 2-bit grey with a tRNS key
  const gRows = Array.from({ length: h }, (_, y) => Buffer.from([0b00011011, 0b11100100, (y & 3) << 6]));
  const g = decodePng(buildPng(w, h, 2, 0, gRows, [chunk('tRNS', Buffer.from([0, 2]))]));
  const vals = [0, 1, 2, 3, 3, 2, 1, 0];
  vals.forEach((v, x) => {
    const gv = Math.round((v * 255) / 3);
    assert.deepEqual([...g.rgba.subarray(x * 4, x * 4 + 4)], [gv, gv, gv, v === 2 ? 0 : 255]);
  });
});

test('malformed PNGs throw ProtocolError', () => {
  const good = fixture('rgba8.png');
  decodePng(good);
  for (let n = 0; n < good.length; n += 7) throwsProtocol(() => decodePng(good.subarray(0, n)));
  throwsProtocol(() => decodePng(Buffer.from('not a png at all')), /signature/);
  const badCrc = Buffer.from(good);
  badCrc[20] = badCrc[20]! ^ 1;
  throwsProtocol(() => decodePng(badCrc), /CRC/);
  const ihdr = (w: number, h: number, depth: number, ctype: number, il = 0): Buffer => {
    const b = Buffer.alloc(13);
    b.writeUInt32BE(w, 0); b.writeUInt32BE(h, 4); b[8] = depth; b[9] = ctype; b[12] = il;
    return b;
  };
  const sig = good.subarray(0, 8);
  const end = chunk('IEND', Buffer.alloc(0));
  throwsProtocol(() => decodePng(Buffer.concat([sig, chunk('IHDR', ihdr(100000, 100000, 8, 6)), end])), /size/);
  throwsProtocol(() => decodePng(Buffer.concat([sig, chunk('IHDR', ihdr(1, 1, 3, 2)), end])), /bit depth/);
  throwsProtocol(() => decodePng(Buffer.concat([sig, chunk('IHDR', ihdr(1, 1, 8, 6, 2)), end])), /interlace/);
  throwsProtocol(() => decodePng(Buffer.concat([sig, chunk('IHDR', ihdr(1, 1, 8, 3)), chunk('IDAT', deflateSync(Buffer.from([0, 0]))), end])), /PLTE/);
  throwsProtocol(() => decodePng(Buffer.concat([sig, chunk('IHDR', ihdr(2, 2, 8, 6)), chunk('IDAT', deflateSync(Buffer.alloc(5))), end])), /truncated/);
  throwsProtocol(() => decodePng(Buffer.concat([sig, chunk('IHDR', ihdr(1, 1, 8, 0)), chunk('IDAT', Buffer.from('garbage')), end])), /inflate/);
  throwsProtocol(() => decodePng(Buffer.concat([sig, chunk('IHDR', ihdr(1, 1, 8, 0)), chunk('IDAT', deflateSync(Buffer.from([7, 0]))), end])), /filter type 7/);
  throwsProtocol(() => decodePng(Buffer.concat([sig, chunk('IDAT', Buffer.alloc(1)), end])), /IHDR/);
  throwsProtocol(() => decodePng(Buffer.concat([sig, chunk('IHDR', ihdr(1, 1, 8, 0)), chunk('ABCD', Buffer.alloc(1)), end])), /critical/);
  // a zip bomb: IDAT inflating far beyond the image size is cut off, not allocated
  const bomb = Buffer.concat([sig, chunk('IHDR', ihdr(1, 1, 8, 0)), chunk('IDAT', deflateSync(Buffer.alloc(50_000_000))), end]);
  throwsProtocol(() => decodePng(bomb), /inflate/);
});

test('random bytes after the signature never crash the decoder', () => {
  const r = rng(12);
  const good = fixture('pal.png');
  for (let k = 0; k < 300; k++) {
    const b = Buffer.from(good);
    for (let j = 0; j < 4; j++) b[8 + Math.floor(r() * (b.length - 8))] = Math.floor(r() * 256);
    decodesOrProtocolError(() => decodePng(b));
  }
});
