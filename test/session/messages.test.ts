import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writer } from '../../src/session/wire/writer.js';
import { ProtocolError } from '../../src/util/errors.js';
import { parseChannelsList, parseMainInit, parseName, parseUuid, parseMouseMode } from '../../src/session/wire/messages/main.js';
import { parseDisconnecting, parseMessageList, parseNotify, parsePing, parseSetAck } from '../../src/session/wire/messages/common.js';
import { parseDrawCopy, parseDrawFill, parseSurfaceCreate, parseInvalList, parseMonitorsConfig, parseCopyBits } from '../../src/session/wire/messages/display.js';
import { parseCursorInit, parseCursorSet } from '../../src/session/wire/messages/cursor.js';
import { keyCode, strokesForCombo, strokesForText } from '../../src/session/keymap.js';
import { MessageFramer, encodeMessage } from '../../src/session/wire/framer.js';
import { splits } from '../helpers/chunks.js';

const rect = (w: Writer, t: number, l: number, b: number, r: number) => w.i32(t).i32(l).i32(b).i32(r);

// Fixtures built field by field from the digest's layouts.
const fixtures = {
  init: new Writer().u32(0xdeadbeef).u32(1).u32(3).u32(1).u32(1).u32(10).u32(12345).u32(2048).finish(),
  channels: new Writer().u32(3).u8(2).u8(0).u8(3).u8(0).u8(9).u8(1).finish(),
  name: new Writer().u32(6).bytes(Buffer.from('guest\0')).finish(),
  uuid: Buffer.from('00112233445566778899aabbccddeeff', 'hex'),
  mouse: new Writer().u16(3).u16(2).finish(),
  setAck: new Writer().u32(7).u32(20).finish(),
  ping: new Writer().u32(5).u64(99n).bytes(Buffer.alloc(100)).finish(),
  notify: new Writer().u64(1n).u32(1).u32(2).u32(0).u32(5).bytes(Buffer.from('hello')).finish(),
  disconnecting: new Writer().u64(1n).u32(8).finish(),
  fill: rect(new Writer().u32(0), 1, 2, 3, 4).u8(1).u32(2).bytes(Buffer.alloc(32)).u8(1).u32(0x00ff00).u16(8).u8(0).i32(0).i32(0).u32(0).finish(),
  copy: rect(rect(new Writer().u32(0), 0, 0, 10, 10).u8(0).u32(77), 0, 0, 10, 10).u16(8).u8(1).u8(0).i32(0).i32(0).u32(0).finish(),
  copyBits: rect(new Writer().u32(0), 5, 5, 10, 10).u8(0).i32(1).i32(2).finish(),
  surface: new Writer().u32(0).u32(1024).u32(768).u32(32).u32(1).finish(),
  inval: new Writer().u16(2).u8(1).u64(5n).u8(1).u64(6n).finish(),
  monitors: new Writer().u16(1).u16(4).u32(0).u32(0).u32(800).u32(600).u32(0).u32(0).u32(0).finish(),
  cursorSet: new Writer().i16(10).i16(20).u8(1).u16(2).u64(42n).u8(0).u16(2).u16(2).u16(0).u16(0).bytes(Buffer.alloc(16, 0xff)).finish(),
  cursorInitNone: new Writer().i16(1).i16(2).u16(0).u16(0).u8(0).u16(1).finish(),
};

test('main channel messages', () => {
  const i = parseMainInit(fixtures.init);
  assert.equal(i.sessionId, 0xdeadbeef);
  assert.equal(i.agentConnected, true);
  assert.equal(i.agentTokens, 10);
  assert.deepEqual(parseChannelsList(fixtures.channels), [{ type: 2, id: 0 }, { type: 3, id: 0 }, { type: 9, id: 1 }]);
  assert.equal(parseName(fixtures.name), 'guest');
  assert.equal(parseUuid(fixtures.uuid), '00112233-4455-6677-8899-aabbccddeeff');
  assert.deepEqual(parseMouseMode(fixtures.mouse), { supported: 3, current: 2 });
});

test('common messages', () => {
  assert.deepEqual(parseSetAck(fixtures.setAck), { generation: 7, window: 20 });
  assert.deepEqual(parsePing(fixtures.ping), { id: 5, timestamp: 99n, dataSize: 100 });
  assert.equal(parseNotify(fixtures.notify).message, 'hello');
  assert.equal(parseDisconnecting(fixtures.disconnecting).reason, 8);
  const sub = new Writer().u16(105).u32(3).bytes(Buffer.from([1, 2, 3])).finish();
  const list = Buffer.concat([new Writer().u16(1).u32(6).finish(), sub]);
  assert.deepEqual(parseMessageList(list), [{ type: 105, body: Buffer.from([1, 2, 3]) }]);
});

