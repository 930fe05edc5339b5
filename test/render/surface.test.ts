import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Surface, createSurface } from '../../src/render/surface.js';
import { drawRects, makeDisjoint } from '../../src/render/geometry.js';
import { AlphaFlags, Ropd, ScaleMode, SurfaceFmt, type Rect } from '../../src/render/types.js';
import { imageOf, pixel, rng, throwsProtocol } from './helpers.js';

const R = (left: number, top: number, right: number, bottom: number): Rect => ({ top, left, bottom, right });
const PUT = Ropd.OP_PUT;

/** Pixel (x, y) as [b,g,r,a]. */
function at(s: Surface, x: number, y: number): number[] {
  return pixel(s.data, y * s.width + x);
}

/** Fills the surface with a pattern so every pixel differs. */
function pattern(s: Surface, seed = 1): void {
  const r = rng(seed);
  for (let i = 0; i < s.width * s.height; i++) {
    s.data[i * 4] = Math.floor(r() * 256);
    s.data[i * 4 + 1] = Math.floor(r() * 256);
    s.data[i * 4 + 2] = Math.floor(r() * 256);
    s.data[i * 4 + 3] = s.hasAlpha ? Math.floor(r() * 256) : 255;
  }
}

test('new surfaces are opaque black (xRGB) or transparent (ARGB)', () => {
  const s = new Surface(0, 3, 2);
  assert.deepEqual(at(s, 2, 1), [0, 0, 0, 255]);
  assert.equal(s.hasAlpha, false);
  const a = new Surface(1, 3, 2, SurfaceFmt['32_ARGB']);
  assert.deepEqual(at(a, 2, 1), [0, 0, 0, 0]);
  throwsProtocol(() => new Surface(0, 0, 10), /size/);
  throwsProtocol(() => new Surface(0, 100000, 100000), /limit/);
  throwsProtocol(() => createSurface(0, 4, 4, 33), /format 33/);
  assert.equal(createSurface(2, 4, 4, SurfaceFmt['16_565']).hasAlpha, false);
});

test('fill: OP_PUT with clip rects, clamped to the surface', () => {
  const s = new Surface(0, 8, 6);
  s.fill(R(-5, -5, 3, 2), null, 0x112233, PUT);
  assert.deepEqual(at(s, 0, 0), [0x33, 0x22, 0x11, 255]);
  assert.deepEqual(at(s, 2, 1), [0x33, 0x22, 0x11, 255]);
  assert.deepEqual(at(s, 3, 1), [0, 0, 0, 255]);
  assert.deepEqual(at(s, 0, 2), [0, 0, 0, 255]);

  const c = new Surface(0, 8, 6);
  c.fill(R(0, 0, 8, 6), [R(1, 1, 3, 3), R(6, 4, 20, 20)], 0xff0000, PUT);
  for (let y = 0; y < 6; y++) {
    for (let x = 0; x < 8; x++) {
      const inside = (x >= 1 && x < 3 && y >= 1 && y < 3) || (x >= 6 && y >= 4);
      assert.deepEqual(at(c, x, y), inside ? [0, 0, 255, 255] : [0, 0, 0, 255], `${x},${y}`);
    }
  }
  // out of range / inverted / empty / non-finite boxes and clips: no-ops, no throw
  const before = Buffer.from(c.data);
  c.fill(R(100, 100, 200, 200), null, 0xffffff, PUT);
  c.fill(R(5, 5, 2, 2), null, 0xffffff, PUT);
  c.fill(R(-(2 ** 31), -(2 ** 31), -(2 ** 31) + 1, 0), null, 0xffffff, PUT);
  c.fill(R(0, 0, 8, 6), [], 0xffffff, PUT);
  c.fill(R(0, 0, Number.NaN, 6), null, 0xffffff, PUT);
  c.fill(R(0, 0, 8, 6), [R(9, 9, 10, 10)], 0xffffff, PUT);
  assert.deepEqual(c.data, before);
});

