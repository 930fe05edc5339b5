/** @jsxRuntime automatic @jsxImportSource react */
// (tsconfig.json covers src/ only; this pragma gives test files the same JSX transform.)
// Each piece of the live view rendered alone from fixed snapshot data (ink-testing-library).
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, render } from 'ink-testing-library';
import { ChannelTable } from '../../src/render/tui/channel-table.js';
import { UsbPanel } from '../../src/render/tui/usb-panel.js';
import { StatusBar } from '../../src/render/tui/status-bar.js';
import { HelpOverlay } from '../../src/render/tui/help-overlay.js';
import type { ChannelSnapshot, UsbSnapshot } from '../../src/session/stats/snapshot.js';

afterEach(() => cleanup());

const strip = (s: string | undefined) => (s ?? '').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
const lines = (s: string | undefined) => strip(s).split('\n');

const channels: ChannelSnapshot[] = [
  { name: 'main:0', state: 'ready', tls: true, bytesIn: 2048, bytesOut: 300, messagesIn: 12, messagesOut: 4, rateIn: 512, rateOut: 0 },
  { name: 'display:0', state: 'ready', tls: true, bytesIn: 10 * 1024 * 1024, bytesOut: 1024, messagesIn: 5000, messagesOut: 7, rateIn: 1.5 * 1024 * 1024, rateOut: 100 },
  { name: 'usbredir:0', state: 'failed', tls: false, bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0, rateIn: 0, rateOut: 0 },
];

test('ChannelTable: type:id, state, bytes, rates, messages, TLS, sparklines', () => {
  const history = {
    'main:0': { in: [0, 128, 256, 512], out: [0, 0, 0, 0] },
    'display:0': { in: [1, 2, 4, 8, 16, 32, 64, 128], out: [100] },
  };
  const { lastFrame } = render(<ChannelTable channels={channels} history={history} />);
  const [header, main, display, usb] = lines(lastFrame());
  for (const h of ['channel', 'state', 'in', 'out', 'rate in', 'rate out', 'msgs in/out', 'tls']) assert.ok(header!.includes(h), h);
  assert.match(main!, /^main:0\s+ready\s+2\.0 KiB\s+300 B\s+512 B\/s\s+▁▃▅█\s+0 B\/s\s+▁▁▁▁\s+12\/4\s+yes$/);
  assert.match(display!, /^display:0\s+ready\s+10\.0 MiB\s+1\.0 KiB\s+1\.5 MiB\/s\s+▂▂▂▂▃▅█\s+100 B\/s\s+█\s+5000\/7\s+yes$/);
  assert.match(usb!, /^usbredir:0\s+failed\s+0 B\s+0 B\s+0 B\/s\s+0 B\/s\s+0\/0\s+no$/, 'no history: blank sparkline');
});

test('ChannelTable: columns line up whatever the numbers', () => {
  const { lastFrame } = render(<ChannelTable channels={channels} />);
  const ls = lines(lastFrame());
  const col = (l: string, s: string) => l.indexOf(s) + s.length;
  // Right-aligned numbers end in the same column as their header.
  assert.equal(col(ls[1]!, '2.0 KiB'), col(ls[0]!, ' in'));
  assert.equal(col(ls[2]!, '10.0 MiB'), col(ls[0]!, ' in'));
  assert.equal(col(ls[2]!, '1.5 MiB/s'), col(ls[0]!, 'rate in'));
});

test('ChannelTable: no channels yet', () => {
  const { lastFrame } = render(<ChannelTable channels={[]} />);
  assert.match(strip(lastFrame()), /no channels yet/);
});

const usb: UsbSnapshot[] = [
  { channel: 'usbredir:0', device: 'Kingston 0951:1666', payloadIn: 3 * 1024 * 1024, payloadOut: 1024 * 1024, wireIn: 1024 * 1024, wireOut: 1024 * 1024, ratioIn: 3, ratioOut: 1, lz4: true, limit: 10 * 1024 * 1024 },
  { channel: 'usbredir:1', device: 'cd.iso', payloadIn: 0, payloadOut: 0, wireIn: 0, wireOut: 0, ratioIn: null, ratioOut: null, lz4: false, limit: null },
];

test('UsbPanel: device, payload vs wire per direction, LZ4 ratio per direction, limit', () => {
  const { lastFrame } = render(<UsbPanel usb={usb} />);
  const ls = lines(lastFrame()).filter((l) => l.trim());
  assert.match(ls[0]!, /usb device\s+dir\s+payload\s+wire\s+ratio\s+lz4\s+limit/);
  assert.match(ls[1]!, /^Kingston 0951:1666\s+in\s+3\.0 MiB\s+1\.0 MiB\s+3\.00x\s+on\s+10\.0 MiB\/s$/);
  assert.match(ls[2]!, /^\s+usbredir:0\s+out\s+1\.0 MiB\s+1\.0 MiB\s+1\.00x$/);
  assert.match(ls[3]!, /^cd\.iso\s+in\s+0 B\s+0 B\s+-\s+off\s+none$/);
  assert.match(ls[4]!, /^\s+usbredir:1\s+out\s+0 B\s+0 B\s+-$/);
});

test('UsbPanel: nothing without devices', () => {
  const { lastFrame } = render(<UsbPanel usb={[]} />);
  assert.equal(strip(lastFrame()).trim(), '');
});

test('StatusBar: ping, display size and fps, mouse mode, agent, uptime, then a hint or a message', () => {
  const snap = { pingMs: 12.4, display: { width: 1280, height: 800, fps: 29.97 }, mouseMode: 'server' as const, agentConnected: false, uptimeMs: 3_725_000 };
  const { lastFrame, rerender } = render(<StatusBar snapshot={snap} width={120} />);
  const l = strip(lastFrame());
  assert.match(l, /ping 12 ms/);
  assert.match(l, /display 1280x800 @ 30\.0 fps/);
  assert.match(l, /mouse server/);
  assert.match(l, /agent no/);
  assert.match(l, /up 1:02:05/);
  assert.match(l, /\? help {2}q quit$/);
  rerender(<StatusBar snapshot={{ ...snap, pingMs: null, display: null, mouseMode: null }} message="snapshot saved: /tmp/a.png" width={120} />);
  const m = strip(lastFrame());
  assert.match(m, /ping -/);
  assert.match(m, /display -/);
  assert.match(m, /snapshot saved: \/tmp\/a\.png$/);
  rerender(<StatusBar snapshot={null} width={80} />);
  assert.match(strip(lastFrame()), /connecting…/);
});

test('HelpOverlay: every key', () => {
  const { lastFrame } = render(<HelpOverlay />);
  const f = strip(lastFrame());
  for (const [k, what] of [['q', 'quit'], ['d', 'display'], ['s', 'snapshot'], ['k', 'Ctrl-Alt-Del'], ['?', 'help']] as const) {
    assert.ok(f.split('\n').some((l) => l.includes(`${k}  `) && l.includes(what)), `${k}: ${what}`);
  }
});
