// The agent on the main channel, against a fake server + fake guest agent (no sockets):
// AGENT_START, tokens, chunking, reassembly in random splits, caps, clipboard both ways with
// selection/serial, MAX_CLIPBOARD, monitors, file transfer statuses, missing/leaving agents.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MainChannel, type MainOptions } from '../../src/session/channels/main.js';
import { silentLogger } from '../../src/util/log.js';
import { SpiceError } from '../../src/util/errors.js';
import { capsWords } from '../../src/session/wire/caps.js';
import { MsgMain, MsgcMain } from '../../src/session/wire/enums.js';
import { Writer } from '../../src/session/wire/writer.js';
import {
  AGENT_MAX_DATA_SIZE, AgentCap, AgentMsg, AgentReassembler, ClipboardType, FileXferStatus, encodeAgentMessage,
  encodeAnnounceCaps, encodeClipboardData, encodeClipboardGrab, encodeClipboardRequest, encodeFileXferStatus, encodeReply,
  parseAnnounceCaps, parseClipboardData, parseClipboardGrab, parseClipboardRequest, parseFileXferData, parseFileXferStart,
  parseFileXferStatus, parseMonitorsConfig, type AgentMessage,
} from '../../src/session/wire/messages/agent.js';
import { CLIENT_AGENT_CAPS } from '../../src/session/agent/agent.js';
import { readGuestClipboard } from '../../src/session/agent/goals.js';

const u32 = (v: number) => new Writer().u32(v).finish();
const init = (o: { agent: boolean; tokens: number; mouse?: number }) =>
  new Writer().u32(77).u32(1).u32(o.mouse ?? 1).u32(1).u32(o.agent ? 1 : 0).u32(o.tokens).u32(1000).u32(0).finish();

/** A MainChannel without a socket: sends are captured, server messages fed in. */
class TestMain extends MainChannel {
  out: { type: number; body: Buffer }[] = [];
  onSend: ((type: number, body: Buffer) => void) | null = null;
  constructor(opts: MainOptions = {}) {
    super({ log: silentLogger, connectionId: () => 0, password: () => ({ value: '', given: false }), openSocket: async () => { throw new Error('no sockets here'); } }, 0, opts);
    this.state = 'ready';
  }
  override send(type: number, body: Buffer): boolean {
    this.out.push({ type, body: Buffer.from(body) });
    this.onSend?.(type, Buffer.from(body));
    return true;
  }
  feed(type: number, body: Buffer): void {
    this.onMessage(type, body);
  }
  sent(type: number): Buffer[] {
    return this.out.filter((o) => o.type === type).map((o) => o.body);
  }
}

const VDAGENT_CAPS: number[] = [
  AgentCap.mouseState, AgentCap.monitorsConfig, AgentCap.reply, AgentCap.clipboardByDemand, AgentCap.clipboardSelection,
  AgentCap.sparseMonitorsConfig, AgentCap.guestLineendLf, AgentCap.maxClipboard, AgentCap.audioVolumeSync,
  AgentCap.graphicsDeviceInfo, AgentCap.clipboardNoReleaseOnRegrab, AgentCap.clipboardGrabSerial,
];

/**
 * The server + guest agent: reassembles the client's AGENT_DATA (checking the 2048-byte rule),
 * answers through `handle`, grants a token back per AGENT_DATA (on the next turn), and sends its
 * own messages in pieces of `split` bytes.
 */
class FakeAgent {
  readonly r = new AgentReassembler(() => 1 << 26);
  readonly got: AgentMessage[] = [];
  handle: ((m: AgentMessage) => void) | null = null;
  split = 0;
  grant = true;
  constructor(readonly main: TestMain, readonly caps = VDAGENT_CAPS) {
    main.onSend = (type, body) => {
      if (type !== MsgcMain.agentData) return;
      assert.ok(body.length <= AGENT_MAX_DATA_SIZE, `AGENT_DATA of ${body.length} bytes`);
      for (const m of this.r.feed(body)) {
        this.got.push(m);
        if (m.type === AgentMsg.announceCapabilities && parseAnnounceCaps(m.data).request) {
          this.send(AgentMsg.announceCapabilities, encodeAnnounceCaps(false, capsWords(this.caps)));
        } else this.handle?.(m);
      }
      if (this.grant) setImmediate(() => main.feed(MsgMain.agentToken, u32(1)));
    };
  }
  send(type: number, data: Buffer): void {
    const msg = encodeAgentMessage(type, data);
    const step = this.split || msg.length;
    for (let i = 0; i < msg.length; i += step) this.main.feed(MsgMain.agentData, msg.subarray(i, i + step));
  }
  of(type: number): AgentMessage[] {
    return this.got.filter((m) => m.type === type);
  }
}

