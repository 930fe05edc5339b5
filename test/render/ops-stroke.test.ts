// DRAW_STROKE: fixed-point rounding, endpoint-exclusive zero-width lines with the X server's
// tie-breaking bias (checked against a direct transcription of the miZeroLine loop on random
// lines), polylines, CLOSE, beziers, clipping, XOR, dashes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writer } from '../../src/session/wire/writer.js';
import { MsgDisplay } from '../../src/session/wire/enums.js';
import { fixToInt, strokePath, zeroLine } from '../../src/render/stroke.js';
import { Ropd } from '../../src/render/types.js';
import { R, TestDisplay, base, brush, withBlobs, type BrushSpec } from './ops-wire.js';
import { rng } from './helpers.js';

const BEGIN = 1, END = 2, CLOSE = 8, BEZIER = 16;

/** The miZeroLine inner loop for one segment, unclipped: the pixels it outputs. */
function referenceLine(x1: number, y1: number, x2: number, y2: number): string[] {
  const bias = (1 << 3) | (1 << 7) | (1 << 6) | (1 << 4);
  let octant = 0;
  let adx = x2 - x1, ady = y2 - y1, sx = 1, sy = 1;
  if (adx < 0) { adx = -adx; sx = -1; octant |= 4; }
  if (ady < 0) { ady = -ady; sy = -1; octant |= 2; }
  const out: string[] = [];
  let x = x1, y = y1;
  if (adx > ady) {
    const e1 = ady << 1, e2 = e1 - (adx << 1);
    let e = e1 - adx;
    e -= (bias >> octant) & 1;
    const e3 = e2 - e1;
    e -= e1;
    for (let n = adx; n > 0; n--) {
      out.push(`${x},${y}`);
      e += e1;
      if (e >= 0) { y += sy; e += e3; }
      x += sx;
    }
  } else {
    const e1 = adx << 1, e2 = e1 - (ady << 1);
    let e = e1 - ady;
    octant |= 1;
    e -= (bias >> octant) & 1;
    const e3 = e2 - e1;
    e -= e1;
    for (let n = ady; n > 0; n--) {
      out.push(`${x},${y}`);
      e += e1;
      if (e >= 0) { x += sx; e += e3; }
      y += sy;
    }
  }
  return out;
}

function ours(x1: number, y1: number, x2: number, y2: number, w = 1 << 20, h = 1 << 20, off = 1 << 19): string[] {
  const out: string[] = [];
  zeroLine(x1 + off, y1 + off, x2 + off, y2 + off, w, h, (x, y, n) => {
    for (let i = 0; i < n; i++) out.push(`${x + i - off},${y - off}`);
  });
  return out;
}

test('fixed 28.4 rounding: fraction > 8/16 rounds up, exactly 8/16 rounds down', () => {
  assert.deepEqual([0x10, 0x18, 0x19, 0x1f, -0x18, -0x19, -0x8, -0x9].map(fixToInt), [1, 1, 2, 2, -2, -2, -1, -1]);
});

test('zero-width lines equal the miZeroLine loop on 3000 random lines (all octants, ties)', () => {
  const r = rng(7);
  for (let i = 0; i < 3000; i++) {
    const c = () => Math.floor(r() * 41) - 20;
    const [x1, y1, x2, y2] = [c(), c(), c(), c()];
    const want = new Set(referenceLine(x1, y1, x2, y2));
    const got = ours(x1, y1, x2, y2);
    assert.equal(got.length, want.size, `${x1},${y1} -> ${x2},${y2}`);
    for (const p of got) assert.ok(want.has(p), `${x1},${y1} -> ${x2},${y2}: ${p}`);
  }
  // a known tie: (0,0)->(4,2) steps early; the way back steps late (bias in octant 4)
  assert.deepEqual(ours(0, 0, 4, 2), ['0,0', '1,1', '2,1', '3,2']);
  assert.deepEqual(ours(4, 2, 0, 0).sort(), ['1,1', '2,1', '3,2', '4,2']);
});

test('clipping to the surface keeps exactly the visible pixels of the unclipped line', () => {
  const r = rng(9);
  for (let i = 0; i < 500; i++) {
    const c = () => Math.floor(r() * 200) - 60;
    const [x1, y1, x2, y2] = [c(), c(), c(), c()];
    const want = referenceLine(x1, y1, x2, y2).filter((p) => {
      const [x, y] = p.split(',').map(Number) as [number, number];
      return x >= 0 && x < 80 && y >= 0 && y < 50;
    }).sort();
    assert.deepEqual(ours(x1, y1, x2, y2, 80, 50, 0).sort(), want);
  }
});

