// An in-process WAN link emulator: a TCP forwarder on 127.0.0.1 whose connections all share
// ONE token bucket per direction (client->server "up", server->client "down"), with an
// optional one-way delay. Point a whole SPICE session at it and every channel competes for
// the same link, as with the lab's ratelimit-proxy.py. Used by `spicectl bench` (--limit),
// `spicectl bench shaper` and bench/recognition.ts.
//
//   const shaper = new LinkShaper({ rate: 30_000, delayMs: 20 });
//   const port = await shaper.listen({ host: '127.0.0.1', port: 5930 });
//   ... connect to 127.0.0.1:port ...
//   shaper.counters   // bytes each way, connections
//   await shaper.close();
//
// Data is forwarded in slices of at most the bucket's burst, FIFO across connections, so a
// bulk transfer on one channel cannot starve another for more than one slice. A slow reader
// on either side back-pressures the other (pause until 'drain').
//
// Each connection is tagged with the SPICE channel it carries, read from the client's
// SpiceLinkMess (plain TCP only), and knows whether bytes are still on their way each way:
// `shaper.find(9)` is the usbredir connection, `.up.busy` / `.up.lastDoneAt` tell when the
// client's last bytes left the link (the bench's idle detection uses it).

import net from 'node:net';
import { SpiceError } from '../util/errors.js';
import { TokenBucket } from '../session/limiter.js';
import { LINK_MAGIC } from '../session/wire/enums.js';

export type ShaperTarget = { host: string; port: number } | { path: string };

export interface ShaperOptions {
  /** bytes/s per direction; null = unlimited (a plain forwarder, still counting bytes) */
  rate: number | null;
  /** client->server rate when it differs from `rate` */
  rateUp?: number | null;
  /** one-way delay added to every slice, ms (default 0) */
  delayMs?: number;
  /** bucket size in bytes (default max(1460, rate/20), like ratelimit-proxy.py) */
  burst?: number;
  /** address to listen on (default 127.0.0.1) */
  listenHost?: string;
}

export interface ShaperCounters {
  connections: number;
  active: number;
  /** client -> server bytes */
  up: number;
  /** server -> client bytes */
  down: number;
}

/** One direction of one connection. */
export interface PipeState {
  /** bytes that crossed the link (were let through the bucket) */
  bytes: number;
  /** bytes taken from the source that have not yet been written to the destination */
  busy: boolean;
  /** performance.now() when the pipe last became idle (null: never carried anything) */
  lastDoneAt: number | null;
}

export interface ShapedConnection {
  id: number;
  /** SPICE channel type and id from the client's link message (null: not SPICE, or TLS) */
  channelType: number | null;
  channelId: number | null;
  up: PipeState;
  down: PipeState;
}

/**
 * A token bucket shared by many streams: waiters are served in arrival order. A waiter goes as
 * soon as the bucket is not overdrawn (TokenBucket's rule), so it may overdraw by one slice;
 * the long-run rate is exact.
 */
export class SharedBucket {
  bytes = 0;
  readonly bucket: TokenBucket | null;
  /** largest slice a stream should take at once */
  readonly slice: number;
  private readonly queue: { n: number; resolve: () => void }[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(rate: number | null, burst?: number) {
    this.bucket = rate ? new TokenBucket(rate, burst ?? Math.max(1460, Math.round(rate / 20))) : null;
    this.slice = this.bucket ? this.bucket.burst : 65536;
  }

  /** Resolves when n bytes (n <= slice) may go. */
  take(n: number): Promise<void> {
    this.bytes += n;
    if (!this.bucket) return Promise.resolve();
    return new Promise((resolve) => {
      this.queue.push({ n, resolve });
      this.pump();
    });
  }

  private pump(): void {
    if (this.timer) return;
    const b = this.bucket!;
    while (this.queue.length && b.delayMs() === 0) {
      const w = this.queue.shift()!;
      b.spend(w.n);
      w.resolve();
    }
    if (this.queue.length) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, Math.max(1, b.delayMs()));
    }
  }

  /** Drops every waiter (they never resolve) and the timer. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue.length = 0;
  }
}

/** Delivers buffers to a socket after a fixed delay, in order. */
class DelayLine {
  private readonly q: { due: number; buf: Buffer | null }[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly delayMs: number, private readonly dst: net.Socket) {}