async function readyPair(opts: MainOptions = {}, caps = VDAGENT_CAPS) {
  const main = new TestMain(opts);
  const agent = new FakeAgent(main, caps);
  main.feed(MsgMain.init, init({ agent: true, tokens: 10, mouse: 3 }));
  await main.agent.waitReady(1000);
  return { main, agent };
}

describe('agent pipe on the main channel', () => {
  test('AGENT_START (unlimited tokens) then our caps with request=1; tokens are spent and queued for', () => {
    const main = new TestMain();
    main.feed(MsgMain.init, init({ agent: true, tokens: 2 }));
    assert.deepEqual(main.out.map((o) => o.type), [MsgcMain.attachChannels, MsgcMain.agentStart, MsgcMain.agentData]);
    assert.equal(main.sent(MsgcMain.agentStart)[0]!.readUInt32LE(0), 0xffffffff);
    const caps = new AgentReassembler(() => 1 << 20).feed(main.sent(MsgcMain.agentData)[0]!)[0]!;
    assert.equal(caps.type, AgentMsg.announceCapabilities);
    assert.deepEqual(parseAnnounceCaps(caps.data), { request: true, caps: capsWords(CLIENT_AGENT_CAPS) });
    assert.equal(main.info.agentTokens, 1);
    // a 5000-byte message = 3 chunks, one token left: one goes, two wait
    const msg = encodeAgentMessage(AgentMsg.clipboard, Buffer.alloc(4980, 0xab));
    main.sendAgentMessage(msg);
    assert.equal(main.sent(MsgcMain.agentData).length, 2);
    assert.equal(main.agentQueued, 2);
    assert.equal(main.info.agentTokens, 0);
    main.feed(MsgMain.agentToken, u32(1));
    assert.equal(main.agentQueued, 1);
    main.feed(MsgMain.agentToken, u32(5));
    assert.equal(main.agentQueued, 0);
    assert.equal(main.info.agentTokens, 4);
    const chunks = main.sent(MsgcMain.agentData).slice(1);
    assert.deepEqual(chunks.map((c) => c.length), [2048, 2048, 904]);
    assert.deepEqual(Buffer.concat(chunks), msg);
  });

  test('AGENT_CONNECTED_TOKENS sets the count and starts the agent; no AGENT_DATA before that', () => {
    const main = new TestMain();
    main.feed(MsgMain.init, init({ agent: false, tokens: 10 }));
    main.sendAgentMessage(encodeAgentMessage(AgentMsg.reply, encodeReply(1, 1)));
    assert.equal(main.sent(MsgcMain.agentData).length, 0, 'nothing sent before AGENT_START');
    main.feed(MsgMain.agentData, encodeAgentMessage(AgentMsg.reply, encodeReply(1, 1))); // ignored, no agent
    main.feed(MsgMain.agentConnectedTokens, u32(3));
    assert.equal(main.sent(MsgcMain.agentStart).length, 1);
    assert.equal(main.info.agentTokens, 2);
    assert.equal(main.agent.state, 'starting');
  });

  for (const split of [1, 7, 2048]) {
    test(`caps handshake with the agent's messages split every ${split} bytes; MAX_CLIPBOARD; client mouse mode`, async () => {
      const main = new TestMain({ agent: { maxClipboard: 4096 } });
      const agent = new FakeAgent(main);
      agent.split = split;
      main.feed(MsgMain.init, init({ agent: true, tokens: 10, mouse: 3 }));
      await main.agent.waitReady(1000);
      assert.deepEqual(main.agent.describe().caps, [0, 1, 2, 5, 6, 7, 8, 10, 11, 15, 16, 17]);
      const max = agent.of(AgentMsg.maxClipboard);
      assert.equal(max.length, 1);
      assert.equal(max[0]!.data.readInt32LE(0), 4096);
      assert.deepEqual(main.sent(MsgcMain.mouseModeRequest).map((b) => b.readUInt16LE(0)), [2]);
    });
  }

  test('the agent asks for our caps again (request=1): we answer with request=0', async () => {
    const { main, agent } = await readyPair();
    agent.send(AgentMsg.announceCapabilities, encodeAnnounceCaps(true, capsWords(VDAGENT_CAPS)));
    const answers = agent.of(AgentMsg.announceCapabilities).map((m) => parseAnnounceCaps(m.data).request);
    assert.deepEqual(answers, [true, false]);
    assert.equal(main.agent.state, 'ready');
  });

  test('clientMouse: false keeps server mouse mode', async () => {
    const { main } = await readyPair({ clientMouse: false });
    assert.equal(main.sent(MsgcMain.mouseModeRequest).length, 0);
  });

  test('a missing agent: waitReady rejects with a clear timeout, the channel stays up', async () => {
    const main = new TestMain();
    main.feed(MsgMain.init, init({ agent: false, tokens: 10 }));
    await assert.rejects(main.agent.waitReady(50), (e: SpiceError) => e.code === 'timeout' && /no guest agent connected within 0.05 s: is spice-vdagent running/.test(e.message));
    assert.equal(main.state, 'ready');
    // connected, but silent
    main.feed(MsgMain.agentConnected, Buffer.alloc(0));
    await assert.rejects(main.agent.waitReady(50), /did not answer within/);
  });

  test('a garbled agent stream disables the agent, not the session; a reconnect starts over', async () => {
    const { main, agent } = await readyPair();
    const bad = encodeAgentMessage(AgentMsg.reply, encodeReply(2, 1));
    bad.writeUInt32LE(9, 0);
    main.feed(MsgMain.agentData, bad);
    assert.equal(main.agent.state, 'broken');
    assert.equal(main.state, 'ready');
    main.feed(MsgMain.agentConnectedTokens, u32(10));
    await main.agent.waitReady(1000);
    assert.equal(agent.of(AgentMsg.announceCapabilities).length, 2);
  });

  test('AGENT_DISCONNECTED rejects what was pending and drops the queue; the channel goes on', async () => {
    const { main } = await readyPair();
    const p = main.agent.requestClipboard(ClipboardType.utf8Text, 0, 5000);
    main.feed(MsgMain.agentDisconnected, u32(0));
    await assert.rejects(p, (e: SpiceError) => e.code === 'disconnected' && /went away/.test(e.message));
    assert.equal(main.agentQueued, 0);
    assert.equal(main.agent.state, 'absent');
    assert.equal(main.state, 'ready');
    assert.throws(() => main.agent.setClipboard([{ type: 1, data: Buffer.from('x') }]), /no guest agent is connected/);
  });
});