function strokeMsg(box: ReturnType<typeof R>, segs: { flags: number; pts: [number, number][] }[], b: BrushSpec, rop: number = Ropd.OP_PUT,
                   style?: number[], styleFlags = 0, clip: ReturnType<typeof R>[] | null = null): Buffer {
  const path = new Writer().u32(segs.length);
  for (const s of segs) {
    path.u8(s.flags).u32(s.pts.length);
    for (const [x, y] of s.pts) path.i32(Math.round(x * 16)).i32(Math.round(y * 16));
  }
  const blobs = [path.finish()];
  if (style) blobs.push(Buffer.concat(style.map((v) => new Writer().i32(v * 16).finish())));
  return withBlobs((p) => {
    const w = base(new Writer(), box, clip).u32(p[0]!);
    if (style) w.u8(8 | styleFlags).u8(style.length).u32(p[1]!);
    else w.u8(0);
    brush(w, b);
    return w.u16(rop).u16(Ropd.OP_PUT).finish();
  }, blobs);
}

const legend = { 0xffffff: '#', 0: '.' };

test('a closed polyline: each segment endpoint-exclusive, CLOSE returns to the start', () => {
  const d = new TestDisplay().primarySurface(5, 4);
  d.feed(MsgDisplay.drawStroke, strokeMsg(R(0, 0, 5, 4), [{ flags: BEGIN | END | CLOSE, pts: [[0, 0], [4, 0], [4, 3]] }], { kind: 'solid', color: 0xffffff }));
  assert.deepEqual(d.picture(legend), [
    '#####',
    '.#..#',
    '..###',
    '....#', // the closing segment starts at (4,3) and stops before (0,0)
  ]);
});

test('the box and clip limit the stroke; XOR paints a shared pixel twice', () => {
  const d = new TestDisplay().primarySurface(6, 1);
  d.feed(MsgDisplay.drawStroke, strokeMsg(R(1, 0, 6, 1), [{ flags: BEGIN | END, pts: [[0, 0], [6, 0]] }], { kind: 'solid', color: 0xffffff }, Ropd.OP_PUT, undefined, 0, [R(0, 0, 4, 1)]));
  assert.deepEqual(d.picture(legend), ['.###..']);
  const x = new TestDisplay().primarySurface(6, 1);
  // two segments going over the same pixels and back: 0..3 then 4..1 -> pixels 1..3 twice
  x.feed(MsgDisplay.drawStroke, strokeMsg(R(0, 0, 6, 1), [{ flags: BEGIN | END, pts: [[0, 0], [4, 0], [0, 0]] }], { kind: 'solid', color: 0xffffff }, Ropd.OP_XOR));
  assert.deepEqual(x.picture(legend), ['#...#.']);
});

test('a bezier segment starts at the previous (rounded) point and flattens onto the curve', () => {
  const d = new TestDisplay().primarySurface(12, 3);
  // straight bezier (control points on the chord): the same pixels as the line
  d.feed(MsgDisplay.drawStroke, strokeMsg(R(0, 0, 12, 3), [{ flags: BEGIN, pts: [[0, 1]] }, { flags: BEZIER | END, pts: [[3, 1], [7, 1], [10, 1]] }], { kind: 'solid', color: 0xffffff }));
  assert.deepEqual(d.picture(legend), ['............', '##########..', '............']);
  const r = strokePath([{ flags: BEGIN, points: Int32Array.from([0, 0]) }, { flags: BEZIER | END, points: Int32Array.from([0, 160, 160, 160, 160, 0].map((v) => v)) }], 0, null, 20, 20);
  const px = new Set(r.segments.flat().map((q) => `${q.left},${q.top}`));
  assert.ok(px.has('0,0') && px.size > 10, 'a curved bezier produced a polyline');
  assert.equal(r.approximate, false);
});

test('styled lines: on/off dashes along the pixels (approximation, reported)', () => {
  const d = new TestDisplay().primarySurface(9, 1);
  d.feed(MsgDisplay.drawStroke, strokeMsg(R(0, 0, 9, 1), [{ flags: BEGIN | END, pts: [[0, 0], [9, 0]] }], { kind: 'solid', color: 0xffffff }, Ropd.OP_PUT, [2, 1]));
  assert.deepEqual(d.picture(legend), ['##.##.##.']);
  assert.ok(Object.keys(d.unsupported).some((k) => k.startsWith('stroke drawn approximately')));
});

test('pattern brushes tile from the pattern position', () => {
  const d = new TestDisplay().primarySurface(4, 1);
  const tile = new Writer().u64(3n).u8(0).u8(0).u32(2).u32(1).u8(8).u8(4).u32(2).u32(1).u32(8).u32(0)
    .u8(255).u8(255).u8(255).u8(0).u8(0).u8(0).u8(0).u8(0).finish(); // white, black
  d.feed(MsgDisplay.drawStroke, withBlobs((p) => {
    const path = p[0]!;
    const w = base(new Writer(), R(0, 0, 4, 1)).u32(path).u8(0);
    brush(w, { kind: 'pattern', x: 1, y: 0 }, p[1]);
    return w.u16(Ropd.OP_PUT).u16(Ropd.OP_PUT).finish();
  }, [new Writer().u32(1).u8(BEGIN | END).u32(2).i32(0).i32(0).i32(4 * 16).i32(0).finish(), tile]));
  assert.deepEqual(d.picture(legend), ['.#.#']);
});