test('fill ROPs: XOR / OR / AND / BLACKNESS / WHITENESS / INVERS and inversion flags', () => {
  const d0 = 0x0f0f0f; // dest colour
  const src = 0x00ff33;
  const cases: [number, number][] = [
    [PUT, src],
    [PUT | Ropd.INVERS_SRC, ~src],
    [PUT | Ropd.INVERS_BRUSH, ~src],
    [PUT | Ropd.INVERS_RES, ~src],
    [PUT | Ropd.INVERS_SRC | Ropd.INVERS_RES, src],
    [PUT | Ropd.INVERS_DEST, src],
    [Ropd.OP_XOR, src ^ d0],
    [Ropd.OP_XOR | Ropd.INVERS_DEST, src ^ ~d0],
    [Ropd.OP_OR, src | d0],
    [Ropd.OP_OR | Ropd.INVERS_RES, ~(src | d0)],
    [Ropd.OP_AND, src & d0],
    [Ropd.OP_AND | Ropd.INVERS_SRC, ~src & d0],
    [Ropd.OP_AND | Ropd.INVERS_SRC | Ropd.INVERS_DEST | Ropd.INVERS_RES, src | d0],
    [Ropd.OP_BLACKNESS, 0],
    [Ropd.OP_WHITENESS, 0xffffff],
    [Ropd.OP_INVERS, ~d0],
    [0, src], // no op bit: treated as a copy, as spice does
  ];
  for (const [rop, want] of cases) {
    const s = new Surface(0, 2, 1);
    s.fill(R(0, 0, 2, 1), null, d0, PUT);
    s.fill(R(1, 0, 2, 1), null, src, rop);
    const w = want & 0xffffff;
    assert.deepEqual(at(s, 1, 0), [w & 255, (w >> 8) & 255, (w >> 16) & 255, 255], `rop 0x${rop.toString(16)}`);
    assert.deepEqual(at(s, 0, 0), [0x0f, 0x0f, 0x0f, 255], 'outside untouched');
  }
});

test('fill with overlapping clip rects applies XOR once per pixel', () => {
  const s = new Surface(0, 6, 6);
  s.fill(R(0, 0, 6, 6), [R(0, 0, 4, 4), R(2, 2, 6, 6), R(1, 1, 3, 3)], 0xffffff, Ropd.OP_XOR);
  for (let y = 0; y < 6; y++) {
    for (let x = 0; x < 6; x++) {
      const inside = (x < 4 && y < 4) || (x >= 2 && y >= 2);
      assert.equal(at(s, x, y)[0], inside ? 255 : 0, `${x},${y}`);
    }
  }
});

test('ARGB surfaces keep the alpha of the fill colour and of images', () => {
  const s = new Surface(1, 2, 1, SurfaceFmt['32_ARGB']);
  s.fill(R(0, 0, 1, 1), null, 0x80402010, PUT);
  assert.deepEqual(at(s, 0, 0), [0x10, 0x20, 0x40, 0x80]);
  s.drawImage(imageOf(1, 1, [[1, 2, 3, 4]], true), R(0, 0, 1, 1), R(1, 0, 2, 1), null, PUT);
  assert.deepEqual(at(s, 1, 0), [1, 2, 3, 4]);
  assert.equal(s.toRGBA()[3], 0x80);
});

