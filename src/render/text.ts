// DRAW_TEXT glyph strings -> one 8-bit coverage mask (semantics of spice-common canvas_base.c
// canvas_get_str_mask / canvas_put_glyph_bits). Pure: no surfaces, no I/O.
//
// Facts the reference fixes and this code follows:
// * A glyph covers render_pos + glyph_origin .. + (width, height); the mask is the union of those.
// * Rows are packed to whole bytes for A1 and A4 (⌈w·bpp/8⌉ bytes) and not padded for A8 (w bytes).
// * Rows are stored bottom-up: the first row of data is the glyph's bottom row. The reference
//   ignores RASTER_TOP_DOWN ("todo: support"), so honouring it would draw text upside down
//   compared with every other client of the same server; it is accepted and ignored here too.
// * A1: the most significant bit is the leftmost pixel; a set bit is full coverage (255).
// * A4: the high nibble is the left pixel; coverage is the nibble shifted into the high half
//   (0xF -> 240, not 255), exactly as the reference writes it.
// * Overlapping glyphs combine with max(), never by overwriting.

import { ProtocolError } from '../util/errors.js';
import type { AlphaMask } from './surface.js';

export interface GlyphLike {
  renderPos: { x: number; y: number };
  origin: { x: number; y: number };
  width: number;
  height: number;
  data: Uint8Array;
}

/** Largest mask we build (pixels); a string larger than a 16k x 1k strip is not text. */
const MAX_MASK_PIXELS = 16 * 1024 * 1024;

/** Bytes of one glyph row at bpp bits per pixel. */
export function glyphStride(width: number, bpp: number): number {
  return (width * bpp + 7) >> 3;
}

/**
 * Renders glyphs (all of depth bpp) into a coverage mask positioned at the top-left of their
 * union. Returns null for a string with no pixels.
 */
export function renderGlyphs(glyphs: readonly GlyphLike[], bpp: 1 | 4 | 8): AlphaMask | null {
  let left = Infinity, top = Infinity, right = -Infinity, bottom = -Infinity;
  for (const g of glyphs) {
    if (g.width <= 0 || g.height <= 0) continue;
    const l = g.renderPos.x + g.origin.x;
    const t = g.renderPos.y + g.origin.y;
    left = Math.min(left, l);
    top = Math.min(top, t);
    right = Math.max(right, l + g.width);
    bottom = Math.max(bottom, t + g.height);
  }
  if (!(right > left && bottom > top)) return null;
  const width = right - left;
  const height = bottom - top;
  if (width * height > MAX_MASK_PIXELS) {
    throw new ProtocolError(`text: glyph string spans ${width}x${height} pixels, more than any screen`);
  }
  const alpha = new Uint8Array(width * height);
  for (const g of glyphs) {
    if (g.width <= 0 || g.height <= 0) continue;
    const stride = glyphStride(g.width, bpp);
    if (g.data.length < stride * g.height) {
      throw new ProtocolError(`text: glyph ${g.width}x${g.height} has ${g.data.length} bytes, ${stride * g.height} needed`);
    }
    const gx = g.renderPos.x + g.origin.x - left;
    const gy = g.renderPos.y + g.origin.y - top;
    for (let row = 0; row < g.height; row++) {
      const src = (g.height - 1 - row) * stride; // bottom-up storage
      const dst = (gy + row) * width + gx;
      for (let x = 0; x < g.width; x++) {
        let a: number;
        if (bpp === 1) a = (g.data[src + (x >> 3)]! >> (7 - (x & 7))) & 1 ? 255 : 0;
        else if (bpp === 4) {
          const b = g.data[src + (x >> 1)]!;
          a = x & 1 ? (b << 4) & 0xf0 : b & 0xf0;
        } else a = g.data[src + x]!;
        if (a > alpha[dst + x]!) alpha[dst + x] = a;
      }
    }
  }
  return { x: left, y: top, width, height, alpha };
}
