import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compressSync } from 'lz4-napi';
import { decodeLz4Image, lz4DecodeBlock } from '../../src/render/codecs/lz4-image.js';
import { decodesOrProtocolError, pixel, rng, throwsProtocol } from './helpers.js';

/** A raw LZ4 block (lz4-napi prefixes the uncompressed size as u32 LE). */
function block(data: Buffer, dict?: Buffer): Buffer {
  return compressSync(data, dict).subarray(4);
}

function be32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** SPICE LZ4 image payload from raw blocks. */
function payload(topDown: number, format: number, blocks: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from([topDown, format]), ...blocks.flatMap((b) => [be32(b.length), b])]);
}

/** Packed 32-bit rows (B,G,R,x) with some repetition. */
function packed32(w: number, h: number, seed: number, bpp = 4): Buffer {
  const r = rng(seed);
  const b = Buffer.alloc(w * h * bpp);
  for (let i = 0; i < b.length; i++) b[i] = i >= bpp * 3 && r() < 0.6 ? b[i - bpp * 3]! : Math.floor(r() * 256);
  return b;
}

test('32BIT image in one independent block, top-down and bottom-up', () => {
  const w = 16, h = 8;
  const raw = packed32(w, h, 1);
  for (const topDown of [1, 0]) {
    const img = decodeLz4Image(payload(topDown, 8, [block(raw)]), w, h);
    assert.equal(img.hasAlpha, false);
    for (let y = 0; y < h; y++) {
      const sy = topDown ? y : h - 1 - y;
      for (let x = 0; x < w; x++) {
        const s = (sy * w + x) * 4;
        assert.deepEqual(pixel(img.data, y * w + x), [raw[s], raw[s + 1], raw[s + 2], 255]);
      }
    }
  }
});

test('several independent blocks decode into one buffer', () => {
  const w = 33, h = 9;
  const raw = packed32(w, h, 2);
  const cuts = [0, 100, 640, raw.length];
  const blocks = cuts.slice(1).map((end, i) => block(raw.subarray(cuts[i], end)));
  const img = decodeLz4Image(payload(1, 8, blocks), w, h);
  for (let i = 0; i < w * h; i++) assert.deepEqual(pixel(img.data, i), [raw[i * 4], raw[i * 4 + 1], raw[i * 4 + 2], 255]);
});

test('streaming blocks that reference earlier blocks (compressed with the previous output as dictionary)', () => {
  const w = 40, h = 30;
  const row = packed32(w, 1, 3);
  const raw = Buffer.concat(Array.from({ length: h }, () => row)); // every row repeats the first
  const blocks: Buffer[] = [];
  for (let off = 0; off < raw.length; off += 1000) {
    const chunk = raw.subarray(off, Math.min(raw.length, off + 1000));
    blocks.push(off === 0 ? block(chunk) : block(chunk, raw.subarray(0, off)));
  }
  // Later blocks must be tiny: they are references into earlier output.
  assert.ok(blocks.slice(1).every((b) => b.length < 40), 'blocks reference previous output');
  const img = decodeLz4Image(payload(1, 8, blocks), w, h);
  for (let i = 0; i < w * h; i++) assert.deepEqual(pixel(img.data, i), [raw[i * 4], raw[i * 4 + 1], raw[i * 4 + 2], 255]);
});

test('hand-built second block copies bytes of the first block', () => {
  // 2x2 RGBA: block 1 = 8 literal bytes (2 pixels); block 2 = match (offset 8, length 8).
  const px = [1, 2, 3, 4, 5, 6, 7, 8];
  const b1 = Buffer.from([0x80, ...px]); // token: 8 literals, no match (end of block)
  // token: 0 literals, match length 4+4=8; offset 8; final sequence must be literals: token 0x00
  const b2 = Buffer.from([0x04, 0x08, 0x00, 0x00]);
  const img = decodeLz4Image(payload(1, 9, [b1, b2]), 2, 2);
  assert.equal(img.hasAlpha, true);
  assert.deepEqual([...img.data], [...px, ...px]);

  // Overlapping match (offset 1 < length): a run.
  const out = Buffer.alloc(10);
  assert.equal(lz4DecodeBlock(Buffer.from([0x15, 9, 0x01, 0x00]), 0, 4, out, 0), 10);
  assert.deepEqual([...out], new Array(10).fill(9));
});

