import { EventEmitter, once } from 'node:events';
import { SpiceError } from '../util/errors.js';
import { silentLogger, type Logger } from '../util/log.js';
import { Channel, type ChannelHost } from './channels/channel.js';
import type { CursorChannel } from './channels/cursor.js';
import type { DisplayChannel } from './channels/display.js';
import type { InputsChannel } from './channels/inputs.js';
import { MainChannel } from './channels/main.js';
import type { PlaybackChannel } from './channels/playback.js';
import { PortChannel } from './channels/port.js';
import type { RecordChannel } from './channels/record.js';
import { SpicevmcChannel } from './channels/spicevmc.js';
import { glzWindowPixels } from '../render/glz-window.js';
import { LinkRefused } from './link.js';
import type { ProxyUrl } from './proxy.js';
import { openSocket, type Target, type TlsSettings } from './transport.js';
import type { Endpoint } from './uri.js';
import { ChannelType, ImageCompression, LINK_ERR_NEED_SECURED, channelName } from './wire/enums.js';

export interface SessionOptions {
  endpoint: Endpoint;
  password?: string;
  tls?: TlsSettings;
  /** channel names that must use TLS, or ['all'] */
  secureChannels?: string[];
  /** channel names not to open */
  disableChannels?: string[];
  /** HTTP CONNECT proxy for every TCP/TLS channel (resolveProxy: --proxy, .vv proxy=, SPICE_PROXY) */
  proxy?: ProxyUrl;
  connectTimeoutMs?: number;
  log?: Logger;
  /** PREFERRED_COMPRESSION for display channels; null keeps the server's setting (default LZ4). */
  preferredCompression?: number | null;
  glzWindow?: number;
  /** false: display messages are counted but not drawn (capture tools) */
  drawDisplay?: boolean;
  /** channel types opened automatically from the server's list (default display, inputs, cursor) */
  autoOpen?: number[];
  /** guest agent: clipboard size limit (bytes, -1 = none; default 100 MiB), told to the agent */
  agent?: { maxClipboard?: number };
  /** ask for client mouse mode once the agent is up and the server offers it (default true) */
  clientMouse?: boolean;
}

/** Channel types opened from the server's list unless the caller says otherwise. */
const AUTO_OPEN = [ChannelType.display, ChannelType.inputs, ChannelType.cursor];
/** Channel types createChannel() can build. */
const IMPLEMENTED: number[] = [ChannelType.display, ChannelType.inputs, ChannelType.cursor, ChannelType.playback, ChannelType.record];

/**
 * Owns the channels of one SPICE session: links main, learns the session id and the channel
 * list, opens the channels it implements. Emits 'channel' (Channel), 'failed' (SpiceError),
 * 'first-frame' (DisplayChannel).
 */
export class Session extends EventEmitter {
  readonly t0 = performance.now();
  readonly log: Logger;
  main: MainChannel;
  readonly channels: Channel[] = [];
  /** channels the server offers that this client does not open (yet) */
  readonly notOpened: { type: number; id: number; why: string }[] = [];
  error: SpiceError | null = null;
  private readonly forceTls = new Set<number>();
  private closing = false;

  constructor(readonly opts: SessionOptions) {
    super();
    this.log = opts.log ?? silentLogger;
    this.main = this.newMain();
    this.track(this.main);
  }

  private newMain(): MainChannel {
    return new MainChannel(this.host(), this.t0, { agent: this.opts.agent, clientMouse: this.opts.clientMouse });
  }

  private host(): ChannelHost {
    return {
      log: this.log,
      // 0 links a new main channel; every other channel uses the session id from MAIN_INIT.
      connectionId: () => this.main.info.init?.sessionId ?? 0,
      password: () => ({ value: this.opts.password ?? '', given: this.opts.password !== undefined }),
      openSocket: (type) => this.openChannelSocket(type),
    };
  }

  /** spice-gtk's rule: TLS if listed secure (or 'all'); else the plain port; else the TLS port. */
  private targetFor(type: number): Target {
    const ep = this.opts.endpoint;
    if (ep.unixPath) return { kind: 'unix', path: ep.unixPath };
    const secure = this.opts.secureChannels ?? [];
    const wantTls = this.forceTls.has(type) || secure.includes('all') || secure.includes(channelName(type));
    if (wantTls && ep.tlsPort === undefined) {
      throw new SpiceError('usage', `the ${channelName(type)} channel must use TLS, but no tls-port is known: give one (spice+tls:// or ?tls-port=)`);
    }
    if (!wantTls && ep.port !== undefined) return { kind: 'tcp', host: ep.host!, port: ep.port };
    return { kind: 'tls', host: ep.host!, port: ep.tlsPort! };
  }