test('drawImage: plain copy with source offset, clip and clamping', () => {
  const img = imageOf(4, 3, Array.from({ length: 12 }, (_, i) => [i, i + 100, i + 200, 255]));
  const s = new Surface(0, 5, 5);
  // src (1,1)-(4,3) onto box (3,3)-(6,5): partially off-surface on the right
  s.drawImage(img, R(1, 1, 4, 3), R(3, 3, 6, 5), null, PUT);
  assert.deepEqual(at(s, 3, 3), [5, 105, 205, 255]);
  assert.deepEqual(at(s, 4, 3), [6, 106, 206, 255]);
  assert.deepEqual(at(s, 3, 4), [9, 109, 209, 255]);
  assert.deepEqual(at(s, 2, 3), [0, 0, 0, 255]);
  // clip
  const c = new Surface(0, 4, 3);
  c.drawImage(img, R(0, 0, 4, 3), R(0, 0, 4, 3), [R(0, 0, 1, 1), R(3, 2, 4, 3)], PUT);
  assert.deepEqual(at(c, 0, 0), [0, 100, 200, 255]);
  assert.deepEqual(at(c, 3, 2), [11, 111, 211, 255]);
  assert.deepEqual(at(c, 1, 0), [0, 0, 0, 255]);
  // source area partly outside the image: those destination pixels stay
  const o = new Surface(0, 4, 3);
  o.drawImage(img, R(2, 0, 6, 3), R(0, 0, 4, 3), null, PUT);
  assert.deepEqual(at(o, 1, 0), [3, 103, 203, 255]);
  assert.deepEqual(at(o, 2, 0), [0, 0, 0, 255]);
  // nonsense rects never throw
  o.drawImage(img, R(0, 0, 0, 0), R(0, 0, 4, 3), null, PUT);
  o.drawImage(img, R(-1e9, -1e9, 1e9, 1e9), R(-1e9, 0, 4, 1e9), null, PUT);
  o.drawImage(img, R(0, 0, 4, 3), R(2 ** 31, 2 ** 31, -1, -1), null, PUT);
});

test('drawImage: alpha images on an xRGB surface store alpha 255; ROPs with images', () => {
  const img = imageOf(2, 1, [[10, 20, 30, 40], [50, 60, 70, 0]], true);
  const s = new Surface(0, 2, 1);
  s.drawImage(img, R(0, 0, 2, 1), R(0, 0, 2, 1), null, PUT);
  assert.deepEqual(at(s, 0, 0), [10, 20, 30, 255]);
  assert.deepEqual(at(s, 1, 0), [50, 60, 70, 255]);
  s.drawImage(imageOf(2, 1, [[0xff, 0, 0x0f, 255], [1, 1, 1, 255]]), R(0, 0, 2, 1), R(0, 0, 2, 1), null, Ropd.OP_XOR);
  assert.deepEqual(at(s, 0, 0), [10 ^ 0xff, 20, 30 ^ 0x0f, 255]);
  s.drawImage(imageOf(1, 1, [[0, 0, 0, 255]]), R(0, 0, 1, 1), R(1, 0, 2, 1), null, PUT | Ropd.INVERS_SRC);
  assert.deepEqual(at(s, 1, 0), [255, 255, 255, 255]);
  s.drawImage(imageOf(1, 1, [[1, 2, 3, 255]]), R(0, 0, 1, 1), R(1, 0, 2, 1), null, Ropd.OP_BLACKNESS);
  assert.deepEqual(at(s, 1, 0), [0, 0, 0, 255]);
});

