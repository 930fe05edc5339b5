// DRAW_COMPOSITE (the implemented subset, with pixman's arithmetic) and the parsers of the new
// display messages: fields, every truncation refused, lying counts refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writer } from '../../src/session/wire/writer.js';
import { MsgDisplay } from '../../src/session/wire/enums.js';
import { ProtocolError } from '../../src/util/errors.js';
import {
  parseDrawComposite, parseDrawRop3, parseDrawStroke, parseDrawText, parseStreamActivateReport, parseStreamClip,
  parseStreamCreate, parseStreamData, parseStreamDataSized, parseMaskImage, encodeStreamReport, parseStreamReport,
} from '../../src/session/wire/messages/display.js';
import { compositeSupported } from '../../src/render/composite.js';
import { R, TestDisplay, base, bitmap32, brush, maskBitmap, qmask, rect, withBlobs } from './ops-wire.js';

const mul = (a: number, b: number) => { const t = a * b + 128; return ((t >> 8) + t) >> 8; };

/** An RGBA (premultiplied) BITMAP image from [b,g,r,a] pixels, top-down. */
function rgbaImage(width: number, height: number, px: number[][]): Buffer {
  const w = new Writer().u64(9n).u8(0).u8(0).u32(width).u32(height).u8(9).u8(4).u32(width).u32(height).u32(width * 4).u32(0);
  for (const p of px) w.bytes(Buffer.from(p));
  return w.finish();
}
/** An 8BIT_A BITMAP image (alpha only). */
function a8Image(width: number, height: number, a: number[]): Buffer {
  return new Writer().u64(10n).u8(0).u8(0).u32(width).u32(height).u8(10).u8(4).u32(width).u32(height).u32(width).u32(0).bytes(Buffer.from(a)).finish();
}

function composite(box: ReturnType<typeof R>, flags: number, src: Buffer, mask: Buffer | null, srcOrigin = { x: 0, y: 0 }, maskOrigin = { x: 0, y: 0 }, transform?: number[], maskTransform?: number[]): Buffer {
  const blobs = mask ? [src, mask] : [src];
  return withBlobs((p) => {
    const w = base(new Writer(), box).u32(flags | (mask ? 1 << 19 : 0) | (transform ? 1 << 20 : 0) | (maskTransform ? 1 << 21 : 0)).u32(p[0]!);
    if (mask) w.u32(p[1]!);
    if (transform) for (const v of transform) w.i32(v);
    if (maskTransform) for (const v of maskTransform) w.i32(v);
    return w.i16(srcOrigin.x).i16(srcOrigin.y).i16(maskOrigin.x).i16(maskOrigin.y).finish();
  }, blobs);
}

test('composite OVER with an a8 mask uses pixman rounding; SRC, ADD; repeat NORMAL and integer translations', () => {
  const d = new TestDisplay().primarySurface(3, 1);
  d.feed(MsgDisplay.drawFill, withBlobs(() => qmask(brush(base(new Writer(), R(0, 0, 3, 1)), { kind: 'solid', color: 0x204060 }).u16(8)).finish(), []));
  // src: opaque white 1x1 repeated (NORMAL = 1 << 14); mask alphas 255, 100, 0
  d.feed(MsgDisplay.drawComposite, composite(R(0, 0, 3, 1), 3 | (1 << 14), rgbaImage(1, 1, [[255, 255, 255, 255]]), a8Image(3, 1, [255, 100, 0])));
  const over = (c: number) => mul(255, 100) + mul(c, 255 - 100);
  assert.deepEqual([d.rgb(0, 0), d.rgb(1, 0), d.rgb(2, 0)], [0xffffff, (over(0x20) << 16) | (over(0x40) << 8) | over(0x60), 0x204060]);
  // SRC of a premultiplied half-transparent red without repeat: outside the 1x1 source is transparent (0)
  d.feed(MsgDisplay.drawComposite, composite(R(0, 0, 2, 1), 1, rgbaImage(1, 1, [[0, 0, 128, 128]]), null));
  assert.deepEqual([d.rgb(0, 0), d.rgb(1, 0)], [0x800000, 0]);
  // ADD saturates
  d.feed(MsgDisplay.drawComposite, composite(R(0, 0, 1, 1), 12, rgbaImage(1, 1, [[200, 0, 200, 255]]), null));
  assert.equal(d.rgb(0, 0), 0xff00c8);
  // translation by (1, 0) in 16.16: reads the second source pixel
  d.feed(MsgDisplay.drawComposite, composite(R(2, 0, 3, 1), 1, bitmap32(2, 1, [0x111111, 0x222222]), null, { x: 0, y: 0 }, { x: 0, y: 0 }, [0x10000, 0, 0x10000, 0, 0x10000, 0]));
  assert.equal(d.rgb(2, 0), 0x222222);
});

