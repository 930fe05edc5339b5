// The usbredir usb-host side: glues the byte stream of one usbredir channel to one device
// backend (emulated or libusb). QEMU's usb-redir device is the usb-guest on the other end.
//
//   const host = new UsbredirHost({ device, send: (b) => channel.write(b), version: '0.1.0' });
//   host.on('connected', ...); host.on('rejected', ...); host.on('disconnected', ...); host.on('error', ...);
//   host.start();                      // sends our hello
//   channel.on('data', (c) => host.feed(c));
//   ...
//   await host.detach();               // device_disconnect, wait for the ack (bounded)
//   await host.close();                // detach if needed, then close the device (flush the image)
//   host.channelClosed();              // when the channel went away underneath us
//
// feed() is zero-copy: OUT data handed to the device may be a view of the chunk passed in, so
// a chunk's memory must not be reused after feeding it (socket chunks and LZ4 output are fresh).
//
// Protocol (docs/protocol-digest.md §9): send our hello first and nothing else until the
// peer's hello; then, unless the guest's filter_filter rejects the device, interface_info,
// ep_info and device_connect. Requests are answered per endpoint in the order they arrived
// (QEMU completes pipelined packets in order); control, set/get configuration and set/get alt
// setting share the EP0 queue. cancel_data_packet is answered at once with status cancelled
// (and the late real result dropped), as usbredirhost does; the guest may then reuse the id.
// Interrupt IN and bulk receiving are polling loops that stream packets with ids 0, 1, 2, ...
//
// Everything async is a Promise from the backend; feed() itself never blocks and never
// throws: a malformed stream emits 'error' (a ProtocolError) and the host stops.

import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { ProtocolError, SpiceError } from '../util/errors.js';
import {
  failed,
  filterDeviceOf,
  formatSetup,
  speedCode,
  statusCode,
  type ControlSetup,
  type DeviceTraceEvent,
  type EndpointInfo,
  type TransferResult,
  type TransferStatus,
  type UsbDeviceBackend,
  type UsbDeviceInfo,
} from './backend.js';
import { BotSniffer } from './bot-sniffer.js';
import { checkDevice, parseFilter, type FilterRule } from './filter.js';
import { ALL_CAPS, capNames } from './usbredir/caps.js';
import { UsbredirParser } from './usbredir/parser.js';
import {
  Cap,
  EP_COUNT,
  epAddress,
  epIndex,
  EpType,
  Status,
  statusName,
  type BulkPacket,
  type ControlPacket,
  type InterruptPacket,
  type UsbredirEndpointInfo,
  type UsbredirPacket,
} from './usbredir/proto.js';
import { UsbredirWriter } from './usbredir/writer.js';
import { Outbox } from './usbredir/outbox.js';
import { Cancel } from './cancel.js';
import { vidPid } from './local-device.js';

/** Minimal logger (pino's Logger fits). */
export interface HostLog {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** Traffic tap events (for the recognition timeline, the TUI, debugging). `t` is in ms. */
export type UsbTraceEvent = { t: number } & (
  | { kind: 'hello-sent'; version: string; caps: number[] }
  | { kind: 'hello-received'; version: string; caps: number[] }
  | { kind: 'filter'; filter: string }
  | { kind: 'device-connect-sent' }
  | { kind: 'rejected'; by: 'filter' | 'guest'; reason: string }
  | { kind: 'control'; setup: ControlSetup; status: TransferStatus; length: number }
  | { kind: 'set-configuration'; configuration: number; status: TransferStatus }
  | { kind: 'set-alt-setting'; interface: number; alt: number; status: TransferStatus }
  | { kind: 'bulk-streams'; endpoints: number[]; streams: number; status: TransferStatus }
  | { kind: 'bulk'; endpoint: number; requested: number; length: number; status: TransferStatus }
  | { kind: 'reset' }
  | { kind: 'cancel'; id: bigint; found: boolean }
  | { kind: 'device-disconnect-sent' }
  | { kind: 'device-disconnect-ack' }
  | { kind: 'device'; event: DeviceTraceEvent }
);

export type UsbredirHostState =
  | 'idle' // constructed, start() not called
  | 'hello-sent' // waiting for the peer's hello
  | 'ready' // hellos exchanged, device not connected (waiting for the filter, or detached)
  | 'connected'
  | 'disconnecting' // device_disconnect sent, waiting for the ack
  | 'rejected' // the guest's filter refused the device
  | 'closed' // channel gone or close() done
  | 'failed'; // protocol error

export interface ConnectedInfo {
  device: UsbDeviceInfo;
  peerVersion: string;
  /** Caps both sides advertised. */
  caps: string[];
}

export interface RejectedInfo {
  /** 'filter': the guest's filter_filter denies the device (never connected); 'guest': QEMU sent filter_reject. */
  by: 'filter' | 'guest';
  /** One line. */
  reason: string;
  /** The guest's filter text, when known. */
  filter?: string;
  /** Multi-line explanation of the filter decision, when checked here. */
  explain?: string;
}

export interface DisconnectedInfo {
  reason: 'detach' | 'rejected' | 'device-lost' | 'channel-closed' | 'error';
  /** The guest did not acknowledge device_disconnect in time. */
  ackTimedOut?: boolean;
}

export interface UsbredirHostEvents {
  connected: [ConnectedInfo];
  rejected: [RejectedInfo];
  disconnected: [DisconnectedInfo];
  error: [SpiceError];
  state: [UsbredirHostState];
}

export interface UsbredirHostOptions {
  device: UsbDeviceBackend;
  /** Writes bytes to the channel. A packet may be split over several calls (it is a byte stream). */
  send: (buf: Buffer) => void;
  /** spicectl version; the hello says "spicectl <version>". */
  version?: string;
  log?: HostLog;
  onTrace?: (ev: UsbTraceEvent) => void;
  /** Caps to advertise (default: all 8). */
  caps?: number[];
  /** Connect the device as soon as possible after the hellos (default true). */
  autoConnect?: boolean;
  /** How long to wait for the guest's filter_filter after its hello before connecting (default 250 ms). */
  filterWaitMs?: number;
  /** How long detach() waits for device_disconnect_ack (default 2000 ms). */
  disconnectAckTimeoutMs?: number;
  /** Clock for trace timestamps (default performance.now). */
  now?: () => number;
}

export interface UsbredirHostStats {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Bulk payload bytes device -> guest and guest -> device. */
  bulkInBytes: number;
  bulkOutBytes: number;
  controlRequests: number;
  cancelled: number;
  /** Requests awaiting their reply. */
  pending: number;
}

interface Pending {
  id: bigint;
  /** Queue key: endpoint address (0x00 for everything on EP0), + 0x100 x stream id. */
  queue: number;
  abort: Cancel;
  answered: boolean;
  /** Reply packets, once known. */
  reply: UsbredirPacket[] | null;
  /** The reply to send if the guest cancels it (null: not cancellable). */
  cancelled: (() => UsbredirPacket) | null;
}

interface Receiver {
  endpoint: number;
  abort: Cancel;
  kind: 'interrupt' | 'bulk';
  streamId: number;
}

const EMPTY = Buffer.alloc(0);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** usbredir's max packet size for an endpoint: bytes per (micro)frame incl. extra transactions. */
function redirMaxPacket(e: EndpointInfo): number {
  return e.maxPacketSize * (1 + e.mult);
}

const EP_TYPE_CODE = { control: EpType.control, iso: EpType.iso, bulk: EpType.bulk, interrupt: EpType.interrupt } as const;

export class UsbredirHost extends EventEmitter<UsbredirHostEvents> {
  readonly device: UsbDeviceBackend;
  /** Packets of one event-loop turn leave as one channel write. */
  private readonly outbox: Outbox;
  private readonly log: HostLog | undefined;
  private readonly onTrace: ((ev: UsbTraceEvent) => void) | undefined;
  private readonly now: () => number;
  private readonly versionText: string;
  private readonly filterWaitMs: number;
  private readonly ackTimeoutMs: number;
  private readonly parser: UsbredirParser;
  private readonly writer: UsbredirWriter;