test('16BIT, 24BIT and RGBA formats', () => {
  const w = 5, h = 3;
  const v16 = Buffer.alloc(w * h * 2);
  for (let i = 0; i < w * h; i++) v16.writeUInt16LE((i * 1237) & 0x7fff, i * 2);
  const img16 = decodeLz4Image(payload(1, 6, [block(v16)]), w, h);
  const e5 = (c: number): number => (c << 3) | (c >> 2);
  for (let i = 0; i < w * h; i++) {
    const v = v16.readUInt16LE(i * 2);
    assert.deepEqual(pixel(img16.data, i), [e5(v & 31), e5((v >> 5) & 31), e5(v >> 10), 255]);
  }
  const v24 = packed32(w, h, 4, 3);
  const img24 = decodeLz4Image(payload(1, 7, [block(v24)]), w, h);
  for (let i = 0; i < w * h; i++) assert.deepEqual(pixel(img24.data, i), [v24[i * 3], v24[i * 3 + 1], v24[i * 3 + 2], 255]);
  const vA = packed32(w, h, 5);
  const imgA = decodeLz4Image(payload(1, 9, [block(vA)]), w, h);
  assert.equal(imgA.hasAlpha, true);
  assert.deepEqual(imgA.data, vA);
});

test('malformed LZ4 images throw ProtocolError', () => {
  const w = 8, h = 4;
  const raw = packed32(w, h, 6);
  const good = payload(1, 8, [block(raw.subarray(0, 50)), block(raw.subarray(50))]);
  decodeLz4Image(good, w, h);
  for (let n = 0; n < good.length; n++) throwsProtocol(() => decodeLz4Image(good.subarray(0, n), w, h));

  throwsProtocol(() => decodeLz4Image(payload(1, 5, [block(raw)]), w, h), /format 5/);
  throwsProtocol(() => decodeLz4Image(payload(1, 8, [block(raw)]), w, h + 1), /decoded to/);
  throwsProtocol(() => decodeLz4Image(payload(1, 8, [block(raw)]), w, h - 1), /past the end/);
  throwsProtocol(() => decodeLz4Image(payload(1, 8, [block(raw)]), 0, h), /size/);
  throwsProtocol(() => decodeLz4Image(payload(1, 8, [block(raw)]), 20000, 20000), /limit/);
  throwsProtocol(() => decodeLz4Image(payload(1, 8, [block(raw)]), 4000, 4000), /only/);
  throwsProtocol(() => decodeLz4Image(Buffer.concat([Buffer.from([1, 8]), be32(1000), block(raw)]), w, h), /runs past/);
  throwsProtocol(() => decodeLz4Image(payload(1, 8, [Buffer.alloc(0)]), w, h), /empty/);
  throwsProtocol(() => decodeLz4Image(payload(1, 8, [Buffer.from([0x10, 1, 0x00, 0x00])]), w, h), /offset 0/);
  throwsProtocol(() => decodeLz4Image(payload(1, 8, [Buffer.from([0x10, 1, 0x05, 0x00])]), w, h), /offset 5/);
  throwsProtocol(() => decodeLz4Image(payload(1, 8, [Buffer.from([0xf0, 255, 255])]), w, h), /truncated/);
});

test('random blocks never crash the decoder', () => {
  const r = rng(99);
  for (let k = 0; k < 500; k++) {
    const len = Math.floor(r() * 64);
    const blk = Buffer.from(Array.from({ length: len }, () => Math.floor(r() * 256)));
    decodesOrProtocolError(() => decodeLz4Image(payload(1, 6 + Math.floor(r() * 4), [blk]), 1 + Math.floor(r() * 8), 1 + Math.floor(r() * 8)));
  }
});
