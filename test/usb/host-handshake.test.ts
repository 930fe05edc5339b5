// UsbredirHost: hello exchange, caps-dependent layouts, connect order, the guest's filter,
// filter_reject, detach with and without device_disconnect_ack, protocol errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { UsbredirHost, type RejectedInfo } from '../../src/usb/host.js';
import { ALL_CAPS, withoutCap } from '../../src/usb/usbredir/caps.js';
import { Cap, type UsbredirPacket } from '../../src/usb/usbredir/proto.js';
import { ProtocolError } from '../../src/util/errors.js';
import { FakeGuest, harness, ScriptedDevice, tick } from './fake-guest.js';

/** A host whose output is parsed by a fake guest (no pipe) once the host's turn is over. */
function direct({ caps = [...ALL_CAPS], filterWaitMs = 0, autoConnect = true } = {}) {
  const dev = new ScriptedDevice();
  const out: Buffer[] = [];
  let broken = false;
  const send = (b: Buffer): void => {
    if (broken) throw new Error('EPIPE');
    out.push(b);
  };
  const host = new UsbredirHost({ device: dev, send, version: '1.2.3', filterWaitMs, autoConnect });
  const fromGuest: Buffer[] = [];
  const guest = new FakeGuest({ send: (b) => fromGuest.push(b), caps });
  // The host coalesces a turn's packets and writes them at the end of the turn (setImmediate).
  const pump = async (): Promise<UsbredirPacket[]> => {
    await new Promise((r) => setImmediate(r));
    const before = guest.received.length;
    for (const b of out.splice(0)) guest.feed(b);
    return guest.received.slice(before);
  };
  const toHost = (oneByte = false): void => {
    for (const b of fromGuest.splice(0)) {
      if (oneByte) for (let i = 0; i < b.length; i++) host.feed(b.subarray(i, i + 1));
      else host.feed(b);
    }
  };
  /** From now on every write to the channel throws. */
  const breakWrites = (): void => {
    broken = true;
  };
  return { dev, host, guest, out, pump, toHost, breakWrites };
}

