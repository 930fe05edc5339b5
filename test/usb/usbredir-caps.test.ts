import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { ALL_CAPS, capNames, hasCap, makeCaps, negotiate, sanitizeCaps, withCap, withoutCap } from '../../src/usb/usbredir/caps.js';
import { Cap, epAddress, epIndex, packetTypeName } from '../../src/usb/usbredir/proto.js';

describe('usbredir caps', () => {
  it('builds and tests caps words', () => {
    assert.deepEqual(makeCaps(), [0]);
    assert.deepEqual(makeCaps(Cap.filter, Cap.ids64), [0x24]);
    assert.deepEqual(makeCaps(Cap.bulkReceiving, 33), [0x80, 0x2]);
    assert.deepEqual([...ALL_CAPS], [0xff]);
    assert.ok(hasCap([0x24], Cap.ids64));
    assert.ok(!hasCap([0x24], Cap.bulkStreams));
    assert.ok(!hasCap([0xff], 40)); // missing words are 0
    assert.ok(hasCap([0, 0x80000000], 63));
    assert.deepEqual(withCap([0], 31), [0x80000000]);
    assert.deepEqual(withoutCap([0xff], Cap.ids64), [0xdf]);
    assert.throws(() => makeCaps(-1), RangeError);
  });

  it('names caps, unknown bits as capN', () => {
    assert.deepEqual(capNames([0x21, 0x1]), ['bulkStreams', 'ids64', 'cap32']);
  });

  it('a field is present only when both sides advertise the cap', () => {
    const n = negotiate(makeCaps(Cap.ids64, Cap.filter), makeCaps(Cap.ids64, Cap.bulkLength32));
    assert.ok(n.has(Cap.ids64));
    assert.ok(!n.has(Cap.filter) && n.ourHas(Cap.filter));
    assert.ok(!n.has(Cap.bulkLength32) && n.peerHas(Cap.bulkLength32));
    assert.equal(n.headerSize, 16);
    assert.equal(negotiate([0xff], [0xdf]).headerSize, 12);
    assert.deepEqual(negotiate([0xff], [0xff, 0xff]).shared, [0xff]);
  });

  it('bulk streams without ep_info max packet size is dropped (protocol rule)', () => {
    assert.deepEqual(sanitizeCaps(makeCaps(Cap.bulkStreams)), [0]);
    assert.deepEqual(sanitizeCaps(makeCaps(Cap.bulkStreams, Cap.epInfoMaxPacketSize)), [0x11]);
    assert.ok(!negotiate(makeCaps(Cap.bulkStreams), [0xff]).has(Cap.bulkStreams));
  });

  it('endpoint index <-> address, type names', () => {
    assert.equal(epIndex(0x81), 17);
    assert.equal(epIndex(0x02), 2);
    assert.equal(epIndex(0x80), 16);
    assert.equal(epAddress(17), 0x81);
    assert.equal(epAddress(2), 0x02);
    for (let i = 0; i < 32; i++) assert.equal(epIndex(epAddress(i)), i);
    assert.equal(packetTypeName(101), 'bulkPacket');
    assert.equal(packetTypeName(28), undefined);
  });
});
