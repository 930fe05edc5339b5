// The live numbers of one session that the channels do not keep themselves: display frames per
// second (FrameCounter on every display channel's 'draw') and the ping round trip (LatencyProbe
// on the inputs channel). Attach it right after creating the Session; poll snapshot() at any rate.
// Costs the session one counter increment per draw and 4 tiny messages every ping interval.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Session } from '../session.js';
import type { Channel } from '../channels/channel.js';
import type { InputsChannel } from '../channels/inputs.js';
import { MainChannel } from '../channels/main.js';
import { LatencyProbe } from '../latency.js';
import { ChannelType, MouseMode } from '../wire/enums.js';
import { FrameCounter } from './frames.js';
import { snapshot, type SessionSnapshot, type SnapshotExtras } from './snapshot.js';

export interface MonitorOptions {
  /** ms between ping probes; 0 disables them (default 2000) */
  pingIntervalMs?: number;
  /** facts the session does not know (redirected device names, limits), read at each snapshot */
  extras?: () => SnapshotExtras;
}

export interface MonitorSummary {
  frames: number;
  draws: number;
  /** frames per second between the first frame and now */
  averageFps: number;
  pingMs: number | null;
  pingMedianMs: number | null;
  pings: { sent: number; answered: number; abandoned: number; timedOut: number };
  /** how late the event loop (which runs the channels) was: ms, mean / 99th percentile / max */
  eventLoop: { meanMs: number; p99Ms: number; maxMs: number };
}

/** The event-loop probe's timer (ms); the histogram records whole intervals, so lateness = interval - this. */
const LOOP_RESOLUTION_MS = 5;
/** a recorded interval (ns) -> how late the loop was (ms, 2 decimals) */
const ms = (ns: number) => Math.max(0, Math.round((ns / 1e6 - LOOP_RESOLUTION_MS) * 100) / 100);

export class SessionMonitor {
  readonly frames = new FrameCounter();
  private probe: LatencyProbe | null = null;
  private readonly detach: (() => void)[] = [];
  private stopped = false;
  private readonly onDraw = () => this.frames.draw();
  private readonly loop: IntervalHistogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });

  constructor(private readonly session: Session, private readonly opts: MonitorOptions = {}) {
    const onChannel = (ch: Channel) => this.attach(ch);
    session.on('channel', onChannel);
    this.detach.push(() => session.off('channel', onChannel));
    for (const ch of session.channels) this.attach(ch);
    this.loop.enable();
  }

  private attach(ch: Channel): void {
    if (this.stopped) return;
    if (ch instanceof MainChannel) {
      // Lateness is measured from the moment the session is up (not while modules load).
      const onState = (st: string) => {
        if (st !== 'ready') return;
        ch.off('state', onState);
        this.loop.reset();
      };
      ch.on('state', onState);
      this.detach.push(() => ch.off('state', onState));
    } else if (ch.type === ChannelType.display) {
      // By type, not instanceof: a USB-only session should not load the display code.
      ch.on('draw', this.onDraw);
      this.detach.push(() => ch.off('draw', this.onDraw));
    } else if (ch.type === ChannelType.inputs && (this.opts.pingIntervalMs ?? 2000) > 0) {
      // A replaced inputs channel (TLS retry) gets a new probe.
      this.probe?.stop();
      this.probe = new LatencyProbe(ch as InputsChannel, {
        intervalMs: this.opts.pingIntervalMs ?? 2000,
        serverMouseMode: () => this.session.main.info.mouseMode?.current === MouseMode.server,
      }).start();
    }
  }

  get pingMs(): number | null {
    return this.probe?.lastMs ?? null;
  }

  snapshot(): SessionSnapshot {
    return snapshot(this.session, { ...this.opts.extras?.(), fps: this.frames.fps(), pingMs: this.pingMs });
  }

  summary(): MonitorSummary {
    const c = this.probe?.counts;
    return {
      frames: this.frames.frames,
      draws: this.frames.draws,
      averageFps: Math.round(this.frames.averageFps() * 100) / 100,
      pingMs: this.pingMs === null ? null : Math.round(this.pingMs * 100) / 100,
      pingMedianMs: this.probe?.medianMs == null ? null : Math.round(this.probe.medianMs * 100) / 100,
      pings: { sent: c?.sent ?? 0, answered: c?.answered ?? 0, abandoned: c?.abandoned ?? 0, timedOut: c?.timedOut ?? 0 },
      eventLoop: this.loop.count
        ? { meanMs: ms(this.loop.mean), p99Ms: ms(this.loop.percentile(99)), maxMs: ms(this.loop.max) }
        : { meanMs: 0, p99Ms: 0, maxMs: 0 },
    };
  }

  stop(): void {
    this.stopped = true;
    this.loop.disable();
    this.probe?.stop();
    for (const d of this.detach.splice(0)) d();
  }
}
