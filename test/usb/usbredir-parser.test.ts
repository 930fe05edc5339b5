// usbredir parser: hand-written byte fixtures (offsets per docs/usb-redirection-protocol.md),
// fed whole, in 1-byte pieces and in random splits; malformed input -> ProtocolError.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { ProtocolError } from '../../src/util/errors.js';
import { ALL_CAPS, makeCaps, withoutCap } from '../../src/usb/usbredir/caps.js';
import { UsbredirParser } from '../../src/usb/usbredir/parser.js';
import { Cap, MAX_PACKET_LENGTH, type UsbredirPacket } from '../../src/usb/usbredir/proto.js';
import { UsbredirWriter } from '../../src/usb/usbredir/writer.js';
import { errorsForEachSplit, forEachSplit, hex } from './chunking.js';

const QEMU_VERSION = 'qemu usb-redir guest 6.2.0';

/** hello: u32 type 0, u32 length 64+4n, u32 id 0, char version[64], u32 caps[n]. */
function helloBytes(version: string, caps: number[]): Buffer {
  const b = Buffer.alloc(12 + 64 + 4 * caps.length);
  b.writeUInt32LE(0, 0);
  b.writeUInt32LE(64 + 4 * caps.length, 4);
  b.writeUInt32LE(0, 8);
  b.write(version, 12, 'utf8');
  caps.forEach((c, i) => b.writeUInt32LE(c, 76 + 4 * i));
  return b;
}

// The guest's hello as QEMU sends it (caps 0xff): header 12 bytes, then 64 + 4.
const guestHello = Buffer.concat([
  hex('00000000 44000000 00000000'), // type hello, length 68, id 0 (32-bit: always for hello)
  Buffer.from(QEMU_VERSION.padEnd(64, '\0'), 'latin1'),
  hex('ff000000'), // caps word 0 = 0xff
]);

// After both hellos with ids64: 16-byte headers.
const getDescriptor64 = hex(`
  64000000 0a000000 0807060504030201   # control_packet, length 10, id 0x0102030405060708
  80 06 80 00 0001 0000 1200           # ep 0x80, GET_DESCRIPTOR, bmRequestType 0x80, status 0, wValue 0x0100, wIndex 0, wLength 18
`);
const cbw = hex('55534243 01000000 24000000 80 00 06 12000000240000000000000000000000');
const bulkOut64 = Buffer.concat([
  hex(`65000000 29000000 0500000000000000   # bulk_packet, length 10+31, id 5
       02 00 1f00 00000000 0000`), // ep 0x02, status 0, length 31, stream 0, length_high 0
  cbw,
]);
const bulkInBig64 = hex(`
  65000000 0a000000 0600000000000000   # bulk_packet, length 10 (no data: IN request), id 6
  81 00 0002 00000000 0100             # ep 0x81, length low 0x0200, stream 0, length_high 1 => 0x10200
`);
const filter = '0x03,-1,-1,-1,0|-1,-1,-1,-1,1';
const filterFilter64 = Buffer.concat([
  hex(`17000000 1e000000 0000000000000000`), // filter_filter, length 30 (29 chars + NUL), id 0
  Buffer.from(`${filter}\0`, 'latin1'),
]);
const setConfig64 = hex('06000000 01000000 0900000000000000 01'); // set_configuration 1, id 9

const hostParser = (caps: readonly number[] = ALL_CAPS, maxPacketLength?: number): UsbredirParser =>
  new UsbredirParser({ role: 'usb-host', caps: [...caps], ...(maxPacketLength ? { maxPacketLength } : {}) });

function assertProtocolErrors(bytes: Buffer, make: () => UsbredirParser, re: RegExp): void {
  for (const e of errorsForEachSplit(bytes, make)) {
    assert.ok(e instanceof ProtocolError, `expected ProtocolError, got ${String(e)}`);
    assert.match((e as Error).message, re);
  }
}

