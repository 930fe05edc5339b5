import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { SpiceError } from '../../src/util/errors.js';
import {
  checkDevice,
  formatFilter,
  fromLibvirtXml,
  parseFilter,
  toLibvirtXml,
  type FilterDevice,
  type FilterRule,
} from '../../src/usb/filter.js';

const rule = (deviceClass: number, vendorId: number, productId: number, deviceVersionBcd: number, allow: boolean): FilterRule => ({
  deviceClass, vendorId, productId, deviceVersionBcd, allow,
});

function inputError(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SpiceError, `expected SpiceError, got ${String(e)}`);
    assert.equal(e.code, 'input');
    assert.match(e.message, re);
    assert.ok(!e.message.includes('\n'), 'one-line message');
    return true;
  });
}

describe('filter: parse', () => {
  it('parses comma and colon forms, hex/decimal/-1', () => {
    const want = [rule(8, 0x1234, 0xbeef, 0x0200, true), rule(-1, -1, -1, -1, false)];
    assert.deepEqual(parseFilter('0x08,0x1234,0xBEEF,0x0200,1|-1,-1,-1,-1,0'), want);
    assert.deepEqual(parseFilter('0x08:0x1234:0xBEEF:0x0200:1|-1:-1:-1:-1:0', { sep: ':' }), want);
    assert.deepEqual(parseFilter('8,4660,48879,512,1|-1,-1,-1,-1,0'), want);
    assert.deepEqual(parseFilter('3,-1,-1,-1,7'), [rule(3, -1, -1, -1, true)]); // non-zero allow = allow
    assert.deepEqual(parseFilter('+3, 0x10,-0x1,-1,0'), [rule(3, 16, -1, -1, false)]); // strtol: sign, leading blanks
  });

  it('skips empty rules; empty text is no rules', () => {
    assert.deepEqual(parseFilter('|0x03,-1,-1,-1,0||-1,-1,-1,-1,1|'), [rule(3, -1, -1, -1, false), rule(-1, -1, -1, -1, true)]);
    assert.deepEqual(parseFilter(''), []);
    assert.deepEqual(parseFilter('  -1,-1,-1,-1,1\n'), [rule(-1, -1, -1, -1, true)]);
  });

  it('a leading 0 means octal: 010 is 8, with a warning', () => {
    const warnings: string[] = [];
    assert.deepEqual(parseFilter('010,-1,-1,-1,1|0,00,07,-1,1', { onWarning: (w) => warnings.push(w) }), [
      rule(8, -1, -1, -1, true),
      rule(0, 0, 7, -1, true),
    ]);
    assert.equal(warnings.length, 1); // 0, 00 and 07 mean the same in any base
    assert.match(warnings[0]!, /^filter rule 1, field class: '010' has a leading 0, so it is octal 8 \(0x08\), not decimal 10; write 0x10 for hex or 10 for decimal$/);
  });

  it('explains bad numbers precisely', () => {
    inputError(() => parseFilter('-1,-1,-1,-1,0|0x03,046d,0xc52b,-1,1'), /^filter rule 2, field vendor: '046d' is not a number; write 0x046d for hex \(a leading 0 means octal\)$/);
    inputError(() => parseFilter('0x08,c52b,-1,-1,1'), /field vendor: 'c52b' is not a number; write 0xc52b for hex$/);
    inputError(
      () => parseFilter('0x08,0800,-1,-1,1'),
      /^filter rule 1, field vendor: '0800' is not a number: a leading 0 means octal, and 8 and 9 are not octal digits; write 0x0800 for hex or 800 for decimal$/,
    );
    inputError(() => parseFilter('09,-1,-1,-1,1'), /field class: '09' .* write 0x09 for hex or 9 for decimal/);
    inputError(() => parseFilter('0x,-1,-1,-1,1'), /field class: '0x' has no hex digits after 0x/);
    inputError(() => parseFilter('mass,-1,-1,-1,1'), /field class: 'mass' is not a number \(use decimal, 0x-prefixed hex/);
    inputError(() => parseFilter('0x08 ,-1,-1,-1,1'), /field class: '0x08 ' has trailing whitespace/);
    inputError(() => parseFilter('0x08,-1,-1,-1,yes'), /field allow: 'yes' is not a number/);
  });

  it('checks ranges', () => {
    inputError(() => parseFilter('256,-1,-1,-1,1'), /^filter rule 1, field class: 256 is out of range -1\.\.255$/);
    inputError(() => parseFilter('0x100,-1,-1,-1,1'), /field class: '0x100' \(= 256\) is out of range -1\.\.255/);
    inputError(() => parseFilter('-2,-1,-1,-1,1'), /field class: -2 is out of range/);
    inputError(() => parseFilter('-1,0x10000,-1,-1,1'), /field vendor: '0x10000' \(= 65536\) is out of range -1\.\.65535/);
    inputError(() => parseFilter('-1,-1,0200000,-1,1'), /field product: '0200000' \(= 65536, octal because of the leading 0\) is out of range/);
    inputError(() => parseFilter('-1,-1,-1,65536,1'), /field version: 65536 is out of range -1\.\.65535/);
    inputError(() => parseFilter('-1,-1,-1,-1,4294967296'), /field allow: 4294967296 is out of range/);
  });

  it('needs exactly 5 non-empty fields', () => {
    inputError(() => parseFilter('0x08,-1,-1,1'), /^filter rule 1 '0x08,-1,-1,1': expected 5 fields class,vendor,product,version,allow, found 4$/);
    inputError(() => parseFilter('-1,-1,-1,-1,1|0x08,-1,-1,-1,1,0'), /filter rule 2 .*found 6/);
    inputError(() => parseFilter('0x08:-1:-1:-1:1'), /found 1; it contains ':' — is this a ':'-separated filter\?/);
    inputError(() => parseFilter('0x08,-1,-1,-1,1', { sep: ':' }), /found 1; it contains ',' — is this a ','-separated filter\?/);
    inputError(() => parseFilter('0x08,,-1,-1,1'), /^filter rule 1, field vendor: empty value/);
    inputError(() => parseFilter('x', { sep: ';' as ',' }), /separator must be ',' or ':'/);
  });
});

describe('filter: format', () => {
  it('formats like usbredirfilter_rules_to_string and round-trips', () => {
    const rules = parseFilter('8,0x46d,0xC52B,0x0111,5|-1,-1,-1,-1,0');
    assert.equal(formatFilter(rules), '0x08,0x046d,0xc52b,0x0111,1|-1,-1,-1,-1,0');
    assert.equal(formatFilter(rules, ':'), '0x08:0x046d:0xc52b:0x0111:1|-1:-1:-1:-1:0');
    assert.deepEqual(parseFilter(formatFilter(rules, ':'), { sep: ':' }), rules);
    assert.equal(formatFilter([]), '');
    inputError(() => formatFilter([rule(300, -1, -1, -1, true)]), /rule 1, field class: 300 is out of range/);
  });
});

const stick: FilterDevice = { deviceClass: 0, vendorId: 0x2b23, productId: 0xcdcd, bcdDevice: 0x0100, interfaces: [{ class: 8, subclass: 6, protocol: 0x50 }] };
const keyboard: FilterDevice = { deviceClass: 0, vendorId: 0x046d, productId: 0xc31c, bcdDevice: 0x6400, interfaces: [{ class: 3, subclass: 1, protocol: 1 }] };
const headset: FilterDevice = {
  deviceClass: 0, vendorId: 0x046d, productId: 0x0a44, bcdDevice: 0x0100,
  interfaces: [{ class: 1, subclass: 1, protocol: 0 }, { class: 1, subclass: 2, protocol: 0 }, { class: 3, subclass: 0, protocol: 0 }],
};
const twoNonBootHid: FilterDevice = {
  deviceClass: 0, vendorId: 0x1209, productId: 0x0001, bcdDevice: 0x0100,
  interfaces: [{ class: 3, subclass: 0, protocol: 0 }, { class: 3, subclass: 0, protocol: 0 }],
};
const hub: FilterDevice = { deviceClass: 9, vendorId: 0x05e3, productId: 0x0608, bcdDevice: 0x6053, interfaces: [{ class: 9, subclass: 0, protocol: 1 }] };

describe('filter: checkDevice (usbredirfilter_check semantics)', () => {
  const spiceGtkDefault = parseFilter('0x03,-1,-1,-1,0|-1,-1,-1,-1,1');

  it('mass storage stick allowed by the catch-all', () => {
    const r = checkDevice(spiceGtkDefault, stick);
    assert.equal(r.allowed, true);
    assert.equal(r.verdict, 'allow');
    assert.deepEqual(r.decidedBy, { pass: { kind: 'interface', index: 0, class: 8, subclass: 6, protocol: 0x50 }, ruleIndex: 1 });
    assert.equal(r.reason, 'allowed by rule 2 (-1,-1,-1,-1,1) for the interface 0 (class 0x08 mass storage, subclass 0x06, protocol 0x50)');
    assert.deepEqual(r.steps.map((s) => s.outcome), ['skipped', 'allow']);
    assert.match(r.explain, /^device 2b23:cdcd bcdDevice 0x0100, class 0x00 per-interface, 1 interface\(s\); flags: no default_allow$/m);
    assert.match(r.explain, /device class 0x00 per-interface: skipped \(device class 0x00: classes are given per interface\)/);
  });

  it('boot keyboard denied by the HID rule (one interface: no skipping)', () => {
    const r = checkDevice(spiceGtkDefault, keyboard);
    assert.equal(r.allowed, false);
    assert.equal(r.verdict, 'deny');
    assert.deepEqual(r.decidedBy, { pass: { kind: 'interface', index: 0, class: 3, subclass: 1, protocol: 1 }, ruleIndex: 0 });
    assert.match(r.reason, /^denied by rule 1 \(0x03,-1,-1,-1,0\) for the interface 0 \(class 0x03 HID/);
  });

  it('skips a non-boot HID interface of a multi-interface device', () => {
    const r = checkDevice(spiceGtkDefault, headset);
    assert.equal(r.allowed, true);
    assert.deepEqual(r.steps.map((s) => s.outcome), ['skipped', 'allow', 'allow', 'skipped']);
    assert.match(r.reason, /^allowed: all 2 passes allow \(interface 0: rule 2; interface 1: rule 2\)$/);
    assert.match(r.explain, /interface 2 .*skipped \(non-boot HID interface of a multi-interface device\)/);
    // ... unless told not to skip
    const r2 = checkDevice(spiceGtkDefault, headset, { dontSkipNonBootHid: true });
    assert.equal(r2.allowed, false);
    assert.equal(r2.decidedBy?.pass.kind === 'interface' && r2.decidedBy.pass.index, 2);
    assert.equal(checkDevice(spiceGtkDefault, headset, 2).allowed, false); // numeric flag 0x02
  });

  it('rechecks without skipping when every interface was a skipped non-boot HID', () => {
    const r = checkDevice(spiceGtkDefault, twoNonBootHid);
    assert.equal(r.allowed, false);
    assert.deepEqual(r.steps.map((s) => [s.outcome, s.recheck]), [
      ['skipped', false], ['skipped', false], ['skipped', false],
      ['skipped', true], ['deny', true],
    ]);
    assert.match(r.explain, /every interface was a skipped non-boot HID interface: checking again without skipping/);
    assert.equal(r.decidedBy?.ruleIndex, 0);
  });

  it('checks the device class first unless it is 0x00 or 0xef', () => {
    const noHubs = parseFilter('0x09,-1,-1,-1,0|-1,-1,-1,-1,1');
    const r = checkDevice(noHubs, hub);
    assert.equal(r.allowed, false);
    assert.deepEqual(r.decidedBy, { pass: { kind: 'device', class: 9 }, ruleIndex: 0 });
    assert.equal(r.steps.length, 1); // stops at the first deny
    const misc: FilterDevice = { ...stick, deviceClass: 0xef };
    assert.deepEqual(checkDevice(parseFilter('0xef,-1,-1,-1,0|-1,-1,-1,-1,1'), misc).steps[0]!.outcome, 'skipped');
    // vendor-class device allowed at device level, but its HID interface is denied: any deny wins
    const vendor: FilterDevice = { ...keyboard, deviceClass: 0xff };
    const r2 = checkDevice(parseFilter('0xff,-1,-1,-1,1|0x03,-1,-1,-1,0'), vendor);
    assert.deepEqual(r2.steps.map((s) => s.outcome), ['allow', 'deny']);
    assert.equal(r2.allowed, false);
  });

  it('a pass with no matching rule denies, unless default_allow', () => {
    const onlySticks = parseFilter('0x08,-1,-1,-1,1');
    const r = checkDevice(onlySticks, keyboard);
    assert.equal(r.allowed, false);
    assert.equal(r.verdict, 'no-match');
    assert.equal(r.decidedBy, null);
    assert.match(r.reason, /^denied: no rule matches the interface 0 .*catch-all rule such as -1,-1,-1,-1,1/);
    const r2 = checkDevice(onlySticks, keyboard, { defaultAllow: true });
    assert.equal(r2.allowed, true);
    assert.equal(r2.decidedBy, null);
    assert.match(r2.reason, /^allowed: no rule matches the interface 0 .*default_allow is set$/);
    assert.equal(checkDevice(onlySticks, keyboard, 1).allowed, true);
    assert.equal(checkDevice([], stick).verdict, 'no-match');
  });

  it('first matching rule wins; vendor, product and bcdDevice must all match', () => {
    const rules = parseFilter('0x08,0x2b23,-1,-1,0|0x08,-1,0xcdcd,0x0200,0|0x08,-1,-1,-1,1');
    assert.equal(checkDevice(rules, stick).decidedBy?.ruleIndex, 0);
    assert.equal(checkDevice(rules, { ...stick, vendorId: 0x1234 }).decidedBy?.ruleIndex, 2);
    assert.equal(checkDevice(rules, { ...stick, vendorId: 0x1234, bcdDevice: 0x0200 }).decidedBy?.ruleIndex, 1);
  });

  it('nothing to check: class 0 and no interfaces is allowed', () => {
    const r = checkDevice(parseFilter('-1,-1,-1,-1,0'), { ...stick, interfaces: [] });
    assert.equal(r.allowed, true);
    assert.equal(r.decidedBy, null);
    assert.match(r.reason, /nothing to check/);
  });

  it('rejects invalid rules like usbredirfilter_verify', () => {
    inputError(() => checkDevice([rule(-1, 70000, -1, -1, true)], stick), /rule 1, field vendor: 70000 is out of range/);
  });
});

describe('filter: libvirt <redirfilter>', () => {
  const rules = parseFilter('0x08,0x1234,0xbeef,0x0200,1|0x03,-1,-1,0x0256,0|-1,-1,-1,-1,0');
  const xml = [
    '<redirfilter>',
    "  <usbdev class='0x08' vendor='0x1234' product='0xbeef' version='2.00' allow='yes'/>",
    "  <usbdev class='0x03' version='2.56' allow='no'/>",
    "  <usbdev allow='no'/>",
    '</redirfilter>',
  ].join('\n');

  it('writes and reads back', () => {
    assert.equal(toLibvirtXml(rules), xml);
    assert.deepEqual(fromLibvirtXml(xml), rules);
    assert.equal(toLibvirtXml([]), '<redirfilter>\n</redirfilter>');
    assert.deepEqual(fromLibvirtXml(toLibvirtXml([])), []);
  });

  it('reads a whole domain XML with comments, double quotes, explicit -1 and hex without 0x', () => {
    const domain = `<domain type='kvm'><devices>
      <redirdev bus='usb' type='spicevmc'/>
      <!-- <redirfilter><usbdev allow='yes'/></redirfilter> -->
      <redirfilter>
        <usbdev class="8" vendor="046D" product='-1' version="1.5" allow="yes"></usbdev>
        <usbdev class='-1' vendor='-1' product='-1' version='-1' allow='no'/>
      </redirfilter>
    </devices></domain>`;
    assert.deepEqual(fromLibvirtXml(domain), [rule(8, 0x046d, -1, 0x0105, true), rule(-1, -1, -1, -1, false)]);
    assert.deepEqual(fromLibvirtXml('<redirfilter/>'), []);
  });

  it('precise errors', () => {
    inputError(() => fromLibvirtXml('<devices/>'), /no <redirfilter> element/);
    inputError(() => fromLibvirtXml('<redirfilter></redirfilter><redirfilter></redirfilter>'), /2 <redirfilter> elements; libvirt allows only one/);
    inputError(() => fromLibvirtXml("<redirfilter><usbdev class='0x08'/></redirfilter>"), /usbdev 1 has no allow attribute/);
    inputError(() => fromLibvirtXml("<redirfilter><usbdev allow='true'/></redirfilter>"), /usbdev 1: allow='true' must be 'yes' or 'no'/);
    inputError(() => fromLibvirtXml("<redirfilter><usbdev allow='no'/><usbdev vendor='0x12345' allow='no'/></redirfilter>"), /usbdev 2: vendor='0x12345' is not -1 or up to 4 hex digits/);
    inputError(() => fromLibvirtXml("<redirfilter><usbdev class='0x100' allow='no'/></redirfilter>"), /class='0x100' is not -1 or up to 2 hex digits/);
    inputError(() => fromLibvirtXml("<redirfilter><usbdev version='2.100' allow='no'/></redirfilter>"), /version='2.100' is not -1 or decimal major.minor/);
    inputError(() => fromLibvirtXml("<redirfilter><usbdev vendorid='0x1' allow='no'/></redirfilter>"), /unknown attribute vendorid/);
    inputError(() => fromLibvirtXml("<redirfilter><usb allow='no'/></redirfilter>"), /expected <usbdev \.\.\.\/> as entry 1/);
    inputError(() => fromLibvirtXml('<redirfilter>'), /not closed/);
    inputError(() => toLibvirtXml([rule(-1, -1, -1, 0x010a, true)]), /rule 1, field version: 0x010a is not BCD/);
  });
});
