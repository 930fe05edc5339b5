// ANSI half-block output: each terminal cell shows two vertically stacked pixels as "▀" with the
// foreground colour = the top pixel and the background colour = the bottom pixel. The image is
// fitted (aspect kept, cells taken as twice as tall as wide) into cols x rows cells. Truecolour
// (SGR 38;2 / 48;2) or the xterm 256-colour palette (SGR 38;5 / 48;5). Colour codes are written
// only when they change along a line; every line ends with SGR 0 and "\n". Deterministic.

import type { Surface } from '../surface.js';
import { fitSize, resampleRgba, toRgbaImage, type RgbaImage } from './sixel.js';

export type AnsiColors = 'truecolor' | '256';

export interface AnsiBox { cols: number; rows: number; colors?: AnsiColors }

const CUBE = [0, 95, 135, 175, 215, 255];

/** Nearest xterm 256-colour index (cube 16-231 or grey ramp 232-255) for an RGB colour. */
export function xterm256(r: number, g: number, b: number): number {
  const near = (v: number): number => {
    let best = 0;
    for (let i = 1; i < 6; i++) if (Math.abs(CUBE[i]! - v) < Math.abs(CUBE[best]! - v)) best = i;
    return best;
  };
  const ri = near(r), gi = near(g), bi = near(b);
  const cr = CUBE[ri]! - r, cg = CUBE[gi]! - g, cb = CUBE[bi]! - b;
  const cubeErr = cr * cr + cg * cg + cb * cb;
  const avg = (r + g + b) / 3;
  const k = Math.max(0, Math.min(23, Math.round((avg - 8) / 10)));
  const gv = 8 + 10 * k;
  const greyErr = (gv - r) ** 2 + (gv - g) ** 2 + (gv - b) ** 2;
  return greyErr < cubeErr ? 232 + k : 16 + 36 * ri + 6 * gi + bi;
}

/** Cells (columns x lines) the image will take in a cols x rows box. */
export function ansiSize(srcW: number, srcH: number, cols: number, rows: number): { cols: number; rows: number } {
  const { width, height } = fitSize(srcW, srcH, Math.max(1, cols), Math.max(2, rows * 2));
  return { cols: width, rows: Math.ceil(height / 2) };
}

/** The ANSI text for src in a cols x rows box: at most `rows` lines of at most `cols` half blocks. */
export function renderAnsi(src: Surface | RgbaImage, box: AnsiBox): string {
  const img = toRgbaImage(src);
  const { width, height } = fitSize(img.width, img.height, Math.max(1, box.cols), Math.max(2, box.rows * 2));
  const px: RgbaImage = resampleRgba(img, width, height);
  const d = px.data;
  const tc = (box.colors ?? 'truecolor') === 'truecolor';
  const code = (o: number, fg: boolean): string => {
    if (o < 0) return fg ? '39' : '49';
    return tc
      ? `${fg ? 38 : 48};2;${d[o]};${d[o + 1]};${d[o + 2]}`
      : `${fg ? 38 : 48};5;${xterm256(d[o]!, d[o + 1]!, d[o + 2]!)}`;
  };
  const lines: string[] = [];
  for (let y = 0; y < height; y += 2) {
    let line = '';
    let lastFg = '', lastBg = '';
    for (let x = 0; x < width; x++) {
      const top = (y * width + x) * 4;
      const bottom = y + 1 < height ? ((y + 1) * width + x) * 4 : -1;
      const fg = code(top, true), bg = code(bottom, false);
      const sgr: string[] = [];
      if (fg !== lastFg) sgr.push(fg);
      if (bg !== lastBg) sgr.push(bg);
      if (sgr.length) line += `\x1b[${sgr.join(';')}m`;
      line += '\u2580';
      lastFg = fg; lastBg = bg;
    }
    lines.push(`${line}\x1b[0m\n`);
  }
  return lines.join('');
}