  get empty(): boolean {
    return this.q.length === 0;
  }

  /** Called when the queue runs empty after a delayed write. */
  onEmpty: (() => void) | null = null;

  /** Returns false when the destination wants the source to wait for 'drain'. buf null = end. */
  push(buf: Buffer | null): boolean {
    if (this.delayMs <= 0) return this.write(buf);
    this.q.push({ due: performance.now() + this.delayMs, buf });
    this.arm();
    return !this.dst.writableNeedDrain;
  }

  private write(buf: Buffer | null): boolean {
    if (this.dst.destroyed) return true;
    if (buf === null) {
      this.dst.end();
      return true;
    }
    return this.dst.write(buf);
  }

  private arm(): void {
    if (this.timer || !this.q.length) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const now = performance.now();
      while (this.q.length && this.q[0]!.due <= now + 0.5) this.write(this.q.shift()!.buf);
      if (!this.q.length) this.onEmpty?.();
      this.arm();
    }, Math.max(0, Math.ceil(this.q[0]!.due - performance.now())));
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.q.length = 0;
  }
}

export class LinkShaper {
  readonly up: SharedBucket;
  readonly down: SharedBucket;
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<net.Socket>();
  private readonly clients = new Set<net.Socket>();
  private readonly lines = new Set<DelayLine>();
  private readonly open = new Map<number, ShapedConnection>();
  private connections = 0;
  private closed = false;

  constructor(readonly opts: ShaperOptions) {
    this.up = new SharedBucket(opts.rateUp === undefined ? opts.rate : opts.rateUp, opts.burst);
    this.down = new SharedBucket(opts.rate, opts.burst);
  }

  /** Open connections, oldest first. */
  list(): ShapedConnection[] {
    return [...this.open.values()];
  }

  /** The newest open connection carrying this SPICE channel type (and id). */
  find(channelType: number, channelId?: number): ShapedConnection | undefined {
    return this.list().reverse().find((c) => c.channelType === channelType && (channelId === undefined || c.channelId === channelId));
  }

  get counters(): ShaperCounters {
    return { connections: this.connections, active: this.clients.size, up: this.up.bytes, down: this.down.bytes };
  }

