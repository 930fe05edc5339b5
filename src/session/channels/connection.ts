import type { Socket } from 'node:net';
import { SpiceError } from '../../util/errors.js';
import { ByteQueue } from '../wire/bytequeue.js';
import { MessageFramer, type RawMessage } from '../wire/framer.js';
import type { ChannelStats } from '../stats/counters.js';

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
    this.stats.in.add(chunk.length);
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
    this.stats.out.add(buf.length, messages);
    return this.socket.write(buf);
  }

  /** Switch to message mode; bytes already read past the link go to the framer first. */
  startMessages(mini: boolean, onMessages: (m: RawMessage[]) => void, onFailure: (e: Error) => void): void {
    this.framer = new MessageFramer({ mini, what: this.what });
    this.onMessages = onMessages;
    this.onFailure = onFailure;
    if (this.q.length) this.deliver(this.q.drain());
  }

  drained(): Promise<void> {
    if (!this.socket.writableNeedDrain || this.ended) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  close(): void {
    this.closedByUs = true;
    this.socket.end();
    this.socket.destroySoon?.();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  get isEnded(): boolean {
    return this.ended !== null;
  }
}
