// A made-up, steadily changing SessionSnapshot for the demo and tests of the live view
// (no session, no sockets). Deterministic in time: the same `now` gives the same numbers.
import type { ChannelSnapshot, SessionSnapshot } from '../../session/stats/snapshot.js';

const CHANNELS: { name: string; rateIn: number; rateOut: number; tls: boolean }[] = [
  { name: 'main:0', rateIn: 200, rateOut: 60, tls: true },
  { name: 'display:0', rateIn: 900_000, rateOut: 400, tls: true },
  { name: 'inputs:0', rateIn: 150, rateOut: 1_200, tls: true },
  { name: 'cursor:0', rateIn: 2_000, rateOut: 30, tls: true },
  { name: 'playback:0', rateIn: 176_400, rateOut: 20, tls: false },
  { name: 'usbredir:0', rateIn: 3_000_000, rateOut: 1_500_000, tls: false },
];

/** getSnapshot for a fake session that started at `start` (ms since the epoch). */
export function fakeSnapshotSource(start = Date.now(), clock: () => number = Date.now): () => SessionSnapshot {
  return () => fakeSnapshot(clock() - start, clock());
}

export function fakeSnapshot(elapsedMs: number, now = elapsedMs): SessionSnapshot {
  const s = Math.max(0, elapsedMs) / 1000;
  const channels: ChannelSnapshot[] = CHANNELS.map((c, i) => {
    // A wave per channel, so sparklines move: between 20% and 180% of the nominal rate.
    const wave = 1 + 0.8 * Math.sin(s / 2 + i);
    return {
      name: c.name,
      state: 'ready',
      tls: c.tls,
      bytesIn: Math.round(c.rateIn * s),
      bytesOut: Math.round(c.rateOut * s),
      messagesIn: Math.round((c.rateIn / 500) * s) + 1,
      messagesOut: Math.round((c.rateOut / 500) * s) + 1,
      rateIn: Math.round(c.rateIn * wave),
      rateOut: Math.round(c.rateOut * wave),
    };
  });
  const usb = channels.find((c) => c.name === 'usbredir:0')!;
  const ratioIn = 2.4 + 0.3 * Math.sin(s);
  const ratioOut = 1.7;
  return {
    t: now,
    uptimeMs: Math.round(elapsedMs),
    channels,
    usb: [
      {
        channel: 'usbredir:0',
        device: 'emulated disk 0951:1666',
        payloadIn: Math.round(usb.bytesIn * ratioIn),
        payloadOut: Math.round(usb.bytesOut * ratioOut),
        wireIn: usb.bytesIn,
        wireOut: usb.bytesOut,
        ratioIn: usb.bytesIn ? ratioIn : null,
        ratioOut: usb.bytesOut ? ratioOut : null,
        lz4: true,
        limit: 8 * 1024 * 1024,
      },
    ],
    pingMs: 3 + Math.abs(Math.sin(s)) * 4,
    display: { width: 1024, height: 768, fps: 24 + 6 * Math.sin(s / 3) },
    mouseMode: 'client',
    agentConnected: true,
  };
}

/** A moving colour gradient as ANSI half-blocks (two pixel rows a cell), cols x rows cells. */
export function fakeHalfBlockDisplay(cols: number, rows: number, t: number): string {
  const lines: string[] = [];
  const px = (x: number, y: number) => {
    const r = Math.round(127 + 127 * Math.sin(x / 7 + t / 700));
    const g = Math.round(127 + 127 * Math.sin(y / 5 + t / 900));
    const b = Math.round(127 + 127 * Math.sin((x + y) / 11 - t / 1100));
    return `${r};${g};${b}`;
  };
  for (let y = 0; y < rows; y++) {
    let line = '';
    for (let x = 0; x < cols; x++) line += `\x1b[38;2;${px(x, 2 * y)}m\x1b[48;2;${px(x, 2 * y + 1)}m▀`;
    lines.push(line + '\x1b[0m');
  }
  return lines.join('\n');
}