describe('UsbredirHost handshake', () => {
  it('sends only its hello until the peer hello, then interface_info, ep_info, device_connect', async () => {
    const t = direct();
    const connected: string[] = [];
    t.host.on('connected', (c) => connected.push(c.peerVersion));
    t.host.start();
    t.host.connect(); // too early: nothing but the hello may go out
    const first = await t.pump();
    assert.deepEqual(first.map((p) => p.type), ['hello']);
    const hello = first[0] as Extract<UsbredirPacket, { type: 'hello' }>;
    assert.equal(hello.version, 'spicectl 1.2.3');
    assert.deepEqual(hello.caps, [0xff]);
    assert.equal(t.host.state, 'hello-sent');

    t.guest.start();
    t.toHost(true); // the guest's hello, one byte at a time
    const next = await t.pump();
    assert.deepEqual(next.map((p) => p.type), ['interfaceInfo', 'epInfo', 'deviceConnect']);
    assert.equal(t.guest.parser.headerSize, 16, '64-bit ids');
    const ii = t.guest.interfaceInfo!;
    assert.deepEqual(ii.interfaces, [
      { number: 0, class: 0xff, subclass: 0, protocol: 0 },
      { number: 1, class: 0xff, subclass: 1, protocol: 0 },
    ]);
    const eps = t.guest.epInfo!.endpoints;
    assert.deepEqual([eps[17]!.type, eps[17]!.maxPacketSize, eps[17]!.interface], [2, 512, 0]);
    assert.deepEqual([eps[2]!.type, eps[2]!.maxPacketSize], [2, 512]);
    assert.deepEqual([eps[19]!.type, eps[19]!.interval, eps[19]!.maxPacketSize], [3, 4, 8]);
    assert.deepEqual([eps[0]!.type, eps[0]!.maxPacketSize, eps[16]!.type], [0, 64, 0]);
    assert.equal(eps[21]!.type, 255, 'alt 1 endpoint not active');
    const dc = t.guest.deviceConnect!;
    assert.deepEqual([dc.speed, dc.vendorId, dc.productId, dc.deviceVersionBcd], [2, 0x1234, 0x5678, 0x0102]);
    assert.deepEqual(connected, ['qemu usb-redir guest (fake)']);
    assert.equal(t.host.state, 'connected');
    assert.ok(t.host.sharedCaps.includes('ids64'));
  });

  it('without autoConnect, sends nothing after the hellos until connect(), which writes the plug at once', async () => {
    const t = direct({ autoConnect: false });
    t.host.start();
    await t.pump();
    t.guest.start();
    t.toHost();
    // The host rehearses the plug (filter check, packets, bytes) while idle: nothing may leave.
    assert.deepEqual((await t.pump()).map((p) => p.type), []);
    assert.equal(t.host.state, 'ready');
    assert.equal(t.dev.pluggedCount, 0, 'the rehearsal does not plug the device');
    t.host.connect();
    // Written within connect() itself, not at the end of the turn.
    assert.equal(t.out.length, 1);
    assert.deepEqual((await t.pump()).map((p) => p.type), ['interfaceInfo', 'epInfo', 'deviceConnect']);
    assert.equal(t.dev.pluggedCount, 1);
    assert.equal(t.host.state, 'connected');
  });

  it('a plug whose write fails leaves the host failed, not connected', async () => {
    const t = direct({ autoConnect: false });
    const events: string[] = [];
    t.host.on('connected', () => events.push('connected'));
    t.host.on('error', (e: Error) => events.push(`error ${e.message}`));
    t.host.start();
    await t.pump();
    t.guest.start();
    t.toHost();
    assert.equal(t.host.state, 'ready');
    t.breakWrites();
    t.host.connect();
    assert.equal(t.host.state, 'failed');
    assert.equal(events.length, 1);
    assert.match(events[0]!, /^error .*EPIPE/);
  });

  it('uses 32-bit ids and the short device_connect with an old guest', async () => {
    const old = withoutCap(withoutCap(withoutCap(ALL_CAPS, Cap.ids64), Cap.connectDeviceVersion), Cap.bulkLength32);
    const h = await harness(new ScriptedDevice(), { guest: { caps: old } });
    assert.equal(h.guest.parser.headerSize, 12);
    assert.equal(h.guest.deviceConnect!.deviceVersionBcd, undefined);
    const r = await h.guest.bulkIn(0x81, 100);
    assert.equal(r.data.length, 100);
    await h.host.close();
  });

  it('connects when the guest filter allows the device', async () => {
    const h = await harness(new ScriptedDevice(), { guest: { filter: '0x03,-1,-1,-1,0|-1,-1,-1,-1,1' } });
    assert.equal(h.host.guestFilter, '0x03,-1,-1,-1,0|-1,-1,-1,-1,1');
    assert.equal(h.host.state, 'connected');
    assert.ok(h.traces.some((t) => t.kind === 'filter'));
    await h.host.close();
  });

  it('does not connect a device the guest filter rejects, and says why', async () => {
    const rejected: RejectedInfo[] = [];
    const dev = new ScriptedDevice();
    const h = await harness(dev, { waitConnect: false, guest: { filter: '-1,0x1234,0x5678,-1,0|-1,-1,-1,-1,1' } });
    h.host.on('rejected', (r) => rejected.push(r));
    await tick(150);
    assert.equal(h.guest.deviceConnect, null);
    assert.ok(!h.guest.received.some((p) => p.type === 'deviceConnect' || p.type === 'interfaceInfo'));
    assert.equal(h.host.state, 'rejected');
    assert.equal(rejected.length, 1);
    assert.equal(rejected[0]!.by, 'filter');
    assert.match(rejected[0]!.reason, /rule 1/);
    assert.match(rejected[0]!.explain!, /denies/);
    // connect() does not override the guest's policy
    h.host.connect();
    await tick(20);
    assert.equal(h.guest.deviceConnect, null);
    await h.host.close();
    assert.ok(dev.closed);
  });

  it('connects after filterWaitMs when the guest sends no filter', async () => {
    const t0 = Date.now();
    const h = await harness(new ScriptedDevice(), { host: { filterWaitMs: 80 } });
    assert.ok(Date.now() - t0 >= 70);
    assert.equal(h.host.state, 'connected');
    await h.host.close();
  });

  it('tears the device down on filter_reject and waits for the ack', async () => {
    const h = await harness(new ScriptedDevice(), { guest: { rejectDevice: true } });
    const events: string[] = [];
    h.host.on('rejected', (r) => events.push(`rejected ${r.by}`));
    h.host.on('disconnected', (d) => events.push(`disconnected ${d.reason}${d.ackTimedOut ? ' timeout' : ''}`));
    await h.guest.waitFor('deviceDisconnect');
    await tick(30);
    assert.deepEqual(events, ['rejected guest', 'disconnected rejected']);
    assert.equal(h.host.state, 'rejected');
    await h.host.close();
  });

  it('detach waits for device_disconnect_ack, or gives up after the timeout', async () => {
    const a = await harness(new ScriptedDevice());
    const t0 = Date.now();
    await a.host.detach();
    assert.ok(Date.now() - t0 < 400);
    assert.ok(a.traces.some((t) => t.kind === 'device-disconnect-ack'));
    // re-plug on the same channel
    a.host.connect();
    await a.guest.waitFor('deviceConnect');
    assert.equal(a.host.state, 'connected');
    await a.host.close();

    const b = await harness(new ScriptedDevice(), { guest: { noDisconnectAck: true }, host: { disconnectAckTimeoutMs: 100 } });
    const seen: boolean[] = [];
    b.host.on('disconnected', (d) => seen.push(!!d.ackTimedOut));
    await b.host.detach();
    assert.deepEqual(seen, [true]);
    await b.host.close();
  });

  it('reports a malformed stream as a ProtocolError and stops', async () => {
    const dev = new ScriptedDevice();
    const h = await harness(dev);
    const disc: string[] = [];
    h.host.on('disconnected', (d) => disc.push(d.reason));
    // a packet of unknown type 0x7777
    const bad = Buffer.alloc(16);
    bad.writeUInt32LE(0x7777, 0);
    h.host.feed(bad);
    assert.equal(h.hostErrors.length, 1);
    assert.ok(h.hostErrors[0] instanceof ProtocolError);
    assert.match(h.hostErrors[0]!.message, /usbredir/);
    assert.equal(h.host.state, 'failed');
    assert.deepEqual(disc, ['error']);
    h.host.feed(Buffer.from([1, 2, 3])); // ignored
    assert.equal(h.hostErrors.length, 1);
    await h.host.close();
  });

  it('forgets everything when the channel closes', async () => {
    const dev = new ScriptedDevice();
    const h = await harness(dev);
    const disc: string[] = [];
    h.host.on('disconnected', (d) => disc.push(d.reason));
    h.cut();
    h.host.channelClosed();
    assert.deepEqual(disc, ['channel-closed']);
    assert.equal(h.host.state, 'closed');
    assert.ok(dev.cancelAllCalls > 0);
    await h.host.close();
    assert.ok(dev.closed);
  });
});