  private async openChannelSocket(type: number) {
    const target = this.targetFor(type);
    const opened = await openSocket(target, { tls: this.opts.tls, timeoutMs: this.opts.connectTimeoutMs ?? 10_000, proxy: this.opts.proxy });
    return { ...opened, tls: target.kind === 'tls' };
  }

  /** A critical channel's failure fails the session; an optional one is just dropped. */
  private track(ch: Channel, critical = true): void {
    // Kept in (type, id) order, as the server lists them: channels open concurrently (their
    // modules load lazily), and reports should not depend on which one won the race.
    const at = this.channels.findIndex((c) => c.type > ch.type || (c.type === ch.type && c.id > ch.id));
    this.channels.splice(at < 0 ? this.channels.length : at, 0, ch);
    ch.on('failed', (err: SpiceError) => {
      if (critical) this.fail(err);
      else if (ch.state !== 'ready') this.channels.splice(this.channels.indexOf(ch), 1);
    });
    this.emit('channel', ch);
  }

  private fail(err: SpiceError): void {
    if (this.closing || this.error) return;
    this.error = err;
    this.log.debug({ err: err.message }, 'session failed');
    this.emit('failed', err);
    this.close();
  }

  /** Links main and waits for MAIN_INIT; the listed channels then open as they are announced. */
  async connect(): Promise<void> {
    this.main.on('channels', (list: { type: number; id: number }[]) => this.openAll(list));
    await this.openWithTlsRetry(this.main, () => {
      this.main = this.newMain();
      this.main.on('channels', (list: { type: number; id: number }[]) => this.openAll(list));
      return this.main;
    });
    if (!this.main.info.init) await Promise.race([once(this.main, 'init'), this.failure()]);
  }

  private openAll(list: { type: number; id: number }[]): void {
    for (const c of list) void this.openListed(c.type, c.id);
  }

  /** A promise that rejects when the session fails (for races). */
  failure(): Promise<never> {
    return new Promise((_, reject) => {
      if (this.error) reject(this.error);
      else this.once('failed', reject);
    });
  }

  /** Opens ch; on NEED_SECURED retries a fresh one from make() on the TLS port, as spice-gtk does. */
  private async openWithTlsRetry<T extends Channel>(ch: T, make: () => T | Promise<T>): Promise<T> {
    try {
      await ch.open();
      return ch;
    } catch (e) {
      if (e instanceof LinkRefused && e.linkError === LINK_ERR_NEED_SECURED && this.opts.endpoint.tlsPort !== undefined && !this.forceTls.has(ch.type)) {
        this.forceTls.add(ch.type);
        this.error = null;
        const retry = await make();
        this.channels.splice(this.channels.indexOf(ch), 1);
        this.track(retry);
        return this.openWithTlsRetry(retry, make);
      }
      throw e;
    }
  }

  /** Display, inputs and cursor load on demand: a USB-only session never pays for the renderer. */
  private async createChannel(type: number, id: number): Promise<Channel | null> {
    const host = this.host();
    switch (type) {
      case ChannelType.display: {
        const { DisplayChannel } = await import('./channels/display.js');
        return new DisplayChannel(host, id, {
          preferredCompression: this.opts.preferredCompression === undefined ? ImageCompression.lz4 : this.opts.preferredCompression,
          // A real GLZ window, sized from the guest's RAM as spice-gtk does.
          glzWindow: this.opts.glzWindow ?? glzWindowPixels(this.main.info.init?.ramHint ?? 0),
          draw: this.opts.drawDisplay,
        }, this.t0);
      }
      case ChannelType.inputs: return new (await import('./channels/inputs.js')).InputsChannel(host, id, this.t0);
      case ChannelType.cursor: return new (await import('./channels/cursor.js')).CursorChannel(host, id, this.t0);
      case ChannelType.playback: return new (await import('./channels/playback.js')).PlaybackChannel(host, id, this.t0);
      case ChannelType.record:
        return new (await import('./channels/record.js')).RecordChannel(host, id, { clock: () => this.main.mmTime() }, this.t0);
      default: return null;
    }
  }