test('composite modes we do not implement are counted and skipped, never fatal', () => {
  const d = new TestDisplay({ strict: false }).primarySurface(2, 1);
  d.feed(MsgDisplay.drawComposite, composite(R(0, 0, 2, 1), 0x30 /* MULTIPLY */, bitmap32(1, 1, [0xffffff]), null));
  d.feed(MsgDisplay.drawComposite, composite(R(0, 0, 2, 1), 3, bitmap32(1, 1, [0xffffff]), null, undefined, undefined, [0x20000, 0, 0, 0, 0x20000, 0]));
  assert.equal(d.rgb(0, 0), 0);
  assert.equal(Object.keys(d.unsupported).filter((k) => k.startsWith('composite')).length, 2);
  assert.equal(compositeSupported({ flags: 0, op: 3, srcRepeat: 0, maskRepeat: 0, srcTransform: null, maskTransform: null, srcOrigin: { x: 0, y: 0 }, maskOrigin: { x: 0, y: 0 } }), null);
});

test('unknown messages and draws on missing surfaces are counted, not fatal', () => {
  const d = new TestDisplay({ strict: false }).primarySurface(2, 2);
  d.feed(321, Buffer.alloc(16)); // GL_DRAW
  d.feed(MsgDisplay.drawFill, withBlobs(() => qmask(brush(base(new Writer(), R(0, 0, 1, 1), null, 5), { kind: 'solid', color: 1 }).u16(8)).finish(), []));
  assert.equal(d.unsupported['message glDraw'], 1);
  assert.equal(d.unsupported['draw on a missing surface'], 1);
});

// Fixtures for the parsers, built from the layouts in spice.proto.
const fx = {
  rop3: withBlobs((p) => qmask(brush(rect(base(new Writer(), R(0, 0, 4, 4), [R(0, 0, 2, 2)]).u32(p[0]!), R(0, 0, 4, 4)), { kind: 'solid', color: 5 }).u8(0xb8).u8(1)).finish(), [bitmap32(4, 4, new Array(16).fill(0))]),
  stroke: withBlobs((p) => brush(base(new Writer(), R(0, 0, 9, 9)).u32(p[0]!).u8(8 | 4).u8(2).u32(p[1]!), { kind: 'solid', color: 1 }).u16(8).u16(8).finish(),
    [new Writer().u32(2).u8(1).u32(1).i32(16).i32(32).u8(16 | 2).u32(3).i32(1).i32(2).i32(3).i32(4).i32(5).i32(6).finish(), new Writer().i32(48).i32(16).finish()]),
  text: withBlobs((p) => brush(brush(rect(base(new Writer(), R(0, 0, 9, 9)).u32(p[0]!), R(0, 0, 0, 0)), { kind: 'solid', color: 1 }), { kind: 'none' }).u16(8).u16(8).finish(),
    [new Writer().u16(2).u8(2).i32(1).i32(2).i32(0).i32(-1).u16(3).u16(2).bytes(Buffer.from([0x12, 0x30, 0x45, 0x60])).i32(4).i32(2).i32(0).i32(0).u16(1).u16(1).u8(0xf0).finish()]),
  composite: composite(R(0, 0, 4, 4), 3 | (2 << 8) | (1 << 14), bitmap32(1, 1, [0]), bitmap32(1, 1, [0]), { x: -2, y: 3 }, { x: 1, y: 1 }, undefined, [1, 2, 3, 4, 5, 6]),
  create: (() => { const w = new Writer().u32(0).u32(5).u8(1).u8(1).u64(9n).u32(64).u32(48).u32(64).u32(48); rect(w, R(1, 2, 65, 50)); return w.u8(1).u32(1).i32(0).i32(0).i32(10).i32(10).finish(); })(),
  data: new Writer().u32(5).u32(1234).u32(3).bytes(Buffer.from([1, 2, 3])).finish(),
  sized: (() => { const w = new Writer().u32(5).u32(1234).u32(32).u32(24); rect(w, R(0, 0, 64, 48)); return w.u32(2).bytes(Buffer.from([9, 9])).finish(); })(),
  clip: new Writer().u32(5).u8(1).u32(1).i32(0).i32(0).i32(5).i32(5).finish(),
  activate: new Writer().u32(5).u32(6).u32(7).u32(8).finish(),
};