  private st: UsbredirHostState = 'idle';
  private peerVersion = '';
  private filterText: string | null = null;
  private filterRules: FilterRule[] | null = null;
  private filterTimer: NodeJS.Timeout | null = null;
  private connectWanted: boolean;
  private readonly queues = new Map<number, Pending[]>();
  private readonly byId = new Map<bigint, Pending>();
  private readonly receivers = new Map<number, Receiver>();
  private ackWaiter: { resolve: () => void; timer: NodeJS.Timeout } | null = null;
  private detaching: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  /** Bumped on reset/disconnect: late results of an older generation are dropped. */
  private gen = 0;
  readonly stats: UsbredirHostStats = {
    packetsIn: 0,
    packetsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    bulkInBytes: 0,
    bulkOutBytes: 0,
    controlRequests: 0,
    cancelled: 0,
    pending: 0,
  };

  /** real devices: their SCSI commands, read from the traffic (emulated ones trace themselves) */
  private sniffer: BotSniffer | null = null;

  constructor(opts: UsbredirHostOptions) {
    super();
    this.device = opts.device;
    this.outbox = new Outbox(opts.send, (e) =>
      this.fail(new SpiceError('disconnected', `usbredir: cannot write to the channel: ${(e as Error).message}`, { cause: e })));
    this.log = opts.log;
    this.onTrace = opts.onTrace;
    this.now = opts.now ?? (() => performance.now());
    const v = opts.version ?? '';
    this.versionText = (v.startsWith('spicectl') ? v : `spicectl ${v}`).trim().slice(0, 63);
    this.connectWanted = opts.autoConnect ?? true;
    this.filterWaitMs = opts.filterWaitMs ?? 250;
    this.ackTimeoutMs = opts.disconnectAckTimeoutMs ?? 2000;
    const caps = opts.caps ?? [...ALL_CAPS];
    this.parser = new UsbredirParser({ role: 'usb-host', caps });
    this.writer = new UsbredirWriter({ role: 'usb-host', caps });
    if (this.onTrace && this.device.setTraceSink) {
      this.device.setTraceSink((event) => this.trace({ kind: 'device', event }));
    } else if (this.onTrace) {
      // A real device says nothing about itself: read its mass-storage traffic instead.
      this.sniffer = new BotSniffer((event) => this.trace({ kind: 'device', event }));
    }
  }

  get state(): UsbredirHostState {
    return this.st;
  }

  /** The guest's filter (filter_filter text), if it sent one. */
  get guestFilter(): string | null {
    return this.filterText;
  }

  /** Caps both sides advertised, once the hellos are exchanged. */
  get sharedCaps(): string[] {
    return this.writer.negotiated ? capNames(this.writer.negotiated.shared) : [];
  }

  /** The peer's hello version text, once received. */
  get peerVersionText(): string {
    return this.peerVersion;
  }

  private setState(s: UsbredirHostState): void {
    if (this.st === s) return;
    this.st = s;
    this.emit('state', s);
  }

