// The usb filter commands as a user runs them (the built binary).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spicectl } from '../e2e/spicectl.js';

test('usb filter check: valid rules, verdicts per device, QEMU form', async () => {
  const r = await spicectl(['usb', 'filter', 'check', '0x03,-1,-1,-1,0|-1,-1,-1,-1,1', '--device-spec', 'vid=046d,pid=c077,if=03/01/02', 'vid=0781,pid=5567,if=08/06/50']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /046d:c077: denied \(denied by rule 1/);
  assert.match(r.stdout, /0781:5567: allowed \(allowed by rule 2/);
  assert.match(r.stdout, /filter=: 0x03:-1:-1:-1:0\|-1:-1:-1:-1:1/);
});

test('usb filter check: a bad rule exits 1 with a precise message', async () => {
  const r = await spicectl(['usb', 'filter', 'check', '0x08,046d,-1,-1,1']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /rule 1, field vendor: '046d' is not a number; write 0x046d/);
  const r2 = await spicectl(['usb', 'filter', 'check', '0x08,-1,-1,1', '--json']);
  assert.equal(r2.code, 1);
  assert.equal(JSON.parse(r2.stdout).valid, false);
});

test('usb filter explain --json and libvirt XML both ways', async () => {
  const r = await spicectl(['usb', 'filter', 'explain', '0x08,0x1234,0xbeef,0x0200,1|-1,-1,-1,-1,0', '--device-spec', 'vid=1234,pid=beef,bcd=0200,if=08/06/50', '--to-xml', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.devices[0].allowed, true);
  assert.equal(j.devices[0].decidedBy.rule, 1);
  assert.ok(j.devices[0].explain.length >= 3);
  assert.match(j.libvirt, /<usbdev class='0x08' vendor='0x1234' product='0xbeef' version='2.00' allow='yes'\/>/);
});
