// DRAW_ROP3: the 256 ternary ROPs, checked against spice-common rop3.c's own self-test values
// (P = 0xF0, S = 0xCC, D = 0xAA gives the code back) and against some of its named formulas,
// then on surfaces with solid and pattern brushes, source offsets and masks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writer } from '../../src/session/wire/writer.js';
import { MsgDisplay } from '../../src/session/wire/enums.js';
import { rop3Byte, rop3Function, ropdToRop3 } from '../../src/render/rop3.js';
import { Ropd } from '../../src/render/types.js';
import { Surface } from '../../src/render/surface.js';
import { R, TestDisplay, base, bitmap32, brush, maskBitmap, qmask, withBlobs, type BrushSpec } from './ops-wire.js';
import { imageOf } from './helpers.js';

test('every rop3 code reproduces its own truth table (P=0xF0, S=0xCC, D=0xAA)', () => {
  for (let code = 0; code < 256; code++) assert.equal(rop3Byte(code, 0xf0, 0xcc, 0xaa), code, `0x${code.toString(16)}`);
});

test('rop3 codes agree with rop3.c formulas on random words', () => {
  // name, code, formula (from spice-common common/rop3.c)
  const formulas: [string, number, (p: number, s: number, d: number) => number][] = [
    ['DPSoon', 0x01, (p, s, d) => ~(p | s | d)],
    ['PSDPSanaxx', 0x16, (p, s, d) => (~(p & s) & d) ^ s ^ p],
    ['SSPxDSxaxn', 0x17, (p, s, d) => ~(((s ^ d) & (s ^ p)) ^ s)],
    ['PDSPaox', 0x1a, (p, s, d) => ((p & s) | d) ^ p],
    ['SPxDSxa', 0x24, (p, s, d) => (s ^ p) & (d ^ s)],
    ['SRCCOPY', 0xcc, (_p, s) => s],
    ['SRCPAINT', 0xee, (_p, s, d) => s | d],
    ['SRCAND', 0x88, (_p, s, d) => s & d],
    ['SRCINVERT', 0x66, (_p, s, d) => s ^ d],
    ['MERGECOPY', 0xc0, (p, s) => p & s],
    ['PATINVERT', 0x5a, (p, _s, d) => p ^ d],
    ['DSTINVERT', 0x55, (_p, _s, d) => ~d],
    ['PSDPxax', 0xb8, (p, s, d) => ((d ^ p) & s) ^ p],
    ['DSPDxax', 0xe2, (p, s, d) => ((p ^ d) & s) ^ d],
    ['SDPSanax', 0xe6, (p, s, d) => (~(s & p) & d) ^ s],
  ];
  let seed = 12345;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) | 0);
  for (const [name, code, f] of formulas) {
    assert.equal(f(0xf0, 0xcc, 0xaa) & 0xff, code, `${name} self-test`);
    const g = rop3Function(code);
    for (let i = 0; i < 50; i++) {
      const p = rnd(), s = rnd(), d = rnd();
      assert.equal(g(p, s, d) | 0, f(p, s, d) | 0, name);
    }
  }
});

test('ROP descriptors map to the same binary ROPs as canvas_base.c ropd_descriptor_to_rop', () => {
  // brush as source (fills): (desc, expected rop3 over P/D)
  const cases: [number, number][] = [
    [Ropd.OP_PUT, 0xf0], [Ropd.OP_PUT | Ropd.INVERS_BRUSH, 0x0f], [Ropd.OP_PUT | Ropd.INVERS_RES, 0x0f],
    [Ropd.OP_OR, 0xfa], [Ropd.OP_OR | Ropd.INVERS_RES | Ropd.INVERS_BRUSH, 0xf0 & 0x55], // !(!P or D) = P and !D
    [Ropd.OP_AND | Ropd.INVERS_DEST, 0xf0 & 0x55], [Ropd.OP_XOR | Ropd.INVERS_RES, ~(0xf0 ^ 0xaa) & 0xff],
    [Ropd.OP_BLACKNESS, 0x00], [Ropd.OP_WHITENESS, 0xff], [Ropd.OP_INVERS, 0x55],
  ];
  for (const [desc, want] of cases) assert.equal(ropdToRop3(desc, true, (desc & Ropd.INVERS_BRUSH) !== 0), want, `0x${desc.toString(16)}`);
  // !(!src or dest) == src and !dest  (AND_REVERSE)
  assert.equal(ropdToRop3(Ropd.OP_OR | Ropd.INVERS_RES, false, true), 0xcc & 0x55);
});

