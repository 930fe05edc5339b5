// Hotplug watching (src/usb/hotplug.ts) over the fake 'usb' module: libusb hotplug events,
// the polling fallback (no /sys/bus/usb, no hotplug support, a throwing subscription), filter
// verdicts for --auto, and telling a LibusbDevice it was unplugged. One test runs the real
// package on this machine (no /sys/bus/usb here: it must fall back to polling, not crash).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { linkUnplug, watchUsbDevices, type AttachVerdict, type UsbHotplugWatcher } from '../../src/usb/hotplug.js';
import { openLibusbDevice } from '../../src/usb/libusb-backend.js';
import { parseFilter } from '../../src/usb/filter.js';
import type { LocalDevice } from '../../src/usb/local-device.js';
import { FakeUsb, vendorDevice } from './fake-usb.js';

const SYS_BUS_USB = mkdtempSync(join(tmpdir(), 'sys-bus-usb-')); // "exists": hotplug allowed
const NO_SYS = '/nonexistent-sysfs';

/** Collects watcher events; next(kind) waits for the next one (bounded). */
function recorder(w: UsbHotplugWatcher) {
  const events: { kind: 'attach' | 'detach'; dev: LocalDevice; verdict?: AttachVerdict }[] = [];
  const errors: Error[] = [];
  let wake: (() => void) | null = null;
  w.on('attach', (dev, verdict) => {
    events.push({ kind: 'attach', dev, verdict });
    wake?.();
  });
  w.on('detach', (dev) => {
    events.push({ kind: 'detach', dev });
    wake?.();
  });
  w.on('error', (e) => errors.push(e));
  let seen = 0;
  const next = async (timeoutMs = 3000): Promise<(typeof events)[number]> => {
    const deadline = Date.now() + timeoutMs;
    while (events.length <= seen) {
      if (Date.now() > deadline) throw new Error('no hotplug event in time');
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 20);
      });
    }
    return events[seen++]!;
  };
  return { events, errors, next };
}

