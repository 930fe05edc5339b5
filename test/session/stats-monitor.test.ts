// SessionMonitor: counts draws of every display channel the session opens, probes the ping on
// its inputs channel, and puts both into the snapshot the live view and stats lines read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Session } from '../../src/session/session.js';
import { DisplayChannel } from '../../src/session/channels/display.js';
import { InputsChannel } from '../../src/session/channels/inputs.js';
import { SessionMonitor } from '../../src/session/stats/monitor.js';
import { silentLogger } from '../../src/util/log.js';
import { MouseMode, MsgInputs } from '../../src/session/wire/enums.js';
import { formatStatsLine, statsLineObject } from '../../src/render/tui/stats-line.js';

const host = { log: silentLogger, connectionId: () => 0, password: () => ({ value: '', given: false }), openSocket: async () => { throw new Error('offline'); } };

function offlineSession() {
  const session = new Session({ endpoint: { host: '127.0.0.1', port: 1 } } as ConstructorParameters<typeof Session>[0]);
  const add = <T extends DisplayChannel | InputsChannel>(ch: T): T => {
    session.channels.push(ch);
    session.emit('channel', ch);
    return ch;
  };
  return { session, add };
}

test('draws of display channels opened before and after the monitor are counted; stop() detaches', () => {
  const { session, add } = offlineSession();
  const before = add(new DisplayChannel(host, 0, { preferredCompression: null }));
  const m = new SessionMonitor(session, { pingIntervalMs: 0 });
  const later = add(new DisplayChannel(host, 1, { preferredCompression: null }));
  before.emit('draw', 0);
  later.emit('draw', 0);
  assert.equal(m.frames.draws, 2);
  assert.equal(m.summary().draws, 2);
  m.stop();
  before.emit('draw', 0);
  assert.equal(m.frames.draws, 2);
  assert.equal(before.listenerCount('draw'), 0);
  assert.equal(session.listenerCount('channel'), 0);
});

test('the inputs channel gets a ping probe (server mouse mode only); the snapshot and stats line carry it', async () => {
  const { session, add } = offlineSession();
  const m = new SessionMonitor(session, { pingIntervalMs: 100 });
  const inputs = add(new InputsChannel(host, 0));
  const sent: number[] = [];
  (inputs as unknown as { send: (t: number) => boolean }).send = (t) => (sent.push(t), true);
  inputs.state = 'ready';
  session.main.info.mouseMode = { supported: 3, current: MouseMode.client };
  await new Promise((r) => setTimeout(r, 250));
  assert.equal(sent.length, 0, 'no probe in client mouse mode');
  session.main.info.mouseMode = { supported: 3, current: MouseMode.server };
  const t0 = Date.now();
  while (sent.length < 4 && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 10));
  assert.equal(sent.length, 4);
  (inputs as unknown as { onMessage: (t: number, b: Buffer) => void }).onMessage(MsgInputs.mouseMotionAck, Buffer.alloc(0));
  const snap = m.snapshot();
  assert.ok(snap.pingMs !== null && snap.pingMs >= 0 && snap.pingMs < 1000, String(snap.pingMs));
  assert.equal(snap.mouseMode, 'server');
  const line = statsLineObject(snap);
  assert.equal(line.pingMs, Math.round(snap.pingMs! * 10) / 10);
  assert.deepEqual(JSON.parse(formatStatsLine(snap)).channels.map((c: { channel: string }) => c.channel), ['main:0', 'inputs:0']);
  assert.equal(m.summary().pings.answered, 1);
  m.stop();
  assert.equal(inputs.listenerCount('motion-ack'), 0);
});
