// Deterministic sixel output of a surface (or an RGBA image) fitted into a box of terminal cells.
//
// Colours are quantised to a FIXED palette, so the same pixels always give the same bytes and a
// frame never needs a palette negotiation: a 6x6x6 colour cube (levels 0, 20, ..., 100 %) plus 20
// greys at the other multiples of 4 % (236 registers, within the 256 that the sixel spec and
// xterm's vt340 emulation allow). Each pixel takes the nearest cube colour, or the nearest grey when
// that is strictly closer (squared RGB distance). Registers are defined with percentages, so a
// decoder reproduces exactly the palette colours in `SIXEL_PALETTE` (round(pct * 255 / 100)).
//
// Format written (DEC STD 070 / VT340): DCS "ESC P 0;1;0 q", raster attributes "1;1;W;H (square
// pixels), the colour registers used, then bands of six rows: for each colour present in the band
// (ascending register) "#n" and its sixel characters (run-length coded as !count when a run is
// 4 or longer, empty tails dropped), "$" between colours, "-" between bands; ST "ESC \" at the end.

import type { Surface } from '../surface.js';

/** An 8-bit RGBA image, top-down, stride width*4. */
export interface RgbaImage { width: number; height: number; data: Uint8Array }

/** The fixed palette: register i is [r, g, b] bytes, and PALETTE_PCT[i] the percentages written. */
export const SIXEL_PALETTE_PCT: readonly (readonly [number, number, number])[] = (() => {
  const out: [number, number, number][] = [];
  for (let r = 0; r < 6; r++) for (let g = 0; g < 6; g++) for (let b = 0; b < 6; b++) out.push([r * 20, g * 20, b * 20]);
  for (let p = 4; p < 100; p += 4) if (p % 20 !== 0) out.push([p, p, p]);
  return out;
})();
export const SIXEL_PALETTE: readonly (readonly [number, number, number])[] =
  SIXEL_PALETTE_PCT.map(([r, g, b]) => [Math.round((r * 255) / 100), Math.round((g * 255) / 100), Math.round((b * 255) / 100)] as const);

const GREY_LEVELS: { value: number; index: number }[] = (() => {
  const g: { value: number; index: number }[] = [];
  SIXEL_PALETTE.forEach(([r, gg, b], index) => { if (r === gg && gg === b) g.push({ value: r, index }); });
  return g.sort((a, b) => a.value - b.value);
})();
/** nearest grey register for each average 0..255 */
const NEAREST_GREY: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let v = 0; v < 256; v++) {
    let best = GREY_LEVELS[0]!;
    for (const g of GREY_LEVELS) if (Math.abs(g.value - v) < Math.abs(best.value - v)) best = g;
    t[v] = best.index;
  }
  return t;
})();

/** The palette register for one colour (deterministic; see the file comment). */
export function quantize(r: number, g: number, b: number): number {
  const ri = Math.round(r / 51), gi = Math.round(g / 51), bi = Math.round(b / 51);
  const cube = ri * 36 + gi * 6 + bi;
  const cr = ri * 51 - r, cg = gi * 51 - g, cb = bi * 51 - b;
  const cubeErr = cr * cr + cg * cg + cb * cb;
  if (cubeErr === 0) return cube;
  const grey = NEAREST_GREY[Math.round((r + g + b) / 3)]!;
  const gv = SIXEL_PALETTE[grey]![0];
  const gr = gv - r, gg = gv - g, gb = gv - b;
  return gr * gr + gg * gg + gb * gb < cubeErr ? grey : cube;
}

/** Largest w x h with the source's aspect ratio that fits maxW x maxH (at least 1x1). */
export function fitSize(srcW: number, srcH: number, maxW: number, maxH: number): { width: number; height: number } {
  const scale = Math.min(maxW / srcW, maxH / srcH);
  return { width: Math.max(1, Math.floor(srcW * scale)), height: Math.max(1, Math.floor(srcH * scale)) };
}

/**
 * Resamples an RGBA image to w x h: each output pixel is the rounded mean of the source pixels
 * its area covers (at least one), so downscaling averages and upscaling repeats. Integer maths only.
 */
