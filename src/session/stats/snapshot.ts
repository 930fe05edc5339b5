// One plain object with every number a UI or a stats line shows. Built on demand (a UI polls
// it at its own bounded rate); building it costs O(channels), never touches the channels' work.
import type { Session } from '../session.js';
import { SpicevmcChannel } from '../channels/spicevmc.js';
import { MouseMode } from '../wire/enums.js';

export interface ChannelSnapshot {
  name: string;
  state: string;
  tls: boolean;
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
  /** bytes per second over the last few seconds */
  rateIn: number;
  rateOut: number;
}

export interface UsbSnapshot {
  channel: string;
  device: string;
  payloadIn: number;
  payloadOut: number;
  wireIn: number;
  wireOut: number;
  /** payload / wire; > 1 means LZ4 saved bytes */
  ratioIn: number | null;
  ratioOut: number | null;
  lz4: boolean;
  /** bytes per second per direction, or null for none */
  limit: number | null;
}

export interface SessionSnapshot {
  t: number;
  uptimeMs: number;
  channels: ChannelSnapshot[];
  usb: UsbSnapshot[];
  pingMs: number | null;
  display: { width: number; height: number; fps: number } | null;
  mouseMode: 'client' | 'server' | null;
  agentConnected: boolean;
}

/** Extra facts the session itself does not know (device names, limits). */
export interface SnapshotExtras {
  usbDevices?: Map<string, { device: string; limit: number | null }>;
  fps?: number;
  pingMs?: number | null;
}

export function snapshot(session: Session, extras: SnapshotExtras = {}): SessionSnapshot {
  const now = Date.now();
  const channels = session.channels.map((c) => ({
    name: c.name,
    state: c.state,
    tls: c.tls,
    bytesIn: c.stats.in.bytes,
    bytesOut: c.stats.out.bytes,
    messagesIn: c.stats.in.messages,
    messagesOut: c.stats.out.messages,
    rateIn: c.stats.in.rate(3, now),
    rateOut: c.stats.out.rate(3, now),
  }));
  const usb = session.channels.filter((c): c is SpicevmcChannel => c instanceof SpicevmcChannel && c.type === 9).map((c) => {
    const p = c.payload;
    const extra = extras.usbDevices?.get(c.name);
    const ratio = (a: number, b: number) => (b ? a / b : null);
    return {
      channel: c.name,
      device: extra?.device ?? '-',
      payloadIn: p.payloadIn,
      payloadOut: p.payloadOut,
      wireIn: p.bodyIn,
      wireOut: p.bodyOut,
      ratioIn: ratio(p.payloadIn, p.bodyIn),
      ratioOut: ratio(p.payloadOut, p.bodyOut),
      lz4: c.compressing,
      limit: extra?.limit ?? null,
    };
  });
  const primary = session.display?.primary;
  const mm = session.main.info.mouseMode?.current;
  return {
    t: now,
    uptimeMs: Math.round(performance.now() - session.t0),
    channels,
    usb,
    pingMs: extras.pingMs ?? null,
    display: primary ? { width: primary.width, height: primary.height, fps: extras.fps ?? 0 } : null,
    mouseMode: mm === undefined ? null : mm === MouseMode.client ? 'client' : 'server',
    agentConnected: session.main.info.agentConnected,
  };
}
