// UsbredirHost request handling against a scripted backend: control and bulk replies and
// their status mapping, per-endpoint in-order replies with several requests outstanding,
// cancel_data_packet, configuration / alt setting (with interface and endpoint info first),
// reset, interrupt receiving, bulk receiving, iso / streams refusals.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { dataIn, dataOut, failed, parseConfigDescriptor, TRANSFER_STATUS_CODE, type TransferResult } from '../../src/usb/backend.js';
import { Status, type AltSettingStatusPacket, type BulkPacket, type ConfigurationStatusPacket, type UsbredirPacket } from '../../src/usb/usbredir/proto.js';
import { deferred, harness, ScriptedDevice, tick, type Deferred } from './fake-guest.js';

describe('UsbredirHost transfers', () => {
  it('answers control requests and maps statuses', async () => {
    const dev = new ScriptedDevice();
    const h = await harness(dev, { seed: 2 });
    const g = h.guest;
    const r = await g.control(0x80, 6, 0x0100, 0, 18);
    assert.equal(r.status, Status.success);
    assert.deepEqual([r.endpoint, r.request, r.requestType, r.value, r.length], [0x80, 6, 0x80, 0x0100, 18]);
    assert.equal(r.data.length, 18);
    const out = await g.control(0x40, 0x22, 1, 2, Buffer.from([1, 2, 3]));
    assert.deepEqual([out.status, out.length, out.data.length, out.endpoint], [Status.success, 3, 0, 0]);

    dev.onControl = async (s) => (s.request === 1 ? failed('stall') : s.request === 2 ? dataIn(Buffer.alloc(s.length + 5)) : Promise.reject(new Error('boom')));
    const st = await g.control(0xc0, 1, 0, 0, 4);
    assert.deepEqual([st.status, st.length, st.data.length], [Status.stall, 0, 0]);
    const babble = await g.control(0xc0, 2, 0, 0, 4);
    assert.deepEqual([babble.status, babble.length], [Status.babble, 4]);
    const io = await g.control(0xc0, 3, 0, 0, 4);
    assert.equal(io.status, Status.ioerror);
    for (const [k, v] of Object.entries(TRANSFER_STATUS_CODE)) assert.equal(v, Status[k as keyof typeof Status]);
    assert.deepEqual(h.hostErrors, []);
    await h.host.close();
  });

  it('answers bulk requests per endpoint in arrival order, several outstanding', async () => {
    const dev = new ScriptedDevice();
    const pending: { ep: number; x: number | Buffer; d: Deferred<TransferResult> }[] = [];
    dev.onBulk = (ep, x) => {
      if (ep === 0x02) return Promise.resolve(dataOut((x as Buffer).length));
      const d = deferred<TransferResult>();
      pending.push({ ep, x, d });
      return d.promise;
    };
    const h = await harness(dev, { seed: 4 });
    const g = h.guest;
    const order: bigint[] = [];
    const ins = [100, 200, 300].map((n) => g.bulkIn(0x81, n).then((p) => (order.push(p.id), p)));
    const outReply = g.bulkOut(0x02, Buffer.alloc(1000, 9)).then((p) => (order.push(p.id), p));
    while (pending.length < 3) await tick(1);
    // the device finishes them in reverse order
    pending[2]!.d.resolve(dataIn(Buffer.alloc(300, 3)));
    pending[1]!.d.resolve(dataIn(Buffer.alloc(150, 2))); // short
    await tick(10);
    const o = await outReply;
    assert.deepEqual([o.status, o.length], [Status.success, 1000]);
    assert.equal(order.length, 1, 'bulk IN replies wait for the first one');
    pending[0]!.d.resolve(dataIn(Buffer.alloc(100, 1)));
    const [a, b, c] = await Promise.all(ins);
    assert.deepEqual([a!.data.length, b!.data.length, c!.data.length], [100, 150, 300]);
    assert.deepEqual(order.slice(1), [a!.id, b!.id, c!.id]);
    assert.equal(h.host.stats.pending, 0);
    // a device returning more than asked is cut and flagged babble
    dev.onBulk = async () => dataIn(Buffer.alloc(64));
    const bab = await g.bulkIn(0x81, 16);
    assert.deepEqual([bab.status, bab.data.length], [Status.babble, 16]);
    // big transfers use the 32-bit length
    dev.onBulk = async (_ep, x) => dataIn(Buffer.alloc(x as number, 0x77));
    const big = await g.bulkIn(0x81, 200 * 1024);
    assert.equal(big.data.length, 200 * 1024);
    await h.host.close();
  });

  it('cancels outstanding requests at once and drops their late results', async () => {
    const dev = new ScriptedDevice();
    const pending: Deferred<TransferResult>[] = [];
    const aborted: boolean[] = [];
    dev.onBulk = (_ep, _x, signal) => {
      const d = deferred<TransferResult>();
      pending.push(d);
      signal?.addEventListener('abort', () => aborted.push(true));
      return d.promise;
    };
    const h = await harness(dev, { seed: 6 });
    const g = h.guest;
    const id1 = g.newId();
    const id2 = g.newId();
    const p1 = g.bulkIn(0x81, 64, id1);
    const p2 = g.bulkIn(0x81, 64, id2);
    while (pending.length < 2) await tick(1);
    pending[1]!.resolve(dataIn(Buffer.alloc(64, 2)));
    await tick(5);
    g.cancel(id1); // the head: cancelled at once, and the finished second one follows
    const r1 = await p1;
    assert.deepEqual([r1.status, r1.length, r1.data.length], [Status.cancelled, 0, 0]);
    assert.deepEqual(aborted, [true]);
    const r2 = await p2;
    assert.equal(r2.status, Status.success);
    pending[0]!.resolve(dataIn(Buffer.alloc(64, 1))); // too late: dropped
    await tick(10);
    assert.equal(g.unmatched.length, 0);
    // unknown id: nothing; the id may be reused after a cancel
    g.cancel(12345n);
    const again = g.bulkIn(0x81, 8, id1);
    while (pending.length < 3) await tick(1);
    pending[2]!.resolve(dataIn(Buffer.alloc(8)));
    assert.equal((await again).status, Status.success);
    assert.equal(h.host.stats.cancelled, 1);
    assert.deepEqual(h.hostErrors, []);
    await h.host.close();
  });

  it('sets configuration and alt settings, sending interface and endpoint info first', async () => {
    const dev = new ScriptedDevice();
    const h = await harness(dev, { seed: 8 });
    const g = h.guest;
    let start = g.received.length;
    const cs = await g.setConfiguration(1);
    assert.deepEqual([cs.status, cs.configuration], [Status.success, 1]);
    assert.deepEqual(g.received.slice(start).map((p) => p.type), ['interfaceInfo', 'epInfo', 'configurationStatus']);
    const gc = await g.request<ConfigurationStatusPacket>({ type: 'getConfiguration', id: g.newId() });
    assert.deepEqual([gc.status, gc.configuration], [Status.success, 1]);
    // a failing set_configuration: no info packets, the status says why
    dev.setConfigurationResult = 'stall';
    start = g.received.length;
    const bad = await g.setConfiguration(2);
    assert.deepEqual([bad.status, bad.configuration], [Status.stall, 1]);
    assert.deepEqual(g.received.slice(start).map((p) => p.type), ['configurationStatus']);
    // alt setting 1 of interface 1 adds bulk IN 0x85
    start = g.received.length;
    const alt = await g.request<AltSettingStatusPacket>({ type: 'setAltSetting', id: g.newId(), interface: 1, alt: 1 });
    assert.deepEqual([alt.status, alt.interface, alt.alt], [Status.success, 1, 1]);
    assert.deepEqual(g.received.slice(start).map((p) => p.type), ['interfaceInfo', 'epInfo', 'altSettingStatus']);
    assert.equal(g.epInfo!.endpoints[21]!.type, 2);
    assert.deepEqual(g.interfaceInfo!.interfaces[1], { number: 1, class: 0xff, subclass: 1, protocol: 1 });
    const ga = await g.request<AltSettingStatusPacket>({ type: 'getAltSetting', id: g.newId(), interface: 1 });
    assert.deepEqual([ga.status, ga.alt], [Status.success, 1]);
    const nope = await g.request<AltSettingStatusPacket>({ type: 'setAltSetting', id: g.newId(), interface: 1, alt: 7 });
    assert.deepEqual([nope.status, nope.alt], [Status.stall, 1]);
    const unknown = await g.request<AltSettingStatusPacket>({ type: 'getAltSetting', id: g.newId(), interface: 9 });
    assert.deepEqual([unknown.status, unknown.alt], [Status.inval, 0xff]);
    await h.host.close();
  });

  it('set_configuration answers outstanding data requests first', async () => {
    const dev = new ScriptedDevice();
    dev.onBulk = () => new Promise(() => {}); // never completes
    const h = await harness(dev, { seed: 10 });
    const g = h.guest;
    const stuck = g.bulkIn(0x81, 512);
    await tick(5);
    const cs = g.setConfiguration(1);
    assert.equal((await stuck).status, Status.cancelled);
    assert.equal((await cs).status, Status.success);
    await h.host.close();
  });

  it('resets without a reply, and disconnects a device that does not come back', async () => {
    const dev = new ScriptedDevice();
    dev.onBulk = () => new Promise(() => {});
    const h = await harness(dev, { seed: 12 });
    const g = h.guest;
    const stuck = g.bulkIn(0x81, 512);
    await tick(5);
    const before = g.received.length;
    g.reset();
    assert.equal((await stuck).status, Status.cancelled);
    await tick(20);
    assert.ok(dev.calls.includes('reset'));
    assert.deepEqual(g.received.slice(before).map((p) => p.type), ['bulkPacket']);
    assert.equal(h.host.state, 'connected');

    dev.resetResult = false;
    const disc: string[] = [];
    h.host.on('disconnected', (d) => disc.push(d.reason));
    g.reset();
    await g.waitFor('deviceDisconnect');
    await tick(20);
    assert.deepEqual(disc, ['device-lost']);
    await h.host.close();
  });

  it('streams interrupt IN packets with ids 0, 1, 2 until stopped', async () => {
    const dev = new ScriptedDevice();
    let n = 0;
    dev.onInterrupt = async (_ep, x, signal) => {
      if (typeof x !== 'number') return dataOut(x.length);
      await tick(2);
      if (signal?.aborted) return failed('cancelled');
      return dataIn(Buffer.from([n++, 0xaa]));
    };
    const h = await harness(dev, { seed: 14 });
    const g = h.guest;
    const st = await g.request<Extract<UsbredirPacket, { type: 'interruptReceivingStatus' }>>({ type: 'startInterruptReceiving', id: g.newId(), endpoint: 0x83 });
    assert.equal(st.status, Status.success);
    const got: Extract<UsbredirPacket, { type: 'interruptPacket' }>[] = [];
    for (let i = 0; i < 3; i++) got.push(await g.waitFor('interruptPacket', (p) => p.endpoint === 0x83));
    assert.deepEqual(got.map((p) => p.id), [0n, 1n, 2n]);
    assert.deepEqual(got.map((p) => p.data[0]), [0, 1, 2]);
    const stop = await g.request<Extract<UsbredirPacket, { type: 'interruptReceivingStatus' }>>({ type: 'stopInterruptReceiving', id: g.newId(), endpoint: 0x83 });
    assert.equal(stop.status, Status.success);
    await tick(15);
    const count = g.received.filter((p) => p.type === 'interruptPacket').length;
    await tick(15);
    assert.equal(g.received.filter((p) => p.type === 'interruptPacket').length, count, 'no packets after stop');
    // not an interrupt endpoint
    const bad = await g.request<Extract<UsbredirPacket, { type: 'interruptReceivingStatus' }>>({ type: 'startInterruptReceiving', id: g.newId(), endpoint: 0x81 });
    assert.equal(bad.status, Status.inval);
    // interrupt OUT
    const io = await g.request<Extract<UsbredirPacket, { type: 'interruptPacket' }>>({ type: 'interruptPacket', id: g.newId(), endpoint: 0x04, status: 0, length: 3, data: Buffer.from([1, 2, 3]) });
    assert.deepEqual([io.status, io.length], [Status.success, 3]);
    await h.host.close();
  });

  it('stops interrupt receiving with a stall status when the endpoint stalls', async () => {
    const dev = new ScriptedDevice();
    let n = 0;
    dev.onInterrupt = async () => (n++ < 2 ? dataIn(Buffer.from([n])) : failed('stall'));
    const h = await harness(dev, { seed: 16 });
    const g = h.guest;
    await g.request({ type: 'startInterruptReceiving', id: g.newId(), endpoint: 0x83 });
    const st = await g.waitFor('interruptReceivingStatus', (p) => p.id === 0n);
    assert.equal(st.status, Status.stall);
    assert.deepEqual(g.received.filter((p) => p.type === 'interruptPacket').map((p) => (p as { status: number }).status), [0, 0, Status.stall]);
    await h.host.close();
  });

  it('implements bulk receiving (buffered bulk packets in order)', async () => {
    const dev = new ScriptedDevice();
    let n = 0;
    dev.onBulk = async (_ep, x) => {
      const k = n++;
      await tick(k % 3); // complete out of order
      return dataIn(Buffer.alloc(Math.min(x as number, 100 + k), k));
    };
    const h = await harness(dev, { seed: 18 });
    const g = h.guest;
    const st = await g.request<Extract<UsbredirPacket, { type: 'bulkReceivingStatus' }>>({ type: 'startBulkReceiving', id: g.newId(), streamId: 0, bytesPerTransfer: 1024, endpoint: 0x81, noTransfers: 3 });
    assert.equal(st.status, Status.success);
    const got: Extract<UsbredirPacket, { type: 'bufferedBulkPacket' }>[] = [];
    for (let i = 0; i < 6; i++) got.push(await g.waitFor('bufferedBulkPacket'));
    assert.deepEqual(got.map((p) => p.id), [0n, 1n, 2n, 3n, 4n, 5n]);
    assert.deepEqual(got.map((p) => p.data[0]), [0, 1, 2, 3, 4, 5]);
    const stop = await g.request<Extract<UsbredirPacket, { type: 'bulkReceivingStatus' }>>({ type: 'stopBulkReceiving', id: g.newId(), streamId: 0, endpoint: 0x81 });
    assert.equal(stop.status, Status.success);
    const bad = await g.request<Extract<UsbredirPacket, { type: 'bulkReceivingStatus' }>>({ type: 'startBulkReceiving', id: g.newId(), streamId: 0, bytesPerTransfer: 100, endpoint: 0x81, noTransfers: 3 });
    assert.equal(bad.status, Status.inval);
    await h.host.close();
  });

  it('refuses iso streams and bulk streams it cannot provide', async () => {
    const h = await harness(new ScriptedDevice(), { seed: 20 });
    const g = h.guest;
    const iso = await g.request<Extract<UsbredirPacket, { type: 'isoStreamStatus' }>>({ type: 'startIsoStream', id: g.newId(), endpoint: 0x83, pktsPerUrb: 8, noUrbs: 4 });
    assert.equal(iso.status, Status.inval);
    const bs = await g.request<Extract<UsbredirPacket, { type: 'bulkStreamsStatus' }>>({ type: 'allocBulkStreams', id: g.newId(), endpoints: 1 << 17, noStreams: 4 });
    assert.equal(bs.status, Status.inval);
    await h.host.close();
  });

  it('answers requests that arrive after a detach with ioerror', async () => {
    const h = await harness(new ScriptedDevice(), { seed: 22 });
    await h.host.detach();
    const r: BulkPacket = await h.guest.bulkIn(0x81, 8);
    assert.equal(r.status, Status.ioerror);
    const c = await h.guest.control(0x80, 6, 0x100, 0, 18);
    assert.equal(c.status, Status.ioerror);
    await h.host.close();
  });

  it('parses configuration descriptors into interfaces and endpoints', () => {
    const cfg = parseConfigDescriptor(new ScriptedDevice().config);
    assert.equal(cfg.value, 1);
    assert.equal(cfg.interfaces.length, 3);
    assert.deepEqual(cfg.interfaces[0]!.endpoints.map((e) => [e.address, e.type, e.maxPacketSize, e.interval]), [
      [0x81, 'bulk', 512, 0],
      [0x02, 'bulk', 512, 0],
      [0x83, 'interrupt', 8, 4],
    ]);
    assert.throws(() => parseConfigDescriptor(Buffer.from([9, 2, 20, 0, 1, 1, 0, 0x80, 50, 0, 4])), RangeError);
  });
});
