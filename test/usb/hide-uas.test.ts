// Real UAS drives through libusb: their UAS alternate settings are hidden from the guest (the
// 'usb' package cannot allocate the bulk streams UAS needs), so the guest uses Bulk-Only.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';

import { hideUasAltSettings } from '../../src/usb/hide-uas.js';
import { parseConfigDescriptor } from '../../src/usb/backend.js';
import { openEmulatedDisk } from '../../src/usb/emulated/mass-storage.js';
import { openLibusbDevice } from '../../src/usb/libusb-backend.js';
import { deviceBytes, FakeDevice, FakeUsb } from './fake-usb.js';
import { makeFatImage, tempDir } from './fake-guest.js';

let tmp: { dir: string; cleanup: () => void };
let uasConfig: Buffer; // a SuperSpeed drive: alt 0 Bulk-Only, alt 1 UAS
let botConfig: Buffer; // the same drive without UAS

before(async () => {
  tmp = tempDir('spicectl-hide-uas-');
  const img = join(tmp.dir, 'd.img');
  makeFatImage(img, 1024);
  const withUas = await openEmulatedDisk(img);
  const without = await openEmulatedDisk(img, { uas: false });
  uasConfig = withUas.configDescriptor(0)!;
  botConfig = without.configDescriptor(0)!;
  await withUas.close();
  await without.close();
});
after(() => tmp.cleanup());

describe('hideUasAltSettings', () => {
  it('drops the UAS alternate setting with its endpoints, companions and pipe usage descriptors', () => {
    assert.equal(parseConfigDescriptor(uasConfig).interfaces.length, 2);
    const out = hideUasAltSettings(uasConfig);
    assert.deepEqual([...out], [...botConfig]);
    assert.equal(out.readUInt16LE(2), out.length);
  });

  it('keeps a UAS-only interface, and returns other sets untouched', () => {
    // a device whose only setting is UAS (alt 1 alone, renumbered alt 0)
    const uasOnlyBody = uasConfig.subarray(botConfig.length);
    const uasOnly = Buffer.concat([uasConfig.subarray(0, 9), uasOnlyBody]);
    uasOnly.writeUInt16LE(uasOnly.length, 2);
    uasOnly[9 + 3] = 0;
    assert.equal(hideUasAltSettings(uasOnly), uasOnly);
    assert.equal(hideUasAltSettings(botConfig), botConfig);
    const broken = Buffer.from(uasConfig);
    broken[9] = 0; // a zero-length descriptor: malformed, passed on as it is
    assert.equal(hideUasAltSettings(broken), broken);
  });

  it('a real UAS drive: the guest reads the configuration without UAS and cannot select alt 1', async () => {
    const fake = new FakeDevice({ device: deviceBytes({ vid: 0x0bda, pid: 0x9210 }), configs: [uasConfig], strings: { 1: 'R', 2: 'NVMe', 3: '0123456789AB' }, kernelDrivers: [0] });
    const usb = new FakeUsb([fake]);
    const dev = await openLibusbDevice('1-1', { sysRoot: '/nonexistent-sysfs', usb });
    try {
      assert.deepEqual([...dev.configDescriptor(0)!], [...botConfig]);
      const r = await dev.control({ requestType: 0x80, request: 6, value: 0x0200, index: 0, length: 0xffff });
      assert.equal(r.status, 'success');
      assert.deepEqual([...r.data!], [...botConfig]);
      const head = await dev.control({ requestType: 0x80, request: 6, value: 0x0200, index: 0, length: 9 });
      assert.equal(head.data!.readUInt16LE(2), botConfig.length);
      assert.deepEqual(dev.currentInterfaces()[0]!.endpoints.map((e) => [e.address, e.maxStreams]), [[0x81, 0], [0x02, 0]]);
      assert.equal(await dev.setAltSetting(0, 1), 'inval');
    } finally {
      await dev.close();
    }
  });
});
