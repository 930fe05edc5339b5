// The ping probe: 4 zero motions, timed to the server's MOUSE_MOTION_ACK, against a model of
// the real InputsChannel (its motion window) and of the server (an ack every 4th motion).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { LatencyProbe } from '../../src/session/latency.js';
import { InputsChannel } from '../../src/session/channels/inputs.js';
import { silentLogger } from '../../src/util/log.js';
import { MsgInputs, MsgcInputs } from '../../src/session/wire/enums.js';

/** InputsChannel's motion rules, the server's ack rule and a clock; messages recorded. */
class FakeInputs extends EventEmitter {
  state = 'ready';
  sent: { dx: number; dy: number }[] = [];
  serverCount = 0;
  acksDue = 0;
  private unacked = 0;
  private pending: { dx: number; dy: number } | null = null;
  get motionPending() {
    return this.pending !== null;
  }
  get unackedMotions() {
    return this.unacked;
  }
  moveBy(dx: number, dy: number) {
    if (this.pending) {
      this.pending.dx += dx;
      this.pending.dy += dy;
    } else this.pending = { dx, dy };
    this.flush();
  }
  private flush() {
    if (this.unacked >= 8 || !this.pending) return;
    this.sent.push(this.pending);
    this.pending = null;
    this.unacked++;
    if (++this.serverCount % 4 === 0) this.acksDue++;
  }
  /** the server's acks arrive */
  deliverAcks() {
    while (this.acksDue > 0) {
      this.acksDue--;
      this.unacked = Math.max(0, this.unacked - 4);
      this.flush();
      this.emit('motion-ack');
    }
  }
}

function probeOn(ch: FakeInputs, server = true) {
  let now = 0;
  const p = new LatencyProbe(ch, { serverMouseMode: () => server, now: () => now });
  return { p, at: (t: number) => (now = t) };
}

test('4 zero motions, one ack, the time between is the round trip', () => {
  const ch = new FakeInputs();
  const { p, at } = probeOn(ch);
  at(100);
  assert.equal(p.probe(), true);
  assert.deepEqual(ch.sent, [{ dx: 0, dy: 0 }, { dx: 0, dy: 0 }, { dx: 0, dy: 0 }, { dx: 0, dy: 0 }]);
  assert.equal(ch.acksDue, 1, 'exactly one ack answers 4 motions');
  at(103.5);
  ch.deliverAcks();
  assert.equal(p.lastMs, 3.5);
  assert.equal(p.counts.answered, 1);
  assert.equal(p.probe(), true, 'and again');
  at(110);
  ch.deliverAcks();
  assert.equal(p.lastMs, 110 - 103.5);
  assert.equal(p.medianMs, (3.5 + 6.5) / 2);
});

test('after real motion that left the server count misaligned, still one ack per probe', () => {
  const ch = new FakeInputs();
  const { p, at } = probeOn(ch);
  ch.moveBy(5, 5);
  ch.moveBy(1, 0); // 2 real motions, no ack due
  at(0);
  assert.equal(p.probe(), true);
  assert.equal(ch.acksDue, 1);
  at(2);
  ch.deliverAcks();
  assert.equal(p.lastMs, 2);
  assert.equal(ch.unackedMotions, 2, 'the 2 real motions stay un-acked (server count 6)');
  assert.equal(p.probe(), true, 'fewer than 4 un-acked: no ack is due, so probing is safe');
  assert.equal(ch.acksDue, 1);
});

test('no probe in client mouse mode, while motion is queued, or while an earlier ack is due', () => {
  const ch = new FakeInputs();
  const client = probeOn(ch, false);
  assert.equal(client.p.probe(), false);
  assert.equal(client.p.lastMs, null);
  assert.equal(ch.sent.length, 0);
  client.p.stop();

  const { p } = probeOn(ch);
  for (let i = 0; i < 4; i++) ch.moveBy(1, 1); // an ack is due for these
  assert.equal(p.probe(), false, 'an ack for real motion is on its way');
  for (let i = 0; i < 5; i++) ch.moveBy(1, 1); // window full: motion queued
  assert.equal(ch.motionPending, true);
  assert.equal(p.probe(), false);
  const sent = ch.sent.length;
  ch.deliverAcks();
  assert.equal(p.lastMs, null, 'acks for real motion are not taken for a probe');
  assert.ok(ch.sent.length > sent);
  ch.state = 'closed';
  assert.equal(p.probe(), false);
});

test('a probe not answered in time is given up; its late ack is not taken for the next one', () => {
  const ch = new FakeInputs();
  const { p, at } = probeOn(ch);
  at(0);
  assert.equal(p.probe(), true);
  at(1000);
  assert.equal(p.probe(), false, 'still waiting');
  at(6000);
  assert.equal(p.probe(), false, 'timed out, but the ack of those motions is still due');
  assert.equal(p.counts.timedOut, 1);
  ch.deliverAcks(); // very late
  assert.equal(p.lastMs, null);
  at(6001);
  assert.equal(p.probe(), true, 'probing again');
  at(6003);
  ch.deliverAcks();
  assert.equal(p.lastMs, 2);
});

test('with the real InputsChannel: 4 MOUSE_MOTION(0, 0, buttons) written, timed to MOUSE_MOTION_ACK', () => {
  const ch = new InputsChannel({ log: silentLogger, connectionId: () => 0, password: () => ({ value: '', given: false }), openSocket: async () => { throw new Error('no'); } }, 0);
  const written: { type: number; body: Buffer }[] = [];
  // The channel is not linked: record what it sends and deliver messages as its socket would.
  (ch as unknown as { send: (t: number, b: Buffer) => boolean }).send = (type, body) => (written.push({ type, body }), true);
  ch.state = 'ready';
  ch.button(1, true); // left button held: the probe must keep it held
  written.length = 0;
  let now = 50;
  const p = new LatencyProbe(ch, { serverMouseMode: () => true, now: () => now });
  assert.equal(p.probe(), true);
  assert.equal(written.length, 4);
  for (const w of written) {
    assert.equal(w.type, MsgcInputs.mouseMotion);
    assert.equal(w.body.readInt32LE(0), 0);
    assert.equal(w.body.readInt32LE(4), 0);
    assert.equal(w.body.readUInt16LE(8), 1, 'current buttons (left held)');
  }
  now = 51.25;
  (ch as unknown as { onMessage: (t: number, b: Buffer) => void }).onMessage(MsgInputs.mouseMotionAck, Buffer.alloc(0));
  assert.equal(p.lastMs, 1.25);
  p.stop();
  assert.equal(ch.listenerCount('motion-ack'), 0);
});
