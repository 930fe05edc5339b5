// LibusbDevice / openLibusbDevice over a FAKE 'usb' module (test/usb/fake-usb.ts): selector
// matching, kernel driver detach / claim / release / re-attach (also after errors and when the
// device vanished), control / bulk / interrupt argument mapping, timeouts, libusb error ->
// usbredir status mapping, cancellation, set configuration / alt setting / reset.
// No real USB device is touched; one test checks our libusb constants against the real package.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { configDescriptorBytes, deviceDescriptorBytes, LIBUSB, libusbStatus, type LibusbDevice } from '../../src/usb/libusb-device.js';
import { loadUsb, openLibusbDevice } from '../../src/usb/libusb-backend.js';
import { SpiceError } from '../../src/util/errors.js';
import { FakeDevice, FakeUsb, parseConfigLikeLibusb, vendorDevice, VENDOR_CONFIG_1, VENDOR_CONFIG_2, type FakeUsbOptions } from './fake-usb.js';

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));
const NO_SYS = '/nonexistent-sysfs';

interface Logged {
  lines: { debug: string[]; info: string[]; warn: string[]; error: string[] };
  debug(m: string): void;
  info(m: string): void;
  warn(m: string): void;
  error(m: string): void;
}
function logger(): Logged {
  const lines = { debug: [] as string[], info: [] as string[], warn: [] as string[], error: [] as string[] };
  return {
    lines,
    debug: (m) => void lines.debug.push(m),
    info: (m) => void lines.info.push(m),
    warn: (m) => void lines.warn.push(m),
    error: (m) => void lines.error.push(m),
  };
}

async function openOne(fake: FakeDevice, o: Parameters<typeof openLibusbDevice>[1] & { module?: FakeUsbOptions } = {}): Promise<{ usb: FakeUsb; dev: LibusbDevice }> {
  const usb = new FakeUsb([fake], o.module);
  const dev = await openLibusbDevice(o.module ? '1234:5678' : '1-1', { sysRoot: NO_SYS, ...o, usb });
  return { usb, dev };
}

/** The fake's state after a proper close: nothing claimed, drivers back, handle closed. */
function assertRestored(fake: FakeDevice, drivers: number[]): void {
  assert.equal(fake.isOpen, false, 'device closed');
  assert.deepEqual([...fake.claimed], [], 'nothing claimed');
  assert.deepEqual([...fake.driverBound].sort(), drivers, 'kernel drivers re-attached');
}

describe('openLibusbDevice: selecting a device', () => {
  const devices = (): FakeDevice[] => [
    vendorDevice({ portNumbers: [1], deviceAddress: 2, serial: 'AAA1' }),
    vendorDevice({ portNumbers: [2, 3], deviceAddress: 5, serial: 'BBB2' }),
    vendorDevice({ portNumbers: [4], deviceAddress: 7, vid: 0x0781, pid: 0x5567, serial: 'CCC3' }),
  ];

  it('picks by vid:pid, bus-port and serial:S', async () => {
    for (const [sel, port] of [['0781:5567', '1-4'], ['1-2.3', '1-2.3'], ['serial:AAA1', '1-1']] as const) {
      const usb = new FakeUsb(devices());
      const dev = await openLibusbDevice(sel, { usb, sysRoot: NO_SYS });
      assert.equal(dev.local.busPort, port, sel);
      assert.equal(usb.devices.filter((d) => d.isOpen).length, 1, 'only the chosen device stays open');
      await dev.close();
    }
  });

  it('says which devices exist when none match, and which match when several do', async () => {
    const usb = new FakeUsb(devices());
    await assert.rejects(openLibusbDevice('dead:beef', { usb, sysRoot: NO_SYS }), (e: unknown) => {
      assert.ok(e instanceof SpiceError && e.code === 'input');
      assert.match(e.message, /no USB device matches "dead:beef"/);
      assert.match(e.message, /1-1 1234:5678 Fake Corp Fake Gadget serial AAA1/);
      assert.match(e.message, /1-4 0781:5567/);
      return true;
    });
    await assert.rejects(openLibusbDevice('1234:5678', { usb, sysRoot: NO_SYS }), (e: unknown) => {
      assert.ok(e instanceof SpiceError && e.code === 'input');
      assert.match(e.message, /2 USB devices match "1234:5678"; pick one by bus-port or serial:S/);
      assert.match(e.message, /1-1 .*serial AAA1\n {2}1-2\.3 .*serial BBB2$/);
      return true;
    });
    await assert.rejects(openLibusbDevice('serial:nope', { usb, sysRoot: NO_SYS }), /no USB device matches "serial:nope"/);
    await assert.rejects(openLibusbDevice('1-9', { usb: new FakeUsb([]), sysRoot: NO_SYS }), /libusb sees no devices here/);
    for (const bad of ['usb1', '12345:1', 'serial:', '1-', '']) {
      await assert.rejects(openLibusbDevice(bad, { usb, sysRoot: NO_SYS }), (e: unknown) => e instanceof SpiceError && e.code === 'usage', bad);
    }
    assert.equal(usb.devices.some((d) => d.isOpen), false, 'nothing left open');
    assert.equal(usb.devices.some((d) => d.driverBound.size !== 2), false, 'no driver touched');
  });
});

