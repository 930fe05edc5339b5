// Fills with solid and pattern brushes, QMask masks (bit orders, INVERS, pos, cache), opaque,
// blackness/whiteness/invers, fed to the display channel as wire messages. Expectations are
// hand-computed from canvas_base.c semantics (see the comments).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writer } from '../../src/session/wire/writer.js';
import { MsgDisplay } from '../../src/session/wire/enums.js';
import { Ropd } from '../../src/render/types.js';
import { Surface, maskRects } from '../../src/render/surface.js';
import { R, TestDisplay, base, bitmap32, brush, fromCache, maskBitmap, qmask, withBlobs, type BrushSpec } from './ops-wire.js';

const W = 0xffffff, K = 0x000000, RED = 0xff0000, BLU = 0x0000ff, GRN = 0x00ff00;
const legend = { [W]: 'W', [K]: '.', [RED]: 'r', [BLU]: 'b', [GRN]: 'g' };

function fill(box: ReturnType<typeof R>, b: BrushSpec, rop: number, opts: { clip?: ReturnType<typeof R>[]; mask?: Buffer; maskPos?: { x: number; y: number }; invert?: boolean; pattern?: Buffer } = {}): Buffer {
  const blobs: Buffer[] = [];
  if (opts.pattern) blobs.push(opts.pattern);
  if (opts.mask) blobs.push(opts.mask);
  return withBlobs((p) => {
    const w = base(new Writer(), box, opts.clip ?? null);
    brush(w, b, opts.pattern ? p[0] : 0);
    w.u16(rop);
    qmask(w, opts.mask ? p[opts.pattern ? 1 : 0] : 0, opts.maskPos, opts.invert);
    return w.finish();
  }, blobs);
}

test('fill with a 1BIT_LE mask, bottom-up rows, at the box origin', () => {
  const d = new TestDisplay().primarySurface(6, 4);
  const mask = maskBitmap(['#..#', '.##.', '#...'], {});
  d.feed(MsgDisplay.drawFill, fill(R(1, 0, 5, 3), { kind: 'solid', color: W }, Ropd.OP_PUT, { mask }));
  assert.deepEqual(d.picture(legend), [
    '.W..W.',
    '..WW..',
    '.W....',
    '......',
  ]);
});

test('1BIT_BE and top-down masks give the same picture; INVERS draws the clear bits inside the mask only', () => {
  const rows = ['#..#', '.##.', '#...'];
  for (const opts of [{ be: true }, { topDown: true }, { be: true, topDown: true }, { stride: 4 }]) {
    const d = new TestDisplay().primarySurface(6, 4);
    d.feed(MsgDisplay.drawFill, fill(R(1, 0, 5, 3), { kind: 'solid', color: W }, Ropd.OP_PUT, { mask: maskBitmap(rows, opts) }));
    assert.deepEqual(d.picture(legend).slice(0, 3), ['.W..W.', '..WW..', '.W....'], JSON.stringify(opts));
  }
  // INVERS: the mask is 4x3, the box 6x4: pixels outside the mask are never drawn
  const d = new TestDisplay().primarySurface(6, 4);
  d.feed(MsgDisplay.drawFill, fill(R(0, 0, 6, 4), { kind: 'solid', color: W }, Ropd.OP_PUT, { mask: maskBitmap(rows), invert: true }));
  assert.deepEqual(d.picture(legend), [
    '.WW...',
    'W..W..',
    '.WWW..',
    '......',
  ]);
});

test('mask pos: destination (x, y) uses mask pixel (x - box.left + pos.x, y - box.top + pos.y)', () => {
  const d = new TestDisplay().primarySurface(5, 3);
  // mask 4x2; pos (2, 1) -> the box's first pixel reads mask pixel (2, 1)
  const mask = maskBitmap(['#.#.', '..##'], { topDown: true });
  d.feed(MsgDisplay.drawFill, fill(R(0, 0, 5, 3), { kind: 'solid', color: RED }, Ropd.OP_PUT, { mask, maskPos: { x: 2, y: 1 } }));
  assert.deepEqual(d.picture(legend), [
    'rr...', // mask row 1 cols 2,3 = ##, then outside the mask
    '.....', // mask row 2 does not exist
    '.....',
  ]);
});

test('a CACHE_ME mask is reused by FROM_CACHE, and the clip still applies', () => {
  const d = new TestDisplay().primarySurface(4, 2);
  const mask = maskBitmap(['#.#.', '.#.#'], { topDown: true, id: 500n, cacheMe: true });
  d.feed(MsgDisplay.drawFill, fill(R(0, 0, 4, 2), { kind: 'solid', color: RED }, Ropd.OP_PUT, { mask }));
  d.feed(MsgDisplay.drawFill, fill(R(0, 0, 4, 2), { kind: 'solid', color: BLU }, Ropd.OP_PUT, { mask: fromCache(500n, 4, 2), invert: true, clip: [R(0, 0, 3, 2)] }));
  assert.deepEqual(d.picture(legend), ['rbr.', 'brbr']); // column 3 is outside the clip: red from the first fill
  assert.equal(d.images.hasImage(500n), true);
});

test('BLACKNESS / WHITENESS / INVERS honour masks', () => {
  const d = new TestDisplay().primarySurface(3, 1);
  const mask = maskBitmap(['#.#'], { topDown: true });
  d.feed(MsgDisplay.drawWhiteness, withBlobs((p) => qmask(base(new Writer(), R(0, 0, 3, 1)), p[0]).finish(), [mask]));
  assert.deepEqual(d.picture(legend), ['W.W']);
  d.feed(MsgDisplay.drawInvers, withBlobs((p) => qmask(base(new Writer(), R(0, 0, 3, 1)), p[0], undefined, true).finish(), [mask]));
  assert.deepEqual(d.picture(legend), ['WWW']);
  d.feed(MsgDisplay.drawBlackness, withBlobs((p) => qmask(base(new Writer(), R(0, 0, 3, 1)), p[0]).finish(), [mask]));
  assert.deepEqual(d.picture(legend), ['.W.']);
});