  private trace(ev: DistributiveOmit<UsbTraceEvent, 't'>): void {
    if (!this.onTrace) return;
    try {
      this.onTrace({ t: this.now(), ...ev } as UsbTraceEvent);
    } catch (e) {
      this.log?.warn(`usbredir trace listener threw: ${(e as Error).message}`);
    }
  }

  /** Send our hello. Call once, when the channel is up. */
  start(): void {
    if (this.st !== 'idle') return;
    this.sendRaw(this.writer.hello(this.versionText));
    this.trace({ kind: 'hello-sent', version: this.versionText, caps: [...this.writer.ourCaps] });
    this.setState('hello-sent');
  }

  /** Bytes from the channel (any split). Never throws; errors are emitted as 'error'. */
  feed(chunk: Buffer): void {
    if (this.st === 'failed' || this.st === 'closed') return;
    if (this.st === 'idle') this.start();
    let packets: UsbredirPacket[];
    try {
      packets = this.parser.feed(chunk);
    } catch (e) {
      this.fail(e instanceof SpiceError ? e : new ProtocolError(`usbredir: ${(e as Error).message}`, { cause: e }));
      return;
    }
    this.stats.bytesIn += chunk.length;
    for (const p of packets) {
      if ((this.st as UsbredirHostState) === 'failed' || (this.st as UsbredirHostState) === 'closed') return;
      this.stats.packetsIn++;
      try {
        this.handle(p);
      } catch (e) {
        this.fail(e instanceof SpiceError ? e : new ProtocolError(`usbredir: handling ${p.type}: ${(e as Error).message}`, { cause: e }));
        return;
      }
    }
  }

  /** Plug the device in (after the hellos; automatic unless autoConnect is false). */
  connect(): void {
    this.connectWanted = true;
    if (this.st === 'ready') this.tryConnect();
  }

  /**
   * Unplug: cancel outstanding requests (replied as cancelled), send device_disconnect and
   * wait for device_disconnect_ack (if both sides have the cap), at most
   * disconnectAckTimeoutMs. Resolves when done; never rejects.
   */
  detach(reason: DisconnectedInfo['reason'] = 'detach'): Promise<void> {
    if (this.detaching) return this.detaching;
    this.connectWanted = false;
    this.clearFilterTimer();
    if (this.st !== 'connected') return Promise.resolve();
    this.detaching = this.doDetach(reason).finally(() => {
      this.detaching = null;
    });
    return this.detaching;
  }

  private async doDetach(reason: DisconnectedInfo['reason']): Promise<void> {
    this.setState('disconnecting');
    this.abortAll(true);
    this.device.cancelAll();
    this.sendPacket({ type: 'deviceDisconnect', id: 0n });
    this.trace({ kind: 'device-disconnect-sent' });
    let ackTimedOut = false;
    if (this.writer.negotiated?.has(Cap.deviceDisconnectAck)) {
      ackTimedOut = !(await this.waitAck());
      if (ackTimedOut) this.log?.warn(`usbredir: no device_disconnect_ack within ${this.ackTimeoutMs} ms; continuing`);
    }
    if ((this.st as UsbredirHostState) === 'disconnecting') this.setState(reason === 'rejected' ? 'rejected' : 'ready');
    this.emit('disconnected', { reason, ...(ackTimedOut ? { ackTimedOut } : {}) });
  }