describe('LibusbDevice: open and close', () => {
  it('reads raw descriptors, detaches kernel drivers, claims interfaces; close releases and re-attaches', async () => {
    const fake = vendorDevice();
    const log = logger();
    const { dev } = await openOne(fake, { log });
    assert.deepEqual(dev.deviceDescriptor, fake.rawDevice);
    assert.deepEqual(dev.configDescriptor(0), VENDOR_CONFIG_1);
    assert.deepEqual(dev.configDescriptor(1), VENDOR_CONFIG_2);
    assert.equal(dev.configDescriptor(2), undefined);
    assert.equal(dev.configuration, 1);
    assert.deepEqual(dev.claimedInterfaces, [0, 1]);
    assert.deepEqual(dev.detachedInterfaces, [0, 1]);
    assert.deepEqual([...fake.driverBound], []);
    assert.deepEqual(dev.currentInterfaces().map((i) => [i.number, i.altSetting, i.endpoints.map((e) => e.address)]), [[0, 0, [0x81, 0x02, 0x83]], [1, 0, []]]);
    assert.equal(dev.altSetting(1), 0);
    assert.equal(dev.altSetting(7), undefined);
    assert.deepEqual([dev.info.vendorId, dev.info.productId, dev.info.bcdUSB, dev.info.product, dev.info.serial], [0x1234, 0x5678, 0x0200, 'Fake Gadget', 'FAKE0001']);
    assert.match(dev.info.description, /^USB device 1234:5678 Fake Corp Fake Gadget at 1-1$/);
    // the descriptors were read with GET_DESCRIPTOR (device, config 0 head+full, config 1 head+full)
    const gd = fake.controls.filter((c) => c.request === 6).map((c) => [c.value.toString(16), c.length]);
    assert.deepEqual(gd.slice(-5), [['100', 18], ['200', 9], ['200', VENDOR_CONFIG_1.length], ['201', 9], ['201', 32]]);
    const opened = fake.calls.slice(fake.calls.lastIndexOf('open'));
    assert.deepEqual(opened.filter((c) => /Kernel|claim/.test(c)), ['detachKernelDriver 0', 'claim 0', 'detachKernelDriver 1', 'claim 1']);

    await dev.close();
    await dev.close(); // idempotent
    const closing = fake.calls.slice(fake.calls.lastIndexOf('release 0'));
    assert.deepEqual(closing, ['release 0', 'release 1', 'attachKernelDriver 0', 'attachKernelDriver 1', 'close']);
    assertRestored(fake, [0, 1]);
    assert.equal((await dev.bulk(0x81, 4)).status, 'ioerror', 'closed: no transfers');
  });

  it('detaches and re-attaches only the kernel drivers that were bound', async () => {
    const fake = vendorDevice({ kernelDrivers: [1] });
    const { dev } = await openOne(fake);
    assert.deepEqual(dev.detachedInterfaces, [1]);
    await dev.close();
    assert.ok(!fake.calls.includes('attachKernelDriver 0'));
    assertRestored(fake, [1]);
  });

  it('rebuilds descriptors from libusb\'s parsed ones when GET_DESCRIPTOR fails', async () => {
    const fake = vendorDevice();
    fake.onControl = () => ({ errno: LIBUSB.TRANSFER_STALL });
    const { dev } = await openOne(fake);
    assert.deepEqual(dev.deviceDescriptor, fake.rawDevice);
    assert.deepEqual(dev.configDescriptor(0), VENDOR_CONFIG_1, 'class-specific descriptors kept in order from `extra`');
    assert.deepEqual(dev.configDescriptor(1), VENDOR_CONFIG_2);
    await dev.close();
    assert.deepEqual(configDescriptorBytes(parseConfigLikeLibusb(VENDOR_CONFIG_1)), VENDOR_CONFIG_1);
    assert.deepEqual(deviceDescriptorBytes(fake.deviceDescriptor), fake.rawDevice);
  });

  it('turns open failures into clear input errors and undoes what it did', async () => {
    const denied = vendorDevice();
    denied.fail.open = LIBUSB.ERROR_ACCESS;
    await assert.rejects(openOne(denied), (e: unknown) => {
      assert.ok(e instanceof SpiceError && e.code === 'input');
      assert.match(e.message, /cannot open USB device 1234:5678 at 1-1: permission denied; give your user access to \/dev\/bus\/usb\/001\/002/);
      return true;
    });

    const busy = vendorDevice();
    const claim = busy.calls.length;
    // interface 1 is held by another program: claim fails after interface 0 was taken
    let n = 0;
    const orig = busy.open.bind(busy);
    busy.open = (dc?: boolean) => {
      orig(dc);
      const it1 = busy.interfaces![1]!;
      it1.claim = () => {
        n++;
        throw Object.assign(new Error('LIBUSB_ERROR_BUSY'), { errno: LIBUSB.ERROR_BUSY });
      };
    };
    await assert.rejects(openOne(busy), (e: unknown) => {
      assert.ok(e instanceof SpiceError && e.code === 'input');
      assert.match(e.message, /cannot claim interface 1 of USB device 1234:5678 .*another program has claimed it/);
      return true;
    });
    assert.equal(n, 1);
    assert.deepEqual(busy.calls.slice(claim).filter((c) => /release|attach|close/.test(c)).slice(-4), ['release 0', 'attachKernelDriver 0', 'attachKernelDriver 1', 'close']);
    assert.equal(busy.isOpen, false);
    assert.deepEqual([...busy.driverBound].sort(), [0, 1], 'both drivers back');

    const stubborn = vendorDevice();
    stubborn.fail.detachKernelDriver = LIBUSB.ERROR_ACCESS;
    await assert.rejects(openOne(stubborn), /cannot detach the kernel driver from interface 0 .*permission denied/);
    assert.equal(stubborn.isOpen, false);
    assert.deepEqual([...stubborn.driverBound].sort(), [0, 1]);
  });
});

