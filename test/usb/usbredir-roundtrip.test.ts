// writer -> parser round trips for every packet type, both directions, under several caps
// sets; each stream is fed whole, in 1-byte pieces and in random splits.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { ALL_CAPS, makeCaps, negotiate, withoutCap, type NegotiatedCaps } from '../../src/usb/usbredir/caps.js';
import { UsbredirParser } from '../../src/usb/usbredir/parser.js';
import {
  Cap,
  EpType,
  PACKET_SENDER,
  PacketType,
  Speed,
  Status,
  type PacketTypeName,
  type UsbredirEndpointInfo,
  type UsbredirPacket,
  type UsbredirRole,
} from '../../src/usb/usbredir/proto.js';
import { UsbredirWriter } from '../../src/usb/usbredir/writer.js';
import { forEachSplit } from './chunking.js';

interface CapsCase {
  name: string;
  host: number[];
  guest: number[];
}

const noIds64Guest = withoutCap(withoutCap(ALL_CAPS, Cap.ids64), Cap.bulkLength32);
const CASES: CapsCase[] = [
  { name: 'no caps', host: [0], guest: [0] },
  { name: 'all caps (QEMU + spice-gtk)', host: [...ALL_CAPS], guest: [...ALL_CAPS] },
  { name: 'old guest: no 64-bit ids, no 32-bit bulk length', host: [...ALL_CAPS], guest: noIds64Guest },
  { name: 'host: max packet size + filter + 64-bit ids only', host: makeCaps(Cap.epInfoMaxPacketSize, Cap.filter, Cap.ids64), guest: [...ALL_CAPS] },
  // bulk streams without ep_info_max_packet_size is not allowed: treated as no bulk streams
  { name: 'host: bulk streams without max packet size', host: withoutCap(ALL_CAPS, Cap.epInfoMaxPacketSize), guest: [...ALL_CAPS] },
  { name: 'guest: extra caps word', host: [...ALL_CAPS], guest: [0xff, 0xffffffff] },
];

const bytes = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

function endpoints(): UsbredirEndpointInfo[] {
  return Array.from({ length: 32 }, (_, i) => ({
    type: i === 0 || i === 16 ? EpType.control : i % 5 === 0 ? EpType.invalid : (i % 3) + 1,
    interval: i % 7,
    interface: i % 4,
    maxPacketSize: 8 * i,
    maxStreams: i * 1000,
  }));
}

/** What a usb-host sends (H->G). `big` ids need 64-bit headers. */
function hostPackets(id: (n: number) => bigint, neg: NegotiatedCaps): UsbredirPacket[] {
  const out: UsbredirPacket[] = [
    { type: 'interfaceInfo', id: 0n, interfaces: [{ number: 0, class: 8, subclass: 6, protocol: 0x50 }, { number: 1, class: 3, subclass: 0, protocol: 0 }] },
    { type: 'interfaceInfo', id: 0n, interfaces: Array.from({ length: 32 }, (_, i) => ({ number: i, class: 255 - i, subclass: i * 2, protocol: i * 3 })) },
    { type: 'epInfo', id: 0n, endpoints: endpoints() },
    { type: 'deviceConnect', id: 0n, speed: Speed.high, deviceClass: 0, deviceSubclass: 0, deviceProtocol: 0, vendorId: 0x2b23, productId: 0xcdcd, deviceVersionBcd: 0x0100 },
    { type: 'configurationStatus', id: id(1), status: Status.success, configuration: 1 },
    { type: 'altSettingStatus', id: id(2), status: Status.stall, interface: 1, alt: 2 },
    { type: 'isoStreamStatus', id: id(3), status: Status.success, endpoint: 0x83 },
    { type: 'interruptReceivingStatus', id: id(4), status: Status.success, endpoint: 0x84 },
    { type: 'bulkStreamsStatus', id: id(5), endpoints: 0x00060000, noStreams: 16, status: Status.inval },
    { type: 'controlPacket', id: id(6), endpoint: 0x80, request: 6, requestType: 0x80, status: 0, value: 0x0100, index: 0, length: 18, data: bytes(18, 1) },
    { type: 'controlPacket', id: id(7), endpoint: 0x00, request: 9, requestType: 0x00, status: 0, value: 1, index: 0, length: 0, data: Buffer.alloc(0) },
    { type: 'controlPacket', id: id(8), endpoint: 0x80, request: 6, requestType: 0x80, status: Status.stall, value: 0x0600, index: 0, length: 0, data: Buffer.alloc(0) },
    { type: 'bulkPacket', id: id(9), endpoint: 0x81, status: 0, length: 512, streamId: 0, data: bytes(512, 2) },
    { type: 'bulkPacket', id: id(10), endpoint: 0x02, status: 0, length: 31, streamId: 7, data: Buffer.alloc(0) },
    { type: 'bulkPacket', id: id(11), endpoint: 0x81, status: Status.cancelled, length: 0, streamId: 0, data: Buffer.alloc(0) },
    { type: 'isoPacket', id: id(12), endpoint: 0x83, status: 0, length: 3, data: bytes(3, 3) },
    { type: 'interruptPacket', id: id(13), endpoint: 0x84, status: 0, length: 8, data: bytes(8, 4) },
    { type: 'interruptPacket', id: id(14), endpoint: 0x05, status: 0, length: 4, data: Buffer.alloc(0) },
    { type: 'deviceDisconnect', id: 0n },
  ];
  if (neg.has(Cap.bulkLength32)) {
    out.push({ type: 'bulkPacket', id: id(15), endpoint: 0x81, status: 0, length: 70000, streamId: 0, data: bytes(70000, 5) });
  }
  if (neg.peerHas(Cap.filter)) out.push({ type: 'filterFilter', id: 0n, filter: '0x08,-1,-1,-1,1|-1,-1,-1,-1,0' });
  if (neg.peerHas(Cap.bulkReceiving)) {
    out.push({ type: 'bulkReceivingStatus', id: id(16), streamId: 3, endpoint: 0x81, status: Status.success });
    out.push({ type: 'bufferedBulkPacket', id: id(17), streamId: 3, length: 100, endpoint: 0x81, status: 0, data: bytes(100, 6) });
  }
  return out;
}

