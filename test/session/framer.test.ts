import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageFramer, encodeMessage } from '../../src/session/wire/framer.js';
import { ProtocolError } from '../../src/util/errors.js';
import { splits } from '../helpers/chunks.js';

const msgs = [
  { type: 3, body: Buffer.from([1, 0, 0, 0, 20, 0, 0, 0]) },
  { type: 4, body: Buffer.alloc(0) },
  { type: 314, body: Buffer.from('0123456789abcdef0123') },
  { type: 302, body: Buffer.alloc(300, 7) },
];

for (const mini of [true, false]) {
  const stream = Buffer.concat(msgs.map((m, i) => encodeMessage(m.type, m.body, mini, BigInt(i + 1))));
  for (const { name, chunks } of splits(stream)) {
    test(`framer (${mini ? 'mini' : 'full'} header) splits a stream fed ${name}`, () => {
      const f = new MessageFramer({ mini });
      const got = chunks.flatMap((c) => f.feed(c));
      assert.deepEqual(got.map((m) => m.type), msgs.map((m) => m.type));
      got.forEach((m, i) => assert.deepEqual(Buffer.from(m.body), msgs[i]!.body));
      assert.equal(got.reduce((a, m) => a + m.wireSize, 0), stream.length);
      assert.equal(f.buffered, 0);
    });
  }
}

test('framer holds a partial message until it is whole', () => {
  const f = new MessageFramer({ mini: true });
  const m = encodeMessage(7, Buffer.alloc(10, 1), true, 1n);
  assert.deepEqual(f.feed(m.subarray(0, 9)), []);
  assert.equal(f.buffered, 9);
  assert.equal(f.feed(m.subarray(9)).length, 1);
});

test('framer refuses a declared size over the limit before buffering it', () => {
  const f = new MessageFramer({ mini: true, maxBody: 1000, what: 'display:0' });
  const h = Buffer.alloc(6);
  h.writeUInt16LE(304, 0);
  h.writeUInt32LE(0xffffffff, 2);
  assert.throws(() => f.feed(h), (e: unknown) => e instanceof ProtocolError && /display:0.*4294967295 bytes/.test(e.message));
});