  private async openListed(type: number, id: number): Promise<void> {
    const name = channelName(type);
    if (this.opts.disableChannels?.includes(name)) {
      this.notOpened.push({ type, id, why: 'disabled' });
      return;
    }
    const auto = this.opts.autoOpen ?? AUTO_OPEN;
    if (!auto.includes(type) || !IMPLEMENTED.includes(type)) {
      this.notOpened.push({ type, id, why: IMPLEMENTED.includes(type) || type === ChannelType.usbredir ? 'not requested' : 'not implemented yet' });
      return;
    }
    const ch = (await this.createChannel(type, id))!;
    if (this.closing) return;
    this.track(ch);
    if (type === ChannelType.display) ch.once('mark', () => this.emit('first-frame', ch));
    try {
      await this.openWithTlsRetry(ch, async () => (await this.createChannel(type, id))!);
    } catch {
      // fail() already recorded it and failed the session
    }
  }

  /**
   * Opens a spicevmc channel (usbredir, port) by id. It may be called right after MAIN_INIT,
   * before the server's channel list arrives: the session id is all the link needs.
   */
  async openSpicevmc(
    type: number,
    id: number,
    lz4: boolean,
    limit?: { in: number | null; out: number | null },
    /** a failed link (e.g. a guessed id the server lacks) throws without failing the session */
    probe = false,
  ): Promise<SpicevmcChannel> {
    const make = () => {
      const ch = type === ChannelType.port ? new PortChannel(this.host(), id, lz4, this.t0) : new SpicevmcChannel(this.host(), type, id, lz4, this.t0);
      if (limit) ch.limit = limit;
      return ch;
    };
    const ch = make();
    this.notOpened.splice(0, this.notOpened.length, ...this.notOpened.filter((c) => !(c.type === type && c.id === id)));
    this.track(ch, !probe);
    const opened = await this.openWithTlsRetry(ch, make);
    if (probe) opened.on('failed', (err: SpiceError) => this.fail(err));
    return opened;
  }

  /** Ids of the channels of this type the server listed. */
  listed(type: number): number[] {
    return this.main.info.channels.filter((c) => c.type === type).map((c) => c.id);
  }

  get display(): DisplayChannel | undefined {
    return this.channels.find((c) => c.type === ChannelType.display) as DisplayChannel | undefined;
  }
  get inputs(): InputsChannel | undefined {
    return this.channels.find((c) => c.type === ChannelType.inputs && c.state === 'ready') as InputsChannel | undefined;
  }
  get cursor(): CursorChannel | undefined {
    return this.channels.find((c) => c.type === ChannelType.cursor) as CursorChannel | undefined;
  }
  get playback(): PlaybackChannel | undefined {
    return this.channels.find((c) => c.type === ChannelType.playback) as PlaybackChannel | undefined;
  }
  get record(): RecordChannel | undefined {
    return this.channels.find((c) => c.type === ChannelType.record) as RecordChannel | undefined;
  }

  /** Resolves when pred() holds (checked on every channel event), rejects on failure. */
  waitFor(pred: () => boolean, events: string[] = ['state', 'mark', 'draw', 'init', 'channels']): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.error) return reject(this.error);
      if (pred()) return resolve();
      const check = () => {
        if (pred()) {
          cleanup();
          resolve();
        }
      };
      const onFail = (e: SpiceError) => {
        cleanup();
        reject(e);
      };
      const attach = (ch: Channel) => events.forEach((ev) => ch.on(ev, check));
      const cleanup = () => {
        this.off('failed', onFail);
        this.off('channel', onChannel);
        for (const ch of this.channels) events.forEach((ev) => ch.off(ev, check));
      };
      const onChannel = (ch: Channel) => {
        attach(ch);
        check();
      };
      this.once('failed', onFail);
      this.on('channel', onChannel);
      this.channels.forEach(attach);
    });
  }

  close(): void {
    this.closing = true;
    for (const ch of this.channels) ch.close();
  }

  /** Resolves once every channel's socket is closed, or after `ms`. */
  async whenClosed(ms = 1000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    await Promise.race([Promise.all(this.channels.map((ch) => ch.whenClosed())), late]);
    clearTimeout(timer);
  }
}
