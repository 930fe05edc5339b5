// A LibusbDevice (over the FAKE 'usb' module) driven by UsbredirHost and the fake usb-guest,
// end to end: GET_DESCRIPTOR, SET_CONFIGURATION (releasing / re-claiming interfaces, detaching
// the driver the kernel re-bound), SCSI over bulk, close re-attaching the kernel driver.
// The fake device's "firmware" is the emulated mass storage (src/usb/emulated/), so the bytes
// on the bulk endpoints are real Bulk-Only Transport / SCSI.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { EmulatedMassStorage } from '../../src/usb/emulated/mass-storage.js';
import { hideUasAltSettings } from '../../src/usb/hide-uas.js';
import { openLibusbDevice } from '../../src/usb/libusb-backend.js';
import type { LibusbDevice } from '../../src/usb/libusb-device.js';
import { Status } from '../../src/usb/usbredir/proto.js';
import { cdb, harness, tempDir } from './fake-guest.js';
import { FakeDevice, FakeUsb, replyOf } from './fake-usb.js';

let tmp: { dir: string; cleanup: () => void };
let image: string;
before(() => {
  tmp = tempDir('spicectl-libusb-');
  image = join(tmp.dir, 'stick.img');
  writeFileSync(image, Buffer.alloc(1024 * 1024));
});
after(() => tmp.cleanup());

/** A fake libusb device whose control and bulk traffic is answered by an emulated USB stick. */
async function fakeStick(activeConfig: number): Promise<{ fake: FakeDevice; ms: EmulatedMassStorage }> {
  const ms = await EmulatedMassStorage.open(image, { serial: '0123456789AB', product: 'Fake Stick' });
  if (activeConfig) await ms.setConfiguration(activeConfig);
  const fake = new FakeDevice({
    busNumber: 2,
    deviceAddress: 7,
    portNumbers: [1, 4],
    device: ms.deviceDescriptor,
    configs: [ms.configDescriptor(0)!],
    activeConfig,
    strings: { 1: 'spicectl', 2: 'Fake Stick', 3: '0123456789AB' },
    kernelDrivers: [0], // usb-storage
  });
  fake.onControl = async (s, data) => replyOf(await ms.control(s, data));
  fake.onTransfer = async (ep, x) => replyOf(await ms.bulk(ep, x));
  fake.onSetConfiguration = (v) => void ms.setConfiguration(v);
  return { fake, ms };
}

describe('LibusbDevice through UsbredirHost', () => {
  it('an unconfigured device: GET_DESCRIPTOR, set_configuration, INQUIRY over bulk, close', async () => {
    const { fake, ms } = await fakeStick(0);
    const usb = new FakeUsb([fake]);
    const dev: LibusbDevice = await openLibusbDevice('1209:0001', { usb, sysRoot: '/nonexistent' });
    assert.equal(dev.configuration, 0);
    assert.deepEqual(dev.claimedInterfaces, [], 'nothing to claim while unconfigured');
    const h = await harness(dev, { seed: 11 });
    const g = h.guest;
    assert.deepEqual(g.interfaceInfo!.interfaces, [{ number: 0, class: 8, subclass: 6, protocol: 0x50 }], 'interfaces of the first configuration');
    assert.equal(g.deviceConnect!.vendorId, 0x1209);

    const dd = await g.getDescriptor(1, 0, 18);
    assert.equal(dd.status, Status.success);
    assert.deepEqual(dd.data, ms.deviceDescriptor);
    const cfg = await g.getDescriptor(2, 0, 255);
    // the stick offers UAS too (SuperSpeed): a libusb device shows the guest Bulk-Only only
    assert.deepEqual(cfg.data, hideUasAltSettings(ms.configDescriptor(0)!));
    assert.ok(cfg.data.length < ms.configDescriptor(0)!.length);
    const serial = await g.getDescriptor(3, 3, 255, 0x0409);
    assert.equal(serial.data.subarray(2).toString('utf16le'), '0123456789AB');

    const mark = fake.calls.length;
    const st = await g.setConfiguration(1);
    assert.deepEqual([st.status, st.configuration], [Status.success, 1]);
    assert.deepEqual(fake.calls.slice(mark).filter((c) => !c.startsWith('submit') && !c.startsWith('complete')), ['setConfiguration 1', 'detachKernelDriver 0', 'claim 0']);
    assert.equal(ms.configuration, 1);
    assert.deepEqual(dev.claimedInterfaces, [0]);

    const inq = await g.scsi(cdb.inquiry(36), { dataIn: 36 });
    assert.equal(inq.csw?.status, 0);
    assert.equal(inq.data.length, 36);
    assert.equal(inq.data.subarray(8, 16).toString('latin1').trim(), 'spicectl');
    assert.deepEqual(
      fake.transfers.map((t) => [t.endpoint, t.length ?? t.data!.length]),
      [[0x02, 31], [0x81, 36], [0x81, 13]],
      'CBW out on 0x02, data and CSW in on 0x81',
    );
    assert.deepEqual(h.hostErrors, []);

    await h.host.close();
    assert.equal(fake.isOpen, false);
    assert.deepEqual([...fake.claimed], []);
    assert.deepEqual([...fake.driverBound], [0], 'usb-storage re-attached');
    assert.deepEqual(fake.calls.slice(-3), ['release 0', 'attachKernelDriver 0', 'close']);
    await ms.close();
  });

  it('a configured device with usb-storage bound: enumeration as Linux does it, then a READ CAPACITY', async () => {
    const { fake, ms } = await fakeStick(1);
    const usb = new FakeUsb([fake]);
    const dev = await openLibusbDevice('2-1.4', { usb, sysRoot: '/nonexistent' });
    assert.deepEqual([dev.configuration, dev.claimedInterfaces, dev.detachedInterfaces], [1, [0], [0]]);
    const h = await harness(dev, { seed: 12 });
    const e = await h.guest.enumerate();
    assert.deepEqual(e.strings, ['spicectl', 'Fake Stick', '0123456789AB']);
    assert.equal(e.configStatus.status, Status.success);
    assert.equal(e.maxLun, 0);
    assert.ok(!fake.calls.some((c) => c.startsWith('setConfiguration')), 'the active configuration is not set again');
    const cap = await h.guest.scsi(cdb.readCapacity10(), { dataIn: 8 });
    assert.equal(cap.csw?.status, 0);
    assert.deepEqual([cap.data.readUInt32BE(0), cap.data.readUInt32BE(4)], [2047, 512]);
    await h.host.close();
    assert.deepEqual([...fake.driverBound], [0]);
    assert.equal(fake.isOpen, false);
    await ms.close();
  });
});