describe('hotplug', () => {
  it('uses libusb hotplug events and reports LocalDevice entries with filter verdicts', async () => {
    const usb = new FakeUsb([vendorDevice({ portNumbers: [1] })]);
    const w = await watchUsbDevices({ usb, sysBusUsb: SYS_BUS_USB, sysRoot: NO_SYS, filter: parseFilter('-1,0x0781,-1,-1,1|-1,-1,-1,-1,0') });
    const r = recorder(w);
    assert.equal(w.mode, 'events');
    assert.equal(usb.listenerCount('attach'), 1);
    assert.deepEqual(w.devices().map((d) => d.busPort), ['1-1'], 'present devices are known, not announced');

    const stick = vendorDevice({ portNumbers: [2], deviceAddress: 9, vid: 0x0781, pid: 0x5567, serial: 'STICK1' });
    usb.plug(stick);
    const a = await r.next();
    assert.equal(a.kind, 'attach');
    assert.deepEqual([a.dev.busPort, a.dev.deviceAddress, a.dev.vendorId, a.dev.serial, a.dev.product], ['1-2', 9, 0x0781, 'STICK1', 'Fake Gadget']);
    assert.equal(a.verdict!.allowed, true);
    const other = vendorDevice({ portNumbers: [3], deviceAddress: 10 });
    usb.plug(other);
    const b = await r.next();
    assert.equal(b.verdict!.allowed, false);
    assert.match(b.verdict!.reason, /./);

    usb.unplug(stick);
    const d = await r.next();
    assert.equal(d.kind, 'detach');
    assert.equal(d.dev.serial, 'STICK1', 'the detach carries what was known at attach time');
    assert.deepEqual(w.devices().map((x) => x.busPort).sort(), ['1-1', '1-3']);
    w.close();
    assert.equal(usb.listenerCount('attach') + usb.listenerCount('detach'), 0, 'unsubscribed');
    usb.plug(vendorDevice({ portNumbers: [4] }));
    await new Promise((res) => setTimeout(res, 30));
    assert.equal(r.events.length, 3, 'nothing after close');
    assert.equal(usb.listCalls, 1, 'no polling in events mode');
  });

  it('falls back to polling getDeviceList where /sys/bus/usb is missing', async () => {
    const usb = new FakeUsb([vendorDevice({ portNumbers: [1] })]);
    const w = await watchUsbDevices({ usb, sysBusUsb: '/nonexistent/sys/bus/usb', sysRoot: NO_SYS, pollMs: 15 });
    const r = recorder(w);
    assert.equal(w.mode, 'polling');
    assert.equal(usb.listenerCount('attach'), 0, 'libusb hotplug never started');
    const dev = vendorDevice({ portNumbers: [2], deviceAddress: 4, serial: 'P1' });
    usb.plug(dev); // nobody listens to the fake's events: only polling can see it
    const a = await r.next();
    assert.deepEqual([a.kind, a.dev.busPort, a.dev.serial], ['attach', '1-2', 'P1']);
    assert.equal(a.verdict!.allowed, true);
    assert.equal(a.verdict!.reason, 'no filter');
    usb.unplug(dev);
    const d = await r.next();
    assert.deepEqual([d.kind, d.dev.busPort], ['detach', '1-2']);
    // re-plugged into the same port: a new address, a new device
    const again = vendorDevice({ portNumbers: [2], deviceAddress: 5, serial: 'P1' });
    usb.plug(again);
    const a2 = await r.next();
    assert.deepEqual([a2.kind, a2.dev.deviceAddress], ['attach', 5]);
    // a failing listing is reported and polling goes on
    usb.listThrows = new Error('LIBUSB_ERROR_IO');
    const calls = usb.listCalls;
    while (usb.listCalls < calls + 2) await new Promise((res) => setTimeout(res, 10));
    assert.ok(r.errors.some((e) => /LIBUSB_ERROR_IO/.test(e.message)));
    usb.listThrows = null;
    usb.unplug(again);
    assert.equal((await r.next()).kind, 'detach');
    w.close();
    const n = usb.listCalls;
    await new Promise((res) => setTimeout(res, 50));
    assert.ok(usb.listCalls <= n + 1, 'polling stopped');
  });

  it('polls when libusb has no hotplug support or subscribing throws; polls every second by default', async () => {
    const noSupport = new FakeUsb([], { hotplug: false });
    const w1 = await watchUsbDevices({ usb: noSupport, sysBusUsb: SYS_BUS_USB, sysRoot: NO_SYS, pollMs: 10 });
    assert.equal(w1.mode, 'polling');
    w1.close();
    const broken = new FakeUsb([], { onThrows: true });
    const w2 = await watchUsbDevices({ usb: broken, sysBusUsb: SYS_BUS_USB, sysRoot: NO_SYS, pollMs: 10 });
    assert.equal(w2.mode, 'polling');
    assert.equal(broken.listenerCount('attach') + broken.listenerCount('detach'), 0);
    const r = recorder(w2);
    broken.plug(vendorDevice({ portNumbers: [7] }));
    assert.equal((await r.next()).dev.busPort, '1-7');
    w2.close();
    // default period
    const slow = new FakeUsb([]);
    const w3 = await watchUsbDevices({ usb: slow, polling: true, sysRoot: NO_SYS });
    const r3 = recorder(w3);
    const t0 = Date.now();
    slow.plug(vendorDevice({ portNumbers: [8] }));
    await r3.next(3000);
    const waited = Date.now() - t0;
    assert.ok(waited >= 900 && waited < 2500, `seen after ${waited} ms`);
    w3.close();
  });

  it('announces present devices with emitExisting', async () => {
    const usb = new FakeUsb([vendorDevice({ portNumbers: [1] }), vendorDevice({ portNumbers: [2] })]);
    const seen: string[] = [];
    const { UsbHotplugWatcher } = await import('../../src/usb/hotplug.js');
    const w = new UsbHotplugWatcher(usb, { sysBusUsb: SYS_BUS_USB, sysRoot: NO_SYS, emitExisting: true });
    w.on('attach', (d) => seen.push(d.busPort));
    await w.start();
    assert.deepEqual(seen, ['1-1', '1-2']);
    w.close();
  });

  it('tells a redirected LibusbDevice it was unplugged', async () => {
    const fake = vendorDevice({ portNumbers: [3], deviceAddress: 6 });
    const usb = new FakeUsb([fake, vendorDevice({ portNumbers: [4], deviceAddress: 8 })]);
    const dev = await openLibusbDevice('1-3', { usb, sysRoot: NO_SYS });
    const w = await watchUsbDevices({ usb, sysBusUsb: SYS_BUS_USB, sysRoot: NO_SYS });
    const gone: string[] = [];
    dev.on('gone', (r) => gone.push(r));
    const unlink = linkUnplug(w, dev);
    usb.unplug(usb.devices[1]!); // another device: nothing
    await new Promise((res) => setTimeout(res, 20));
    assert.deepEqual(gone, []);
    usb.unplug(fake);
    const deadline = Date.now() + 2000;
    while (!gone.length && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
    assert.equal(gone.length, 1);
    assert.match(gone[0]!, /unplugged|gone/);
    unlink();
    w.close();
    await dev.close();
    assert.equal(fake.isOpen, false);
  });

  it('runs on the real usb package here (no /sys/bus/usb: polling, no crash)', async (t) => {
    let w: UsbHotplugWatcher;
    try {
      w = await watchUsbDevices({ pollMs: 50 });
    } catch (e) {
      t.skip(`usb cannot load here: ${(e as Error).message}`);
      return;
    }
    const { existsSync } = await import('node:fs');
    assert.equal(w.mode, existsSync('/sys/bus/usb') ? 'events' : 'polling');
    await new Promise((res) => setTimeout(res, 120));
    w.close();
  });
});
