// Redirect one or more devices into a SPICE guest, each on its own usbredir channel.
// The core of `spicectl usb redirect` and of `bench`: no commander, no console.
import { EventEmitter } from 'node:events';
import { SpiceError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { Session } from '../session/session.js';
import type { SpicevmcChannel } from '../session/channels/spicevmc.js';
import { ChannelType } from '../session/wire/enums.js';
import { preloadLz4 } from '../session/wire/messages/spicevmc.js';
import type { UsbDeviceBackend, UsbSpeed } from './backend.js';
import { UsbredirHost, type UsbTraceEvent } from './host.js';
import { openEmulatedCd, openEmulatedDisk } from './emulated/mass-storage.js';
import { warmUpRequestPath } from './warm-up.js';
import type { EmulatedSpeed } from './emulated/speed.js';

export type DeviceSource =
  | { kind: 'disk'; path: string; readOnly?: boolean; speed?: EmulatedSpeed; uas?: boolean }
  | { kind: 'cd'; path: string; speed?: EmulatedSpeed; uas?: boolean }
  | { kind: 'device'; selector: string };

export function describeSource(s: DeviceSource): string {
  return s.kind === 'device' ? `device ${s.selector}` : `${s.kind} ${s.path}`;
}

/** What an emulated device tells about itself while it runs. */
export interface DeviceHooks {
  onSpeedChange?: (speed: UsbSpeed, reason: string) => void;
  /** the guest picked the mass-storage transport (Bulk-Only or UAS) */
  onTransport?: (transport: 'bot' | 'uas') => void;
}

export async function openBackend(s: DeviceSource, log?: Logger, hooks: DeviceHooks = {}): Promise<UsbDeviceBackend> {
  if (s.kind === 'disk') return openEmulatedDisk(s.path, { readOnly: s.readOnly, speed: s.speed, uas: s.uas, ...hooks });
  if (s.kind === 'cd') return openEmulatedCd(s.path, { speed: s.speed, uas: s.uas, ...hooks });
  const { openLibusbDevice } = (await import('./libusb-backend.js')) as unknown as {
    openLibusbDevice?: (sel: string, o: { log?: Logger }) => Promise<UsbDeviceBackend>;
  };
  if (!openLibusbDevice) throw new SpiceError('input', 'redirecting real USB devices is not available in this build');
  return openLibusbDevice(s.selector, { log });
}

/** Device kinds whose request path this process has warmed up (V8 keeps what it compiled). */
const warmed = new Set<'disk' | 'cd'>();

export interface RedirectOptions {
  lz4: boolean;
  limit?: { in: number | null; out: number | null };
  log?: Logger;
  version: string;
  /** usbredir channel ids to use, in order; default: the ids the server lists */
  channelIds?: number[];
  onTrace?: (index: number, ev: UsbTraceEvent) => void;
  /** pause reading the main channel while devices are recognised (default true) */
  holdMain?: boolean;
  /** an emulated device changed the speed it runs at (index of its source) */
  onSpeedChange?: (index: number, speed: UsbSpeed, reason: string) => void;
  /** an emulated mass-storage device's transport, as the guest chose it (index of its source) */
  onTransport?: (index: number, transport: 'bot' | 'uas') => void;
  /** plug each device as soon as its channel is up (default true); else call host.connect() */
  autoConnect?: boolean;
  /** run a scratch copy of an emulated device through a probe while the guest debounces its
   *  port, so V8 has compiled the request path before the real requests (default true) */
  warmUp?: boolean;
}

export interface Redirection {
  source: DeviceSource;
  device: UsbDeviceBackend;
  channel: SpicevmcChannel;
  host: UsbredirHost;
  connected: boolean;
}

/**
 * Plugs each source into its own usbredir channel. Emits 'connected' (index, info),
 * 'rejected' (index, reason), 'gone' (index, reason) and 'failed' (SpiceError).
 */
export class UsbRedirector extends EventEmitter {
  readonly items: Redirection[] = [];
  private closing: Promise<void> | null = null;

  constructor(private readonly session: Session, private readonly opts: RedirectOptions) {
    super();
  }

  /**
   * While devices are being recognised, the main channel is not read: right after MAIN_INIT the
   * server queues a ~256 KB bandwidth test there, which on a slow link would take the
   * bandwidth the guest's first reads need. Reading resumes once every device has been quiet
   * for `quietMs` after connecting, or after `maxQuietMs` at the latest.
   */
  private holdMain(): void {
    const quietMs = 1500;
    const main = this.session.main;
    main.pauseReading();
    let last = performance.now();
    const started = last;
    let lastTotal = -1;
    const timer = setInterval(() => {
      const total = this.items.reduce((n, it) => n + (it ? it.channel.payload.payloadIn + it.channel.payload.payloadOut : 0), 0);
      const now = performance.now();
      if (total !== lastTotal || !this.items.length || this.items.some((it) => !it?.connected)) last = now;
      lastTotal = total;
      if (now - last >= quietMs || now - started >= 20_000 || this.closing) {
        clearInterval(timer);
        main.resumeReading();
      }
    }, 250);
    timer.unref();
  }

  /** Emulated devices opened by prepare(), by source index, not yet handed to start(). */
  private prepared = new Map<number, UsbDeviceBackend>();

  /**
   * Opens the images of the emulated devices now, before any connection: a missing, unreadable
   * or empty image fails at once, whether or not the server can be reached. start() uses them.
   * Real devices are opened by start(), once the session is up (opening one takes it from its
   * kernel driver).
   */
  async prepare(sources: DeviceSource[]): Promise<void> {
    try {
      for (const [i, s] of sources.entries()) if (s.kind !== 'device' && !this.prepared.has(i)) this.prepared.set(i, await this.open(i, s));
    } catch (e) {
      await this.closePrepared();
      throw e;
    }
  }

  private open(i: number, s: DeviceSource): Promise<UsbDeviceBackend> {
    const { onSpeedChange: onSpeed, onTransport: onTr } = this.opts;
    return openBackend(s, this.opts.log, {
      onSpeedChange: onSpeed && ((speed, reason) => onSpeed(i, speed, reason)),
      onTransport: onTr && ((t) => onTr(i, t)),
    });
  }

  private async closePrepared(): Promise<void> {
    const left = [...this.prepared.values()];
    this.prepared.clear();
    await Promise.all(left.map((d) => d.close().catch(() => {})));
  }

  /** Opens every backend first (a bad image fails before anything reaches the guest), then the channels. */
  async start(sources: DeviceSource[]): Promise<void> {
    const devices: UsbDeviceBackend[] = [];
    try {
      for (const [i, s] of sources.entries()) {
        const ready = this.prepared.get(i);
        this.prepared.delete(i);
        devices.push(ready ?? (await this.open(i, s)));
      }
    } catch (e) {
      await Promise.all(devices.map((d) => d.close().catch(() => {})));
      await this.closePrepared();
      throw e;
    }
    if (this.opts.holdMain ?? true) this.holdMain();
    const ids = this.opts.channelIds ?? (await this.channelIds(sources.length));
    if (ids.length < sources.length) {
      await Promise.all(devices.map((d) => d.close().catch(() => {})));
      throw new SpiceError('input', ids.length
        ? `the VM has ${ids.length} usbredir channel(s) for ${sources.length} devices: add usb-redir devices to the VM or redirect fewer`
        : 'the VM offers no usbredir channel: add a usb-redir device with a spicevmc chardev (libvirt: <redirdev bus="usb" type="spicevmc"/>)');
    }
    await Promise.all(sources.map((source, i) => this.plug(i, source, devices[i]!, ids[i]!)));
  }

  /**
   * The usbredir channel ids to use. The server's CHANNELS_LIST can arrive seconds late on a
   * slow link (it is queued behind the main channel's bandwidth test), but the session id from
   * MAIN_INIT is all a link needs, and QEMU numbers its usbredir channels 0, 1, ...: so we try
   * those at once, and fall back to the list only if the server lacks one.
   */
  private async channelIds(n: number): Promise<number[]> {
    const listed = this.session.listed(ChannelType.usbredir);
    if (listed.length || this.session.main.info.channels.length) return listed;
    const early = Array.from({ length: n }, (_, i) => i);
    const opened = await Promise.allSettled(early.map((id) => this.session.openSpicevmc(ChannelType.usbredir, id, this.opts.lz4, this.opts.limit, true)));
    if (opened.every((r) => r.status === 'fulfilled')) {
      this.early = opened.map((r) => (r as PromiseFulfilledResult<SpicevmcChannel>).value);
      return early;
    }
    for (const r of opened) if (r.status === 'fulfilled') r.value.close();
    this.opts.log?.debug('usbredir: guessed channel ids failed; waiting for the channel list');
    this.session.main.resumeReading();
    await this.session.waitFor(() => this.session.main.info.channels.length > 0);
    return this.session.listed(ChannelType.usbredir);
  }

  private early: SpicevmcChannel[] = [];

  private async plug(index: number, source: DeviceSource, device: UsbDeviceBackend, id: number): Promise<void> {
    let channel: SpicevmcChannel;
    try {
      channel = this.early.find((c) => c.id === id) ?? (await this.session.openSpicevmc(ChannelType.usbredir, id, this.opts.lz4, this.opts.limit));
    } catch (e) {
      await device.close().catch(() => {});
      throw e;
    }
    const host = new UsbredirHost({
      device,
      send: (b) => channel.write(b),
      version: this.opts.version,
      log: this.opts.log,
      // QEMU checks its own filter on device_connect (and answers filter_reject), so waiting
      // for its filter_filter first would only add a quarter second to every plug.
      filterWaitMs: 0,
      autoConnect: this.opts.autoConnect ?? true,
      onTrace: this.opts.onTrace ? (ev) => this.opts.onTrace!(index, ev) : undefined,
    });
    const item: Redirection = { source, device, channel, host, connected: false };
    this.items[index] = item;
    channel.on('data', (c: Buffer) => host.feed(c));
    channel.on('state', (s: string) => {
      if (s === 'failed' || s === 'closed') host.channelClosed();
    });
    host.on('connected', (info) => {
      // The guest needs >100 ms before its first request: load LZ4 and run the request path
      // once now, not mid-recognition.
      if (channel.compressing) setImmediate(preloadLz4);
      if (source.kind !== 'device' && (this.opts.warmUp ?? true) && !warmed.has(source.kind)) {
        warmed.add(source.kind);
        const scratch = { ...source, readOnly: true };
        setImmediate(() => void warmUpRequestPath(source.kind, () => openBackend(scratch), () => host.stats.controlRequests > 0, !!this.opts.onTrace));
      }
      item.connected = true;
      this.emit('connected', index, info);
    });
    host.on('rejected', (r: { by: string; reason: string }) => this.emit('rejected', index, r));
    host.on('disconnected', (d: { reason: string }) => {
      item.connected = false;
      this.emit('gone', index, d.reason);
    });
    host.on('error', (err: Error) => this.emit('failed', err instanceof SpiceError ? err : new SpiceError('protocol', err.message)));
    host.start();
  }

  /** Unplugs every device cleanly (device_disconnect + ack), flushes images, releases real devices. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.closePrepared();
      await Promise.all(this.items.map(async (it) => {
        if (!it) return;
        try {
          await it.host.close();
        } catch (e) {
          this.opts.log?.warn({ err: (e as Error).message }, 'closing a redirected device');
        }
        // The device_disconnect must leave before the socket closes.
        await it.channel.drained();
      }));
    })();
    return this.closing;
  }
}