test('Surface.rop3 with a solid brush and a source offset', () => {
  const s = new Surface(0, 3, 1);
  s.fill(R(0, 0, 3, 1), null, 0x00ff00, Ropd.OP_PUT); // D = green
  const img = imageOf(4, 1, [[0, 0, 0, 255], [255, 0, 0, 255], [0, 0, 255, 255], [255, 255, 255, 255]]); // S: black, blue, red, white
  // 0xE2 (DSPDxax) = S ? P : D with P = 0x808080
  s.rop3(img, R(1, 0, 4, 1), R(0, 0, 3, 1), null, { kind: 'solid', color: 0x808080 }, 0xe2);
  const px = (x: number) => [...s.data.subarray(x * 4, x * 4 + 4)];
  // bitwise: where S bit is 1 take P bit, else D bit
  const sel = (sv: number, p: number, d: number) => ((p ^ d) & sv) ^ d;
  assert.deepEqual(px(0), [sel(255, 0x80, 0), sel(0, 0x80, 255), sel(0, 0x80, 0), 255]);
  assert.deepEqual(px(1), [sel(0, 0x80, 0), sel(0, 0x80, 255), sel(255, 0x80, 0), 255]);
  assert.deepEqual(px(2), [0x80, 0x80, 0x80, 255]);
});

test('DRAW_ROP3 over the wire: pattern aligned at (box.left - pos.x) mod w, mask applied', () => {
  const tile = bitmap32(2, 1, [0xff0000, 0x0000ff]);
  const src = bitmap32(4, 1, [0xffffff, 0xffffff, 0xffffff, 0xffffff]);
  const msg = (b: BrushSpec, code: number, withMask: boolean) => withBlobs((p) => {
    const w = base(new Writer(), R(1, 0, 5, 1)).u32(p[0]!).i32(0).i32(0).i32(1).i32(4);
    brush(w, b, p[1]);
    w.u8(code).u8(1);
    return qmask(w, withMask ? p[2] : 0).finish();
  }, [src, tile, maskBitmap(['##.#'], { topDown: true })]);
  const d = new TestDisplay().primarySurface(5, 1);
  d.feed(MsgDisplay.drawRop3, msg({ kind: 'pattern', x: 0, y: 0 }, 0xc0, false)); // P and S = P
  // x=1: (1 - 0) mod 2 = 1 -> blue; x=2 -> red ...
  assert.deepEqual([0, 1, 2, 3, 4].map((x) => d.rgb(x, 0)), [0, 0x0000ff, 0xff0000, 0x0000ff, 0xff0000]);
  const m = new TestDisplay().primarySurface(5, 1);
  m.feed(MsgDisplay.drawRop3, msg({ kind: 'pattern', x: 1, y: 0 }, 0x33, true)); // NOT S, masked
  assert.deepEqual([0, 1, 2, 3, 4].map((x) => m.rgb(x, 0)), [0, 0, 0, 0, 0]);
  m.feed(MsgDisplay.drawRop3, msg({ kind: 'pattern', x: 1, y: 0 }, 0x0f, true)); // NOT P, masked ##.#
  // pattern pos 1: x=1 -> column 0 (red) -> NOT red = 0x00ffff
  assert.deepEqual([0, 1, 2, 3, 4].map((x) => m.rgb(x, 0)), [0, 0x00ffff, 0xffff00, 0, 0xffff00]);
});