describe('usbredir parser: guest -> host fixtures', () => {
  it('parses QEMU hello, then 16-byte headers once both sides have ids64', () => {
    const stream = Buffer.concat([guestHello, getDescriptor64, bulkOut64, bulkInBig64, filterFilter64, setConfig64]);
    forEachSplit(stream, () => hostParser(), (out, label, parser) => {
      assert.equal(out.length, 6, label);
      assert.deepEqual(out[0], { type: 'hello', id: 0n, version: QEMU_VERSION, caps: [0xff] }, label);
      assert.deepEqual(
        out[1],
        {
          type: 'controlPacket', id: 0x0102030405060708n, endpoint: 0x80, request: 6, requestType: 0x80,
          status: 0, value: 0x0100, index: 0, length: 18, data: Buffer.alloc(0),
        },
        label,
      );
      assert.deepEqual(out[2], { type: 'bulkPacket', id: 5n, endpoint: 0x02, status: 0, length: 31, streamId: 0, data: cbw }, label);
      assert.deepEqual(out[3], { type: 'bulkPacket', id: 6n, endpoint: 0x81, status: 0, length: 0x10200, streamId: 0, data: Buffer.alloc(0) }, label);
      assert.deepEqual(out[4], { type: 'filterFilter', id: 0n, filter }, label);
      assert.deepEqual(out[5], { type: 'setConfiguration', id: 9n, configuration: 1 }, label);
      assert.equal(parser.headerSize, 16);
      assert.ok(parser.idle);
      parser.end();
      assert.deepEqual(parser.negotiated?.names, ['bulkStreams', 'connectDeviceVersion', 'filter', 'deviceDisconnectAck', 'epInfoMaxPacketSize', 'ids64', 'bulkLength32', 'bulkReceiving']);
    });
  });

  it('keeps 12-byte headers when we lack ids64 (and 8-byte bulk headers without bulkLength32)', () => {
    const ours = withoutCap(withoutCap(ALL_CAPS, Cap.ids64), Cap.bulkLength32);
    const bulk32 = Buffer.concat([hex('65000000 27000000 05000000  02 00 1f00 00000000'), cbw]); // length 8+31
    const ctl32 = hex('64000000 0a000000 07000000  80 06 80 00 0002 0000 ff00'); // config descriptor, wLength 255
    forEachSplit(Buffer.concat([guestHello, bulk32, ctl32]), () => hostParser(ours), (out, label, parser) => {
      assert.equal(out.length, 3, label);
      assert.deepEqual(out[1], { type: 'bulkPacket', id: 5n, endpoint: 2, status: 0, length: 31, streamId: 0, data: cbw }, label);
      assert.equal((out[2] as { value: number }).value, 0x0200);
      assert.equal((out[2] as { length: number }).length, 255);
      assert.equal(parser.headerSize, 12);
    });
  });

  it('peer caps decide too: a guest without ids64 keeps 12-byte headers', () => {
    const hello = helloBytes('old guest', [makeCaps(Cap.filter, Cap.connectDeviceVersion)[0]!]);
    const reset = hex('03000000 00000000 00000000');
    forEachSplit(Buffer.concat([hello, reset]), () => hostParser(), (out, label, parser) => {
      assert.deepEqual(out, [
        { type: 'hello', id: 0n, version: 'old guest', caps: [0x06] },
        { type: 'reset', id: 0n },
      ], label);
      assert.equal(parser.headerSize, 12);
    });
  });

  it('accepts extra caps words and a hello version without NUL (cut at 63 bytes)', () => {
    const b = helloBytes('', [0xff, 0x80000000, 0]);
    b.fill(0x41, 12, 76); // 64 x 'A', no NUL
    forEachSplit(b, () => hostParser(), (out, label) => {
      assert.deepEqual(out, [{ type: 'hello', id: 0n, version: 'A'.repeat(63), caps: [0xff, 0x80000000, 0] }], label);
    });
  });

  it('returns data as a view of the fed chunk when a packet lies in one chunk', () => {
    const stream = Buffer.concat([guestHello, bulkOut64]);
    const p = hostParser();
    const [, bulk] = p.feed(stream) as [UsbredirPacket, { data: Buffer }];
    assert.equal(bulk.data.buffer, stream.buffer);
  });

  it('end() reports a stream cut inside a packet', () => {
    const p = hostParser();
    p.feed(guestHello);
    p.feed(bulkOut64.subarray(0, 10));
    assert.throws(() => p.end(), (e: unknown) => e instanceof ProtocolError && /inside a packet header \(10 of 16 bytes\)/.test(e.message));
    const q = hostParser();
    q.feed(Buffer.concat([guestHello, bulkOut64.subarray(0, 30)]));
    assert.equal(q.bufferedBytes, 30 - 16 - 10);
    assert.throws(() => q.end(), /inside a bulk_packet packet \(14 of 41 bytes after the header\)/);
  });
});

