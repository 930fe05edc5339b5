/**
 * Per-channel, per-direction counters. O(1) per message; rates come from one-second
 * buckets in a small ring, so a UI can poll them at any rate without cost to the channel.
 */
const BUCKETS = 10;

export class DirectionStats {
  bytes = 0;
  messages = 0;
  private readonly ring = new Float64Array(BUCKETS);
  private ringSecond = 0;

  add(bytes: number, messages = 0, nowMs = Date.now()): void {
    this.bytes += bytes;
    this.messages += messages;
    const sec = Math.floor(nowMs / 1000);
    this.advance(sec);
    this.ring[sec % BUCKETS]! += bytes;
  }

  private advance(sec: number): void {
    if (sec === this.ringSecond) return;
    const gap = Math.min(sec - this.ringSecond, BUCKETS);
    for (let i = 1; i <= gap; i++) this.ring[(this.ringSecond + i) % BUCKETS] = 0;
    this.ringSecond = sec;
  }

  /** Bytes per second over the last `seconds` whole seconds (excluding the current one). */
  rate(seconds = 3, nowMs = Date.now()): number {
    const sec = Math.floor(nowMs / 1000);
    this.advance(sec);
    const n = Math.min(seconds, BUCKETS - 1);
    let sum = 0;
    for (let i = 1; i <= n; i++) sum += this.ring[(sec - i + BUCKETS * 2) % BUCKETS]!;
    return sum / n;
  }

  toJSON() {
    return { bytes: this.bytes, messages: this.messages };
  }
}

/**
 * The client's own turnaround: from the moment received bytes are handed to the client (after
 * any incoming limiter) to its next write (before any outgoing limiter), summed. On a
 * request/reply channel (usbredir) that is the time the client held each request, the part of
 * every round trip that is ours. A later read before the write restarts the clock: the reply
 * waited on the bytes that completed the request, not on the first of them.
 */
export class TurnStats {
  /** writes that followed received bytes */
  count = 0;
  /** ms from those bytes to the write, summed */
  ms = 0;
  private lastIn = -1;

  in(nowMs: number): void {
    this.lastIn = nowMs;
  }

  /** The next write is the client's own initiative (e.g. a plug): it answers nothing. */
  idle(): void {
    this.lastIn = -1;
  }

  out(nowMs: number): void {
    if (this.lastIn < 0) return;
    this.count++;
    this.ms += nowMs - this.lastIn;
    this.lastIn = -1;
  }
}

export class ChannelStats {
  readonly in = new DirectionStats();
  readonly out = new DirectionStats();
  readonly turns = new TurnStats();
  /** ms round trip of the last PING answered (server-measured pings carry our time, not theirs). */
  toJSON() {
    return { in: this.in.toJSON(), out: this.out.toJSON() };
  }
}
