// DRAW_TEXT: glyph placement (render_pos + glyph_origin), bottom-up rows, A1 bit order, A4
// nibbles (0xF -> 240), A8, max() of overlapping glyphs, OVER blending, background area.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writer } from '../../src/session/wire/writer.js';
import { MsgDisplay } from '../../src/session/wire/enums.js';
import { parseDrawText } from '../../src/session/wire/messages/display.js';
import { renderGlyphs } from '../../src/render/text.js';
import { Ropd } from '../../src/render/types.js';
import { R, TestDisplay, base, brush, rect, withBlobs, type BrushSpec } from './ops-wire.js';
import { ProtocolError } from '../../src/util/errors.js';

interface G { x: number; y: number; ox?: number; oy?: number; rows: number[][] } // rows top-down, coverage values

/** String blob: glyph rows packed for bpp and stored bottom-up, as the wire has them. */
function stringBlob(bpp: 1 | 4 | 8, glyphs: G[], flags = 0): Buffer {
  const w = new Writer().u16(glyphs.length).u8((bpp === 1 ? 1 : bpp === 4 ? 2 : 4) | flags);
  for (const g of glyphs) {
    const width = g.rows[0]!.length, height = g.rows.length;
    w.i32(g.x).i32(g.y).i32(g.ox ?? 0).i32(g.oy ?? 0).u16(width).u16(height);
    const stride = (width * bpp + 7) >> 3;
    for (const row of [...g.rows].reverse()) {
      const b = Buffer.alloc(stride);
      row.forEach((v, x) => {
        if (bpp === 1) { if (v) b[x >> 3]! |= 0x80 >> (x & 7); } else if (bpp === 4) b[x >> 1]! |= x & 1 ? v : v << 4;
        else b[x] = v;
      });
      w.bytes(b);
    }
  }
  return w.finish();
}

function textMsg(box: ReturnType<typeof R>, str: Buffer, fore: BrushSpec, back: BrushSpec = { kind: 'none' }, backArea = R(0, 0, 0, 0), foreMode: number = Ropd.OP_PUT): Buffer {
  return withBlobs((p) => {
    const w = base(new Writer(), box).u32(p[0]!);
    rect(w, backArea);
    brush(w, fore);
    brush(w, back);
    return w.u16(foreMode).u16(Ropd.OP_PUT).finish();
  }, [str]);
}

test('A1 glyphs: MSB is the leftmost pixel, rows bottom-up, placed at render_pos + glyph_origin', () => {
  const str = stringBlob(1, [
    { x: 3, y: 4, ox: -2, oy: -3, rows: [[1, 0, 1], [0, 1, 0]] }, // box at (1, 1)
    { x: 5, y: 2, rows: [[1, 1]] },
  ]);
  const d = new TestDisplay().primarySurface(8, 4);
  d.feed(MsgDisplay.drawText, textMsg(R(0, 0, 8, 4), str, { kind: 'solid', color: 0xffffff }));
  assert.deepEqual(d.picture({ 0xffffff: '#', 0: '.' }), [
    '........',
    '.#.#....',
    '..#..##.',
    '........',
  ]);
});

test('A4 and A8 coverage blends the brush OVER the surface; A4 0xF is 240; overlapping glyphs take the max', () => {
  const mul = (a: number, b: number) => { const t = a * b + 128; return ((t >> 8) + t) >> 8; };
  const op = parseDrawText(textMsg(R(0, 0, 4, 1), stringBlob(4, [{ x: 0, y: 0, rows: [[15, 8, 0]] }, { x: 1, y: 0, rows: [[3, 12]] }]), { kind: 'solid', color: 0 }));
  assert.ok(op.op === 'text');
  const m = renderGlyphs(op.str.glyphs, op.str.bpp)!;
  assert.deepEqual([...m.alpha], [240, 128, 192]); // max(8<<4, 3<<4) = 128; max(0, 12<<4) = 192
  const d = new TestDisplay().primarySurface(3, 1);
  d.feed(MsgDisplay.drawFill, new Writer().u32(0).i32(0).i32(0).i32(1).i32(3).u8(0).u8(1).u32(0x204060).u16(Ropd.OP_PUT).u8(0).i32(0).i32(0).u32(0).finish());
  d.feed(MsgDisplay.drawText, textMsg(R(0, 0, 3, 1), stringBlob(8, [{ x: 0, y: 0, rows: [[255, 100, 0]] }]), { kind: 'solid', color: 0xffffff }));
  const over = (c: number, a: number) => mul(255, a) + mul(c, 255 - a);
  assert.equal(d.rgb(0, 0), 0xffffff);
  assert.equal(d.rgb(1, 0), (over(0x20, 100) << 16) | (over(0x40, 100) << 8) | over(0x60, 100));
  assert.equal(d.rgb(2, 0), 0x204060);
});

test('background area is painted with the back brush (clipped to box and clip), then the glyphs', () => {
  const d = new TestDisplay().primarySurface(6, 2);
  const str = stringBlob(1, [{ x: 2, y: 0, rows: [[1], [1]] }]);
  d.feed(MsgDisplay.drawText, textMsg(R(1, 0, 5, 2), str, { kind: 'solid', color: 0xffffff }, { kind: 'solid', color: 0x0000ff }, R(0, 0, 4, 2)));
  assert.deepEqual(d.picture({ 0xffffff: '#', 0: '.', 0x0000ff: 'b' }), ['.b#b..', '.b#b..']);
  // with a background and fore_mode other than OP_PUT the reference draws nothing
  const n = new TestDisplay().primarySurface(2, 1);
  n.feed(MsgDisplay.drawText, textMsg(R(0, 0, 2, 1), stringBlob(1, [{ x: 0, y: 0, rows: [[1]] }]), { kind: 'solid', color: 0xffffff }, { kind: 'solid', color: 0xff }, R(0, 0, 2, 1), Ropd.OP_XOR));
  assert.deepEqual(n.picture({ 0: '.' }), ['..']);
});

test('text is clipped by the box and the clip rects', () => {
  const d = new TestDisplay().primarySurface(4, 1);
  const str = stringBlob(8, [{ x: 0, y: 0, rows: [[255, 255, 255, 255]] }]);
  d.feed(MsgDisplay.drawText, withBlobs((p) => {
    const w = base(new Writer(), R(0, 0, 3, 1), [R(1, 0, 4, 1)]).u32(p[0]!);
    rect(w, R(0, 0, 0, 0));
    brush(w, { kind: 'solid', color: 0xffffff });
    brush(w, { kind: 'none' });
    return w.u16(Ropd.OP_PUT).u16(Ropd.OP_PUT).finish();
  }, [str]));
  assert.deepEqual(d.picture({ 0xffffff: '#', 0: '.' }), ['.##.']);
});

test('glyph strings with no depth flag or short glyph data are refused', () => {
  const bad = Buffer.from(stringBlob(1, [{ x: 0, y: 0, rows: [[1]] }]));
  bad[2] = 0; // no A1/A4/A8
  assert.throws(() => parseDrawText(textMsg(R(0, 0, 1, 1), bad, { kind: 'solid', color: 0 })), ProtocolError);
  const short = stringBlob(8, [{ x: 0, y: 0, rows: [[1, 2, 3]] }]).subarray(0, -1);
  assert.throws(() => parseDrawText(textMsg(R(0, 0, 1, 1), short, { kind: 'solid', color: 0 })), ProtocolError);
});