describe('usbredir parser: host -> guest fixtures (fake guest side)', () => {
  const guestParser = (caps: readonly number[] = ALL_CAPS): UsbredirParser => new UsbredirParser({ role: 'usb-guest', caps: [...caps] });
  const hostHello = helloBytes('spicectl test', [0xff]);

  it('device_connect is 10 bytes with connect_device_version, 8 without', () => {
    const dc10 = hex('01000000 0a000000 0000000000000000  02 00 00 00 232b cdcd 0001');
    const want = { type: 'deviceConnect', id: 0n, speed: 2, deviceClass: 0, deviceSubclass: 0, deviceProtocol: 0, vendorId: 0x2b23, productId: 0xcdcd };
    forEachSplit(Buffer.concat([hostHello, dc10]), () => guestParser(), (out, label) => {
      assert.deepEqual(out[1], { ...want, deviceVersionBcd: 0x0100 }, label);
    });
    const ours = withoutCap(ALL_CAPS, Cap.connectDeviceVersion);
    const dc8 = hex('01000000 08000000 0000000000000000  02 00 00 00 232b cdcd');
    forEachSplit(Buffer.concat([hostHello, dc8]), () => guestParser(ours), (out, label) => {
      assert.deepEqual(out[1], want, label);
    });
    // a 10-byte device_connect where only 8 are negotiated is an error
    assertProtocolErrors(Buffer.concat([hostHello, dc10]), () => guestParser(ours), /device_connect length 10 != 8/);
  });

  it('interface_info: count then four 32-byte arrays', () => {
    const ii = Buffer.alloc(16 + 132);
    hex('04000000 84000000 0000000000000000').copy(ii, 0);
    ii.writeUInt32LE(1, 16); // interface_count
    ii[16 + 4] = 0; // interface[0]
    ii[16 + 36] = 0x08; // interface_class[0]
    ii[16 + 68] = 0x06; // interface_subclass[0]
    ii[16 + 100] = 0x50; // interface_protocol[0]
    forEachSplit(Buffer.concat([hostHello, ii]), () => guestParser(), (out, label) => {
      assert.deepEqual(out[1], { type: 'interfaceInfo', id: 0n, interfaces: [{ number: 0, class: 8, subclass: 6, protocol: 0x50 }] }, label);
    });
    ii.writeUInt32LE(33, 16);
    assertProtocolErrors(Buffer.concat([hostHello, ii]), () => guestParser(), /interface_count 33 > 32/);
  });

  it('ep_info: 160 bytes with max_packet_size (no bulk streams), entries indexed OUT 0-15 / IN 16-31', () => {
    const ours = withoutCap(ALL_CAPS, Cap.bulkStreams);
    const ep = Buffer.alloc(16 + 160);
    hex('05000000 a0000000 0000000000000000').copy(ep, 0);
    const th = ep.subarray(16);
    th.fill(255, 0, 32); // all invalid
    th[0] = 0; th[16] = 0; // EP0 control
    th[2] = 2; th[17] = 2; // 0x02 OUT bulk, 0x81 IN bulk
    th.writeUInt16LE(64, 96 + 0); th.writeUInt16LE(64, 96 + 32);
    th.writeUInt16LE(512, 96 + 4); th.writeUInt16LE(512, 96 + 34);
    forEachSplit(Buffer.concat([hostHello, ep]), () => guestParser(ours), (out, label) => {
      const e = (out[1] as { endpoints: { type: number; maxPacketSize?: number; maxStreams?: number }[] }).endpoints;
      assert.equal(e.length, 32, label);
      assert.deepEqual(e[17], { type: 2, interval: 0, interface: 0, maxPacketSize: 512 });
      assert.deepEqual(e[2], { type: 2, interval: 0, interface: 0, maxPacketSize: 512 });
      assert.deepEqual(e[16], { type: 0, interval: 0, interface: 0, maxPacketSize: 64 });
      assert.equal(e[3]!.type, 255);
      assert.equal(e[3]!.maxStreams, undefined);
    });
  });

  it('control IN reply carries exactly length bytes of data', () => {
    const devDesc = hex('12010002000000404d2b cdcd 0001 010203 01');
    const reply = Buffer.concat([hex('64000000 1c000000 0100000000000000  80 06 80 00 0001 0000 1200'), devDesc]);
    forEachSplit(Buffer.concat([hostHello, reply]), () => guestParser(), (out, label) => {
      assert.deepEqual((out[1] as { data: Buffer }).data, devDesc, label);
    });
  });
});

