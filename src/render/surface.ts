// A SPICE drawing surface and its draw operations (semantics of spice-common canvas_base.c /
// sw_canvas.c, digest §4.3). Pixels are B,G,R,A bytes, stride width*4. Every op clamps its box
// to the surface and to the clip; out-of-range or inverted rects draw nothing and never throw.

import { ProtocolError } from '../util/errors.js';
import { drawRects, intersect } from './geometry.js';
import { rop3Function } from './rop3.js';
import { ALPHA_MASK, RGB_MASK, argbToNative, checkDecoded, u32View } from './pixels.js';
import { checkImageSize, Ropd, ScaleMode, SurfaceFmt, AlphaFlags, type Clip, type DecodedImage, type Rect } from './types.js';

type RopOp = 'put' | 'or' | 'and' | 'xor' | 'clear' | 'set' | 'invert';
interface RopSpec { op: RopOp; invS: boolean; invD: boolean; invR: boolean }

/**
 * Reads a ROP descriptor. srcMask says which flag(s) invert the source: INVERS_SRC for images,
 * INVERS_BRUSH for fills (spice's canvas uses INVERS_BRUSH there; we accept INVERS_SRC too).
 */
function decodeRop(desc: number, srcMask: number): RopSpec {
  const invS = (desc & srcMask) !== 0;
  const invD = (desc & Ropd.INVERS_DEST) !== 0;
  const invR = (desc & Ropd.INVERS_RES) !== 0;
  let op: RopOp = 'put';
  if (desc & Ropd.OP_PUT) op = 'put';
  else if (desc & Ropd.OP_OR) op = 'or';
  else if (desc & Ropd.OP_AND) op = 'and';
  else if (desc & Ropd.OP_XOR) op = 'xor';
  else if (desc & Ropd.OP_BLACKNESS) return { op: 'clear', invS: false, invD: false, invR: false };
  else if (desc & Ropd.OP_WHITENESS) return { op: 'set', invS: false, invD: false, invR: false };
  else if (desc & Ropd.OP_INVERS) return { op: 'invert', invS: false, invD: false, invR: false };
  return { op, invS, invD, invR };
}

/** True when the ROP is a plain copy of the source. */
function isPlainCopy(s: RopSpec): boolean {
  return s.op === 'put' && s.invS === s.invR;
}

/** (src, dest) -> result for a ROP; results are raw 32-bit words (alpha fixed by the caller). */
function combiner(spec: RopSpec): (s: number, d: number) => number {
  const xs = spec.invS ? -1 : 0;
  const xd = spec.invD ? -1 : 0;
  const xr = spec.invR ? -1 : 0;
  switch (spec.op) {
    case 'put': return xs !== xr ? (s) => ~s : (s) => s;
    case 'or': return (s, d) => ((s ^ xs) | (d ^ xd)) ^ xr;
    case 'and': return (s, d) => ((s ^ xs) & (d ^ xd)) ^ xr;
    case 'xor': return (s, d) => (s ^ xs ^ d ^ xd) ^ xr;
    case 'clear': return () => 0;
    case 'set': return () => -1;
    case 'invert': return (_s, d) => ~d;
  }
}