/** What a usb-guest sends (G->H). */
function guestPackets(id: (n: number) => bigint, neg: NegotiatedCaps): UsbredirPacket[] {
  const out: UsbredirPacket[] = [
    { type: 'reset', id: 0n },
    { type: 'setConfiguration', id: id(1), configuration: 1 },
    { type: 'getConfiguration', id: id(2) },
    { type: 'setAltSetting', id: id(3), interface: 1, alt: 2 },
    { type: 'getAltSetting', id: id(4), interface: 1 },
    { type: 'startIsoStream', id: id(5), endpoint: 0x83, pktsPerUrb: 32, noUrbs: 3 },
    { type: 'stopIsoStream', id: id(6), endpoint: 0x83 },
    { type: 'startInterruptReceiving', id: id(7), endpoint: 0x84 },
    { type: 'stopInterruptReceiving', id: id(8), endpoint: 0x84 },
    { type: 'allocBulkStreams', id: id(9), endpoints: 0x00060000, noStreams: 16 },
    { type: 'freeBulkStreams', id: id(10), endpoints: 0x00060000 },
    { type: 'cancelDataPacket', id: id(11) },
    { type: 'controlPacket', id: id(12), endpoint: 0x80, request: 6, requestType: 0x80, status: 0, value: 0x0200, index: 0, length: 255, data: Buffer.alloc(0) },
    { type: 'controlPacket', id: id(13), endpoint: 0x00, request: 0xff, requestType: 0x21, status: 0, value: 0, index: 0, length: 4, data: bytes(4, 7) },
    { type: 'bulkPacket', id: id(14), endpoint: 0x81, status: 0, length: 512, streamId: 0, data: Buffer.alloc(0) },
    { type: 'bulkPacket', id: id(15), endpoint: 0x02, status: 0, length: 31, streamId: 0, data: bytes(31, 8) },
    { type: 'isoPacket', id: id(16), endpoint: 0x03, status: 0, length: 5, data: bytes(5, 9) },
    { type: 'interruptPacket', id: id(17), endpoint: 0x02, status: 0, length: 6, data: bytes(6, 10) },
  ];
  if (neg.has(Cap.bulkLength32)) {
    out.push({ type: 'bulkPacket', id: id(18), endpoint: 0x81, status: 0, length: 131072, streamId: 0, data: Buffer.alloc(0) });
    out.push({ type: 'bulkPacket', id: id(19), endpoint: 0x02, status: 0, length: 65537, streamId: 0, data: bytes(65537, 11) });
  }
  if (neg.peerHas(Cap.filter)) {
    out.push({ type: 'filterReject', id: 0n });
    out.push({ type: 'filterFilter', id: 0n, filter: '0x03,-1,-1,-1,0|-1,-1,-1,-1,1' });
  }
  if (neg.peerHas(Cap.deviceDisconnectAck)) out.push({ type: 'deviceDisconnectAck', id: 0n });
  if (neg.peerHas(Cap.bulkReceiving)) {
    out.push({ type: 'startBulkReceiving', id: id(20), streamId: 3, bytesPerTransfer: 16384, endpoint: 0x81, noTransfers: 4 });
    out.push({ type: 'stopBulkReceiving', id: id(21), streamId: 3, endpoint: 0x81 });
  }
  return out;
}