  private waitAck(): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.ackWaiter = null;
        resolve(false);
      }, this.ackTimeoutMs);
      this.ackWaiter = { resolve: () => resolve(true), timer };
    });
  }

  /** Detach (if connected and the channel is alive), then close the device. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        if (this.st === 'connected' || this.detaching) await this.detach();
        this.outbox.flush();
        this.shutdown();
        this.setState('closed');
        await this.device.close();
      })();
    }
    return this.closing;
  }

  /** The channel is gone: forget everything, send nothing. The device stays open (close() it). */
  channelClosed(): void {
    if (this.st === 'closed') return;
    const wasConnected = this.st === 'connected' || this.st === 'disconnecting';
    this.shutdown();
    this.setState('closed');
    if (wasConnected) this.emit('disconnected', { reason: 'channel-closed' });
  }

  private shutdown(): void {
    this.outbox.discard();
    this.clearFilterTimer();
    this.abortAll(false);
    this.device.cancelAll();
    if (this.ackWaiter) {
      clearTimeout(this.ackWaiter.timer);
      const w = this.ackWaiter;
      this.ackWaiter = null;
      w.resolve();
    }
  }

  private fail(err: SpiceError): void {
    if (this.st === 'failed') return;
    this.log?.error(err.message);
    const wasConnected = this.st === 'connected' || this.st === 'disconnecting';
    this.shutdown();
    this.setState('failed');
    if (wasConnected) this.emit('disconnected', { reason: 'error' });
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  // ---- sending ----------------------------------------------------------------------------

  private sendRaw(buf: Buffer): void {
    this.stats.bytesOut += buf.length;
    this.outbox.push(buf);
  }

  private sendPacket(p: UsbredirPacket): void {
    if (this.st === 'closed' || this.st === 'failed') return;
    this.stats.packetsOut++;
    for (const part of this.writer.encodeParts(p)) this.sendRaw(part);
  }

  // ---- connection -------------------------------------------------------------------------

  private clearFilterTimer(): void {
    if (this.filterTimer) {
      clearTimeout(this.filterTimer);
      this.filterTimer = null;
    }
  }

  private scheduleConnect(): void {
    if (!this.connectWanted || this.st !== 'ready') return;
    const waitForFilter = this.filterText === null && this.writer.negotiated?.peerHas(Cap.filter) && this.writer.negotiated.ourHas(Cap.filter) && this.filterWaitMs > 0;
    if (waitForFilter) {
      this.clearFilterTimer();
      this.filterTimer = setTimeout(() => {
        this.filterTimer = null;
        this.tryConnect();
      }, this.filterWaitMs);
    } else {
      this.tryConnect();
    }
  }

  private tryConnect(): void {
    this.clearFilterTimer();
    if (this.st !== 'ready' || !this.connectWanted) return;
    if (this.filterRules) {
      let check;
      try {
        check = checkDevice(this.filterRules, filterDeviceOf(this.device));
      } catch (e) {
        check = null;
        this.log?.warn(`usbredir: cannot check the guest's filter: ${(e as Error).message}`);
      }
      if (check && !check.allowed) {
        this.connectWanted = false;
        this.setState('rejected');
        const reason = `the guest's USB filter "${this.filterText}" blocks ${this.device.info.description}: ${check.reason}`;
        this.log?.warn(`usbredir: ${reason}`);
        this.trace({ kind: 'rejected', by: 'filter', reason });
        this.emit('rejected', { by: 'filter', reason, filter: this.filterText ?? '', explain: check.explain });
        return;
      }
    }
    this.gen++;
    this.device.plugged?.();
    for (const p of this.connectPackets()) this.sendPacket(p);
    // The plug leaves now; the trace, the log line and the listeners come after it.
    this.outbox.flush();
    if (this.st !== 'ready') return; // the write failed: fail() has reported it
    const info = this.device.info;
    this.trace({ kind: 'device-connect-sent' });
    this.setState('connected');
    this.log?.info(`usbredir: connected ${info.description} (${vidPid(info)}) to "${this.peerVersion}"`);
    this.emit('connected', { device: info, peerVersion: this.peerVersion, caps: this.sharedCaps });
  }

  /** What a plug sends: interface_info, ep_info, then device_connect. */
  private connectPackets(): UsbredirPacket[] {
    const info = this.device.info;
    return [...this.infoPackets(), {
      type: 'deviceConnect',
      id: 0n,
      speed: speedCode(info.speed),
      deviceClass: info.deviceClass,
      deviceSubclass: info.deviceSubclass,
      deviceProtocol: info.deviceProtocol,
      vendorId: info.vendorId,
      productId: info.productId,
      deviceVersionBcd: info.bcdDevice,
    }];
  }

  /**
   * Computes what a plug computes (the filter check, the connect packets and their bytes) and
   * sends nothing. Run while the channel is idle before a later plug (connect()), it keeps V8's
   * first-run compilation of that code out of the plug: measured 1.5-2.6 ms between connect()
   * and device_connect on the wire without it.
   */
  private rehearseConnect(): void {
    if (this.connectWanted || this.st !== 'ready') return;
    try {
      if (this.filterRules) checkDevice(this.filterRules, filterDeviceOf(this.device));
      for (const p of this.connectPackets()) this.writer.encodeParts(p);
    } catch {
      /* the real plug meets the same error and reports it */
    }
  }

  /** interface_info + ep_info packets (also sent before a configuration / alt setting status). */
  private infoPackets(): UsbredirPacket[] {
    const ifs = this.device.currentInterfaces().slice(0, 32);
    const interfaceInfo: UsbredirPacket = {
      type: 'interfaceInfo',
      id: 0n,
      interfaces: ifs.map((i) => ({ number: i.number, class: i.class, subclass: i.subclass, protocol: i.protocol })),
    };
    const eps: UsbredirEndpointInfo[] = Array.from({ length: EP_COUNT }, () => ({ type: EpType.invalid, interval: 0, interface: 0, maxPacketSize: 0, maxStreams: 0 }));
    // bMaxPacketSize0 is a byte count up to USB 2 and an exponent from USB 3 on (9 -> 512).
    const raw0 = this.device.deviceDescriptor[7] ?? 64;
    const mps0 = this.device.deviceDescriptor.readUInt16LE(2) >= 0x0300 && raw0 < 16 ? 1 << raw0 : raw0;
    eps[0] = { type: EpType.control, interval: 0, interface: 0, maxPacketSize: mps0, maxStreams: 0 };
    eps[16] = { type: EpType.control, interval: 0, interface: 0, maxPacketSize: mps0, maxStreams: 0 };
    for (const it of ifs) {
      for (const e of it.endpoints) {
        eps[epIndex(e.address)] = {
          type: EP_TYPE_CODE[e.type],
          interval: e.interval,
          interface: it.number,
          maxPacketSize: redirMaxPacket(e),
          maxStreams: e.maxStreams,
        };
      }
    }
    return [interfaceInfo, { type: 'epInfo', id: 0n, endpoints: eps }];
  }

  private endpointInfo(address: number): EndpointInfo | undefined {
    for (const it of this.device.currentInterfaces()) for (const e of it.endpoints) if (e.address === address) return e;
    return undefined;
  }

  // ---- request bookkeeping -----------------------------------------------------------------

  private enqueue(id: bigint, queue: number, cancelled: Pending['cancelled']): Pending {
    const e: Pending = { id, queue, abort: new Cancel(), answered: false, reply: null, cancelled };
    let q = this.queues.get(queue);
    if (!q) this.queues.set(queue, (q = []));
    q.push(e);
    if (cancelled) this.byId.set(id, e);
    this.stats.pending++;
    return e;
  }

  private resolveEntry(e: Pending, reply: UsbredirPacket[]): void {
    if (e.answered) return;
    e.reply = reply;
    this.flush(e.queue);
  }

  private flush(queue: number): void {
    const q = this.queues.get(queue);
    if (!q) return;
    while (q.length && q[0]!.reply) {
      const e = q.shift()!;
      this.finishEntry(e);
      for (const p of e.reply!) this.sendPacket(p);
    }
  }

  private finishEntry(e: Pending): void {
    e.answered = true;
    if (this.byId.get(e.id) === e) this.byId.delete(e.id);
    this.stats.pending--;
  }

  /**
   * Answer everything outstanding with 'cancelled' (sendReplies) or drop it silently, and stop
   * the receiving loops (telling the guest with a stall status when sendReplies, so it restarts them).
   */
  private abortAll(sendReplies: boolean): void {
    this.gen++;
    for (const q of this.queues.values()) {
      for (const e of q.splice(0)) {
        this.finishEntry(e);
        e.abort.abort();
        if (sendReplies && e.cancelled) this.sendPacket(e.cancelled());
        else if (sendReplies && e.reply) for (const p of e.reply) this.sendPacket(p);
      }
    }
    this.stopReceivers(sendReplies && this.st === 'connected');
  }

  private stopReceivers(notify: boolean): void {
    for (const r of this.receivers.values()) {
      r.abort.abort();
      if (notify) this.sendReceiverStall(r);
    }
    this.receivers.clear();
  }

  private sendReceiverStall(r: Receiver): void {
    if (r.kind === 'interrupt') this.sendPacket({ type: 'interruptReceivingStatus', id: 0n, status: Status.stall, endpoint: r.endpoint });
    else this.sendPacket({ type: 'bulkReceivingStatus', id: 0n, streamId: r.streamId, endpoint: r.endpoint, status: Status.stall });
  }

  /** True when requests for the device can be served (connected). Otherwise they fail with ioerror. */
  private get live(): boolean {
    return this.st === 'connected';
  }

  // ---- packet handling ----------------------------------------------------------------------

  private handle(p: UsbredirPacket): void {
    switch (p.type) {
      case 'hello':
        this.onHello(p.version, p.caps);
        return;
      case 'filterFilter':
        this.onFilter(p.filter);
        return;
      case 'filterReject':
        this.onFilterReject();
        return;
      case 'deviceDisconnectAck':
        this.trace({ kind: 'device-disconnect-ack' });
        if (this.ackWaiter) {
          clearTimeout(this.ackWaiter.timer);
          const w = this.ackWaiter;
          this.ackWaiter = null;
          w.resolve();
        } else {
          this.log?.debug('usbredir: device_disconnect_ack without a pending disconnect');
        }
        return;
      case 'reset':
        this.onReset();
        return;
      case 'cancelDataPacket':
        this.onCancel(p.id);
        return;
      case 'setConfiguration':
        this.onSetConfiguration(p.id, p.configuration);
        return;
      case 'getConfiguration': {
        const e = this.enqueue(p.id, 0, null);
        this.resolveEntry(e, [{ type: 'configurationStatus', id: p.id, status: this.live ? Status.success : Status.ioerror, configuration: this.device.configuration }]);
        return;
      }
      case 'setAltSetting':
        this.onSetAltSetting(p.id, p.interface, p.alt);
        return;
      case 'getAltSetting': {
        const alt = this.device.altSetting(p.interface);
        const e = this.enqueue(p.id, 0, null);
        const ok = this.live && alt !== undefined;
        this.resolveEntry(e, [{ type: 'altSettingStatus', id: p.id, status: ok ? Status.success : this.live ? Status.inval : Status.ioerror, interface: p.interface, alt: ok ? alt! : 0xff }]);
        return;
      }
      case 'controlPacket':
        this.onControl(p);
        return;
      case 'bulkPacket':
        this.onBulk(p);
        return;
      case 'interruptPacket':
        this.onInterruptOut(p);
        return;
      case 'startInterruptReceiving':
        this.onStartInterruptReceiving(p.id, p.endpoint);
        return;
      case 'stopInterruptReceiving': {
        const r = this.receivers.get(p.endpoint);
        if (r && r.kind === 'interrupt') {
          r.abort.abort();
          this.receivers.delete(p.endpoint);
        }
        this.sendPacket({ type: 'interruptReceivingStatus', id: p.id, status: Status.success, endpoint: p.endpoint });
        return;
      }
      case 'startBulkReceiving':
        this.onStartBulkReceiving(p.id, p.streamId, p.bytesPerTransfer, p.endpoint, p.noTransfers);
        return;
      case 'stopBulkReceiving': {
        const r = this.receivers.get(p.endpoint);
        if (r && r.kind === 'bulk') {
          r.abort.abort();
          this.receivers.delete(p.endpoint);
        }
        this.sendPacket({ type: 'bulkReceivingStatus', id: p.id, streamId: p.streamId, endpoint: p.endpoint, status: Status.success });
        return;
      }
      case 'startIsoStream':
        // Not supported by any backend yet: the stream fails at once.
        this.sendPacket({ type: 'isoStreamStatus', id: p.id, status: Status.inval, endpoint: p.endpoint });
        return;
      case 'stopIsoStream':
        this.sendPacket({ type: 'isoStreamStatus', id: p.id, status: Status.success, endpoint: p.endpoint });
        return;
      case 'isoPacket':
        this.log?.debug(`usbredir: iso packet for endpoint 0x${p.endpoint.toString(16)} ignored (no iso streams)`);
        return;
      case 'allocBulkStreams':
        this.onBulkStreams(p.id, p.endpoints, p.noStreams);
        return;
      case 'freeBulkStreams':
        this.onBulkStreams(p.id, p.endpoints, 0);
        return;
      default:
        // The parser only yields packets a usb-guest may send; anything else is a bug here.
        throw new ProtocolError(`usbredir: unexpected ${p.type} packet from the guest`);
    }
  }

  private onHello(version: string, caps: number[]): void {
    this.peerVersion = version;
    this.writer.setPeerCaps(caps);
    this.trace({ kind: 'hello-received', version, caps });
    this.log?.info(`usbredir: peer "${version}", shared caps ${this.sharedCaps.join(',') || '(none)'}`);
    if (this.st === 'idle' || this.st === 'hello-sent') this.setState('ready');
    this.scheduleConnect();
    this.rehearseConnect();
  }

  private onFilter(text: string): void {
    this.trace({ kind: 'filter', filter: text });
    this.filterText = text;
    try {
      this.filterRules = parseFilter(text, { sep: ',' });
    } catch (e) {
      this.filterRules = null;
      this.log?.warn(`usbredir: ignoring the guest's filter "${text}": ${(e as Error).message}`);
    }
    if (this.filterTimer) this.tryConnect();
    else if (this.st === 'ready') this.rehearseConnect();
    else if (this.st === 'connected' && this.filterRules) {
      // QEMU sends its filter before any device_connect; a late one is only logged (QEMU checks it itself).
      const check = checkDevice(this.filterRules, filterDeviceOf(this.device));
      if (!check.allowed) this.log?.warn(`usbredir: the guest's filter would not allow this device: ${check.reason}`);
    }
  }

  private onFilterReject(): void {
    if (this.st !== 'connected') return;
    const reason = `the guest rejected ${this.device.info.description} (its USB filter, a speed mismatch, or missing capabilities; see QEMU's log)`;
    this.log?.warn(`usbredir: ${reason}`);
    this.trace({ kind: 'rejected', by: 'guest', reason });
    this.emit('rejected', { by: 'guest', reason, ...(this.filterText !== null ? { filter: this.filterText } : {}) });
    void this.detach('rejected');
  }

  private onReset(): void {
    this.sniffer?.reset();
    this.trace({ kind: 'reset' });
    if (!this.live) return;
    this.abortAll(true);
    const gen = this.gen;
    this.device.reset().then(
      (ok) => {
        if (!ok && gen === this.gen && this.live) {
          this.log?.warn('usbredir: the device did not come back after a reset; disconnecting it');
          void this.detach('device-lost');
        }
      },
      (e: unknown) => {
        this.log?.warn(`usbredir: device reset failed: ${(e as Error).message}`);
        if (this.live) void this.detach('device-lost');
      },
    );
  }

  private onCancel(id: bigint): void {
    const e = this.byId.get(id);
    this.trace({ kind: 'cancel', id, found: !!e && !e.answered });
    if (!e || e.answered || !e.cancelled) return;
    const q = this.queues.get(e.queue)!;
    q.splice(q.indexOf(e), 1);
    this.finishEntry(e);
    this.stats.cancelled++;
    e.abort.abort();
    this.sendPacket(e.cancelled());
    this.flush(e.queue);
  }

  private onSetConfiguration(id: bigint, configuration: number): void {
    const e = this.enqueue(id, 0, null);
    const reply = (status: TransferStatus, withInfo: boolean): UsbredirPacket[] => {
      const out: UsbredirPacket[] = [];
      if (withInfo) out.push(...this.infoPackets());
      out.push({ type: 'configurationStatus', id, status: statusCode(status), configuration: this.device.configuration });
      return out;
    };
    if (!this.live) return this.resolveEntry(e, reply('ioerror', false));
    // Endpoints are reconfigured: stop streams and answer outstanding data requests first.
    for (const [key, q] of this.queues) {
      if (key === 0) continue;
      for (const x of [...q]) if (x.cancelled) this.onCancel(x.id);
    }
    this.stopReceivers(false);
    this.device.setConfiguration(configuration).then(
      (status) => {
        this.trace({ kind: 'set-configuration', configuration, status });
        this.resolveEntry(e, reply(status, status === 'success'));
      },
      (err: unknown) => {
        this.log?.warn(`usbredir: set_configuration ${configuration} failed: ${(err as Error).message}`);
        this.resolveEntry(e, reply('ioerror', false));
      },
    );
  }

  private onSetAltSetting(id: bigint, iface: number, alt: number): void {
    const e = this.enqueue(id, 0, null);
    const reply = (status: TransferStatus, withInfo: boolean): UsbredirPacket[] => {
      const out: UsbredirPacket[] = [];
      if (withInfo) out.push(...this.infoPackets());
      const cur = this.device.altSetting(iface);
      out.push({ type: 'altSettingStatus', id, status: statusCode(status), interface: iface, alt: status === 'success' ? alt : (cur ?? 0xff) });
      return out;
    };
    if (!this.live) return this.resolveEntry(e, reply('ioerror', false));
    for (const ep of [...this.receivers.keys()]) {
      const info = this.endpointInfo(ep);
      if (!info || info.interfaceNumber === iface) {
        this.receivers.get(ep)!.abort.abort();
        this.receivers.delete(ep);
      }
    }
    this.device.setAltSetting(iface, alt).then(
      (status) => {
        this.trace({ kind: 'set-alt-setting', interface: iface, alt, status });
        this.resolveEntry(e, reply(status, status === 'success'));
      },
      (err: unknown) => {
        this.log?.warn(`usbredir: set_alt_setting ${iface}/${alt} failed: ${(err as Error).message}`);
        this.resolveEntry(e, reply('ioerror', false));
      },
    );
  }

  /** alloc_bulk_streams (count > 0) or free_bulk_streams (count 0); QEMU drops a device that refuses. */
  private onBulkStreams(id: bigint, mask: number, count: number): void {
    const endpoints: number[] = [];
    for (let i = 0; i < EP_COUNT; i++) if (mask & (1 << i)) endpoints.push(epAddress(i));
    const reply = (status: TransferStatus): void => {
      this.trace({ kind: 'bulk-streams', endpoints, streams: count, status });
      this.sendPacket({ type: 'bulkStreamsStatus', id, endpoints: mask, noStreams: count, status: statusCode(status) });
    };
    if (!this.live) return reply('ioerror');
    const op = count > 0 ? this.device.allocStreams?.(endpoints, count) : this.device.freeStreams?.(endpoints);
    if (!op) return reply(count > 0 ? 'inval' : 'success');
    op.then(reply, (err: unknown) => {
      this.log?.warn(`usbredir: ${count > 0 ? 'alloc' : 'free'}_bulk_streams failed: ${(err as Error).message}`);
      reply('ioerror');
    });
  }

  private onControl(p: ControlPacket): void {
    this.stats.controlRequests++;
    const setup: ControlSetup = { requestType: p.requestType, request: p.request, value: p.value, index: p.index, length: p.length };
    const isIn = (p.requestType & 0x80) !== 0;
    const build = (r: TransferResult): ControlPacket => {
      if (isIn) {
        let data = r.status === 'success' || r.status === 'babble' ? (r.data ?? EMPTY) : EMPTY;
        let status = r.status;
        if (data.length > p.length) {
          data = data.subarray(0, p.length);
          status = 'babble';
        }
        return { type: 'controlPacket', id: p.id, endpoint: p.endpoint, request: p.request, requestType: p.requestType, status: statusCode(status), value: p.value, index: p.index, length: data.length, data };
      }
      const length = r.status === 'success' ? Math.min(r.length, p.length) : 0;
      return { type: 'controlPacket', id: p.id, endpoint: p.endpoint, request: p.request, requestType: p.requestType, status: statusCode(r.status), value: p.value, index: p.index, length, data: EMPTY };
    };
    const e = this.enqueue(p.id, 0, () => build(failed('cancelled')));
    if (!this.live) return this.resolveEntry(e, [build(failed('ioerror'))]);
    const gen = this.gen;
    this.device.control(setup, isIn ? undefined : p.data, { signal: e.abort.signal }).then(
      (r) => {
        if (gen !== this.gen) return;
        this.trace({ kind: 'control', setup, status: r.status, length: r.length });
        if (r.status !== 'success') this.log?.debug(`usbredir: control ${formatSetup(setup)} -> ${r.status}`);
        this.resolveEntry(e, [build(r)]);
      },
      (err: unknown) => {
        this.log?.warn(`usbredir: control ${formatSetup(setup)} failed: ${(err as Error).message}`);
        if (gen === this.gen) this.resolveEntry(e, [build(failed('ioerror'))]);
      },
    );
  }

  private onBulk(p: BulkPacket): void {
    const isIn = (p.endpoint & 0x80) !== 0;
    const build = (r: TransferResult): BulkPacket => {
      if (isIn) {
        let data = r.data ?? EMPTY;
        let status = r.status;
        if (data.length > p.length) {
          data = data.subarray(0, p.length);
          status = 'babble';
        }
        return { type: 'bulkPacket', id: p.id, endpoint: p.endpoint, status: statusCode(status), length: data.length, streamId: p.streamId, data };
      }
      const length = Math.min(r.length, p.length);
      return { type: 'bulkPacket', id: p.id, endpoint: p.endpoint, status: statusCode(r.status), length, streamId: p.streamId, data: EMPTY };
    };
    // Replies keep their order per endpoint, and per stream on a streamed endpoint (UAS
    // completes its tags independently).
    const e = this.enqueue(p.id, p.endpoint + p.streamId * 0x100, () => build(failed('cancelled')));
    if (!this.live) return this.resolveEntry(e, [build(failed('ioerror'))]);
    const gen = this.gen;
    const requested = p.length;
    if (!isIn) {
      this.stats.bulkOutBytes += p.data.length;
      this.sniffer?.out(p.data);
    }
    this.device.bulk(p.endpoint, isIn ? p.length : p.data, { signal: e.abort.signal, ...(p.streamId ? { streamId: p.streamId } : {}) }).then(
      (r) => {
        if (gen !== this.gen) return;
        if (isIn) this.stats.bulkInBytes += Math.min(r.data?.length ?? 0, requested);
        if (isIn && r.status === 'success' && r.data) this.sniffer?.in(r.data);
        this.trace({ kind: 'bulk', endpoint: p.endpoint, requested, length: r.length, status: r.status });
        this.resolveEntry(e, [build(r)]);
      },
      (err: unknown) => {
        this.log?.warn(`usbredir: bulk ep 0x${p.endpoint.toString(16)} failed: ${(err as Error).message}`);
        if (gen === this.gen) this.resolveEntry(e, [build(failed('ioerror'))]);
      },
    );
  }

  private onInterruptOut(p: InterruptPacket): void {
    const build = (r: TransferResult): InterruptPacket => ({
      type: 'interruptPacket',
      id: p.id,
      endpoint: p.endpoint,
      status: statusCode(r.status),
      length: Math.min(r.length, p.length),
      data: EMPTY,
    });
    const e = this.enqueue(p.id, p.endpoint, () => build(failed('cancelled')));
    if (!this.live) return this.resolveEntry(e, [build(failed('ioerror'))]);
    const gen = this.gen;
    this.device.interrupt(p.endpoint, p.data, { signal: e.abort.signal }).then(
      (r) => {
        if (gen === this.gen) this.resolveEntry(e, [build(r)]);
      },
      () => {
        if (gen === this.gen) this.resolveEntry(e, [build(failed('ioerror'))]);
      },
    );
  }

  // ---- streamed input ---------------------------------------------------------------------

  private onStartInterruptReceiving(id: bigint, endpoint: number): void {
    const info = this.endpointInfo(endpoint);
    if (!this.live || !info || info.type !== 'interrupt' || !(endpoint & 0x80)) {
      this.sendPacket({ type: 'interruptReceivingStatus', id, status: this.live ? Status.inval : Status.ioerror, endpoint });
      return;
    }
    if (!this.receivers.has(endpoint)) {
      const r: Receiver = { endpoint, abort: new Cancel(), kind: 'interrupt', streamId: 0 };
      this.receivers.set(endpoint, r);
      void this.interruptLoop(r, redirMaxPacket(info), Math.max(1, info.interval));
    }
    this.sendPacket({ type: 'interruptReceivingStatus', id, status: Status.success, endpoint });
  }

  private async interruptLoop(r: Receiver, maxPacket: number, intervalMs: number): Promise<void> {
    let seq = 0n;
    let errors = 0;
    const signal = r.abort.signal;
    const stop = (): void => {
      this.receivers.delete(r.endpoint);
      r.abort.abort();
      this.sendReceiverStall(r);
    };
    while (!signal.aborted) {
      let res: TransferResult;
      try {
        res = await this.device.interrupt(r.endpoint, maxPacket, { signal });
      } catch (e) {
        res = failed('ioerror');
        this.log?.warn(`usbredir: interrupt ep 0x${r.endpoint.toString(16)}: ${(e as Error).message}`);
      }
      if (signal.aborted || this.receivers.get(r.endpoint) !== r) return;
      if (res.status !== 'cancelled') {
        const data = res.data && res.data.length > maxPacket ? res.data.subarray(0, maxPacket) : (res.data ?? EMPTY);
        this.sendPacket({ type: 'interruptPacket', id: seq++, endpoint: r.endpoint, status: statusCode(res.status), length: data.length, data });
      }
      if (res.status === 'stall') return stop();
      if (res.status === 'success') {
        errors = 0;
        continue;
      }
      // An error (or a cancellation we did not ask for): retry at the endpoint's pace; give up after a while.
      if (++errors >= 10) {
        this.log?.warn(`usbredir: interrupt ep 0x${r.endpoint.toString(16)} keeps failing (${res.status}); stopping it`);
        return stop();
      }
      await sleep(Math.max(intervalMs, 10));
    }
  }

  private onStartBulkReceiving(id: bigint, streamId: number, bytesPerTransfer: number, endpoint: number, noTransfers: number): void {
    const info = this.endpointInfo(endpoint);
    const mps = info ? redirMaxPacket(info) : 0;
    const ok = this.live && info && info.type === 'bulk' && endpoint & 0x80 && mps > 0 && bytesPerTransfer > 0 && bytesPerTransfer % mps === 0 && noTransfers > 0;
    if (!ok) {
      this.sendPacket({ type: 'bulkReceivingStatus', id, streamId, endpoint, status: this.live ? Status.inval : Status.ioerror });
      return;
    }
    const old = this.receivers.get(endpoint);
    if (old) old.abort.abort();
    const r: Receiver = { endpoint, abort: new Cancel(), kind: 'bulk', streamId };
    this.receivers.set(endpoint, r);
    void this.bulkReceiveLoop(r, bytesPerTransfer, noTransfers);
    this.sendPacket({ type: 'bulkReceivingStatus', id, streamId, endpoint, status: Status.success });
  }

  private async bulkReceiveLoop(r: Receiver, bytesPerTransfer: number, noTransfers: number): Promise<void> {
    const signal = r.abort.signal;
    const inflight: Promise<TransferResult>[] = [];
    const submit = (): void => {
      inflight.push(this.device.bulk(r.endpoint, bytesPerTransfer, { signal }).catch(() => failed('ioerror')));
    };
    for (let i = 0; i < noTransfers; i++) submit();
    let seq = 0n;
    while (!signal.aborted) {
      const res = await inflight.shift()!;
      if (signal.aborted || this.receivers.get(r.endpoint) !== r) return;
      const data = res.data && res.data.length > bytesPerTransfer ? res.data.subarray(0, bytesPerTransfer) : (res.data ?? EMPTY);
      if (res.status !== 'cancelled') {
        this.stats.bulkInBytes += data.length;
        this.sendPacket({ type: 'bufferedBulkPacket', id: seq++, streamId: r.streamId, length: data.length, endpoint: r.endpoint, status: statusCode(res.status), data });
      }
      if (res.status !== 'success') {
        // Errors (and cancellations we did not ask for) end the stream; the guest restarts it.
        this.receivers.delete(r.endpoint);
        r.abort.abort();
        this.sendReceiverStall(r);
        return;
      }
      submit();
    }
  }
}

/** Omit that distributes over a union. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** One line for logs: "success", "stall"... of a usbredir status code. */
export function describeStatus(code: number): string {
  return statusName(code);
}