describe('LibusbDevice: transfers', () => {
  it('maps control IN/OUT to raw setup bytes and back', async () => {
    const fake = vendorDevice();
    const { dev } = await openOne(fake);
    fake.onControl = (s, data) => {
      if (s.requestType === 0xc0 && s.request === 0x33) return { data: Buffer.from([1, 2, 3, 4, 5]) };
      if (s.requestType === 0x41 && s.request === 0x44) return { actual: data!.length };
      if (s.request === 0x55) return { errno: LIBUSB.TRANSFER_STALL };
      if (s.request === 0x66) return { data: Buffer.alloc(64, 9) };
      return undefined;
    };
    const before = fake.controls.length;
    const r = await dev.control({ requestType: 0xc0, request: 0x33, value: 0xbeef, index: 0x0102, length: 8 });
    assert.deepEqual([r.status, r.length, [...r.data!]], ['success', 5, [1, 2, 3, 4, 5]]);
    const w = await dev.control({ requestType: 0x41, request: 0x44, value: 7, index: 1, length: 3 }, Buffer.from([0xa, 0xb, 0xc]));
    assert.deepEqual([w.status, w.length, w.data], ['success', 3, undefined]);
    assert.deepEqual(fake.controls.slice(before).map((c) => [c.requestType, c.request, c.value, c.index, c.length, c.data && [...c.data]]), [
      [0xc0, 0x33, 0xbeef, 0x0102, 8, undefined],
      [0x41, 0x44, 7, 1, 3, [0xa, 0xb, 0xc]],
    ]);
    const sub = fake.calls.filter((c) => c.startsWith('submit ep=0x0 type=0'));
    assert.match(sub.at(-1)!, /len=11 timeout=5000$/, 'setup + data, control timeout 5 s');
    assert.equal((await dev.control({ requestType: 0xc0, request: 0x55, value: 0, index: 0, length: 4 })).status, 'stall');
    const bab = await dev.control({ requestType: 0xc0, request: 0x66, value: 0, index: 0, length: 4 });
    assert.deepEqual([bab.status, bab.length], ['babble', 4]);
    // GET_DESCRIPTOR is forwarded to the device like anything else
    const d = await dev.control({ requestType: 0x80, request: 6, value: 0x0100, index: 0, length: 18 });
    assert.deepEqual(d.data, fake.rawDevice);
    await dev.close();
    assertRestored(fake, [0, 1]);
  });

  it('runs bulk and interrupt transfers on the right endpoint objects, refuses the wrong ones', async () => {
    const fake = vendorDevice();
    const { dev } = await openOne(fake, { bulkTimeoutMs: 3000 });
    fake.onTransfer = (ep, x) => (typeof x === 'number' ? { data: Buffer.alloc(Math.min(x, ep === 0x83 ? 8 : 100), ep) } : { actual: x.length });
    const i = await dev.bulk(0x81, 512);
    assert.deepEqual([i.status, i.length, i.data![0]], ['success', 100, 0x81]);
    const o = await dev.bulk(0x02, Buffer.alloc(1000, 1));
    assert.deepEqual([o.status, o.length, o.data], ['success', 1000, undefined]);
    const irq = await dev.interrupt(0x83, 8);
    assert.deepEqual([irq.status, irq.length], ['success', 8]);
    assert.deepEqual(fake.transfers.map((t) => [t.endpoint, t.type, t.timeout, t.length ?? t.data!.length]), [
      [0x81, 2, 3000, 512],
      [0x02, 2, 3000, 1000],
      [0x83, 3, 0, 8],
    ]);
    // wrong kind, wrong direction, unknown endpoint, iso, endpoint of an unselected alt setting: inval, nothing submitted
    for (const r of [
      await dev.bulk(0x83, 8), // interrupt endpoint
      await dev.interrupt(0x81, 8), // bulk endpoint
      await dev.bulk(0x81, Buffer.alloc(1)), // data for an IN endpoint
      await dev.bulk(0x02, 4), // length for an OUT endpoint
      await dev.bulk(0x8f, 4),
      await dev.bulk(0x85, 4), // interface 1 alt 1 only
    ]) assert.equal(r.status, 'inval');
    assert.equal(fake.transfers.length, 3);
    await dev.close();
  });

  it('maps libusb errors to usbredir statuses', async () => {
    const cases: [number, string][] = [
      [LIBUSB.ERROR_PIPE, 'stall'], [LIBUSB.TRANSFER_STALL, 'stall'],
      [LIBUSB.ERROR_TIMEOUT, 'timeout'], [LIBUSB.TRANSFER_TIMED_OUT, 'timeout'],
      [LIBUSB.ERROR_OVERFLOW, 'babble'], [LIBUSB.TRANSFER_OVERFLOW, 'babble'],
      [LIBUSB.TRANSFER_CANCELLED, 'cancelled'],
      [LIBUSB.ERROR_NO_DEVICE, 'ioerror'], [LIBUSB.TRANSFER_NO_DEVICE, 'ioerror'],
      [LIBUSB.ERROR_IO, 'ioerror'], [LIBUSB.TRANSFER_ERROR, 'ioerror'], [LIBUSB.ERROR_BUSY, 'ioerror'], [LIBUSB.ERROR_OTHER, 'ioerror'],
    ];
    for (const [errno, status] of cases) assert.equal(libusbStatus({ errno, message: '' }), status, String(errno));
    assert.equal(libusbStatus(new TypeError('Device is not open')), 'ioerror');

    const fake = vendorDevice();
    const { dev } = await openOne(fake);
    // completion statuses
    for (const [errno, status] of [[LIBUSB.TRANSFER_STALL, 'stall'], [LIBUSB.TRANSFER_TIMED_OUT, 'timeout'], [LIBUSB.TRANSFER_OVERFLOW, 'babble'], [LIBUSB.TRANSFER_ERROR, 'ioerror']] as const) {
      fake.onTransfer = () => ({ errno, actual: 0 });
      assert.equal((await dev.bulk(0x81, 64)).status, status);
    }
    // a partial OUT before a stall reports the bytes taken
    fake.onTransfer = () => ({ errno: LIBUSB.TRANSFER_STALL, actual: 512 });
    assert.deepEqual(await dev.bulk(0x02, Buffer.alloc(1024)), { status: 'stall', length: 512 });
    // submit errors (returned at once by libusb_submit_transfer)
    fake.fail.submit = LIBUSB.ERROR_PIPE;
    assert.equal((await dev.bulk(0x81, 64)).status, 'stall');
    fake.fail.submit = LIBUSB.ERROR_INVALID_PARAM;
    assert.equal((await dev.control({ requestType: 0xc0, request: 1, value: 0, index: 0, length: 1 })).status, 'ioerror');
    delete fake.fail.submit;
    // after a failed transfer, close still puts everything back
    await dev.close();
    assertRestored(fake, [0, 1]);
  });

  it('times out transfers the device does not answer', async () => {
    const fake = vendorDevice();
    const { dev } = await openOne(fake, { controlTimeoutMs: 30, bulkTimeoutMs: 30 });
    fake.onControl = (s) => (s.request === 0x77 ? 'hang' : undefined);
    fake.onTransfer = () => 'hang';
    const t0 = Date.now();
    const [c, b] = await Promise.all([dev.control({ requestType: 0xc0, request: 0x77, value: 0, index: 0, length: 2 }), dev.bulk(0x81, 64)]);
    assert.deepEqual([c.status, b.status], ['timeout', 'timeout']);
    assert.ok(Date.now() - t0 < 1000);
    await dev.close();
    assertRestored(fake, [0, 1]);
  });

  it('cancels through AbortSignal and cancelAll, drops late results when libusb never reports', async () => {
    const fake = vendorDevice();
    const { dev } = await openOne(fake, { cancelGraceMs: 50 });
    fake.onTransfer = () => 'hang';
    const ac = new AbortController();
    const p = dev.bulk(0x81, 64, { signal: ac.signal });
    await tick(5);
    ac.abort();
    assert.deepEqual(await p, { status: 'cancelled', length: 0 });
    assert.ok(fake.calls.includes('cancel ep=0x81'));
    // aborted before it started: nothing submitted
    const n = fake.transfers.length;
    assert.equal((await dev.bulk(0x81, 64, { signal: AbortSignal.abort() })).status, 'cancelled');
    assert.equal(fake.transfers.length, n);
    // a transfer that completes before the cancel keeps its real result
    fake.onTransfer = () => ({ data: Buffer.from([7]) });
    const ac2 = new AbortController();
    const q = dev.bulk(0x81, 64, { signal: ac2.signal });
    await tick(5);
    ac2.abort();
    assert.equal((await q).status, 'success');
    // cancelAll(endpoint) cancels only that endpoint
    fake.onTransfer = () => 'hang';
    const a = dev.bulk(0x81, 64);
    const b = dev.interrupt(0x83, 8);
    await tick(5);
    dev.cancelAll(0x81);
    assert.equal((await a).status, 'cancelled');
    let bDone = false;
    void b.then(() => (bDone = true));
    await tick(20);
    assert.equal(bDone, false, 'the interrupt transfer is still pending');
    dev.cancelAll();
    assert.equal((await b).status, 'cancelled');
    // libusb accepts the cancel but never reports: resolves 'cancelled' after the grace time
    fake.cancelIgnored = true;
    const ac3 = new AbortController();
    const lost = dev.bulk(0x81, 64, { signal: ac3.signal });
    await tick(5);
    ac3.abort();
    assert.equal((await lost).status, 'cancelled');
    fake.cancelIgnored = false;
    for (const t of [...fake.pending]) t.cancel(); // let the fake finish it, so close() can close
    await dev.close();
    assertRestored(fake, [0, 1]);
  });

  it('cancels a control transfer without a Transfer class by dropping the late result', async () => {
    const fake = vendorDevice();
    const { dev } = await openOne(fake, { module: { noTransferClass: true } });
    assert.deepEqual(dev.configDescriptor(0), VENDOR_CONFIG_1, 'descriptors through device.controlTransfer');
    let answer!: (r: { data: Buffer }) => void;
    fake.onControl = (s) => (s.request === 0x11 ? new Promise((r) => (answer = r)) : undefined);
    const ac = new AbortController();
    const p = dev.control({ requestType: 0xc0, request: 0x11, value: 0, index: 0, length: 4 }, undefined, { signal: ac.signal });
    await tick(5);
    ac.abort();
    assert.equal((await p).status, 'cancelled', 'at once');
    answer({ data: Buffer.from([1, 2]) });
    await tick(5);
    const ok = await dev.control({ requestType: 0x80, request: 6, value: 0x0100, index: 0, length: 18 });
    assert.equal(ok.status, 'success');
    assert.equal(fake.timeout, 5000, 'control timeout set on the device');
    await dev.close();
    assertRestored(fake, [0, 1]);
  });
});