/** The packet as the receiving parser should report it under the negotiated caps. */
function expected(p: UsbredirPacket, shared: NegotiatedCaps): UsbredirPacket {
  switch (p.type) {
    case 'deviceConnect': {
      const { deviceVersionBcd, ...rest } = p;
      return shared.has(Cap.connectDeviceVersion) ? { ...rest, deviceVersionBcd } : rest;
    }
    case 'epInfo':
      return {
        ...p,
        endpoints: p.endpoints.map(({ maxPacketSize, maxStreams, ...e }) => ({
          ...e,
          ...(shared.has(Cap.epInfoMaxPacketSize) ? { maxPacketSize } : {}),
          ...(shared.has(Cap.bulkStreams) ? { maxStreams } : {}),
        })),
      };
    default:
      return p;
  }
}

interface Link {
  writer: UsbredirWriter;
  helloBytes: Buffer;
  hello: UsbredirPacket;
  /** Negotiated caps as seen by the sender (ours = sender's, peer = receiver's). */
  neg: NegotiatedCaps;
  receiver: () => UsbredirParser;
}

function link(sender: UsbredirRole, senderCaps: number[], receiverCaps: number[]): Link {
  const writer = new UsbredirWriter({ role: sender, caps: senderCaps });
  const version = `${sender} test`;
  const helloBytes = writer.hello(version);
  writer.setPeerCaps(receiverCaps);
  const receiverRole: UsbredirRole = sender === 'usb-host' ? 'usb-guest' : 'usb-host';
  return {
    writer,
    helloBytes,
    hello: { type: 'hello', id: 0n, version, caps: senderCaps },
    neg: negotiate(senderCaps, receiverCaps),
    receiver: () => new UsbredirParser({ role: receiverRole, caps: receiverCaps }),
  };
}

describe('usbredir writer -> parser round trips', () => {
  for (const c of CASES) {
    for (const sender of ['usb-host', 'usb-guest'] as const) {
      it(`${sender} -> peer, ${c.name}`, () => {
        const [mine, theirs] = sender === 'usb-host' ? [c.host, c.guest] : [c.guest, c.host];
        const l = link(sender, mine, theirs);
        const wide = l.neg.has(Cap.ids64);
        const id = (n: number): bigint => (wide ? (1n << 40n) + BigInt(n) : BigInt(n) + 0xffff0000n);
        const packets = sender === 'usb-host' ? hostPackets(id, l.neg) : guestPackets(id, l.neg);
        const stream = Buffer.concat([l.helloBytes, ...packets.map((p) => l.writer.encode(p))]);
        const want = [l.hello, ...packets.map((p) => expected(p, l.neg))];
        forEachSplit(stream, l.receiver, (out, label, parser) => {
          assert.equal(out.length, want.length, label);
          for (let i = 0; i < want.length; i++) assert.deepEqual(out[i], want[i], `${label}: packet ${i} (${want[i]!.type})`);
          assert.ok(parser.idle, label);
          assert.equal(parser.headerSize, wide ? 16 : 12);
        }, 3);
      });
    }
  }

  it('covers every packet type in at least one direction', () => {
    const seen = new Set<PacketTypeName>(['hello']);
    const neg = negotiate(ALL_CAPS, ALL_CAPS);
    for (const p of [...hostPackets(BigInt, neg), ...guestPackets(BigInt, neg)]) seen.add(p.type);
    assert.deepEqual([...seen].sort(), (Object.keys(PacketType) as PacketTypeName[]).sort());
  });
});

