// Round-trip time to the server, measured on the inputs channel.
//
// A SPICE client cannot send PING (only the server does, and it keeps the result). What a client
// can time is the server's MOUSE_MOTION_ACK: the server counts every MOUSE_MOTION and
// MOUSE_POSITION it receives and acks each 4th (MOTION_ACK_BUNCH). So a probe writes 4
// MOUSE_MOTION messages with dx = dy = 0 and the current buttons back to back: whatever the
// server's count was, exactly one multiple of 4 is crossed, so exactly one ack answers them, and
// the time from the write to that ack is one round trip (plus the server's handling of 4 tiny
// messages).
//
// A zero relative motion moves nothing, so probes are sent only in server mouse mode (where
// motion is relative; client mode takes absolute positions we do not track), only when no real
// motion is queued, and only when no earlier ack is still due (else that ack would be taken for
// ours): the channel's `unackedMotions` when it exposes one, else no motion queued is the test.
// A probe that finds the channel's motion window full is abandoned (the zero motions coalesce and
// go with the next ack, harmlessly). An ack that never comes (lost probe) is given up after
// `timeoutMs`, and probing goes on.
import { MOTION_ACK_BUNCH } from './wire/enums.js';

/** What the probe needs from an inputs channel (InputsChannel has all of it). */
export interface MotionChannel {
  readonly state: string;
  /** motion coalesced and waiting for the server's acks */
  readonly motionPending: boolean;
  /** motion messages sent and not yet acked, when the channel says */
  readonly unackedMotions?: number;
  moveBy(dx: number, dy: number): void;
  on(event: 'motion-ack', listener: () => void): unknown;
  off(event: 'motion-ack', listener: () => void): unknown;
}

export interface LatencyProbeOptions {
  /** time between probes (default 2000 ms) */
  intervalMs?: number;
  /** whether the session is in server mouse mode now (probes are sent only then) */
  serverMouseMode: () => boolean;
  /** give up on a probe's ack after this long (default 5000 ms) */
  timeoutMs?: number;
  /** samples kept for the median (default 5) */
  keep?: number;
  /** monotonic clock (ms) */
  now?: () => number;
}

export class LatencyProbe {
  /** the last round trip measured (ms), or null */
  lastMs: number | null = null;
  /** probes answered, abandoned (window full), timed out */
  readonly counts = { sent: 0, answered: 0, abandoned: 0, timedOut: 0, skipped: 0 };
  private readonly samples: number[] = [];
  private waiting: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  private readonly onAck = () => this.ack();

  constructor(private readonly channel: MotionChannel, private readonly opts: LatencyProbeOptions) {
    this.now = opts.now ?? (() => performance.now());
    channel.on('motion-ack', this.onAck);
  }

  /** Probes every intervalMs (the timer does not keep the process alive). */
  start(): this {
    if (!this.timer) {
      this.timer = setInterval(() => this.probe(), this.opts.intervalMs ?? 2000);
      this.timer.unref();
    }
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.channel.off('motion-ack', this.onAck);
  }

  /** Median of the recent samples (ms), or null before the first. */
  get medianMs(): number | null {
    if (!this.samples.length) return null;
    const s = [...this.samples].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
  }

  /** Sends one probe if the conditions hold; returns whether it did. Public for tests. */
  probe(): boolean {
    const ch = this.channel;
    const now = this.now();
    if (this.waiting !== null) {
      if (now - this.waiting < (this.opts.timeoutMs ?? 5000)) return this.skip();
      this.waiting = null;
      this.counts.timedOut++;
    }
    if (ch.state !== 'ready' || !this.opts.serverMouseMode()) {
      // No measure in client mouse mode (or without a channel): show none rather than a stale one.
      this.lastMs = null;
      return this.skip();
    }
    if (ch.motionPending || (ch.unackedMotions ?? 0) >= MOTION_ACK_BUNCH) return this.skip();
    for (let i = 0; i < MOTION_ACK_BUNCH; i++) {
      ch.moveBy(0, 0);
      if (ch.motionPending) {
        // The motion window is full: the rest is coalesced; the timing would mean nothing.
        this.counts.abandoned++;
        return false;
      }
    }
    this.counts.sent++;
    this.waiting = now;
    return true;
  }

  private skip(): false {
    this.counts.skipped++;
    return false;
  }

  private ack(): void {
    if (this.waiting === null) return;
    const rtt = this.now() - this.waiting;
    this.waiting = null;
    this.counts.answered++;
    this.lastMs = rtt;
    this.samples.push(rtt);
    if (this.samples.length > (this.opts.keep ?? 5)) this.samples.shift();
  }
}