describe('usbredir parser: malformed input', () => {
  const afterHello = (b: string | Buffer): Buffer => Buffer.concat([guestHello, typeof b === 'string' ? hex(b) : b]);

  it('requires hello first, and only once', () => {
    assertProtocolErrors(hex('03000000 00000000 00000000'), () => hostParser(), /expected hello as the first packet from the usb-guest, got reset/);
    assertProtocolErrors(Buffer.concat([guestHello, guestHello]), () => hostParser(), /second hello/);
  });

  it('unknown type and types the sender may not send', () => {
    assertProtocolErrors(afterHello('32000000 00000000 0000000000000000'), () => hostParser(), /unknown packet type 50/);
    assertProtocolErrors(afterHello('01000000 0a000000 0000000000000000 02000000232bcdcd0001'), () => hostParser(), /device_connect may not be sent by the usb-guest/);
    const guestSide = (): UsbredirParser => new UsbredirParser({ role: 'usb-guest', caps: [0xff] });
    assertProtocolErrors(Buffer.concat([helloBytes('h', [0xff]), hex('03000000 00000000 0000000000000000')]), guestSide, /reset may not be sent by the usb-host/);
  });

  it('hello: caps part not a multiple of 4, too short, too long', () => {
    const h = Buffer.concat([hex('00000000 42000000 00000000'), Buffer.alloc(66)]);
    assertProtocolErrors(h, () => hostParser(), /caps part 2 is not a multiple of 4/);
    assertProtocolErrors(Buffer.concat([hex('00000000 10000000 00000000'), Buffer.alloc(16)]), () => hostParser(), /hello length 16 is shorter than its 64-byte header/);
    assertProtocolErrors(hex('00000000 00000100 00000000'), () => hostParser(), /hello length 65536 exceeds/);
  });

  it('length smaller than the type header, or data on a type without data', () => {
    assertProtocolErrors(afterHello('06000000 00000000 0000000000000000'), () => hostParser(), /set_configuration length 0 is shorter than its 1-byte header/);
    assertProtocolErrors(afterHello('07000000 03000000 0000000000000000 000000'), () => hostParser(), /get_configuration length 3 != 0 \(this packet carries no data\)/);
  });

  it('data where the direction forbids it, and data length != header length', () => {
    // control IN request from the guest must not carry data
    assertProtocolErrors(afterHello('64000000 0c000000 0100000000000000 80068000 0001 0000 1200 abcd'), () => hostParser(), /control_packet ep 0x80 from usb-guest: 2 unexpected data bytes/);
    // control OUT request from the guest must carry exactly wLength bytes
    assertProtocolErrors(afterHello('64000000 0c000000 0100000000000000 00090000 0100 0000 0300 abcd'), () => hostParser(), /control_packet ep 0x00: 2 data bytes but header length 3/);
    // iso IN from the guest (no data) is the wrong direction; so is interrupt IN
    assertProtocolErrors(afterHello('66000000 04000000 0100000000000000 83 00 0800'), () => hostParser(), /iso_packet ep 0x83 sent by usb-guest in the wrong direction/);
    assertProtocolErrors(afterHello('67000000 04000000 0100000000000000 84 00 0800'), () => hostParser(), /interrupt_packet on IN endpoint 0x84 sent by usb-guest/);
    assertProtocolErrors(afterHello('0f000000 01000000 0100000000000000 02'), () => hostParser(), /start_interrupt_receiving on OUT endpoint 0x02/);
  });

  it('caps the receiver lacks: filter_filter, device_disconnect_ack, bulk receiving', () => {
    const noFilter = withoutCap(ALL_CAPS, Cap.filter);
    assertProtocolErrors(Buffer.concat([guestHello, filterFilter64]), () => hostParser(noFilter), /filter_filter sent to a usb-host without cap filter/);
    assertProtocolErrors(afterHello('18000000 00000000 0000000000000000'), () => hostParser(withoutCap(ALL_CAPS, Cap.deviceDisconnectAck)), /device_disconnect_ack sent to a usb-host without cap/);
    assertProtocolErrors(afterHello('19000000 0a000000 0000000000000000 01000000 00020000 81 04'), () => hostParser(withoutCap(ALL_CAPS, Cap.bulkReceiving)), /start_bulk_receiving sent to a usb-host without cap bulk_receiving/);
  });

  it('filter_filter must be NUL-terminated and non-empty', () => {
    assertProtocolErrors(afterHello('17000000 03000000 0000000000000000 2d3131'), () => hostParser(), /not NUL-terminated/);
    assertProtocolErrors(afterHello('17000000 00000000 0000000000000000'), () => hostParser(), /filter_filter without data/);
  });

  it('bulk length over 128 MiB is refused from the type header, before any data', () => {
    // IN request of (0x0801 << 16) bytes = 128 MiB + 64 KiB
    assertProtocolErrors(afterHello('65000000 0a000000 0100000000000000 81 00 0000 00000000 0108'), () => hostParser(), /bulk_packet: length 134283264 > 134217728/);
    // buffered_bulk_packet is H->G only; a guest-side parser checks its length
    const guestSide = (): UsbredirParser => new UsbredirParser({ role: 'usb-guest', caps: [0xff] });
    const bb = hex('68000000 0a000000 0000000000000000 00000000 01000008 81 00'); // length 0x08000001
    assertProtocolErrors(Buffer.concat([helloBytes('h', [0xff]), bb]), guestSide, /buffered_bulk_packet: length 134217729 > 134217728/);
  });

  it('header.length over the cap is refused right after the header', () => {
    assertProtocolErrors(afterHello('65000000 ffffffff 0100000000000000'), () => hostParser(), /bulk_packet length 4294967295 exceeds the 134218752-byte limit/);
    assertProtocolErrors(afterHello('65000000 0a100000 0100000000000000'), () => hostParser(ALL_CAPS, 4096), /length 4106 exceeds the 4096-byte limit/);
    assert.equal(MAX_PACKET_LENGTH, 134218752);
  });

  it('garbage gives ProtocolError at every split', () => {
    assertProtocolErrors(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), () => hostParser(), /unknown packet type|expected hello/);
  });

  it('stays failed after an error', () => {
    const p = hostParser();
    assert.throws(() => p.feed(hex('63000000 00000000 00000000')), ProtocolError);
    assert.throws(() => p.feed(guestHello), /unknown packet type 99/);
    assert.ok(p.error instanceof ProtocolError);
  });

  it('never allocates from a declared length before the bytes arrive', () => {
    const p = hostParser();
    p.feed(guestHello);
    // a valid 100 MiB bulk OUT: header + type header, then a trickle of data
    const len = 100 * 1024 * 1024;
    const head = Buffer.alloc(26);
    head.writeUInt32LE(101, 0);
    head.writeUInt32LE(10 + len, 4);
    head.writeBigUInt64LE(1n, 8);
    head[16] = 0x02;
    head.writeUInt16LE(len & 0xffff, 18);
    head.writeUInt16LE(len >>> 16, 24);
    const sizes: number[] = [];
    const orig = { alloc: Buffer.alloc, allocUnsafe: Buffer.allocUnsafe, allocUnsafeSlow: Buffer.allocUnsafeSlow };
    Buffer.alloc = ((n: number, ...rest: unknown[]) => (sizes.push(n), (orig.alloc as (...a: unknown[]) => Buffer)(n, ...rest))) as typeof Buffer.alloc;
    Buffer.allocUnsafe = ((n: number) => (sizes.push(n), orig.allocUnsafe(n))) as typeof Buffer.allocUnsafe;
    Buffer.allocUnsafeSlow = ((n: number) => (sizes.push(n), orig.allocUnsafeSlow(n))) as typeof Buffer.allocUnsafeSlow;
    try {
      for (let i = 0; i < head.length; i++) assert.deepEqual(p.feed(head.subarray(i, i + 1)), []);
      for (let i = 0; i < 100; i++) assert.deepEqual(p.feed(Buffer.alloc(1000)), []);
    } finally {
      Object.assign(Buffer, orig);
    }
    assert.ok(sizes.every((n) => n <= 64 * 1024), `allocations: ${sizes.filter((n) => n > 64 * 1024).join(', ')}`);
    assert.equal(p.bufferedBytes, 100_000);
    assert.equal(p.idle, false);
  });
});