/** 8-bit a*b/255 with pixman's rounding. */
function mul8(a: number, b: number): number {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

/**
 * Called once per destination row segment. dOff: first destination pixel index; n: pixel count.
 * Unscaled (xmap null): source pixels sOff .. sOff+n-1. Scaled: source pixel of destination
 * pixel i is sOff + xmap[i], or none when xmap[i] < 0.
 */
type SpanFn = (dOff: number, sOff: number, n: number, xmap: Int32Array | null) => void;

/**
 * A QMask resolved to pixels: bits is width*height bytes, top-down, non-zero = set. Destination
 * pixel (x, y) of a draw whose box starts at (box.left, box.top) is drawn only when the mask pixel
 * (x - box.left + x0, y - box.top + y0) lies inside the mask and is set (clear, with invert).
 * Pixels outside the mask are never drawn, inverted or not (canvas_mask_pixman).
 */
export interface MaskSpec { width: number; height: number; bits: Uint8Array; x: number; y: number; invert: boolean }

/** A brush with its pattern image already decoded. Pattern pixel of (x, y) is image[(x - x0) mod w, (y - y0) mod h]. */
export type SurfaceBrush =
  | { kind: 'none' }
  | { kind: 'solid'; color: number }
  | { kind: 'pattern'; image: DecodedImage; x: number; y: number };

/** An 8-bit coverage mask placed at (x, y) on the surface (e.g. a rendered glyph string). */
export interface AlphaMask { x: number; y: number; width: number; height: number; alpha: Uint8Array }

/** Non-negative remainder. */
function mod(a: number, m: number): number {
  const r = a % m;
  return r < 0 ? r + m : r;
}

/** Keeps the parts of rects where the mask allows drawing, as one-row runs. */
export function maskRects(rects: Rect[], box: Rect, m: MaskSpec): Rect[] {
  const out: Rect[] = [];
  const ox = m.x - box.left;
  const oy = m.y - box.top;
  const mw = m.width;
  for (const r of rects) {
    for (let y = r.top; y < r.bottom; y++) {
      const my = y + oy;
      if (my < 0 || my >= m.height) continue;
      const row = my * mw;
      const left = Math.max(r.left, -ox), right = Math.min(r.right, mw - ox);
      let run = -1;
      for (let x = left; x < right; x++) {
        const on = (m.bits[row + x + ox] !== 0) !== m.invert;
        if (on) { if (run < 0) run = x; } else if (run >= 0) { out.push({ top: y, bottom: y + 1, left: run, right: x }); run = -1; }
      }
      if (run >= 0) out.push({ top: y, bottom: y + 1, left: run, right: right });
    }
  }
  return out;
}

/** ROP descriptor of DRAW_OPAQUE's brush step: the brush is the source (INVERS_BRUSH), the image just drawn the destination (INVERS_SRC). */
function opaqueBrushRop(desc: number): number {
  const keep = desc & ~(Ropd.INVERS_SRC | Ropd.INVERS_BRUSH | Ropd.INVERS_DEST);
  return keep | (desc & Ropd.INVERS_BRUSH ? Ropd.INVERS_SRC : 0) | (desc & Ropd.INVERS_SRC ? Ropd.INVERS_DEST : 0);
}

export class Surface {
  readonly id: number;
  readonly width: number;
  readonly height: number;
  readonly format: number;
  /** B,G,R,A bytes, stride width*4. */
  readonly data: Buffer;
  /** False for xRGB/16-bit formats: the stored alpha is always 255. */
  readonly hasAlpha: boolean;
  private readonly px: Uint32Array;
  private readonly amask: number;

  constructor(id: number, width: number, height: number, format: number = SurfaceFmt['32_xRGB']) {
    checkImageSize(width, height, `surface ${id}`);
    this.id = id;
    this.width = width;
    this.height = height;
    this.format = format;
    this.hasAlpha = format === SurfaceFmt['32_ARGB'] || format === SurfaceFmt['8_A'] || format === SurfaceFmt['1_A'];
    this.amask = this.hasAlpha ? 0 : ALPHA_MASK;
    this.data = Buffer.alloc(width * height * 4);
    this.px = new Uint32Array(this.data.buffer, this.data.byteOffset, width * height);
    this.clear();
  }

  /** Black (transparent black for formats with alpha). */
  clear(): void {
    this.px.fill(this.amask);
  }

  /** This surface as an image source (shares the pixel buffer). */
  asImage(): DecodedImage {
    return { width: this.width, height: this.height, data: this.data, hasAlpha: this.hasAlpha };
  }

  /** The drawable rects of box: clamped to the surface, intersected with clip, masked. */
  region(box: Rect, clip: Clip, mask?: MaskSpec | null): Rect[] {
    const rects = drawRects(box, clip, this.width, this.height);
    if (!mask || rects.length === 0) return rects;
    return maskRects(rects, box, mask);
  }

  /** DRAW_FILL with a solid colour (xRGB u32; ARGB for 32_ARGB surfaces), also BLACKNESS/WHITENESS/INVERS. */
  fill(box: Rect, clip: Clip, color: number, rop: number, mask?: MaskSpec | null): void {
    this.paintRects(this.region(box, clip, mask), { kind: 'solid', color }, rop);
  }

  /** DRAW_FILL with any brush (NONE paints colour 0 through the ROP, as spice does). */
  fillBrush(box: Rect, clip: Clip, brush: SurfaceBrush, rop: number, mask?: MaskSpec | null): void {
    this.paintRects(this.region(box, clip, mask), brush, rop);
  }

  /**
   * Paints a brush through a ROP descriptor onto rects (which must be disjoint; they are clamped
   * to the surface). The brush is the ROP's source: INVERS_BRUSH (or INVERS_SRC) inverts it.
   */
  paintRects(rects: Rect[], brush: SurfaceBrush, rop: number): void {
    if (rects.length === 0) return;
    const spec = decodeRop(rop, Ropd.INVERS_SRC | Ropd.INVERS_BRUSH);
    const px = this.px;
    const am = this.amask;
    const w = this.width;
    const bounds: Rect = { top: 0, left: 0, bottom: this.height, right: w };
    if (brush.kind !== 'pattern') {
      const src = argbToNative(brush.kind === 'solid' ? brush.color : 0);
      if (spec.op === 'put' || spec.op === 'clear' || spec.op === 'set') {
        const v = (combiner(spec)(src, 0) | am) >>> 0;
        for (const r0 of rects) {
          const r = intersect(r0, bounds);
          if (!r) continue;
          for (let y = r.top; y < r.bottom; y++) px.fill(v, y * w + r.left, y * w + r.right);
        }
        return;
      }
      const f = combiner(spec);
      for (const r0 of rects) {
        const r = intersect(r0, bounds);
        if (!r) continue;
        for (let y = r.top; y < r.bottom; y++) {
          for (let i = y * w + r.left, e = y * w + r.right; i < e; i++) px[i] = f(src, px[i]!) | am;
        }
      }
      return;
    }
    const img = brush.image;
    checkDecoded(img, 'pattern brush');
    if (img.width === 0 || img.height === 0) return;
    const tw = img.width, th = img.height;
    const tile = u32View(this.unalias(img), tw * th);
    const f = combiner(spec);
    const plain = isPlainCopy(spec);
    for (const r0 of rects) {
      const r = intersect(r0, bounds);
      if (!r) continue;
      const tx0 = mod(r.left - brush.x, tw);
      for (let y = r.top; y < r.bottom; y++) {
        const trow = mod(y - brush.y, th) * tw;
        let tx = tx0;
        for (let i = y * w + r.left, e = y * w + r.right; i < e; i++) {
          const v = tile[trow + tx]!;
          px[i] = (plain ? v : f(v, px[i]!)) | am;
          if (++tx === tw) tx = 0;
        }
      }
    }
  }

  /**
   * DRAW_COPY / DRAW_BLEND / DRAW_OPAQUE's image part: srcArea of img onto box with a ROP
   * descriptor. When the sizes differ the image is scaled (nearest neighbour for both modes).
   */
  drawImage(img: DecodedImage, srcArea: Rect, box: Rect, clip: Clip, rop: number = Ropd.OP_PUT,
            scaleMode: number = ScaleMode.NEAREST, mask?: MaskSpec | null): void {
    this.drawImageIn(img, srcArea, box, this.region(box, clip, mask), rop, scaleMode);
  }

  /** drawImage onto precomputed drawable rects (from region()). */
  private drawImageIn(img: DecodedImage, srcArea: Rect, box: Rect, rects: Rect[], rop: number, scaleMode: number): void {
    void scaleMode; // INTERPOLATE falls back to nearest neighbour
    checkDecoded(img, 'draw image');
    const spec = decodeRop(rop, Ropd.INVERS_SRC);
    const dst = this.px;
    const am = this.amask;
    if (isPlainCopy(spec)) {
      // Pixels copy as they are; only alpha needs fixing on a surface without alpha.
      const fixAlpha = !this.hasAlpha && img.hasAlpha;
      if (!fixAlpha) {
        const sdata = this.unalias(img);
        const dbytes = this.data;
        let s: Uint32Array | null = null;
        this.spansIn(img, srcArea, box, rects, (dOff, sOff, n, xmap) => {
          if (!xmap) { sdata.copy(dbytes, dOff * 4, sOff * 4, (sOff + n) * 4); return; }
          s ??= u32View(sdata, img.width * img.height);
          for (let i = 0; i < n; i++) { const sx = xmap[i]!; if (sx >= 0) dst[dOff + i] = s[sOff + sx]!; }
        });
        return;
      }
    }
    const s = u32View(this.unalias(img), img.width * img.height);
    const f = combiner(spec);
    this.spansIn(img, srcArea, box, rects, (dOff, sOff, n, xmap) => {
      if (!xmap) {
        for (let i = 0; i < n; i++) dst[dOff + i] = f(s[sOff + i]!, dst[dOff + i]!) | am;
      } else {
        for (let i = 0; i < n; i++) {
          const sx = xmap[i]!;
          if (sx >= 0) dst[dOff + i] = f(s[sOff + sx]!, dst[dOff + i]!) | am;
        }
      }
    });
  }

  /**
   * DRAW_OPAQUE (canvas_draw_opaque): the image is copied into the drawable area, then the brush
   * is applied over it with the ROP descriptor, where INVERS_BRUSH inverts the brush and
   * INVERS_SRC inverts the freshly drawn image (the ROP's destination). OP_PUT leaves the brush.
   */
  opaque(img: DecodedImage, srcArea: Rect, box: Rect, clip: Clip, brush: SurfaceBrush, rop: number,
         scaleMode: number = ScaleMode.NEAREST, mask?: MaskSpec | null): void {
    const rects = this.region(box, clip, mask);
    if (rects.length === 0) return;
    this.drawImageIn(img, srcArea, box, rects, Ropd.OP_PUT, scaleMode);
    this.paintRects(rects, brush, opaqueBrushRop(rop));
  }

  /**
   * DRAW_ROP3: result = rop3(pattern, source, dest) per pixel over the drawable area. The source
   * is srcArea of img (scaled to the box when the sizes differ); the pattern is the brush (solid
   * colour, or a tile aligned so that (box.left - pos.x) mod w is its first column).
   */
  rop3(img: DecodedImage, srcArea: Rect, box: Rect, clip: Clip, brush: SurfaceBrush, code: number,
       scaleMode: number = ScaleMode.NEAREST, mask?: MaskSpec | null): void {
    void scaleMode;
    checkDecoded(img, 'rop3 image');
    const rects = this.region(box, clip, mask);
    if (rects.length === 0) return;
    const f = rop3Function(code);
    const s = u32View(this.unalias(img), img.width * img.height);
    const dst = this.px;
    const am = this.amask;
    const w = this.width;
    let pat: ((x: number, y: number) => number);
    if (brush.kind === 'pattern') {
      checkDecoded(brush.image, 'rop3 pattern');
      const tw = brush.image.width, th = brush.image.height;
      if (tw === 0 || th === 0) return;
      const tile = u32View(this.unalias(brush.image), tw * th);
      const bx = brush.x, by = brush.y;
      pat = (x, y) => tile[mod(y - by, th) * tw + mod(x - bx, tw)]!;
    } else {
      const c = argbToNative(brush.kind === 'solid' ? brush.color : 0);
      pat = () => c;
    }
    this.spansIn(img, srcArea, box, rects, (dOff, sOff, n, xmap) => {
      const y = Math.floor(dOff / w);
      const x0 = dOff - y * w;
      for (let i = 0; i < n; i++) {
        const sx = xmap ? xmap[i]! : i;
        if (sx < 0) continue;
        dst[dOff + i] = f(pat(x0 + i, y), s[sOff + sx]!, dst[dOff + i]!) | am;
      }
    });
  }

  /**
   * Brush OVER the surface through an 8-bit coverage mask, restricted to rects (DRAW_TEXT's
   * foreground: pixman OVER with the glyph mask, pixman's rounding). Pattern brushes are aligned
   * to the mask's origin plus the pattern position, as spice composites them.
   */
  overMask(rects: Rect[], brush: SurfaceBrush, m: AlphaMask): void {
    if (brush.kind === 'none' || rects.length === 0 || m.width <= 0 || m.height <= 0) return;
    const db = this.data;
    const w = this.width;
    const keepAlpha = this.hasAlpha;
    let src: (x: number, y: number) => number; // native pixel word
    if (brush.kind === 'solid') {
      const c = (argbToNative(brush.color) | ALPHA_MASK) >>> 0; // solid brushes are opaque
      src = () => c;
    } else {
      checkDecoded(brush.image, 'text pattern');
      const tw = brush.image.width, th = brush.image.height;
      if (tw === 0 || th === 0) return;
      const tile = u32View(this.unalias(brush.image), tw * th);
      const ox = m.x + brush.x, oy = m.y + brush.y;
      const opaque = !brush.image.hasAlpha;
      src = (x, y) => {
        const v = tile[mod(y - oy, th) * tw + mod(x - ox, tw)]!;
        return opaque ? (v | ALPHA_MASK) >>> 0 : v;
      };
    }
    const sb = Buffer.alloc(4);
    const sv = new Uint32Array(sb.buffer, sb.byteOffset, 1);
    const area: Rect = { top: m.y, left: m.x, bottom: m.y + m.height, right: m.x + m.width };
    for (const r0 of rects) {
      const r = intersect(r0, area);
      if (!r) continue;
      for (let y = r.top; y < r.bottom; y++) {
        const mrow = (y - m.y) * m.width - m.x;
        for (let x = r.left; x < r.right; x++) {
          const cov = m.alpha[mrow + x]!;
          if (cov === 0) continue;
          sv[0] = src(x, y);
          const di = (y * w + x) * 4;
          const sa = mul8(sb[3]!, cov);
          if (sa === 255) {
            db[di] = sb[0]!; db[di + 1] = sb[1]!; db[di + 2] = sb[2]!; db[di + 3] = 255;
            continue;
          }
          const ia = 255 - sa;
          for (let c = 0; c < 3; c++) {
            const v = mul8(sb[c]!, cov) + mul8(db[di + c]!, ia);
            db[di + c] = v > 255 ? 255 : v;
          }
          if (keepAlpha) { const v = sa + mul8(db[di + 3]!, ia); db[di + 3] = v > 255 ? 255 : v; } else db[di + 3] = 255;
        }
      }
    }
  }

  /**
   * DRAW_ALPHA_BLEND: img OVER the surface with global alpha 0-255. img colours are premultiplied
   * when it has alpha (or flags has SRC_SURFACE_HAS_ALPHA); otherwise its alpha counts as 255.
   * Scaling is nearest neighbour (as spice does for this op).
   */
  alphaBlend(img: DecodedImage, srcArea: Rect, box: Rect, clip: Clip, alpha: number, flags = 0): void {
    checkDecoded(img, 'alpha blend image');
    const ga = Math.max(0, Math.min(255, Math.trunc(alpha)));
    if (ga === 0) return;
    const srcAlpha = img.hasAlpha || (flags & AlphaFlags.SRC_SURFACE_HAS_ALPHA) !== 0;
    const sb = this.unalias(img);
    const db = this.data;
    const keepAlpha = this.hasAlpha;
    // One pixel: src (premultiplied) IN global alpha, OVER dest, with pixman's rounding.
    const blend = (si: number, di: number): void => {
      let a = srcAlpha ? sb[si + 3]! : 255;
      if (ga === 255) {
        if (a === 0) return; // fully transparent: dest unchanged
        if (a === 255) { // opaque: a copy
          db[di] = sb[si]!; db[di + 1] = sb[si + 1]!; db[di + 2] = sb[si + 2]!; db[di + 3] = 255;
          return;
        }
      }
      let b = sb[si]!, g = sb[si + 1]!, r = sb[si + 2]!;
      if (ga !== 255) { b = mul8(b, ga); g = mul8(g, ga); r = mul8(r, ga); a = mul8(a, ga); }
      const ia = 255 - a;
      const nb = b + mul8(db[di]!, ia), ng = g + mul8(db[di + 1]!, ia), nr = r + mul8(db[di + 2]!, ia);
      db[di] = nb > 255 ? 255 : nb;
      db[di + 1] = ng > 255 ? 255 : ng;
      db[di + 2] = nr > 255 ? 255 : nr;
      if (keepAlpha) { const na = a + mul8(db[di + 3]!, ia); db[di + 3] = na > 255 ? 255 : na; } else db[di + 3] = 255;
    };
    this.spansIn(img, srcArea, box, this.region(box, clip), (dOff, sOff, n, xmap) => {
      if (!xmap) {
        for (let i = 0, si = sOff * 4, di = dOff * 4; i < n; i++, si += 4, di += 4) blend(si, di);
        return;
      }
      for (let i = 0; i < n; i++) {
        const sx = xmap[i]!;
        if (sx >= 0) blend((sOff + sx) * 4, (dOff + i) * 4);
      }
    });
  }

  /** DRAW_TRANSPARENT: copies img pixels whose colour (ignoring alpha) differs from transparentColor (xRGB). */
  transparent(img: DecodedImage, srcArea: Rect, box: Rect, clip: Clip, transparentColor: number): void {
    checkDecoded(img, 'transparent image');
    const key = argbToNative(transparentColor) & RGB_MASK;
    const s = u32View(this.unalias(img), img.width * img.height);
    const dst = this.px;
    const am = this.amask;
    this.spansIn(img, srcArea, box, this.region(box, clip), (dOff, sOff, n, xmap) => {
      for (let i = 0; i < n; i++) {
        const sx = xmap ? xmap[i]! : i;
        if (sx < 0) continue;
        const v = s[sOff + sx]!;
        if ((v & RGB_MASK) !== key) dst[dOff + i] = v | am;
      }
    });
  }

  /**
   * COPY_BITS: copies the area of box's size at (srcX, srcY) onto box (clipped). Overlapping
   * source and destination are handled; pixels whose source lies outside the surface are kept.
   */
  copyBits(srcX: number, srcY: number, box: Rect, clip: Clip): void {
    if (!Number.isFinite(srcX) || !Number.isFinite(srcY) || !Number.isFinite(box.left) || !Number.isFinite(box.top)) return;
    const dx = Math.trunc(srcX) - box.left;
    const dy = Math.trunc(srcY) - box.top;
    const w = this.width;
    const h = this.height;
    const rects: Rect[] = [];
    for (const r of drawRects(box, clip, w, h)) {
      const top = Math.max(r.top, -dy), bottom = Math.min(r.bottom, h - dy);
      const left = Math.max(r.left, -dx), right = Math.min(r.right, w - dx);
      if (bottom > top && right > left) rects.push({ top, left, bottom, right });
    }
    if (rects.length === 0 || (dx === 0 && dy === 0)) return;
    const d = this.data;
    const stride = w * 4;
    if (rects.length === 1) {
      const r = rects[0]!;
      const len = (r.right - r.left) * 4;
      // Buffer.copy is a memmove; rows go in the order that never reads an already written row.
      const rowCopy = (y: number): void => {
        const so = (y + dy) * stride + (r.left + dx) * 4;
        d.copy(d, y * stride + r.left * 4, so, so + len);
      };
      if (dy > 0) for (let y = r.top; y < r.bottom; y++) rowCopy(y);
      else for (let y = r.bottom - 1; y >= r.top; y--) rowCopy(y);
      return;
    }
    // Several rects: read every source area before writing any of them.
    const saved = rects.map((r) => {
      const len = (r.right - r.left) * 4;
      const buf = Buffer.allocUnsafe(len * (r.bottom - r.top));
      for (let y = r.top; y < r.bottom; y++) {
        const so = (y + dy) * stride + (r.left + dx) * 4;
        d.copy(buf, (y - r.top) * len, so, so + len);
      }
      return buf;
    });
    rects.forEach((r, k) => {
      const len = (r.right - r.left) * 4;
      const buf = saved[k]!;
      for (let y = r.top; y < r.bottom; y++) buf.copy(d, y * stride + r.left * 4, (y - r.top) * len, (y - r.top + 1) * len);
    });
  }

  /** R,G,B,A bytes (alpha 255 for surfaces without alpha), e.g. for PNG output. */
  toRGBA(): Buffer {
    const n = this.width * this.height * 4;
    const src = this.data;
    const out = Buffer.allocUnsafe(n);
    const opaque = !this.hasAlpha;
    for (let i = 0; i < n; i += 4) {
      out[i] = src[i + 2]!;
      out[i + 1] = src[i + 1]!;
      out[i + 2] = src[i]!;
      out[i + 3] = opaque ? 255 : src[i + 3]!;
    }
    return out;
  }

  /** img's pixel bytes, copied when they share memory with this surface (self-copies). */
  private unalias(img: DecodedImage): Buffer {
    const a = img.data;
    const b = this.data;
    if (a.buffer === b.buffer &&
        a.byteOffset < b.byteOffset + b.length && b.byteOffset < a.byteOffset + a.length) {
      return Buffer.from(a.subarray(0, img.width * img.height * 4));
    }
    return a;
  }

  /**
   * Maps the drawable rects of box back to srcArea of img and calls fn per destination row segment.
   * Destination pixels whose source falls outside img are skipped.
   */
  private spansIn(img: DecodedImage, srcArea: Rect, box: Rect, rects: Rect[], fn: SpanFn): void {
    const sw = srcArea.right - srcArea.left;
    const sh = srcArea.bottom - srcArea.top;
    const dw = box.right - box.left;
    const dh = box.bottom - box.top;
    if (!(sw > 0 && sh > 0 && dw > 0 && dh > 0)) return;
    if (rects.length === 0) return;
    const w = this.width;
    const iw = img.width;
    const ih = img.height;
    if (sw === dw && sh === dh) {
      const dx = srcArea.left - box.left;
      const dy = srcArea.top - box.top;
      if (!Number.isInteger(dx) || !Number.isInteger(dy)) return;
      for (const r of rects) {
        const top = Math.max(r.top, -dy), bottom = Math.min(r.bottom, ih - dy);
        const left = Math.max(r.left, -dx), right = Math.min(r.right, iw - dx);
        if (bottom <= top || right <= left) continue;
        for (let y = top; y < bottom; y++) fn(y * w + left, (y + dy) * iw + left + dx, right - left, null);
      }
      return;
    }
    for (const r of rects) {
      const n = r.right - r.left;
      const xmap = new Int32Array(n);
      let any = false;
      for (let i = 0; i < n; i++) {
        const sx = srcArea.left + Math.floor(((r.left + i - box.left) + 0.5) * sw / dw);
        if (sx >= 0 && sx < iw) { xmap[i] = sx; any = true; } else xmap[i] = -1;
      }
      if (!any) continue;
      for (let y = r.top; y < r.bottom; y++) {
        const sy = srcArea.top + Math.floor(((y - box.top) + 0.5) * sh / dh);
        if (sy < 0 || sy >= ih) continue;
        fn(y * w + r.left, sy * iw, n, xmap);
      }
    }
  }
}

/** Throws unless id/size/format describe a surface we can hold (used by SURFACE_CREATE handlers). */
export function createSurface(id: number, width: number, height: number, format: number): Surface {
  const known = Object.values(SurfaceFmt) as number[];
  if (!known.includes(format)) throw new ProtocolError(`surface ${id}: unknown surface format ${format}`);
  return new Surface(id, width, height, format);
}
