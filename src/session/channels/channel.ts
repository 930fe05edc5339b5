import { EventEmitter } from 'node:events';
import { ProtocolError, SpiceError } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';
import { performLink, type LinkResult } from '../link.js';
import { ChannelStats } from '../stats/counters.js';
import type { OpenedSocket } from '../transport.js';
import { capBits, capsWords } from '../wire/caps.js';
import { CommonCap, LinkError, MsgBase, MsgcBase, channelName } from '../wire/enums.js';
import { encodeMessage, type RawMessage } from '../wire/framer.js';
import { encodeAckSync, encodePong, parseDisconnecting, parseMessageList, parseNotify, parsePing, parseSetAck } from '../wire/messages/common.js';
import { Connection } from './connection.js';
import { TokenBucket } from '../limiter.js';

export type ChannelState = 'idle' | 'connecting' | 'linking' | 'ready' | 'closed' | 'failed';

/** What a channel needs from its session: sockets, ids and the password. */
export interface ChannelHost {
  log: Logger;
  connectionId(): number;
  password(): { value: string; given: boolean };
  openSocket(channelType: number): Promise<OpenedSocket & { tls: boolean }>;
}

export interface ChannelTimings {
  connectMs?: number;
  tlsMs?: number;
  linkMs?: number;
  authMs?: number;
  /** ms from the session start until this channel was ready */
  readyAtMs?: number;
}

/**
 * Base of every channel: link -> ready -> closed, with ONE failure path (fail()).
 * Handles the messages common to all channels: SET_ACK/ACK window, PING/PONG, NOTIFY,
 * DISCONNECTING, LIST; subclasses get everything else in onMessage().
 */
export abstract class Channel extends EventEmitter {
  state: ChannelState = 'idle';
  readonly stats = new ChannelStats();
  readonly timings: ChannelTimings = {};
  serverCommonCaps: number[] = [];
  serverChannelCaps: number[] = [];
  tls = false;
  error: SpiceError | null = null;
  /** reason code of a server DISCONNECTING message, if one came */
  disconnectReason: number | null = null;
  /** messages received so far: with mini headers this is the serial of the last one */
  received = 0;
  /** bandwidth limits in bytes/s per direction, applied from the first byte (null = none) */
  limit: { in: number | null; out: number | null } = { in: null, out: null };

  protected conn: Connection | null = null;
  private mini = true;
  private serial = 0n;
  private ackWindow = 0;
  private unacked = 0;

  constructor(protected readonly host: ChannelHost, readonly type: number, readonly id: number, protected readonly t0 = performance.now()) {
    super();
  }

  get name(): string {
    return `${channelName(this.type)}:${this.id}`;
  }

  /** Channel caps this client advertises. */
  abstract channelCaps(): number[];
  /** Channel-specific messages. Throwing closes the channel through fail(). */
  protected abstract onMessage(type: number, body: Buffer): void;
  /** Called once the link succeeded, before any message is processed. */
  protected onReady(): void {}

  commonCaps(): number[] {
    return capsWords([CommonCap.authSelection, CommonCap.authSpice, CommonCap.miniHeader]);
  }

  async open(): Promise<void> {
    this.setState('connecting');
    let opened;
    try {
      opened = await this.host.openSocket(this.type);
    } catch (e) {
      throw this.fail(e);
    }
    this.tls = opened.tls;
    this.timings.connectMs = opened.connectMs;
    this.timings.tlsMs = opened.tlsMs;
    this.conn = new Connection(opened.socket, this.stats, this.name, () => this.onSocketClosed());
    if (this.limit.in) this.conn.limitIn = new TokenBucket(this.limit.in);
    if (this.limit.out) this.conn.limitOut = new TokenBucket(this.limit.out);
    this.setState('linking');
    let link: LinkResult;
    try {
      const pw = this.host.password();
      link = await performLink(this.conn, {
        connectionId: this.host.connectionId(),
        channelType: this.type,
        channelId: this.id,
        commonCaps: this.commonCaps(),
        channelCaps: this.channelCaps(),
        password: pw.value,
        passwordGiven: pw.given,
      });
    } catch (e) {
      throw this.fail(e);
    }
    this.serverCommonCaps = link.serverCommonCaps;
    this.serverChannelCaps = link.serverChannelCaps;
    this.mini = link.miniHeader;
    this.timings.linkMs = link.linkMs;
    this.timings.authMs = link.authMs;
    this.timings.readyAtMs = performance.now() - this.t0;
    this.setState('ready');
    this.onReady();
    // Messages may already be buffered (a server that talks first, like QEMU's usbredir hello):
    // start delivering them only after the caller of open() has attached its listeners.
    const conn = this.conn;
    setImmediate(() => conn.startMessages(this.mini, (msgs) => this.dispatchAll(msgs), (e) => this.fail(e)));
  }

