// Terminal outputs: sixel (fixed palette, determinism, decode-back with an independent decoder),
// ANSI half blocks (shape, colours, 256-colour fallback), resampling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode as decodeSixel } from 'sixel';
import { Surface } from '../../src/render/surface.js';
import { Ropd } from '../../src/render/types.js';
import {
  SIXEL_PALETTE, encodeSixelIndexed, fitSize, quantize, quantizeImage, renderSixel, resampleRgba, type RgbaImage,
} from '../../src/render/outputs/sixel.js';
import { ansiSize, renderAnsi, xterm256 } from '../../src/render/outputs/ansi.js';
import { rng } from './helpers.js';

function randomImage(w: number, h: number, seed: number): RgbaImage {
  const r = rng(seed);
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < data.length; i += 4) {
    data[i] = Math.floor(r() * 256); data[i + 1] = Math.floor(r() * 256); data[i + 2] = Math.floor(r() * 256); data[i + 3] = 255;
  }
  return { width: w, height: h, data };
}

/** A desktop-like surface: flat areas, gradients, fine detail. */
function desktop(): Surface {
  const s = new Surface(0, 64, 40);
  s.fill({ top: 0, left: 0, bottom: 40, right: 64 }, null, 0x3060a0, Ropd.OP_PUT);
  for (let x = 0; x < 64; x++) s.fill({ top: 10, left: x, bottom: 20, right: x + 1 }, null, (x * 4) * 0x10101, Ropd.OP_PUT);
  for (let y = 22; y < 38; y += 2) s.fill({ top: y, left: 4, bottom: y + 1, right: 60 }, null, 0xffff00, Ropd.OP_PUT);
  return s;
}

test('the fixed palette: 216 cube colours + 20 greys, exact in percent and in bytes', () => {
  assert.equal(SIXEL_PALETTE.length, 236);
  assert.deepEqual(SIXEL_PALETTE[0], [0, 0, 0]);
  assert.deepEqual(SIXEL_PALETTE[215], [255, 255, 255]);
  assert.equal(quantize(255, 0, 0), 5 * 36);
  assert.equal(quantize(0, 0, 0), 0);
  assert.deepEqual(SIXEL_PALETTE[quantize(120, 121, 119)], [122, 122, 122]); // a grey beats the cube (102 or 153)
  assert.deepEqual(SIXEL_PALETTE[quantize(250, 10, 10)], [255, 0, 0]);
});

test('sixel output is deterministic: same surface, same bytes; different pixels, different bytes', () => {
  const a = renderSixel(desktop(), { cols: 20, rows: 5, cellWidth: 8, cellHeight: 16 });
  const b = renderSixel(desktop(), { cols: 20, rows: 5, cellWidth: 8, cellHeight: 16 });
  assert.equal(a, b);
  assert.ok(a.startsWith('\x1bP0;1;0q"1;1;') && a.endsWith('\x1b\\'));
  const s = desktop();
  s.fill({ top: 0, left: 0, bottom: 1, right: 1 }, null, 0xff0000, Ropd.OP_PUT);
  assert.notEqual(renderSixel(s, { cols: 64, rows: 2, cellWidth: 1, cellHeight: 20 }), renderSixel(desktop(), { cols: 64, rows: 2, cellWidth: 1, cellHeight: 20 }));
});

test('sixel decodes back (with the sixel package decoder) to exactly the palette-quantised image', () => {
  for (const [img, name] of [[randomImage(37, 23, 3), 'random 37x23'], [{ width: 64, height: 40, data: desktop().toRGBA() }, 'desktop 64x40']] as const) {
    const idx = quantizeImage(img);
    const six = encodeSixelIndexed(idx, img.width, img.height);
    // the decoder takes the sixel body: strip the DCS introducer and the string terminator
    assert.ok(six.startsWith('\x1bP0;1;0q') && six.endsWith('\x1b\\'));
    const out = decodeSixel(Buffer.from(six.slice('\x1bP0;1;0q'.length, -2), 'latin1'));
    assert.equal(out.width, img.width, name);
    assert.equal(out.height, img.height, name);
    const px = new Uint8Array(out.data32.buffer, out.data32.byteOffset, img.width * img.height * 4);
    for (let i = 0; i < img.width * img.height; i++) {
      const [r, g, b] = SIXEL_PALETTE[idx[i]!]!;
      assert.deepEqual([px[i * 4], px[i * 4 + 1], px[i * 4 + 2]], [r, g, b], `${name} pixel ${i}`);
    }
  }
});