describe('LibusbDevice: configuration, alt setting, reset', () => {
  it('releases and re-claims interfaces around SET_CONFIGURATION, detaching drivers the kernel re-bound', async () => {
    const fake = vendorDevice();
    const log = logger();
    const { dev } = await openOne(fake, { log });
    fake.onTransfer = () => 'hang';
    const pending = dev.bulk(0x81, 64);
    await tick(5);
    const mark = fake.calls.length;
    assert.equal(await dev.setConfiguration(2), 'success');
    assert.equal((await pending).status, 'cancelled', 'outstanding transfers are cancelled first');
    assert.deepEqual(fake.calls.slice(mark).filter((c) => !c.startsWith('cancel') && !c.startsWith('complete')), [
      'release 0', 'release 1', 'setConfiguration 2', 'detachKernelDriver 0', 'claim 0',
    ]);
    assert.equal(dev.configuration, 2);
    assert.deepEqual(dev.claimedInterfaces, [0]);
    assert.deepEqual(dev.currentInterfaces().map((i) => [i.number, i.endpoints.map((e) => e.address)]), [[0, [0x86, 0x07]]]);
    fake.onTransfer = (_ep, x) => (typeof x === 'number' ? { data: Buffer.alloc(3) } : { actual: x.length });
    assert.equal((await dev.bulk(0x86, 3)).status, 'success');
    assert.equal((await dev.bulk(0x81, 3)).status, 'inval', 'old endpoints are gone');
    // the same configuration again: nothing to do
    const n = fake.calls.length;
    assert.equal(await dev.setConfiguration(2), 'success');
    assert.equal(fake.calls.length, n);
    assert.equal(await dev.setConfiguration(9), 'inval');
    // a failing SET_CONFIGURATION re-claims the old interfaces
    fake.fail.setConfiguration = LIBUSB.ERROR_PIPE;
    assert.equal(await dev.setConfiguration(1), 'stall');
    delete fake.fail.setConfiguration;
    assert.deepEqual(dev.claimedInterfaces, [0]);
    assert.deepEqual([...fake.claimed], [0]);
    // the guest's raw SET_CONFIGURATION control request takes the same path
    const r = await dev.control({ requestType: 0x00, request: 9, value: 1, index: 0, length: 0 }, Buffer.alloc(0));
    assert.equal(r.status, 'success');
    assert.equal(fake.activeConfig, 1);
    assert.deepEqual(dev.claimedInterfaces, [0, 1]);
    await dev.close();
    assertRestored(fake, [0, 1]);
  });

  it('sets alternate settings (also from a raw SET_INTERFACE), clears halts, refuses iso', async () => {
    const fake = vendorDevice();
    const { dev } = await openOne(fake);
    assert.equal(await dev.setAltSetting(1, 1), 'success');
    assert.equal(dev.altSetting(1), 1);
    assert.deepEqual(dev.currentInterfaces()[1]!.endpoints.map((e) => [e.address, e.type]), [[0x84, 'iso'], [0x85, 'bulk']]);
    fake.onTransfer = (_ep, x) => (typeof x === 'number' ? { data: Buffer.alloc(2) } : { actual: 0 });
    assert.equal((await dev.bulk(0x85, 2)).status, 'success');
    assert.equal((await dev.bulk(0x84, 2)).status, 'inval', 'iso endpoints are refused');
    assert.equal((await dev.interrupt(0x84, 2)).status, 'inval');
    assert.equal(await dev.setAltSetting(1, 5), 'inval');
    assert.equal(await dev.setAltSetting(9, 0), 'inval');
    const r = await dev.control({ requestType: 0x01, request: 11, value: 0, index: 1, length: 0 }, Buffer.alloc(0));
    assert.equal(r.status, 'success');
    assert.equal(dev.altSetting(1), 0);
    assert.ok(fake.calls.includes('setAltSetting 1 0'));
    fake.halted.add(0x81);
    const ch = await dev.control({ requestType: 0x02, request: 1, value: 0, index: 0x81, length: 0 }, Buffer.alloc(0));
    assert.equal(ch.status, 'success');
    assert.ok(fake.calls.includes('clearHalt 0x81'));
    assert.equal(fake.halted.size, 0);
    fake.fail.setAltSetting = LIBUSB.ERROR_PIPE;
    assert.equal(await dev.setAltSetting(1, 1), 'stall');
    delete fake.fail.setAltSetting;
    await dev.close();
    assertRestored(fake, [0, 1]);
  });

  it('resets the device; a device that does not come back is reported gone', async () => {
    const fake = vendorDevice();
    const { dev } = await openOne(fake);
    await dev.setAltSetting(1, 1);
    assert.equal(await dev.reset(), true);
    assert.equal(dev.altSetting(1), 0);
    assert.equal(fake.interfaces![1]!.altSetting, 0, "the package's interface follows");
    const gone: string[] = [];
    dev.on('gone', (r) => gone.push(r));
    fake.fail.reset = LIBUSB.ERROR_NOT_FOUND;
    assert.equal(await dev.reset(), false);
    await tick(1);
    assert.equal(gone.length, 1);
    assert.match(gone[0]!, /did not come back after a reset \(LIBUSB_ERROR_NOT_FOUND\)/);
    assert.equal((await dev.bulk(0x81, 1)).status, 'ioerror');
    delete fake.fail.reset;
    await dev.close();
    assertRestored(fake, [0, 1]);
  });
});