export function resampleRgba(src: RgbaImage, w: number, h: number): RgbaImage {
  if (src.width === w && src.height === h) return src;
  const out = new Uint8Array(w * h * 4);
  const sw = src.width, sh = src.height, d = src.data;
  const x0 = new Int32Array(w), x1 = new Int32Array(w);
  for (let x = 0; x < w; x++) {
    x0[x] = Math.floor((x * sw) / w);
    x1[x] = Math.max(x0[x]! + 1, Math.floor(((x + 1) * sw) / w));
  }
  for (let y = 0; y < h; y++) {
    const y0 = Math.floor((y * sh) / h);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * sh) / h));
    for (let x = 0; x < w; x++) {
      let r = 0, g = 0, b = 0, a = 0;
      const n = (y1 - y0) * (x1[x]! - x0[x]!);
      for (let sy = y0; sy < y1; sy++) {
        for (let sx = x0[x]!, o = (sy * sw + sx) * 4; sx < x1[x]!; sx++, o += 4) {
          r += d[o]!; g += d[o + 1]!; b += d[o + 2]!; a += d[o + 3]!;
        }
      }
      const o = (y * w + x) * 4;
      const half = n >> 1;
      out[o] = Math.floor((r + half) / n);
      out[o + 1] = Math.floor((g + half) / n);
      out[o + 2] = Math.floor((b + half) / n);
      out[o + 3] = Math.floor((a + half) / n);
    }
  }
  return { width: w, height: h, data: out };
}

/** A surface as an RGBA image (a copy), or the image itself. */
export function toRgbaImage(src: Surface | RgbaImage): RgbaImage {
  if ('toRGBA' in src) return { width: src.width, height: src.height, data: src.toRGBA() };
  return src;
}

export interface SixelBox {
  /** terminal columns and rows available */
  cols: number;
  rows: number;
  /** pixel size of one cell (default 10 x 20) */
  cellWidth?: number;
  cellHeight?: number;
}

/** Palette registers of every pixel (after quantisation), width*height. */
export function quantizeImage(img: RgbaImage): Uint8Array {
  const n = img.width * img.height;
  const idx = new Uint8Array(n);
  const d = img.data;
  // colours repeat a lot on desktops: remember the last one
  let last = -1, lastIdx = 0;
  for (let i = 0; i < n; i++) {
    const o = i * 4;
    const key = (d[o]! << 16) | (d[o + 1]! << 8) | d[o + 2]!;
    if (key !== last) { last = key; lastIdx = quantize(d[o]!, d[o + 1]!, d[o + 2]!); }
    idx[i] = lastIdx;
  }
  return idx;
}

/** Sixel data (DCS ... ST) for register indices of a w x h image. */
export function encodeSixelIndexed(idx: Uint8Array, w: number, h: number): string {
  const parts: string[] = ['\x1bP0;1;0q', `"1;1;${w};${h}`];
  const used = new Uint8Array(SIXEL_PALETTE.length);
  for (let i = 0; i < idx.length; i++) used[idx[i]!] = 1;
  for (let c = 0; c < used.length; c++) {
    if (!used[c]) continue;
    const [r, g, b] = SIXEL_PALETTE_PCT[c]!;
    parts.push(`#${c};2;${r};${g};${b}`);
  }
  const bits = new Map<number, Uint8Array>();
  for (let top = 0; top < h; top += 6) {
    bits.clear();
    const rows = Math.min(6, h - top);
    for (let k = 0; k < rows; k++) {
      const row = (top + k) * w;
      for (let x = 0; x < w; x++) {
        const c = idx[row + x]!;
        let a = bits.get(c);
        if (!a) { a = new Uint8Array(w); bits.set(c, a); }
        a[x]! |= 1 << k;
      }
    }
    const colours = [...bits.keys()].sort((p, q) => p - q);
    const lines: string[] = [];
    for (const c of colours) {
      const a = bits.get(c)!;
      let end = w;
      while (end > 0 && a[end - 1] === 0) end--;
      let s = `#${c}`;
      for (let x = 0; x < end;) {
        const v = a[x]!;
        let n = 1;
        while (x + n < end && a[x + n] === v) n++;
        const ch = String.fromCharCode(63 + v);
        s += n >= 4 ? `!${n}${ch}` : ch.repeat(n);
        x += n;
      }
      lines.push(s);
    }
    parts.push(lines.join('$') + (top + 6 < h ? '-' : ''));
  }
  parts.push('\x1b\\');
  return parts.join('');
}

/**
 * The sixel sequence for src fitted (aspect kept) into cols x rows cells of cellWidth x cellHeight
 * pixels. Same input, same bytes.
 */
export function renderSixel(src: Surface | RgbaImage, box: SixelBox): string {
  const img = toRgbaImage(src);
  const maxW = Math.max(1, box.cols * (box.cellWidth ?? 10));
  const maxH = Math.max(1, box.rows * (box.cellHeight ?? 20));
  const { width, height } = fitSize(img.width, img.height, maxW, maxH);
  const scaled = resampleRgba(img, width, height);
  return encodeSixelIndexed(quantizeImage(scaled), width, height);
}