  private dispatchAll(msgs: RawMessage[]): void {
    for (const m of msgs) {
      if (this.state !== 'ready') return;
      this.received++;
      // A tap for capture tools and packet-level tests; free when nobody listens.
      if (this.listenerCount('raw')) this.emit('raw', m.type, m.body);
      try {
        this.dispatch(m.type, m.body);
        this.countAck();
      } catch (e) {
        this.fail(e);
        return;
      }
    }
  }

  private dispatch(type: number, body: Buffer): void {
    switch (type) {
      case MsgBase.setAck: {
        const { generation, window } = parseSetAck(body);
        this.ackWindow = window;
        this.unacked = 0;
        this.send(MsgcBase.ackSync, encodeAckSync(generation));
        return;
      }
      case MsgBase.ping: {
        const p = parsePing(body);
        this.send(MsgcBase.pong, encodePong(p.id, p.timestamp));
        this.emit('ping', p);
        return;
      }
      case MsgBase.notify: {
        const n = parseNotify(body);
        this.host.log.info({ channel: this.name, ...n }, 'server notify');
        this.emit('notify', n);
        return;
      }
      case MsgBase.disconnecting:
        this.disconnectReason = parseDisconnecting(body).reason;
        this.host.log.info({ channel: this.name, reason: LinkError[this.disconnectReason] }, 'server is disconnecting');
        return;
      case MsgBase.waitForChannels:
        // We process each channel's messages in order as they arrive; cross-channel waits
        // only matter with several display channels sharing a cache.
        return;
      case MsgBase.list:
        for (const sub of parseMessageList(body)) this.dispatch(sub.type, sub.body);
        return;
      case MsgBase.migrate:
      case MsgBase.migrateData:
        this.host.log.warn({ channel: this.name }, 'server started a migration; spicectl does not follow migrations');
        return;
      default:
        this.onMessage(type, body);
    }
  }

  private countAck(): void {
    if (this.ackWindow === 0) return;
    if (++this.unacked >= this.ackWindow) {
      this.unacked = 0;
      this.send(MsgcBase.ack, Buffer.alloc(0));
    }
  }

  /**
   * Stops reading this channel's socket (TCP back-pressure then holds the server's queue), e.g.
   * to keep main's bandwidth-test download off a slow link while a USB device is recognised.
   */
  pauseReading(): void {
    this.conn?.socket.pause();
  }

  resumeReading(): void {
    this.conn?.socket.resume();
  }

  send(type: number, body: Buffer): boolean {
    if (!this.conn || this.state !== 'ready') return false;
    this.serial++;
    return this.conn.write(encodeMessage(type, body, this.mini, this.serial), 1);
  }

  protected setState(s: ChannelState): void {
    this.state = s;
    this.emit('state', s);
  }

  /** The one failure path: record, close, emit. Returns the SpiceError for throwing. */
  fail(e: unknown): SpiceError {
    const err = e instanceof SpiceError ? e : new ProtocolError(`${this.name}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    if (this.state === 'failed' || this.state === 'closed') return err;
    this.error = err;
    this.setState('failed');
    this.conn?.close();
    this.emit('failed', err);
    return err;
  }

  close(): void {
    if (this.state === 'closed' || this.state === 'failed') return;
    this.setState('closed');
    this.conn?.close();
  }

  /** Resolves once the channel's socket is closed (at once when it has none). */
  whenClosed(): Promise<void> {
    return this.conn?.whenClosed() ?? Promise.resolve();
  }

  private onSocketClosed(): void {
    if (this.state !== 'ready') return;
    const why = this.disconnectReason !== null ? ` (${LinkError[this.disconnectReason] ?? this.disconnectReason})` : '';
    this.fail(new SpiceError('disconnected', `the server closed the ${this.name} channel${why}`));
  }

  describe() {
    return {
      type: channelName(this.type),
      id: this.id,
      state: this.state,
      tls: this.tls,
      caps: { common: capBits(this.serverCommonCaps), channel: capBits(this.serverChannelCaps), client: capBits(this.channelCaps()) },
      stats: this.stats.toJSON(),
      timings: Object.fromEntries(Object.entries(this.timings).map(([k, v]) => [k, Math.round((v as number) * 10) / 10])),
      ...(this.error ? { error: this.error.message } : {}),
    };
  }
}