test('pattern brush: tile pixel of (x, y) is tile[(x - pos.x) mod w][(y - pos.y) mod h], also for negative pos', () => {
  // 2x2 tile: r b / g W
  const tile = bitmap32(2, 2, [RED, BLU, GRN, W]);
  const d = new TestDisplay().primarySurface(5, 3);
  d.feed(MsgDisplay.drawFill, fill(R(0, 0, 5, 3), { kind: 'pattern', x: 1, y: 0 }, Ropd.OP_PUT, { pattern: tile }));
  assert.deepEqual(d.picture(legend), ['brbrb', 'WgWgW', 'brbrb']);
  const n = new TestDisplay().primarySurface(4, 2);
  n.feed(MsgDisplay.drawFill, fill(R(1, 0, 4, 2), { kind: 'pattern', x: -3, y: -1 }, Ropd.OP_PUT, { pattern: tile }));
  // x=1: (1+3) mod 2 = 0 -> column 0; y=0: (0+1) mod 2 = 1 -> row 1
  assert.deepEqual(n.picture(legend), ['.gWg', '.rbr']);
});

test('pattern brush with XOR and a mask', () => {
  const tile = bitmap32(1, 1, [0x0000ff]);
  const d = new TestDisplay().primarySurface(3, 1);
  d.feed(MsgDisplay.drawFill, fill(R(0, 0, 3, 1), { kind: 'solid', color: RED }, Ropd.OP_PUT));
  d.feed(MsgDisplay.drawFill, fill(R(0, 0, 3, 1), { kind: 'pattern', x: 0, y: 0 }, Ropd.OP_XOR, { pattern: tile, mask: maskBitmap(['##.'], { topDown: true }) }));
  assert.deepEqual([d.rgb(0, 0), d.rgb(1, 0), d.rgb(2, 0)], [0xff00ff, 0xff00ff, RED]);
});

test('NONE brush paints colour 0 through the ROP (INVERS of dest via OP_XOR | INVERS_RES)', () => {
  const d = new TestDisplay().primarySurface(1, 1);
  d.feed(MsgDisplay.drawFill, fill(R(0, 0, 1, 1), { kind: 'solid', color: 0x123456 }, Ropd.OP_PUT));
  d.feed(MsgDisplay.drawFill, fill(R(0, 0, 1, 1), { kind: 'none' }, Ropd.OP_XOR | Ropd.INVERS_RES));
  assert.equal(d.rgb(0, 0), ~0x123456 & 0xffffff);
});

test('DRAW_OPAQUE: image first, then the brush over it (OP_AND with INVERS_SRC = brush AND NOT image)', () => {
  const img = bitmap32(2, 1, [0x0f0f0f, 0xf0f0f0]);
  const op = (rop: number) => withBlobs((p) => {
    const w = base(new Writer(), R(0, 0, 2, 1));
    w.u32(p[0]!);
    w.i32(0).i32(0).i32(1).i32(2); // src_area top,left,bottom,right
    brush(w, { kind: 'solid', color: 0xffff00 });
    return qmask(w.u16(rop).u8(1)).finish();
  }, [img]);
  const d = new TestDisplay().primarySurface(2, 1);
  d.feed(MsgDisplay.drawOpaque, op(Ropd.OP_AND));
  assert.deepEqual([d.rgb(0, 0), d.rgb(1, 0)], [0x0f0f00, 0xf0f000]);
  d.feed(MsgDisplay.drawOpaque, op(Ropd.OP_AND | Ropd.INVERS_SRC));
  assert.deepEqual([d.rgb(0, 0), d.rgb(1, 0)], [0xf0f000, 0x0f0f00]);
  // OP_PUT: the brush covers the image (canvas draws the brush with ROP COPY)
  d.feed(MsgDisplay.drawOpaque, op(Ropd.OP_PUT));
  assert.deepEqual([d.rgb(0, 0), d.rgb(1, 0)], [0xffff00, 0xffff00]);
});

test('DRAW_COPY with a mask copies only the set pixels', () => {
  const img = bitmap32(3, 1, [RED, GRN, BLU]);
  const d = new TestDisplay().primarySurface(3, 1);
  d.feed(MsgDisplay.drawCopy, withBlobs((p) => {
    const w = base(new Writer(), R(0, 0, 3, 1)).u32(p[0]!).i32(0).i32(0).i32(1).i32(3);
    return qmask(w.u16(Ropd.OP_PUT).u8(1), p[1]).finish();
  }, [img, maskBitmap(['#.#'], { topDown: true })]));
  assert.deepEqual(d.picture(legend), ['r.b']);
});

test('maskRects keeps only set runs inside both the rects and the mask', () => {
  const m = { width: 4, height: 1, bits: Uint8Array.from([1, 1, 0, 1]), x: 0, y: 0, invert: false };
  assert.deepEqual(maskRects([R(0, 0, 6, 1)], R(0, 0, 6, 1), m), [R(0, 0, 2, 1), R(3, 0, 4, 1)]);
  assert.deepEqual(maskRects([R(0, 0, 6, 1)], R(0, 0, 6, 1), { ...m, invert: true }), [R(2, 0, 3, 1)]);
  const s = new Surface(0, 2, 2);
  assert.deepEqual(s.region(R(0, 0, 2, 2), null, { ...m, x: 1 }), [R(0, 0, 1, 1)]);
});