describe('agent clipboard', () => {
  test('set: GRAB with selection prefix and serial; REQUEST answered with the data, NONE for other types', async () => {
    const { main, agent } = await readyPair();
    const f = { selection: true, serial: true };
    main.agent.setClipboard([{ type: ClipboardType.utf8Text, data: main.agent.encodeText('hello\nworld') }]);
    const grab = parseClipboardGrab(f, agent.of(AgentMsg.clipboardGrab)[0]!.data);
    assert.deepEqual(grab, { selection: 0, serial: 0, types: [ClipboardType.utf8Text] });
    const served: unknown[] = [];
    main.agent.on('clipboard-request', (...a) => served.push(a));
    agent.send(AgentMsg.clipboardRequest, encodeClipboardRequest(f, 0, ClipboardType.utf8Text));
    agent.send(AgentMsg.clipboardRequest, encodeClipboardRequest(f, 0, ClipboardType.imagePng));
    const answers = agent.of(AgentMsg.clipboard).map((m) => parseClipboardData(f, m.data));
    assert.deepEqual(answers[0], { selection: 0, type: 1, data: Buffer.from('hello\nworld') });
    assert.deepEqual(answers[1], { selection: 0, type: 0, data: Buffer.alloc(0) });
    assert.deepEqual(served, [[0, 1, 11], [0, 2, null]]);
    // our next grab carries the next serial
    main.agent.setClipboard([{ type: 1, data: Buffer.from('again') }]);
    assert.equal(parseClipboardGrab(f, agent.of(AgentMsg.clipboardGrab)[1]!.data).serial, 1);
  });

  test('GRAB_SERIAL: a guest grab with the expected serial wins, a stale one is discarded', async () => {
    const { main, agent } = await readyPair();
    const f = { selection: true, serial: true };
    main.agent.setClipboard([{ type: 1, data: Buffer.from('mine') }]); // our serial 0 -> counter 1
    let lost = 0;
    main.agent.on('clipboard-lost', () => lost++);
    agent.send(AgentMsg.clipboardGrab, encodeClipboardGrab(f, 0, 0, [1])); // stale (expects 1)
    assert.equal(main.agent.guestClipboard.has(0), false);
    assert.equal(main.agent.ownsClipboard(), true);
    agent.send(AgentMsg.clipboardGrab, encodeClipboardGrab(f, 0, 1, [1, 2]));
    assert.deepEqual(main.agent.guestClipboard.get(0), [1, 2]);
    assert.equal(main.agent.ownsClipboard(), false);
    assert.equal(lost, 1);
  });

  test('without CLIPBOARD_SELECTION/GRAB_SERIAL no prefix and no serial; CRLF agents get CRLF text', async () => {
    const caps = [AgentCap.clipboardByDemand, AgentCap.guestLineendCrlf];
    const { main, agent } = await readyPair({}, caps);
    main.agent.setClipboard([{ type: 1, data: main.agent.encodeText('a\nb') }]);
    assert.deepEqual(agent.of(AgentMsg.clipboardGrab)[0]!.data, u32(1));
    const f = { selection: false, serial: false };
    agent.send(AgentMsg.clipboardRequest, encodeClipboardRequest(f, 0, 1));
    assert.equal(parseClipboardData(f, agent.of(AgentMsg.clipboard)[0]!.data).data.toString(), 'a\r\nb');
    assert.equal(main.agent.decodeText(Buffer.from('x\r\ny')), 'x\ny');
    assert.throws(() => main.agent.setClipboard([{ type: 1, data: Buffer.from('p') }], 1), /only supports the CLIPBOARD selection/);
  });

  test('get: the guest grabbed -> REQUEST for its type -> text', async () => {
    const { main, agent } = await readyPair();
    const f = { selection: true, serial: true };
    agent.handle = (m) => {
      if (m.type !== AgentMsg.clipboardRequest) return;
      const r = parseClipboardRequest(f, m.data);
      setImmediate(() => agent.send(AgentMsg.clipboard, encodeClipboardData(f, r.selection, r.type, Buffer.from('guest text'))));
    };
    agent.send(AgentMsg.clipboardGrab, encodeClipboardGrab(f, 0, 0, [1]));
    const c = await readGuestClipboard(main.agent, 'text', { graceMs: 10 });
    assert.equal(main.agent.decodeText(c.data), 'guest text');
  });

  test('get: no text on offer, or NONE as the answer, are clear errors', async () => {
    const { main, agent } = await readyPair();
    const f = { selection: true, serial: true };
    agent.send(AgentMsg.clipboardGrab, encodeClipboardGrab(f, 0, 0, [ClipboardType.imagePng]));
    await assert.rejects(readGuestClipboard(main.agent, 'text', { graceMs: 0 }), /holds no text \(it offers png\): use --image FILE for images|holds no text/);
    agent.handle = (m) => {
      if (m.type === AgentMsg.clipboardRequest) setImmediate(() => agent.send(AgentMsg.clipboard, encodeClipboardData(f, 0, ClipboardType.none, Buffer.alloc(0))));
    };
    await assert.rejects(readGuestClipboard(main.agent, 'image', { graceMs: 0 }), /empty or holds no image/);
  });

  test('MAX_CLIPBOARD: sending over the limit is refused locally; an agent that sends more is cut off cleanly', async () => {
    const { main, agent } = await readyPair({ agent: { maxClipboard: 1000 } });
    assert.throws(() => main.agent.setClipboard([{ type: 1, data: Buffer.alloc(1001) }]), (e: SpiceError) => e.code === 'input' && /1001 B, over the 1000 B limit \(--max-clipboard\)/.test(e.message));
    const f = { selection: true, serial: true };
    agent.handle = (m) => {
      if (m.type === AgentMsg.clipboardRequest) setImmediate(() => agent.send(AgentMsg.clipboard, encodeClipboardData(f, 0, 1, Buffer.alloc(50_000, 0x41))));
    };
    await assert.rejects(main.agent.requestClipboard(1, 0, 2000), /guest clipboard data is 48\.8 KiB, over the 1000 B limit/);
    // the stream is still in step: an empty answer from an agent that honours the limit
    agent.handle = (m) => {
      if (m.type === AgentMsg.clipboardRequest) setImmediate(() => agent.send(AgentMsg.clipboard, encodeClipboardData(f, 0, 1, Buffer.alloc(0))));
    };
    await assert.rejects(readGuestClipboard(main.agent, 'text', { graceMs: 0 }), /empty or larger than the 1000 B limit/);
    assert.equal(main.agent.state, 'ready');
  });
});