test('sixel fits the image into the cell box keeping the aspect ratio; run-length coding is used', () => {
  const s = new Surface(0, 1024, 768);
  const six = renderSixel(s, { cols: 80, rows: 24, cellWidth: 10, cellHeight: 20 });
  // box 800 x 480: 640 x 480 keeps 4:3
  assert.ok(six.includes('"1;1;640;480'), six.slice(0, 40));
  assert.ok(six.includes('!640~'), 'a black row of 640 pixels is one run');
  assert.deepEqual(fitSize(1024, 768, 100, 1000), { width: 100, height: 75 });
});

test('resampling averages areas when shrinking and repeats pixels when growing', () => {
  const img: RgbaImage = { width: 2, height: 1, data: Uint8Array.from([0, 0, 0, 255, 255, 101, 3, 255]) };
  assert.deepEqual([...resampleRgba(img, 1, 1).data], [128, 51, 2, 255]);
  assert.deepEqual([...resampleRgba(img, 4, 1).data], [0, 0, 0, 255, 0, 0, 0, 255, 255, 101, 3, 255, 255, 101, 3, 255]);
});

test('ANSI: rows x cols of half blocks, fg = top pixel, bg = bottom pixel, codes only on change', () => {
  const s = new Surface(0, 4, 4);
  s.fill({ top: 0, left: 0, bottom: 1, right: 4 }, null, 0xff0000, Ropd.OP_PUT);
  s.fill({ top: 1, left: 0, bottom: 2, right: 4 }, null, 0x0000ff, Ropd.OP_PUT);
  const out = renderAnsi(s, { cols: 4, rows: 2 });
  const lines = out.split('\n');
  assert.equal(lines.length, 3);
  assert.equal(lines[2], '');
  assert.equal(lines[0], '\x1b[38;2;255;0;0;48;2;0;0;255m\u2580\u2580\u2580\u2580\x1b[0m');
  assert.equal(lines[1], '\x1b[38;2;0;0;0;48;2;0;0;0m\u2580\u2580\u2580\u2580\x1b[0m');
  for (const l of lines.slice(0, 2)) assert.equal([...l.replace(/\x1b\[[0-9;]*m/g, '')].length, 4);
  const c256 = renderAnsi(s, { cols: 4, rows: 2, colors: '256' });
  assert.ok(c256.startsWith(`\x1b[38;5;196;48;5;21m`), JSON.stringify(c256.slice(0, 30)));
});

test('ANSI fits a 1024x768 desktop into 80x24 cells (cells are two pixels tall)', () => {
  const s = desktop();
  const out = renderAnsi(s, { cols: 80, rows: 24 });
  const lines = out.trimEnd().split('\n');
  const size = ansiSize(64, 40, 80, 24);
  assert.equal(lines.length, size.rows);
  assert.ok(lines.length <= 24);
  for (const l of lines) assert.equal([...l.replace(/\x1b\[[0-9;]*m/g, '')].length, size.cols);
  assert.deepEqual(ansiSize(1024, 768, 80, 24), { cols: 64, rows: 24 });
  assert.equal(renderAnsi(s, { cols: 80, rows: 24 }), out, 'deterministic');
});

test('xterm 256-colour mapping: cube and grey ramp', () => {
  assert.equal(xterm256(0, 0, 0), 16);
  assert.equal(xterm256(255, 255, 255), 231);
  assert.equal(xterm256(255, 0, 0), 196);
  assert.equal(xterm256(128, 128, 128), 244);
  assert.equal(xterm256(95, 135, 175), 16 + 36 + 12 + 3);
});