test('drawImage scales with nearest neighbour', () => {
  const img = imageOf(2, 2, [[1, 0, 0, 255], [2, 0, 0, 255], [3, 0, 0, 255], [4, 0, 0, 255]]);
  const s = new Surface(0, 4, 4);
  s.drawImage(img, R(0, 0, 2, 2), R(0, 0, 4, 4), null, PUT, ScaleMode.INTERPOLATE);
  const got = Array.from({ length: 16 }, (_, i) => s.data[i * 4]);
  assert.deepEqual(got, [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  const d = new Surface(0, 2, 1);
  d.drawImage(imageOf(4, 1, [[1, 0, 0, 255], [2, 0, 0, 255], [3, 0, 0, 255], [4, 0, 0, 255]]), R(0, 0, 4, 1), R(0, 0, 2, 1), null, PUT);
  assert.deepEqual([d.data[0], d.data[4]], [2, 4]);
  // scaled with XOR and clip
  const x = new Surface(0, 4, 4);
  x.drawImage(img, R(0, 0, 2, 2), R(0, 0, 4, 4), [R(2, 2, 4, 4)], Ropd.OP_XOR);
  assert.deepEqual([x.data[0], x.data[(2 * 4 + 2) * 4], x.data[(3 * 4 + 3) * 4]], [0, 4, 4]);
});

test('drawing a surface onto itself (SURFACE image aliasing) reads the original pixels', () => {
  const s = new Surface(0, 6, 1);
  for (let i = 0; i < 6; i++) s.data[i * 4] = i + 1;
  s.drawImage(s.asImage(), R(0, 0, 5, 1), R(1, 0, 6, 1), null, PUT);
  assert.deepEqual(Array.from({ length: 6 }, (_, i) => s.data[i * 4]), [1, 1, 2, 3, 4, 5]);
  s.drawImage(s.asImage(), R(0, 0, 3, 1), R(0, 0, 6, 1), null, Ropd.OP_XOR);
  assert.deepEqual(Array.from({ length: 6 }, (_, i) => s.data[i * 4]), [1 ^ 1, 1 ^ 1, 2 ^ 1, 3 ^ 1, 4 ^ 2, 5 ^ 2]);
});

test('alphaBlend: premultiplied OVER with global alpha', () => {
  const mul = (a: number, b: number): number => { const t = a * b + 128; return ((t >> 8) + t) >> 8; };
  const dst = [40, 80, 120];
  for (const ga of [255, 128, 1]) {
    for (const [src, hasAlpha] of [[[100, 50, 0, 128], true], [[100, 50, 0, 255], false], [[0, 0, 0, 0], true]] as const) {
      const s = new Surface(0, 1, 1);
      s.fill(R(0, 0, 1, 1), null, (dst[2]! << 16) | (dst[1]! << 8) | dst[0]!, PUT);
      s.alphaBlend(imageOf(1, 1, [[...src]], hasAlpha), R(0, 0, 1, 1), R(0, 0, 1, 1), null, ga, 0);
      const sa = mul(hasAlpha ? src[3] : 255, ga);
      const want = [0, 1, 2].map((c) => Math.min(255, mul(src[c]!, ga) + mul(dst[c]!, 255 - sa)));
      assert.deepEqual(at(s, 0, 0), [...want, 255], `ga ${ga} src ${src}`);
    }
  }
  // alpha 0 is a no-op; SRC_SURFACE_HAS_ALPHA makes an xRGB-flagged source use its alpha bytes
  const s = new Surface(0, 1, 1);
  s.fill(R(0, 0, 1, 1), null, 0x808080, PUT);
  s.alphaBlend(imageOf(1, 1, [[255, 255, 255, 255]]), R(0, 0, 1, 1), R(0, 0, 1, 1), null, 0, 0);
  assert.deepEqual(at(s, 0, 0), [128, 128, 128, 255]);
  s.alphaBlend(imageOf(1, 1, [[0, 0, 0, 0]], false), R(0, 0, 1, 1), R(0, 0, 1, 1), null, 255, AlphaFlags.SRC_SURFACE_HAS_ALPHA);
  assert.deepEqual(at(s, 0, 0), [128, 128, 128, 255]);
  // ARGB destination accumulates alpha
  const a = new Surface(1, 1, 1, SurfaceFmt['32_ARGB']);
  a.alphaBlend(imageOf(1, 1, [[50, 50, 50, 100]], true), R(0, 0, 1, 1), R(0, 0, 1, 1), null, 255, AlphaFlags.DEST_HAS_ALPHA);
  assert.deepEqual(at(a, 0, 0), [50, 50, 50, 100]);
  // scaled blend covers the whole box
  const b = new Surface(0, 4, 2);
  b.alphaBlend(imageOf(1, 1, [[255, 255, 255, 255]]), R(0, 0, 1, 1), R(0, 0, 4, 2), null, 255, 0);
  for (let i = 0; i < 8; i++) assert.equal(b.data[i * 4], 255);
});

test('transparent: colour-keyed copy ignoring alpha bytes', () => {
  const img = imageOf(3, 1, [[1, 2, 3, 0], [9, 9, 9, 0], [1, 2, 3, 77]]);
  const s = new Surface(0, 3, 1);
  s.fill(R(0, 0, 3, 1), null, 0x555555, PUT);
  s.transparent(img, R(0, 0, 3, 1), R(0, 0, 3, 1), null, 0xff030201);
  assert.deepEqual([at(s, 0, 0), at(s, 1, 0), at(s, 2, 0)], [[0x55, 0x55, 0x55, 255], [9, 9, 9, 255], [0x55, 0x55, 0x55, 255]]);
  // scaled
  const t = new Surface(0, 6, 1);
  t.transparent(img, R(0, 0, 3, 1), R(0, 0, 6, 1), null, 0x030201);
  assert.deepEqual(Array.from({ length: 6 }, (_, i) => t.data[i * 4]), [0, 0, 9, 9, 0, 0]);
});

/** Reference COPY_BITS: read everything first, then write. */
function refCopyBits(s: Surface, sx: number, sy: number, box: Rect, clip: Rect[] | null): Buffer {
  const out = Buffer.from(s.data);
  const dx = sx - box.left, dy = sy - box.top;
  for (const r of drawRects(box, clip, s.width, s.height)) {
    for (let y = r.top; y < r.bottom; y++) {
      for (let x = r.left; x < r.right; x++) {
        const fx = x + dx, fy = y + dy;
        if (fx < 0 || fy < 0 || fx >= s.width || fy >= s.height) continue;
        s.data.copy(out, (y * s.width + x) * 4, (fy * s.width + fx) * 4, (fy * s.width + fx) * 4 + 4);
      }
    }
  }
  return out;
}

test('copyBits handles overlap in every direction, clips and out-of-range sources', () => {
  const r = rng(5);
  for (let k = 0; k < 200; k++) {
    const s = new Surface(0, 13, 11);
    pattern(s, k + 1);
    const l = Math.floor(r() * 16) - 3, t = Math.floor(r() * 14) - 3;
    const box = R(l, t, l + Math.floor(r() * 12), t + Math.floor(r() * 10));
    const sx = Math.floor(r() * 17) - 3, sy = Math.floor(r() * 15) - 3;
    const clip = r() < 0.5 ? null : [R(0, 0, 5, 11), R(3, 2, 13, 6), R(7, 7, 12, 11)];
    const want = refCopyBits(s, sx, sy, box, clip);
    s.copyBits(sx, sy, box, clip);
    assert.deepEqual(s.data, want, `case ${k}`);
  }
});

test('toRGBA swaps channels and forces alpha on xRGB surfaces', () => {
  const s = new Surface(0, 2, 1);
  s.fill(R(0, 0, 1, 1), null, 0x112233, PUT);
  assert.deepEqual([...s.toRGBA()], [0x11, 0x22, 0x33, 255, 0, 0, 0, 255]);
});

test('geometry: disjoint rects cover exactly the union', () => {
  const r = rng(8);
  for (let k = 0; k < 100; k++) {
    const rects = Array.from({ length: 1 + Math.floor(r() * 40) }, () => {
      const x = Math.floor(r() * 20), y = Math.floor(r() * 20);
      return R(x, y, x + 1 + Math.floor(r() * 8), y + 1 + Math.floor(r() * 8));
    });
    const out = makeDisjoint(rects);
    const cover = new Uint8Array(30 * 30);
    for (const q of out) for (let y = q.top; y < q.bottom; y++) for (let x = q.left; x < q.right; x++) cover[y * 30 + x]!++;
    for (let y = 0; y < 30; y++) {
      for (let x = 0; x < 30; x++) {
        const inUnion = rects.some((q) => x >= q.left && x < q.right && y >= q.top && y < q.bottom);
        assert.equal(cover[y * 30 + x], inUnion ? 1 : 0, `${x},${y}`);
      }
    }
  }
});
