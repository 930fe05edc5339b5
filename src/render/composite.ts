// DRAW_COMPOSITE (semantics of spice-common canvas_base.c canvas_draw_composite, which hands the
// operation to pixman_image_composite32). Implemented: the Porter-Duff operators CLEAR..ADD and
// SATURATE, with or without a mask (unified or component alpha), repeat NONE/NORMAL/PAD/REFLECT,
// and transforms that are integer translations (where every filter samples pixel centres, so the
// filter does not matter). Arithmetic is pixman's 8-bit one (x*a/255 with its rounding, saturating
// adds), so results are exact for those cases. compositeSupported() names what is not done
// (scaling/rotating transforms, the PDF blend modes, disjoint/conjoint operators); the channel
// does not advertise COMPOSITE unless asked to.

import { drawRects } from './geometry.js';
import type { Surface } from './surface.js';
import type { Clip, DecodedImage, Rect } from './types.js';

export interface CompositeLike {
  flags: number;
  op: number;
  srcRepeat: number;
  maskRepeat: number;
  srcTransform: readonly number[] | null;
  maskTransform: readonly number[] | null;
  srcOrigin: { x: number; y: number };
  maskOrigin: { x: number; y: number };
}

export const PixmanOp = {
  CLEAR: 0, SRC: 1, DST: 2, OVER: 3, OVER_REVERSE: 4, IN: 5, IN_REVERSE: 6, OUT: 7, OUT_REVERSE: 8,
  ATOP: 9, ATOP_REVERSE: 10, XOR: 11, ADD: 12, SATURATE: 13,
} as const;
const Repeat = { NONE: 0, NORMAL: 1, PAD: 2, REFLECT: 3 } as const;
const F_COMPONENT_ALPHA = 1 << 18;
const F_SOURCE_OPAQUE = 1 << 22;
const F_MASK_OPAQUE = 1 << 23;
const F_DEST_OPAQUE = 1 << 24;
const FIXED_1 = 0x10000;

function mul8(a: number, b: number): number {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}
function div8(a: number, b: number): number {
  return Math.floor((a * 255 + (b >> 1)) / b);
}

/** An integer translation (dx, dy) for a transform, or null when it is anything else. */
function translation(t: readonly number[] | null): { dx: number; dy: number } | null {
  if (!t) return { dx: 0, dy: 0 };
  const [t00, t01, t02, t10, t11, t12] = t as [number, number, number, number, number, number];
  if (t00 !== FIXED_1 || t11 !== FIXED_1 || t01 !== 0 || t10 !== 0) return null;
  if (t02 % FIXED_1 !== 0 || t12 % FIXED_1 !== 0) return null;
  return { dx: t02 / FIXED_1, dy: t12 / FIXED_1 };
}

/** Why a composite cannot be drawn exactly, or null when it can. */
export function compositeSupported(c: CompositeLike): string | null {
  if (c.op > PixmanOp.SATURATE) return `operator ${c.op} (blend modes, disjoint/conjoint) not implemented`;
  if (!translation(c.srcTransform)) return 'scaling or rotating source transform not implemented';
  if (!translation(c.maskTransform)) return 'scaling or rotating mask transform not implemented';
  return null;
}

function wrap(v: number, n: number, repeat: number): number {
  switch (repeat) {
    case Repeat.NORMAL: { const r = v % n; return r < 0 ? r + n : r; }
    case Repeat.PAD: return v < 0 ? 0 : v >= n ? n - 1 : v;
    case Repeat.REFLECT: {
      const p = 2 * n;
      let r = v % p;
      if (r < 0) r += p;
      return r < n ? r : p - 1 - r;
    }
    default: return v >= 0 && v < n ? v : -1;
  }
}

/** Reads pixel (x, y) of img as [b, g, r, a] into out (premultiplied), honouring repeat; transparent outside. */
function sample(img: DecodedImage, x: number, y: number, repeat: number, opaque: boolean, out: number[]): void {
  const sx = wrap(x, img.width, repeat);
  const sy = wrap(y, img.height, repeat);
  if (sx < 0 || sy < 0) { out[0] = out[1] = out[2] = out[3] = 0; return; }
  const o = (sy * img.width + sx) * 4;
  const d = img.data;
  out[0] = d[o]!; out[1] = d[o + 1]!; out[2] = d[o + 2]!;
  out[3] = opaque || !img.hasAlpha ? 255 : d[o + 3]!;
}

/**
 * Applies the composite to surface s over box (clipped by clip). dest pixel (box.left + i, box.top + j)
 * reads source pixel (src_origin + (i, j)) and mask pixel (mask_origin + (i, j)), moved by the
 * transforms' translations. The caller checks compositeSupported() first.
 */