  /**
   * Listens on listenHost:port (0 = any free port) and forwards every connection to target.
   * May be called several times (e.g. a plain and a TLS port): all share the same buckets.
   */
  async listen(target: ShaperTarget, port = 0): Promise<number> {
    if (this.closed) throw new SpiceError('usage', 'the link shaper is closed');
    // Half-open both ways: a side's end is passed on by pipe() after its last bytes.
    const server = net.createServer({ allowHalfOpen: true }, (client) => this.accept(client, target));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(new SpiceError('usage', `the link shaper cannot listen on ${this.opts.listenHost ?? '127.0.0.1'}:${port}: ${e.code === 'EADDRINUSE' ? 'the port is in use' : e.message}`)));
      server.listen(port, this.opts.listenHost ?? '127.0.0.1', () => resolve());
    });
    this.servers.push(server);
    return (server.address() as net.AddressInfo).port;
  }

  private accept(client: net.Socket, target: ShaperTarget): void {
    const info: ShapedConnection = {
      id: ++this.connections,
      channelType: null,
      channelId: null,
      up: { bytes: 0, busy: false, lastDoneAt: null },
      down: { bytes: 0, busy: false, lastDoneAt: null },
    };
    this.open.set(info.id, info);
    client.setNoDelay(true);
    const server = 'path' in target
      ? net.connect({ path: target.path, allowHalfOpen: true })
      : net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
    if (!('path' in target)) server.setNoDelay(true);
    this.sockets.add(client);
    this.sockets.add(server);
    this.clients.add(client);
    // Until the server side is up, the client's bytes wait in its socket (paused).
    client.pause();
    const teardown = () => {
      client.destroy();
      server.destroy();
    };
    client.on('error', teardown);
    server.on('error', teardown);
    // A side that closes has its end passed on by pipe() once its last bytes went through.
    client.on('close', () => {
      this.sockets.delete(client);
      this.clients.delete(client);
      this.open.delete(info.id);
    });
    server.on('close', () => this.sockets.delete(server));
    server.once('connect', () => {
      // The client speaks first: its SpiceLinkMess says which channel this connection carries.
      let head = Buffer.alloc(0);
      const sniff = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk.subarray(0, 22 - head.length)]);
        if (head.length < 22) return;
        client.off('data', sniff);
        if (head.readUInt32LE(0) === LINK_MAGIC) {
          info.channelType = head[20]!;
          info.channelId = head[21]!;
        }
      };
      client.on('data', sniff);
      this.pipe(client, server, this.up, info.up);
      this.pipe(server, client, this.down, info.down);
      client.resume();
    });
  }

  /** src -> dst through a shared bucket and the delay line, honouring back-pressure. */
  private pipe(src: net.Socket, dst: net.Socket, bucket: SharedBucket, state: PipeState): void {
    const line = new DelayLine(this.opts.delayMs ?? 0, dst);
    let forwarding = false;
    const idle = () => {
      if (forwarding || !line.empty) return;
      state.busy = false;
      state.lastDoneAt = performance.now();
    };
    line.onEmpty = idle;
    this.lines.add(line);
    dst.once('close', () => {
      line.stop();
      this.lines.delete(line);
    });
    // The chunk being forwarded: 'end' may come while it still waits for tokens.
    let current: Promise<void> = Promise.resolve();
    src.on('data', (chunk: Buffer) => {
      src.pause();
      state.busy = true;
      forwarding = true;
      current = (async () => {
        for (let off = 0; off < chunk.length; off += bucket.slice) {
          const piece = chunk.subarray(off, off + bucket.slice);
          // Like TCP, the link carries nothing the receiver has no room for: a reader that
          // stopped reading (a paused channel) does not use up the shared bandwidth.
          if (dst.writableNeedDrain) await drainOrClose(dst);
          if (this.closed || dst.destroyed) return;
          await bucket.take(piece.length);
          if (this.closed || dst.destroyed) return;
          state.bytes += piece.length;
          line.push(piece);
        }
        forwarding = false;
        idle();
        // Checked now, not at each write: a 'drain' that already happened is not waited for.
        if (!dst.writableNeedDrain) src.resume();
        else dst.once('drain', () => src.resume());
      })();
    });
    // End (or a close without one) goes to the other side after the bytes still on their way.
    const finish = () => void current.then(() => line.push(null));
    src.once('end', finish);
    src.once('close', finish);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.up.stop();
    this.down.stop();
    for (const l of this.lines) l.stop();
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

function drainOrClose(s: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    s.on('drain', done);
    s.on('close', done);
  });
}

/** "5930", "host:5930", "[::1]:5930", "unix:/path" -> a target. */
export function parseTarget(text: string): ShaperTarget {
  const t = text.trim();
  if (t.startsWith('unix:')) {
    const path = t.slice(5);
    if (!path.startsWith('/')) throw new SpiceError('usage', `"${text}": write unix:/absolute/path`);
    return { path };
  }
  let host = '127.0.0.1';
  let port = t;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(t);
  if (v6) [host, port] = [v6[1]!, v6[2]!];
  else if (t.includes(':')) {
    const i = t.lastIndexOf(':');
    [host, port] = [t.slice(0, i), t.slice(i + 1)];
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535 || !host) {
    throw new SpiceError('usage', `"${text}" is not a target: write PORT, HOST:PORT, [V6]:PORT or unix:/path`);
  }
  return { host, port: Number(port) };
}

export function describeShaperTarget(t: ShaperTarget): string {
  return 'path' in t ? `unix:${t.path}` : `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
}
