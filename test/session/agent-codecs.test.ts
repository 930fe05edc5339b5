// VD agent wire codecs: framing, 2048-byte chunking, reassembly in any split, caps, clipboard
// framing (selection prefix, grab serial), monitors config, file transfer messages.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { splits } from '../helpers/chunks.js';
import { Writer } from '../../src/session/wire/writer.js';
import { ProtocolError } from '../../src/util/errors.js';
import {
  AGENT_HEADER_SIZE, AGENT_MAX_DATA_SIZE, AgentMsg, AgentReassembler, FileXferStatus, chunkAgentMessage,
  describeFileXferStatus, encodeAgentMessage, encodeAnnounceCaps, encodeClipboardData, encodeClipboardGrab,
  encodeClipboardRelease, encodeClipboardRequest, encodeFileXferData, encodeFileXferStart, encodeFileXferStatus,
  encodeMaxClipboard, encodeMonitorsConfig, keyFileEscape, parseAnnounceCaps, parseClipboardData, parseClipboardGrab,
  parseClipboardRelease, parseClipboardRequest, parseFileXferData, parseFileXferStart, parseFileXferStatus,
  parseMonitorsConfig, parseReply, encodeReply, type AgentMessage,
} from '../../src/session/wire/messages/agent.js';

const seeded = (seed: number) => {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) >>> 0) % 100000) / 100000;
};

const payload = (n: number, seed = 7) => {
  const r = seeded(seed);
  return Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
};

describe('agent message framing', () => {
  test('header: protocol 1, type, opaque 0, size', () => {
    const m = encodeAgentMessage(AgentMsg.clipboard, Buffer.from('abc'));
    assert.equal(m.length, AGENT_HEADER_SIZE + 3);
    assert.equal(m.readUInt32LE(0), 1);
    assert.equal(m.readUInt32LE(4), AgentMsg.clipboard);
    assert.equal(m.readBigUInt64LE(8), 0n);
    assert.equal(m.readUInt32LE(16), 3);
    assert.equal(m.subarray(20).toString(), 'abc');
  });

  test('chunking: every AGENT_DATA <= 2048 bytes, the first carries the header, nothing spans two messages', () => {
    for (const n of [0, 1, 2028, 2029, 4096, 10_000, 65_536 + 12]) {
      const m = encodeAgentMessage(AgentMsg.fileXferData, payload(n));
      const chunks = chunkAgentMessage(m);
      assert.ok(chunks.every((c) => c.length <= AGENT_MAX_DATA_SIZE && c.length > 0), `sizes for ${n}`);
      assert.ok(chunks[0]!.length >= AGENT_HEADER_SIZE);
      assert.equal(chunks[0]!.readUInt32LE(16), n);
      assert.deepEqual(Buffer.concat(chunks), m);
      assert.equal(chunks.length, Math.ceil((n + AGENT_HEADER_SIZE) / AGENT_MAX_DATA_SIZE));
      // spice-gtk's layout: header + 2028 data bytes, then 2048-byte pieces
      if (n > 2028) assert.equal(chunks[0]!.length, 2048);
    }
  });

  const stream = Buffer.concat([
    encodeAgentMessage(AgentMsg.announceCapabilities, encodeAnnounceCaps(false, [0x3ffff])),
    encodeAgentMessage(AgentMsg.clipboardRelease, Buffer.alloc(0)),
    encodeAgentMessage(AgentMsg.clipboard, payload(5000, 3)),
    encodeAgentMessage(AgentMsg.reply, encodeReply(AgentMsg.monitorsConfig, 1)),
  ]);

  for (const { name, chunks } of splits(stream)) {
    test(`reassembly: ${name}`, () => {
      const r = new AgentReassembler(() => 1 << 20);
      const got: AgentMessage[] = [];
      for (const c of chunks) got.push(...r.feed(c));
      assert.equal(got.length, 4);
      assert.deepEqual(got.map((m) => m.type), [AgentMsg.announceCapabilities, AgentMsg.clipboardRelease, AgentMsg.clipboard, AgentMsg.reply]);
      assert.equal(got[1]!.data.length, 0);
      assert.deepEqual(got[2]!.data, payload(5000, 3));
      assert.deepEqual(parseReply(got[3]!.data), { type: AgentMsg.monitorsConfig, error: 1 });
      assert.ok(r.idle);
    });
  }

  test('reassembly: a message over the limit is skipped (not kept), reported, and the stream stays in step', () => {
    const big = encodeAgentMessage(AgentMsg.clipboard, payload(10_000));
    const after = encodeAgentMessage(AgentMsg.reply, encodeReply(2, 1));
    for (const { chunks } of splits(Buffer.concat([big, after]), [5, 9])) {
      const r = new AgentReassembler((t) => (t === AgentMsg.clipboard ? 100 : 1 << 20));
      const got: AgentMessage[] = [];
      for (const c of chunks) got.push(...r.feed(c));
      assert.equal(got.length, 2);
      assert.equal(got[0]!.dropped, true);
      assert.equal(got[0]!.size, 10_000);
      assert.equal(got[0]!.data.length, 0);
      assert.equal(got[1]!.type, AgentMsg.reply);
    }
  });

  test('reassembly: a wrong protocol number is a ProtocolError', () => {
    const m = encodeAgentMessage(AgentMsg.reply, encodeReply(2, 1));
    m.writeUInt32LE(2, 0);
    assert.throws(() => new AgentReassembler(() => 100).feed(m), (e) => e instanceof ProtocolError && /protocol 2/.test(e.message));
  });
});

