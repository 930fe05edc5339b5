// Outbox: the usbredir packets of one event-loop turn leave as one channel write; big buffers
// are written as they are (not copied); the host answers a burst of requests with one write.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { Outbox, OUTBOX_FLUSH_BYTES } from '../../src/usb/usbredir/outbox.js';
import { UsbredirHost } from '../../src/usb/host.js';
import { FakeGuest, ScriptedDevice } from './fake-guest.js';

const turn = () => new Promise((r) => setImmediate(r));

describe('Outbox', () => {
  it('writes the buffers pushed in one turn as one buffer, at the end of the turn', async () => {
    const writes: Buffer[] = [];
    const box = new Outbox((b) => writes.push(b), assert.fail);
    box.push(Buffer.from('ab'));
    box.push(Buffer.from('cd'));
    box.push(Buffer.from('e'));
    assert.equal(writes.length, 0, 'nothing is written before the turn ends');
    await turn();
    assert.deepEqual(writes.map(String), ['abcde']);
    box.push(Buffer.from('f'));
    await turn();
    assert.deepEqual(writes.map(String), ['abcde', 'f'], 'the next turn is a write of its own');
  });

  it('writes big buffers on their own, uncopied, in order with the small ones', async () => {
    const writes: Buffer[] = [];
    const box = new Outbox((b) => writes.push(b), assert.fail);
    const big = Buffer.alloc(20_000, 7);
    box.push(Buffer.from('h1'));
    box.push(big);
    box.push(Buffer.from('h2'));
    box.push(Buffer.from('h3'));
    await turn();
    assert.equal(writes.length, 3);
    assert.equal(String(writes[0]), 'h1');
    assert.equal(writes[1], big, 'the same buffer, not a copy');
    assert.equal(String(writes[2]), 'h2h3');
  });

  it(`writes at once when ${OUTBOX_FLUSH_BYTES} bytes are queued`, () => {
    const writes: Buffer[] = [];
    const box = new Outbox((b) => writes.push(b), assert.fail);
    box.push(Buffer.alloc(OUTBOX_FLUSH_BYTES - 1));
    assert.equal(writes.length, 0);
    box.push(Buffer.alloc(1));
    assert.equal(writes.reduce((n, b) => n + b.length, 0), OUTBOX_FLUSH_BYTES);
  });

  it('forgets what is queued on discard, and reports a failing write', async () => {
    const writes: Buffer[] = [];
    const errors: unknown[] = [];
    let fail = false;
    const box = new Outbox((b) => {
      if (fail) throw new Error('EPIPE');
      writes.push(b);
    }, (e) => errors.push(e));
    box.push(Buffer.from('lost'));
    box.discard();
    await turn();
    assert.equal(writes.length, 0);
    fail = true;
    box.push(Buffer.from('x'));
    await turn();
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /EPIPE/);
  });
});

describe('UsbredirHost output', () => {
  it('answers requests that arrive together with one write', async () => {
    const writes: Buffer[] = [];
    const host = new UsbredirHost({ device: new ScriptedDevice(), send: (b) => writes.push(b), version: 't', filterWaitMs: 0 });
    const fromGuest: Buffer[] = [];
    const guest = new FakeGuest({ send: (b) => fromGuest.push(b) });
    const pump = async () => {
      await turn();
      for (const b of writes.splice(0)) guest.feed(b);
      host.feed(Buffer.concat(fromGuest.splice(0)));
      await turn();
    };
    host.start();
    guest.start();
    await pump(); // hellos
    await pump(); // interface_info, ep_info, device_connect
    assert.ok(guest.deviceConnect, 'the device is connected');
    for (let i = 0; i < 3; i++) guest.send({ type: 'bulkPacket', id: BigInt(100 + i), endpoint: 0x81, status: 0, length: 16, streamId: 0, data: Buffer.alloc(0) });
    host.feed(Buffer.concat(fromGuest.splice(0)));
    await turn();
    await turn();
    assert.equal(writes.length, 1, 'three answers, one write');
    const before = guest.received.length;
    guest.feed(writes[0]!);
    assert.deepEqual(guest.received.slice(before).map((p) => [p.type, p.id]), [['bulkPacket', 100n], ['bulkPacket', 101n], ['bulkPacket', 102n]]);
    host.channelClosed();
  });
});
