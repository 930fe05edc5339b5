import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listLocalDevices, type UsbDeviceLike } from '../../src/usb/libusb-backend.js';
import { matchesSelector } from '../../src/usb/local-device.js';
import { parseDeviceSpec } from '../../src/usb/device-spec.js';
import { checkDevice, parseFilter } from '../../src/usb/filter.js';

function fakeDevice(over: Partial<UsbDeviceLike> & { strings?: Record<number, string>; openFails?: boolean }): UsbDeviceLike {
  return {
    busNumber: 1, deviceAddress: 3, portNumbers: [2],
    deviceDescriptor: { bDeviceClass: 0, bDeviceSubClass: 0, bDeviceProtocol: 0, idVendor: 0x0781, idProduct: 0x5567, bcdDevice: 0x0100, iManufacturer: 1, iProduct: 2, iSerialNumber: 3 },
    configDescriptor: { interfaces: [[{ bInterfaceClass: 8, bInterfaceSubClass: 6, bInterfaceProtocol: 0x50, bAlternateSetting: 0 }]] },
    open() { if (over.openFails) throw new Error('LIBUSB_ERROR_ACCESS'); },
    close() {},
    getStringDescriptor(i, cb) { cb(undefined, (over.strings ?? { 1: 'SanDisk', 2: 'Cruzer Blade', 3: '4C530001' })[i]); },
    ...over,
  };
}

test('usb list: descriptors from libusb, speed and drivers from sysfs, strings when permitted', async () => {
  const sys = mkdtempSync(join(tmpdir(), 'sysfs-'));
  mkdirSync(join(sys, '1-2'));
  writeFileSync(join(sys, '1-2/speed'), '480\n');
  mkdirSync(join(sys, '1-2:1.0'));
  mkdirSync(join(sys, 'drivers/usb-storage'), { recursive: true });
  symlinkSync(join(sys, 'drivers/usb-storage'), join(sys, '1-2:1.0/driver'));
  mkdirSync(join(sys, '1-3.1'));
  writeFileSync(join(sys, '1-3.1/speed'), '12\n');
  writeFileSync(join(sys, '1-3.1/product'), 'USB Keyboard\n');
  const usb = {
    getDeviceList: () => [
      fakeDevice({}),
      fakeDevice({ portNumbers: [3, 1], openFails: true, deviceDescriptor: { ...fakeDevice({}).deviceDescriptor, idVendor: 0x046d, idProduct: 0xc31c },
        configDescriptor: { interfaces: [[{ bInterfaceClass: 3, bInterfaceSubClass: 1, bInterfaceProtocol: 1, bAlternateSetting: 0 }]] } }),
    ],
  };
  const [stick, kbd] = await listLocalDevices(usb, sys);
  assert.equal(stick!.busPort, '1-2');
  assert.equal(stick!.speed, 'high');
  assert.deepEqual(stick!.drivers, ['usb-storage']);
  assert.equal(stick!.product, 'Cruzer Blade');
  assert.equal(stick!.serial, '4C530001');
  assert.equal(kbd!.busPort, '1-3.1');
  assert.equal(kbd!.speed, 'full');
  assert.equal(kbd!.product, 'USB Keyboard', 'from sysfs when the device cannot be opened');
  assert.ok(matchesSelector(stick!, '0781:5567') && matchesSelector(stick!, '1-2') && matchesSelector(stick!, 'serial:4C530001'));
  assert.ok(!matchesSelector(kbd!, '0781:5567'));
  const rules = parseFilter('0x03,-1,-1,-1,0|-1,-1,-1,-1,1');
  assert.equal(checkDevice(rules, stick!).allowed, true);
  assert.equal(checkDevice(rules, kbd!).allowed, false);
});

test('device specs', () => {
  assert.deepEqual(parseDeviceSpec('vid=046d,pid=0xc077,if=03/01/02+08/06/50'), {
    deviceClass: 0, vendorId: 0x046d, productId: 0xc077, bcdDevice: 0,
    interfaces: [{ class: 3, subclass: 1, protocol: 2 }, { class: 8, subclass: 6, protocol: 0x50 }],
  });
  assert.throws(() => parseDeviceSpec('vid=046d'), /needs vid= and pid=/);
  assert.throws(() => parseDeviceSpec('vid=zz,pid=1'), /not a hex number/);
  assert.throws(() => parseDeviceSpec('vid=1,pid=1,colour=red'), /unknown key/);
});