describe('agent monitors config', () => {
  test('SUCCESS reply -> ok; ERROR -> a refusal; none -> no-reply', async () => {
    const { main, agent } = await readyPair();
    let answer = 1;
    agent.handle = (m) => {
      if (m.type !== AgentMsg.monitorsConfig || answer === 0) return;
      setImmediate(() => agent.send(AgentMsg.reply, encodeReply(AgentMsg.monitorsConfig, answer)));
    };
    assert.equal(await main.agent.setMonitors([{ width: 800, height: 600 }]), 'ok');
    const cfg = parseMonitorsConfig(agent.of(AgentMsg.monitorsConfig)[0]!.data);
    assert.deepEqual(cfg.monitors, [{ width: 800, height: 600, depth: 32, x: 0, y: 0 }]);
    answer = 2;
    await assert.rejects(main.agent.setMonitors([{ width: 640, height: 480 }]), (e: SpiceError) => e.code === 'input' && /refused the monitor configuration 640x480/.test(e.message));
    answer = 0;
    assert.equal(await main.agent.setMonitors([{ width: 640, height: 480 }], 50), 'no-reply');
  });
});

describe('agent file transfer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spicectl-agent-'));
  const file = join(dir, 'data.bin');
  const content = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 31) & 0xff));
  writeFileSync(file, content);

  /** A guest that accepts (or answers `first`), collects the data, then answers `last`. */
  function guest(agent: FakeAgent, first: number, last: number = FileXferStatus.success, detail: Buffer = Buffer.alloc(0)) {
    const chunks: Buffer[] = [];
    let expected = 0n;
    agent.handle = (m) => {
      if (m.type === AgentMsg.fileXferStart) {
        const s = parseFileXferStart(m.data);
        expected = s.size;
        setImmediate(() => agent.send(AgentMsg.fileXferStatus, encodeFileXferStatus(s.id, first, first === FileXferStatus.canSendData ? Buffer.alloc(0) : detail)));
      }
      if (m.type === AgentMsg.fileXferData) {
        const d = parseFileXferData(m.data);
        chunks.push(Buffer.from(d.data));
        if (BigInt(Buffer.concat(chunks).length) === expected) {
          setImmediate(() => agent.send(AgentMsg.fileXferStatus, encodeFileXferStatus(d.id, last, detail)));
        }
      }
    };
    return chunks;
  }

  test('START (name, size) -> CAN_SEND_DATA -> DATA -> SUCCESS: the guest gets the same bytes', async () => {
    const { main, agent } = await readyPair();
    const chunks = guest(agent, FileXferStatus.canSendData);
    const progress: number[] = [];
    const r = await main.agent.sendFile(file, { onProgress: (s) => progress.push(s) });
    assert.equal(r.bytes, content.length);
    assert.deepEqual(Buffer.concat(chunks), content);
    const start = parseFileXferStart(agent.of(AgentMsg.fileXferStart)[0]!.data);
    assert.deepEqual(start, { id: 1, name: 'data.bin', size: 200_000n });
    assert.equal(progress.at(-1), content.length);
    assert.ok(chunks.every((c) => c.length <= 64 * 1024));
  });

  test('an empty file sends one empty DATA', async () => {
    const { main, agent } = await readyPair();
    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '');
    let datas = 0;
    agent.handle = (m) => {
      if (m.type === AgentMsg.fileXferStart) setImmediate(() => agent.send(AgentMsg.fileXferStatus, encodeFileXferStatus(parseFileXferStart(m.data).id, FileXferStatus.canSendData)));
      if (m.type === AgentMsg.fileXferData) {
        datas++;
        setImmediate(() => agent.send(AgentMsg.fileXferStatus, encodeFileXferStatus(parseFileXferData(m.data).id, FileXferStatus.success)));
      }
    };
    assert.equal((await main.agent.sendFile(empty)).bytes, 0);
    assert.equal(datas, 1);
  });

  const refusals: [string, number, Buffer, RegExp][] = [
    ['cancelled', FileXferStatus.cancelled, Buffer.alloc(0), /data\.bin: the guest cancelled the transfer/],
    ['error', FileXferStatus.error, new Writer().u8(0).u32(12).finish(), /data\.bin: the guest agent could not write the file \(no space left\)/],
    ['not enough space', FileXferStatus.notEnoughSpace, new Writer().u64(1024n).finish(), /data\.bin: not enough space in the guest \(1\.0 KiB free\)/],
    ['session locked', FileXferStatus.sessionLocked, Buffer.alloc(0), /session is locked/],
    ['agent not connected', FileXferStatus.vdagentNotConnected, Buffer.alloc(0), /no agent runs in the guest user session/],
    ['disabled', FileXferStatus.disabled, Buffer.alloc(0), /file transfer is disabled in the guest agent/],
  ];
  for (const [name, status, detail, re] of refusals) {
    test(`refused at the start (${name}): a clear error, the agent stays up`, async () => {
      const { main, agent } = await readyPair();
      guest(agent, status, status, detail);
      await assert.rejects(main.agent.sendFile(file), (e: SpiceError) => e.code === 'input' && re.test(e.message));
      assert.equal(main.agent.state, 'ready');
      assert.equal(main.agent.counters.refusals, 1);
    });
  }

  test('refused at the end (not enough space after the data): a clear error', async () => {
    const { main, agent } = await readyPair();
    guest(agent, FileXferStatus.canSendData, FileXferStatus.notEnoughSpace, new Writer().u64(0n).finish());
    await assert.rejects(main.agent.sendFile(file), /not enough space in the guest \(0 B free\)/);
  });

  test('the agent announces FILE_XFER_DISABLED: refused before anything is sent', async () => {
    const { main, agent } = await readyPair({}, [...VDAGENT_CAPS, AgentCap.fileXferDisabled]);
    await assert.rejects(main.agent.sendFile(file), /file transfer is disabled in the guest agent/);
    assert.equal(agent.of(AgentMsg.fileXferStart).length, 0);
  });

  test('no answer to START: a timeout naming host-side file-transfer settings', async () => {
    const { main } = await readyPair();
    await assert.rejects(main.agent.sendFile(file, { answerTimeoutMs: 50 }), (e: SpiceError) => e.code === 'timeout' && /disable-agent-file-xfer/.test(e.message));
  });

  test('the agent leaves mid-transfer: disconnected error', async () => {
    const { main, agent } = await readyPair();
    agent.handle = (m) => {
      if (m.type === AgentMsg.fileXferStart) setImmediate(() => agent.send(AgentMsg.fileXferStatus, encodeFileXferStatus(1, FileXferStatus.canSendData)));
      if (m.type === AgentMsg.fileXferData) setImmediate(() => main.feed(MsgMain.agentDisconnected, u32(0)));
    };
    await assert.rejects(main.agent.sendFile(file), (e: SpiceError) => e.code === 'disconnected');
  });

  test('a missing local file is an input error before anything is sent', async () => {
    const { main, agent } = await readyPair();
    await assert.rejects(main.agent.sendFile(join(dir, 'nope')), (e: SpiceError) => e.code === 'input' && /no such file/.test(e.message));
    assert.equal(agent.of(AgentMsg.fileXferStart).length, 0);
  });

  test('cancelled locally (abort): the agent is told CANCELLED', async () => {
    const { main, agent } = await readyPair();
    const abort = new AbortController();
    agent.handle = (m) => {
      if (m.type === AgentMsg.fileXferStart) setImmediate(() => agent.send(AgentMsg.fileXferStatus, encodeFileXferStatus(1, FileXferStatus.canSendData)));
      if (m.type === AgentMsg.fileXferData) abort.abort();
    };
    await assert.rejects(main.agent.sendFile(file, { signal: abort.signal }), /cancelled/);
    const st = agent.of(AgentMsg.fileXferStatus).map((m) => parseFileXferStatus(m.data));
    assert.deepEqual(st, [{ id: 1, result: FileXferStatus.cancelled }]);
  });
});
