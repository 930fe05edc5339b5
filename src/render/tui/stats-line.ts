// One NDJSON line per tick for `--stats-interval MS` when stdout is not a TTY (or in CI):
// the same numbers the live view shows, unformatted (bytes, bytes/s, ms, ratios).
// Deliberately free of Ink and React: importing this file must stay cheap and CommonJS-safe.
import type { SessionSnapshot } from '../../session/stats/snapshot.js';

const r1 = (v: number) => Math.round(v * 10) / 10;
const r2 = (v: number | null) => (v === null || !Number.isFinite(v) ? null : Math.round(v * 100) / 100);

export interface StatsLine {
  t: number;
  uptimeMs: number;
  pingMs: number | null;
  display: { width: number; height: number; fps: number } | null;
  mouseMode: 'client' | 'server' | null;
  agent: boolean;
  channels: {
    channel: string; state: string; tls: boolean;
    bytesIn: number; bytesOut: number; rateIn: number; rateOut: number;
    messagesIn: number; messagesOut: number;
  }[];
  usb: {
    channel: string; device: string; lz4: boolean; limit: number | null;
    payloadIn: number; payloadOut: number; wireIn: number; wireOut: number;
    ratioIn: number | null; ratioOut: number | null;
  }[];
}

export function statsLineObject(s: SessionSnapshot): StatsLine {
  return {
    t: s.t,
    uptimeMs: s.uptimeMs,
    pingMs: s.pingMs === null ? null : r1(s.pingMs),
    display: s.display ? { width: s.display.width, height: s.display.height, fps: r1(s.display.fps) } : null,
    mouseMode: s.mouseMode,
    agent: s.agentConnected,
    channels: s.channels.map((c) => ({
      channel: c.name, state: c.state, tls: c.tls,
      bytesIn: c.bytesIn, bytesOut: c.bytesOut, rateIn: r1(c.rateIn), rateOut: r1(c.rateOut),
      messagesIn: c.messagesIn, messagesOut: c.messagesOut,
    })),
    usb: s.usb.map((u) => ({
      channel: u.channel, device: u.device, lz4: u.lz4, limit: u.limit,
      payloadIn: u.payloadIn, payloadOut: u.payloadOut, wireIn: u.wireIn, wireOut: u.wireOut,
      ratioIn: r2(u.ratioIn), ratioOut: r2(u.ratioOut),
    })),
  };
}

/** One line of JSON, no trailing newline. */
export function formatStatsLine(s: SessionSnapshot): string {
  return JSON.stringify(statsLineObject(s));
}