describe('agent message data', () => {
  test('ANNOUNCE_CAPABILITIES: request flag and caps words', () => {
    const b = encodeAnnounceCaps(true, [0x3f077, 1]);
    assert.deepEqual(parseAnnounceCaps(b), { request: true, caps: [0x3f077, 1] });
    assert.deepEqual(parseAnnounceCaps(new Writer().u32(0).finish()), { request: false, caps: [] });
  });

  test('clipboard without selection/serial caps: bare type fields', () => {
    const f = { selection: false, serial: false };
    const g = encodeClipboardGrab(f, 0, 5, [1, 2]);
    assert.deepEqual(g, new Writer().u32(1).u32(2).finish());
    assert.deepEqual(parseClipboardGrab(f, g), { selection: 0, serial: null, types: [1, 2] });
    assert.deepEqual(parseClipboardRequest(f, encodeClipboardRequest(f, 0, 1)), { selection: 0, type: 1 });
    const d = parseClipboardData(f, encodeClipboardData(f, 0, 1, Buffer.from('hi')));
    assert.equal(d.type, 1);
    assert.equal(d.data.toString(), 'hi');
    assert.equal(encodeClipboardRelease(f, 0).length, 0);
    assert.throws(() => encodeClipboardGrab(f, 1, 0, [1]), /only knows the CLIPBOARD selection/);
  });

  test('clipboard with CLIPBOARD_SELECTION and GRAB_SERIAL: u8 selection + 3 reserved, then u32 serial on grabs', () => {
    const f = { selection: true, serial: true };
    const g = encodeClipboardGrab(f, 1, 42, [1]);
    assert.deepEqual(g, Buffer.from([1, 0, 0, 0, 42, 0, 0, 0, 1, 0, 0, 0]));
    assert.deepEqual(parseClipboardGrab(f, g), { selection: 1, serial: 42, types: [1] });
    assert.deepEqual(encodeClipboardRequest(f, 1, 2), Buffer.from([1, 0, 0, 0, 2, 0, 0, 0]));
    assert.deepEqual(parseClipboardRelease(f, Buffer.from([1, 0, 0, 0])), { selection: 1 });
    assert.deepEqual(parseClipboardData(f, encodeClipboardData(f, 1, 1, Buffer.from('x'))), { selection: 1, type: 1, data: Buffer.from('x') });
  });

  test('MONITORS_CONFIG: height before width, no physical sizes', () => {
    const b = encodeMonitorsConfig([{ width: 1280, height: 800 }], 3);
    assert.deepEqual(b, new Writer().u32(1).u32(1).u32(800).u32(1280).u32(32).i32(0).i32(0).finish());
    assert.deepEqual(parseMonitorsConfig(b).monitors[0], { width: 1280, height: 800, depth: 32, x: 0, y: 0 });
  });

  test('MAX_CLIPBOARD is an i32', () => {
    assert.deepEqual(encodeMaxClipboard(-1), Buffer.from([0xff, 0xff, 0xff, 0xff]));
  });

  test('FILE_XFER_START: id + NUL-terminated key file with escaped name', () => {
    const b = encodeFileXferStart(7, 'a b\nc\\d.txt', 12345);
    assert.equal(b.readUInt32LE(0), 7);
    const text = b.subarray(4).toString('utf8');
    assert.equal(text, '[vdagent-file-xfer]\nname=a b\\nc\\\\d.txt\nsize=12345\n\0');
    assert.deepEqual(parseFileXferStart(b), { id: 7, name: 'a b\nc\\d.txt', size: 12345n });
    assert.equal(keyFileEscape(' lead'), '\\slead');
  });

  test('FILE_XFER_DATA: id, u64 size, bytes', () => {
    const b = encodeFileXferData(3, Buffer.from('data'));
    assert.equal(b.readBigUInt64LE(4), 4n);
    assert.deepEqual(parseFileXferData(b), { id: 3, data: Buffer.from('data') });
    assert.throws(() => parseFileXferData(new Writer().u32(1).u64(10n).finish()), ProtocolError);
  });

  test('FILE_XFER_STATUS: details for ERROR and NOT_ENOUGH_SPACE', () => {
    const err = parseFileXferStatus(encodeFileXferStatus(1, FileXferStatus.error, new Writer().u8(0).u32(14).finish()));
    assert.deepEqual(err, { id: 1, result: 2, errorType: 0, errorCode: 14 });
    assert.match(describeFileXferStatus(err), /could not write the file \(permission denied\)/);
    const space = parseFileXferStatus(encodeFileXferStatus(1, FileXferStatus.notEnoughSpace, new Writer().u64(3n * 1024n * 1024n).finish()));
    assert.equal(space.freeBytes, 3n * 1024n * 1024n);
    assert.match(describeFileXferStatus(space), /not enough space in the guest \(3\.0 MiB free\)/);
  });

  test('every FILE_XFER_STATUS has its own clear message', () => {
    const msgs = new Map<number, RegExp>([
      [FileXferStatus.cancelled, /cancelled/],
      [FileXferStatus.error, /could not write/],
      [FileXferStatus.notEnoughSpace, /not enough space/],
      [FileXferStatus.sessionLocked, /session is locked/],
      [FileXferStatus.vdagentNotConnected, /no agent runs in the guest user session/],
      [FileXferStatus.disabled, /disabled/],
      [99, /unknown status 99/],
    ]);
    for (const [result, re] of msgs) assert.match(describeFileXferStatus({ id: 1, result }), re);
  });
});