test('display messages', () => {
  const f = parseDrawFill(fixtures.fill);
  assert.equal(f.op, 'fill');
  assert.deepEqual(f.base.box, { top: 1, left: 2, bottom: 3, right: 4 });
  assert.equal(f.base.clip!.length, 2);
  assert.deepEqual((f as { brush: unknown }).brush, { kind: 'solid', color: 0x00ff00 });
  const c = parseDrawCopy(fixtures.copy, 'copy');
  assert.equal((c as { src: number }).src, 77);
  assert.equal((c as { scaleMode: number }).scaleMode, 1);
  assert.deepEqual((parseCopyBits(fixtures.copyBits) as { srcPos: unknown }).srcPos, { x: 1, y: 2 });
  assert.deepEqual(parseSurfaceCreate(fixtures.surface), { surfaceId: 0, width: 1024, height: 768, format: 32, flags: 1 });
  assert.deepEqual(parseInvalList(fixtures.inval), [5n, 6n]);
  assert.equal(parseMonitorsConfig(fixtures.monitors).heads[0]!.width, 800);
  const s = parseCursorSet(fixtures.cursorSet);
  assert.equal(s.cursor.header!.unique, 42n);
  assert.equal(s.cursor.data.length, 16);
  assert.equal(parseCursorInit(fixtures.cursorInitNone).cursor.header, undefined);
});

test('every parser refuses every truncation of its fixture with a ProtocolError', () => {
  const parsers: [Buffer, (b: Buffer) => unknown][] = [
    [fixtures.init, parseMainInit], [fixtures.channels, parseChannelsList], [fixtures.name, parseName],
    [fixtures.uuid, parseUuid], [fixtures.setAck, parseSetAck], [fixtures.notify, parseNotify],
    [fixtures.fill, parseDrawFill], [fixtures.copy, (b) => parseDrawCopy(b, 'copy')], [fixtures.copyBits, parseCopyBits],
    [fixtures.surface, parseSurfaceCreate], [fixtures.inval, parseInvalList], [fixtures.monitors, parseMonitorsConfig],
    [fixtures.cursorInitNone, parseCursorInit],
  ];
  for (const [fx, parse] of parsers) {
    for (let n = 0; n < fx.length; n++) {
      assert.throws(() => parse(fx.subarray(0, n)), ProtocolError, `${parse.name} at ${n}/${fx.length}`);
    }
  }
});

test('lying sizes are refused, not allocated', () => {
  assert.throws(() => parseChannelsList(new Writer().u32(0xffffffff).finish()), ProtocolError);
  const clip = rect(new Writer().u32(0), 0, 0, 1, 1).u8(1).u32(0x7fffffff).finish();
  assert.throws(() => parseDrawFill(clip), ProtocolError);
  assert.throws(() => parseSurfaceCreate(new Writer().u32(0).u32(0).u32(768).u32(32).u32(1).finish()), /impossible size/);
  assert.throws(() => parseSurfaceCreate(new Writer().u32(0).u32(100000).u32(768).u32(32).u32(1).finish()), /impossible size/);
});

test('a stream of real message fixtures survives any split', () => {
  const stream = Buffer.concat(Object.values(fixtures).map((b, i) => encodeMessage(100 + i, b, true, 0n)));
  for (const { name, chunks } of splits(stream)) {
    const f = new MessageFramer({ mini: true });
    const got = chunks.flatMap((c) => f.feed(c));
    assert.equal(got.length, Object.keys(fixtures).length, name);
    assert.deepEqual(parseDrawFill(Buffer.from(got[9]!.body)).base.box, { top: 1, left: 2, bottom: 3, right: 4 });
  }
});

test('scancodes: plain, extended, text and combos', () => {
  assert.equal(keyCode({ make: 0x1e, extended: false }, true), 0x1e);
  assert.equal(keyCode({ make: 0x1e, extended: false }, false), 0x9e);
  assert.equal(keyCode({ make: 0x48, extended: true }, true), 0x48e0);
  assert.equal(keyCode({ make: 0x48, extended: true }, false), 0xc8e0);
  const t = strokesForText('A');
  assert.deepEqual(t.map((s) => [s.key.make, s.down]), [[0x2a, true], [0x1e, true], [0x1e, false], [0x2a, false]]);
  const c = strokesForCombo('ctrl+alt+del');
  assert.deepEqual(c.map((s) => [s.key.make, s.key.extended, s.down]), [
    [0x1d, false, true], [0x38, false, true], [0x53, true, true], [0x53, true, false], [0x38, false, false], [0x1d, false, false],
  ]);
  assert.throws(() => strokesForCombo('ctrl+nokey'), /unknown key/);
  assert.throws(() => strokesForText('é'), /cannot type/);
});