describe('LibusbDevice: a vanishing device', () => {
  it('fails outstanding and later requests with ioerror, emits gone once, and still closes', async () => {
    const fake = vendorDevice();
    const log = logger();
    const { dev } = await openOne(fake, { log });
    const gone: string[] = [];
    dev.on('gone', (r) => gone.push(r));
    fake.onTransfer = () => 'hang';
    const a = dev.bulk(0x81, 64);
    const b = dev.interrupt(0x83, 8);
    await tick(5);
    fake.vanish();
    assert.deepEqual([(await a).status, (await b).status], ['ioerror', 'ioerror']);
    await tick(1);
    assert.equal(gone.length, 1);
    assert.match(gone[0]!, /LIBUSB_TRANSFER_NO_DEVICE/);
    assert.equal(dev.gone, gone[0]);
    const n = fake.transfers.length;
    assert.equal((await dev.bulk(0x81, 64)).status, 'ioerror');
    assert.equal((await dev.control({ requestType: 0x80, request: 6, value: 0x100, index: 0, length: 18 })).status, 'ioerror');
    assert.equal(await dev.setConfiguration(2), 'ioerror');
    assert.equal(await dev.reset(), false);
    assert.equal(fake.transfers.length, n, 'nothing submitted to a gone device');
    await dev.close();
    assert.equal(fake.isOpen, false, 'closed anyway');
    const tail = fake.calls.slice(fake.calls.indexOf('vanish'));
    assert.deepEqual(tail.filter((c) => /release|attach|close/.test(c)), ['release 0', 'release 1', 'attachKernelDriver 0', 'attachKernelDriver 1', 'close'], 're-attach was still attempted');
    assert.deepEqual(log.lines.warn.filter((w) => /re-attach/.test(w)), [], 'failures on a gone device are not warnings');
  });

  it('NO_DEVICE from a submit or a control transfer marks it gone too', async () => {
    const fake = vendorDevice();
    const { dev } = await openOne(fake);
    const gone: string[] = [];
    dev.on('gone', (r) => gone.push(r));
    fake.fail.submit = LIBUSB.ERROR_NO_DEVICE;
    assert.equal((await dev.control({ requestType: 0xc0, request: 1, value: 0, index: 0, length: 1 })).status, 'ioerror');
    await tick(1);
    assert.deepEqual(gone, ['the device is gone (LIBUSB_ERROR_NO_DEVICE)']);
    delete fake.fail.submit;
    await dev.close();
    assertRestored(fake, [0, 1]);
  });

  it('close() cancels a transfer still in flight before closing the handle', async () => {
    const fake = vendorDevice();
    const { dev } = await openOne(fake);
    fake.onTransfer = () => 'hang';
    const p = dev.interrupt(0x83, 8);
    await tick(5);
    await dev.close();
    assert.equal((await p).status, 'cancelled');
    assertRestored(fake, [0, 1]);
  });
});

describe('the real usb package', () => {
  it('has the libusb numbers LibusbDevice uses', async (t) => {
    let usb: Record<string, unknown>;
    try {
      usb = (await loadUsb()) as unknown as Record<string, unknown>;
    } catch (e) {
      t.skip(`usb cannot load here: ${(e as Error).message}`);
      return;
    }
    for (const [k, v] of Object.entries(LIBUSB)) assert.equal(usb[`LIBUSB_${k}`], v, k);
    assert.equal(typeof usb.Transfer, 'function');
  });
});
