import type { Socket } from 'node:net';
import { SpiceError } from '../../util/errors.js';
import { ByteQueue } from '../wire/bytequeue.js';
import { MessageFramer, type RawMessage } from '../wire/framer.js';
import type { ChannelStats } from '../stats/counters.js';
import type { TokenBucket } from '../limiter.js';

/**
 * One channel's socket: exact reads during the link stage, then a message stream.
 * Counts every byte each way into the channel's stats.
 */
export class Connection {
  private readonly q = new ByteQueue();
  private waiter: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
  private framer: MessageFramer | null = null;
  private onMessages: ((m: RawMessage[]) => void) | null = null;
  private onFailure: ((e: Error) => void) | null = null;
  private ended: Error | null = null;
  closedByUs = false;
  /** optional bandwidth limits per direction (wire bytes) */
  limitIn: TokenBucket | null = null;
  limitOut: TokenBucket | null = null;
  private outQueue: { buf: Buffer; messages: number }[] = [];
  private outTimer: NodeJS.Timeout | null = null;
  private inTimer: NodeJS.Timeout | null = null;
  private inQueue: Buffer[] = [];
  private inQueued = 0;

  constructor(readonly socket: Socket, readonly stats: ChannelStats, readonly what: string, private readonly onClose: (hadError: boolean) => void) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.end(err));
    socket.on('close', (hadError) => {
      this.end(new SpiceError('disconnected', `${what}: the server closed the connection`));
      this.onClose(hadError);
    });
  }

  private end(err: Error): void {
    if (this.ended) return;
    this.ended = err;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(err);
    }
  }

  private onData(chunk: Buffer): void {
    if (this.limitIn) return this.throttleIn(chunk);
    this.accept(chunk);
  }

  private accept(chunk: Buffer): void {
    this.stats.in.add(chunk.length);
    this.stats.turns.in(performance.now());
    // After our close the server may still be sending: counted (the totals match the wire), not handled.
    if (this.closedByUs) return;
    if (this.framer) return this.deliver(chunk);
    this.q.push(chunk);
    this.wake();
  }

  private deliver(chunk: Buffer): void {
    let msgs: RawMessage[];
    try {
      msgs = this.framer!.feed(chunk);
    } catch (e) {
      this.onFailure?.(e as Error);
      return;
    }
    if (msgs.length) {
      this.stats.in.messages += msgs.length;
      this.onMessages!(msgs);
    }
  }

  private wake(): void {
    if (this.waiter && this.q.length >= this.waiter.n) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve(this.q.take(w.n));
    }
  }

  /** Exactly n bytes (link stage only). */
  read(n: number): Promise<Buffer> {
    if (this.q.length >= n) return Promise.resolve(this.q.take(n));
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => {
      this.waiter = { n, resolve, reject };
    });
  }

  write(buf: Buffer, messages = 0): boolean {
    if (this.ended || this.socket.destroyed) return false;
    this.stats.turns.out(performance.now());
    if (this.limitOut && (this.outQueue.length || this.limitOut.delayMs() > 0)) {
      this.outQueue.push({ buf, messages });
      this.pumpOut();
      return false;
    }
    return this.writeNow(buf, messages);
  }

  private writeNow(buf: Buffer, messages: number): boolean {
    this.stats.out.add(buf.length, messages);
    this.limitOut?.spend(buf.length);
    return this.socket.write(buf);
  }

  /** Releases queued writes as the outgoing bucket allows. */
  private pumpOut(): void {
    if (this.outTimer || !this.limitOut) return;
    const wait = this.limitOut.delayMs();
    this.outTimer = setTimeout(() => {
      this.outTimer = null;
      while (this.outQueue.length && this.limitOut!.delayMs() === 0 && !this.ended) {
        const q = this.outQueue.shift()!;
        this.writeNow(q.buf, q.messages);
      }
      if (this.outQueue.length && !this.ended) this.pumpOut();
      else this.socket.emit('limiter-drain');
    }, wait);
  }

  /**
   * Delivers received bytes no faster than the incoming bucket allows, in slices of at most
   * its burst; past a small backlog the socket is paused, so TCP back-pressure reaches the server.
   */
  private throttleIn(chunk: Buffer): void {
    this.inQueue.push(chunk);
    this.inQueued += chunk.length;
    if (this.inQueued > 4 * this.limitIn!.burst) this.socket.pause();
    this.pumpIn();
  }

  private pumpIn(): void {
    if (this.inTimer) return;
    const bucket = this.limitIn!;
    while (this.inQueue.length && bucket.delayMs() === 0 && !this.isEnded) {
      const head = this.inQueue[0]!;
      const slice = head.subarray(0, bucket.burst);
      if (slice.length === head.length) this.inQueue.shift();
      else this.inQueue[0] = head.subarray(slice.length);
      this.inQueued -= slice.length;
      bucket.spend(slice.length);
      this.accept(slice);
    }
    if (this.inQueued <= 4 * bucket.burst && !this.isEnded) this.socket.resume();
    if (this.inQueue.length && !this.isEnded) {
      this.inTimer = setTimeout(() => {
        this.inTimer = null;
        this.pumpIn();
      }, bucket.delayMs());
    }
  }

  /** Switch to message mode; bytes already read past the link go to the framer first. */
  startMessages(mini: boolean, onMessages: (m: RawMessage[]) => void, onFailure: (e: Error) => void): void {
    this.framer = new MessageFramer({ mini, what: this.what });
    this.onMessages = onMessages;
    this.onFailure = onFailure;
    if (this.q.length) this.deliver(this.q.drain());
  }

  /** Resolves when neither the limiter nor the socket holds queued writes. */
  async drained(): Promise<void> {
    const wait = (ev: string) =>
      new Promise<void>((resolve) => {
        const done = () => {
          this.socket.off(ev, done);
          this.socket.off('close', done);
          resolve();
        };
        this.socket.on(ev, done);
        this.socket.on('close', done);
      });
    while (this.outQueue.length && !this.ended) await wait('limiter-drain');
    if (this.socket.writableNeedDrain && !this.ended) await wait('drain');
  }

  close(): void {
    this.closedByUs = true;
    if (this.outTimer) clearTimeout(this.outTimer);
    if (this.inTimer) clearTimeout(this.inTimer);
    // Queued writes still go out (a device_disconnect must reach the server) before the end.
    for (const q of this.outQueue.splice(0)) this.stats.out.add(q.buf.length, q.messages), this.socket.write(q.buf);
    // Half-close: the server closes its side when it reads our end, and what it sent until then
    // is still read (and counted); a server that never does is cut off after a second.
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /** Resolves once the socket is closed (both ways). */
  whenClosed(): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  get isEnded(): boolean {
    return this.ended !== null;
  }
}