describe('usbredir writer refuses misuse', () => {
  const host = (): UsbredirWriter => {
    const w = new UsbredirWriter({ role: 'usb-host', caps: [...ALL_CAPS] });
    w.setPeerCaps(noIds64Guest);
    return w;
  };

  it('nothing but hello before the peer hello', () => {
    const w = new UsbredirWriter({ role: 'usb-host', caps: [0xff] });
    assert.throws(() => w.encode({ type: 'deviceDisconnect', id: 0n }), /before the peer's hello/);
  });

  it('packet types of the other role', () => {
    for (const [name, sender] of Object.entries(PACKET_SENDER)) {
      if (sender !== 'usb-guest') continue;
      assert.throws(() => host().encode({ type: name, id: 0n } as unknown as UsbredirPacket), /a usb-host may not send/);
    }
  });

  it('ids too large for the header, values out of range, wrong-direction data', () => {
    assert.throws(() => host().encode({ type: 'configurationStatus', id: 1n << 32n, status: 0, configuration: 1 }), /does not fit the 32-bit id header/);
    assert.throws(() => host().encode({ type: 'configurationStatus', id: 1n, status: 256, configuration: 1 }), /status=256 is not a u8/);
    assert.throws(
      () => host().encode({ type: 'bulkPacket', id: 1n, endpoint: 0x81, status: 0, length: 70000, streamId: 0, data: Buffer.alloc(70000) }),
      /needs cap 32bits_bulk_length/,
    );
    assert.throws(
      () => host().encode({ type: 'bulkPacket', id: 1n, endpoint: 0x02, status: 0, length: 3, streamId: 0, data: Buffer.alloc(3) }),
      /3 unexpected data bytes/,
    );
    assert.throws(
      () => host().encode({ type: 'controlPacket', id: 1n, endpoint: 0x80, request: 6, requestType: 0x80, status: 0, value: 0, index: 0, length: 18, data: Buffer.alloc(17) }),
      /17 data bytes but header length 18/,
    );
    assert.throws(() => host().encode({ type: 'deviceConnect', id: 0n, speed: 2, deviceClass: 0, deviceSubclass: 0, deviceProtocol: 0, vendorId: 1, productId: 2 }), /needs deviceVersionBcd/);
    assert.throws(() => host().encode({ type: 'interfaceInfo', id: 0n, interfaces: Array(33).fill({ number: 0, class: 0, subclass: 0, protocol: 0 }) }), /interface_count 33 > 32/);
    assert.throws(() => new UsbredirWriter({ role: 'usb-host', caps: [1] }).hello('x'.repeat(64)), /at most 63 bytes/);
  });

  it('packets needing a cap the receiver lacks', () => {
    const w = new UsbredirWriter({ role: 'usb-host', caps: [...ALL_CAPS] });
    w.setPeerCaps([0]);
    assert.throws(() => w.encode({ type: 'filterFilter', id: 0n, filter: '-1,-1,-1,-1,1' }), /without cap filter/);
    assert.throws(() => w.encode({ type: 'bulkReceivingStatus', id: 0n, streamId: 0, endpoint: 0x81, status: 0 }), /without cap bulk_receiving/);
  });

  it('ep_info pads missing entries with type invalid', () => {
    const w = host();
    const g = new UsbredirParser({ role: 'usb-guest', caps: noIds64Guest });
    g.feed(new UsbredirWriter({ role: 'usb-host', caps: [...ALL_CAPS] }).hello('h'));
    const [p] = g.feed(w.encode({ type: 'epInfo', id: 0n, endpoints: [{ type: EpType.control, interval: 0, interface: 0, maxPacketSize: 64 }] }));
    assert.ok(p && p.type === 'epInfo');
    assert.deepEqual(p.endpoints[0], { type: 0, interval: 0, interface: 0, maxPacketSize: 64, maxStreams: 0 });
    assert.deepEqual(p.endpoints[31], { type: 255, interval: 0, interface: 0, maxPacketSize: 0, maxStreams: 0 });
  });
});

describe('usbredir caps-dependent sizes (digest §9.3 table)', () => {
  const sizes = (hostCaps: number[], guestCaps: number[]): Record<string, number> => {
    const w = new UsbredirWriter({ role: 'usb-host', caps: hostCaps });
    w.setPeerCaps(guestCaps);
    const len = (p: UsbredirPacket): number => w.encode(p).readUInt32LE(4);
    const hdr = (p: UsbredirPacket): number => w.encode(p).length - len(p);
    return {
      header: hdr({ type: 'deviceDisconnect', id: 0n }),
      deviceConnect: len({ type: 'deviceConnect', id: 0n, speed: 2, deviceClass: 0, deviceSubclass: 0, deviceProtocol: 0, vendorId: 1, productId: 2, deviceVersionBcd: 3 }),
      epInfo: len({ type: 'epInfo', id: 0n, endpoints: [] }),
      bulk: len({ type: 'bulkPacket', id: 0n, endpoint: 0x02, status: 0, length: 1, streamId: 0, data: Buffer.alloc(0) }),
      interfaceInfo: len({ type: 'interfaceInfo', id: 0n, interfaces: [] }),
    };
  };
  it('no shared caps: 12 / 8 / 96 / 8 / 132', () => {
    assert.deepEqual(sizes([...ALL_CAPS], [0]), { header: 12, deviceConnect: 8, epInfo: 96, bulk: 8, interfaceInfo: 132 });
  });
  it('all caps: 16 / 10 / 288 / 10 / 132', () => {
    assert.deepEqual(sizes([...ALL_CAPS], [...ALL_CAPS]), { header: 16, deviceConnect: 10, epInfo: 288, bulk: 10, interfaceInfo: 132 });
  });
  it('max packet size without bulk streams: ep_info 160', () => {
    assert.equal(sizes([...ALL_CAPS], withoutCap(ALL_CAPS, Cap.bulkStreams)).epInfo, 160);
    assert.equal(sizes(withoutCap(ALL_CAPS, Cap.epInfoMaxPacketSize), [...ALL_CAPS]).epInfo, 96);
  });
});