export function drawComposite(s: Surface, box: Rect, clip: Clip, c: CompositeLike, src: DecodedImage, mask: DecodedImage | null): void {
  const st = translation(c.srcTransform)!;
  const mt = translation(c.maskTransform)!;
  const rects = drawRects(box, clip, s.width, s.height);
  if (rects.length === 0) return;
  // Read everything first: src or mask may be this very surface.
  const srcCopy: DecodedImage = src.data.buffer === s.data.buffer ? { ...src, data: Buffer.from(src.data) } : src;
  const maskCopy: DecodedImage | null = mask && mask.data.buffer === s.data.buffer ? { ...mask, data: Buffer.from(mask.data) } : mask;
  const ca = (c.flags & F_COMPONENT_ALPHA) !== 0 && !!maskCopy;
  const srcOpaque = (c.flags & F_SOURCE_OPAQUE) !== 0;
  const maskOpaque = (c.flags & F_MASK_OPAQUE) !== 0;
  const destOpaque = (c.flags & F_DEST_OPAQUE) !== 0 || !s.hasAlpha;
  const db = s.data;
  const w = s.width;
  const sp = [0, 0, 0, 0], mp = [0, 0, 0, 0];
  const op = c.op;
  for (const r of rects) {
    for (let y = r.top; y < r.bottom; y++) {
      for (let x = r.left; x < r.right; x++) {
        const i = x - box.left, j = y - box.top;
        sample(srcCopy, c.srcOrigin.x + i + st.dx, c.srcOrigin.y + j + st.dy, c.srcRepeat, srcOpaque, sp);
        // per-channel source (premultiplied) and per-channel source alpha (after the mask)
        let s0 = sp[0]!, s1 = sp[1]!, s2 = sp[2]!, s3 = sp[3]!;
        let a0 = s3, a1 = s3, a2 = s3;
        if (maskCopy) {
          sample(maskCopy, c.maskOrigin.x + i + mt.dx, c.maskOrigin.y + j + mt.dy, c.maskRepeat, maskOpaque, mp);
          if (ca) {
            s0 = mul8(s0, mp[0]!); s1 = mul8(s1, mp[1]!); s2 = mul8(s2, mp[2]!); s3 = mul8(s3, mp[3]!);
            a0 = mul8(sp[3]!, mp[0]!); a1 = mul8(sp[3]!, mp[1]!); a2 = mul8(sp[3]!, mp[2]!);
          } else {
            const m = mp[3]!;
            s0 = mul8(s0, m); s1 = mul8(s1, m); s2 = mul8(s2, m); s3 = mul8(s3, m);
            a0 = a1 = a2 = s3;
          }
        }
        const di = (y * w + x) * 4;
        const da = destOpaque ? 255 : db[di + 3]!;
        const sv = [s0, s1, s2, s3];
        const av = [a0, a1, a2, s3];
        for (let k = 0; k < 4; k++) {
          const sc = sv[k]!, sa = av[k]!, dc = k === 3 ? da : db[di + k]!;
          let v: number;
          switch (op) {
            case PixmanOp.CLEAR: v = 0; break;
            case PixmanOp.SRC: v = sc; break;
            case PixmanOp.DST: v = dc; break;
            case PixmanOp.OVER: v = sc + mul8(dc, 255 - sa); break;
            case PixmanOp.OVER_REVERSE: v = dc + mul8(sc, 255 - da); break;
            case PixmanOp.IN: v = mul8(sc, da); break;
            case PixmanOp.IN_REVERSE: v = mul8(dc, sa); break;
            case PixmanOp.OUT: v = mul8(sc, 255 - da); break;
            case PixmanOp.OUT_REVERSE: v = mul8(dc, 255 - sa); break;
            case PixmanOp.ATOP: v = mul8(sc, da) + mul8(dc, 255 - sa); break;
            case PixmanOp.ATOP_REVERSE: v = mul8(sc, 255 - da) + mul8(dc, sa); break;
            case PixmanOp.XOR: v = mul8(sc, 255 - da) + mul8(dc, 255 - sa); break;
            case PixmanOp.ADD: v = sc + dc; break;
            default: { // SATURATE: scale the source down to the room left in the destination
              const room = 255 - da;
              v = dc + (sa > room ? mul8(sc, div8(room, sa)) : sc);
            }
          }
          db[di + k] = v > 255 ? 255 : v;
        }
        if (!s.hasAlpha) db[di + 3] = 255;
      }
    }
  }
}