test('new display parsers read every field', () => {
  const r = parseDrawRop3(fx.rop3);
  assert.ok(r.op === 'rop3' && r.rop3 === 0xb8 && r.scaleMode === 1 && r.base.clip!.length === 1);
  const s = parseDrawStroke(fx.stroke);
  assert.ok(s.op === 'stroke');
  assert.deepEqual(s.path.map((g) => [g.flags, [...g.points]]), [[1, [16, 32]], [18, [1, 2, 3, 4, 5, 6]]]);
  assert.deepEqual([s.attr.flags, [...s.attr.style!]], [12, [48, 16]]);
  const t = parseDrawText(fx.text);
  assert.ok(t.op === 'text');
  assert.equal(t.str.bpp, 4);
  assert.deepEqual(t.str.glyphs.map((g) => [g.renderPos, g.origin, g.width, g.height, [...g.data]]), [
    [{ x: 1, y: 2 }, { x: 0, y: -1 }, 3, 2, [0x12, 0x30, 0x45, 0x60]], [{ x: 4, y: 2 }, { x: 0, y: 0 }, 1, 1, [0xf0]],
  ]);
  const c = parseDrawComposite(fx.composite);
  assert.ok(c.op === 'composite');
  assert.deepEqual([c.composite.op, c.composite.srcFilter, c.composite.srcRepeat, c.composite.srcTransform, c.composite.maskTransform, c.composite.srcOrigin], [3, 2, 1, null, [1, 2, 3, 4, 5, 6], { x: -2, y: 3 }]);
  assert.ok(c.composite.mask > 0);
  const sc = parseStreamCreate(fx.create);
  assert.deepEqual([sc.id, sc.flags, sc.codec, sc.stamp, sc.streamWidth, sc.srcHeight, sc.dest, sc.clip!.length], [5, 1, 1, 9n, 64, 48, R(1, 2, 65, 50), 1]);
  assert.deepEqual([...parseStreamData(fx.data).data], [1, 2, 3]);
  const sz = parseStreamDataSized(fx.sized);
  assert.deepEqual([sz.width, sz.height, sz.dest, [...sz.data]], [32, 24, R(0, 0, 64, 48), [9, 9]]);
  assert.equal(parseStreamClip(fx.clip).clip!.length, 1);
  assert.deepEqual(parseStreamActivateReport(fx.activate), { streamId: 5, uniqueId: 6, maxWindow: 7, timeoutMs: 8 });
  const rep = { streamId: 1, uniqueId: 2, startFrameMmTime: 3, endFrameMmTime: 4, numFrames: 5, numDrops: 6, lastFrameDelay: -7, audioDelay: 0xffffffff };
  assert.deepEqual(parseStreamReport(encodeStreamReport(rep)), rep);
  assert.equal(encodeStreamReport(rep).length, 32);
  const m = parseMaskImage(Buffer.concat([Buffer.alloc(3), maskBitmap(['#.', '.#'], { be: true })]), 3);
  assert.deepEqual([m.bitmap!.format, m.bitmap!.width, m.bitmap!.height, m.bitmap!.stride, m.bitmap!.topDown, [...m.bitmap!.data]], [2, 2, 2, 1, false, [0x40, 0x80]]);
});

test('every truncation of the new fixtures is refused with a ProtocolError', () => {
  // images are decoded when drawn, not parsed with the message: truncate rop3/composite up to their first image
  const upToImage = (b: Buffer, ptrAt: number) => b.subarray(0, b.readUInt32LE(ptrAt));
  const parsers: [Buffer, (b: Buffer) => unknown][] = [
    [upToImage(fx.rop3, 41), parseDrawRop3], [fx.stroke, parseDrawStroke], [fx.text, parseDrawText], [upToImage(fx.composite, 25), parseDrawComposite],
    [fx.create, parseStreamCreate], [fx.data, parseStreamData], [fx.sized, parseStreamDataSized], [fx.clip, parseStreamClip],
    [fx.activate, parseStreamActivateReport],
  ];
  for (const [b, parse] of parsers) {
    assert.ok(b.length >= 12);
    for (let n = 0; n < b.length; n++) assert.throws(() => parse(b.subarray(0, n)), ProtocolError, `${parse.name} at ${n}/${b.length}`);
  }
});

test('lying counts and pointers are refused before allocating', () => {
  const hugePath = withBlobs((p) => brush(base(new Writer(), R(0, 0, 1, 1)).u32(p[0]!).u8(0), { kind: 'none' }).u16(8).u16(8).finish(), [new Writer().u32(0x7fffffff).finish()]);
  assert.throws(() => parseDrawStroke(hugePath), /segments/);
  const hugePoints = withBlobs((p) => brush(base(new Writer(), R(0, 0, 1, 1)).u32(p[0]!).u8(0), { kind: 'none' }).u16(8).u16(8).finish(), [new Writer().u32(1).u8(1).u32(0x10000000).finish()]);
  assert.throws(() => parseDrawStroke(hugePoints), /points/);
  const badPtr = brush(base(new Writer(), R(0, 0, 1, 1)).u32(9999).u8(0), { kind: 'none' }).u16(8).u16(8).finish();
  assert.throws(() => parseDrawStroke(badPtr), ProtocolError);
  const manyGlyphs = withBlobs((p) => brush(brush(rect(base(new Writer(), R(0, 0, 1, 1)).u32(p[0]!), R(0, 0, 0, 0)), { kind: 'none' }), { kind: 'none' }).u16(8).u16(8).finish(), [new Writer().u16(60000).u8(1).finish()]);
  assert.throws(() => parseDrawText(manyGlyphs), /glyphs/);
  const badMask = Buffer.from(maskBitmap(['#']));
  badMask[18] = 8; // 32-bit format is not a mask
  assert.throws(() => parseMaskImage(Buffer.concat([Buffer.alloc(1), badMask]), 1), /not 1-bit/);
});
