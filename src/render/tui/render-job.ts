// One display render for the live view, as a pure function of plain data (so it can run in a
// worker thread): B,G,R,A surface bytes in, sixel or ANSI half-block text out.
import { renderAnsi, type AnsiColors } from '../outputs/ansi.js';
import { renderSixel } from '../outputs/sixel.js';

export interface RenderRequest {
  id: number;
  format: 'sixel' | 'ansi';
  width: number;
  height: number;
  /** B,G,R,A bytes, stride width*4 (a copy: it is converted in place) */
  bgra: Uint8Array;
  hasAlpha: boolean;
  cols: number;
  rows: number;
  /** sixel: pixel size of a cell, and the largest image the terminal takes */
  cellWidth?: number;
  cellHeight?: number;
  maxWidth?: number;
  maxHeight?: number;
  colors?: AnsiColors;
}

export function renderJob(r: RenderRequest): string {
  const d = r.bgra;
  // B,G,R,A -> R,G,B,A in place (opaque unless the surface has alpha)
  for (let i = 0; i < d.length; i += 4) {
    const b = d[i]!;
    d[i] = d[i + 2]!;
    d[i + 2] = b;
    if (!r.hasAlpha) d[i + 3] = 255;
  }
  const img = { width: r.width, height: r.height, data: d };
  if (r.format === 'ansi') return renderAnsi(img, { cols: r.cols, rows: r.rows, colors: r.colors });
  let cellWidth = r.cellWidth ?? 10;
  let cellHeight = r.cellHeight ?? 20;
  // Stay within the terminal's largest sixel image (xterm: 1000x1000 by default).
  if (r.maxWidth && r.cols * cellWidth > r.maxWidth) cellWidth = r.maxWidth / r.cols;
  if (r.maxHeight && r.rows * cellHeight > r.maxHeight) cellHeight = r.maxHeight / r.rows;
  return renderSixel(img, { cols: r.cols, rows: r.rows, cellWidth, cellHeight });
}