describe('usbredir writer: byte-exact fixtures', () => {
  it('hello is 12-byte header + version[64] + caps', () => {
    const w = new UsbredirWriter({ role: 'usb-guest', caps: [0xff] });
    assert.deepEqual(w.hello(QEMU_VERSION), guestHello);
  });

  it('guest packets match the hand-written fixtures after the hello exchange', () => {
    const w = new UsbredirWriter({ role: 'usb-guest', caps: [0xff] });
    w.setPeerCaps([0xff]);
    assert.deepEqual(
      w.encode({ type: 'controlPacket', id: 0x0102030405060708n, endpoint: 0x80, request: 6, requestType: 0x80, status: 0, value: 0x100, index: 0, length: 18, data: Buffer.alloc(0) }),
      getDescriptor64,
    );
    assert.deepEqual(w.encode({ type: 'bulkPacket', id: 5n, endpoint: 2, status: 0, length: 31, streamId: 0, data: cbw }), bulkOut64);
    assert.deepEqual(w.encode({ type: 'bulkPacket', id: 6n, endpoint: 0x81, status: 0, length: 0x10200, streamId: 0, data: Buffer.alloc(0) }), bulkInBig64);
    assert.deepEqual(w.encode({ type: 'filterFilter', id: 0n, filter }), filterFilter64);
    assert.deepEqual(w.encode({ type: 'setConfiguration', id: 9n, configuration: 1 }), setConfig64);
    const parts = w.encodeParts({ type: 'bulkPacket', id: 5n, endpoint: 2, status: 0, length: 31, streamId: 0, data: cbw });
    assert.equal(parts.length, 2);
    assert.equal(parts[1], cbw); // data not copied
  });
});
