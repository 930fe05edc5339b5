// A small usb-guest (what QEMU's usb-redir device + a guest OS do) built on the pure
// usbredir parser/writer, for testing UsbredirHost and the emulated devices end to end
// without QEMU: hello, filter_filter, device_connect handling, control / bulk / configuration
// requests with ids, cancel, reset, device_disconnect_ack; plus mass-storage helpers
// (enumeration, CBW/data/CSW exchanges, REQUEST SENSE, reset recovery).
//
// Bytes between the host and this guest go through RandomPipe: buffered, delivered on a
// later turn of the event loop in random splits (seeded, reproducible).

import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsbredirHost, type UsbredirHostOptions, type UsbTraceEvent } from '../../src/usb/host.js';
import {
  dataIn,
  dataOut,
  interfacesAt,
  parseConfigDescriptor,
  type ControlSetup,
  type InterfaceInfo,
  type TransferOptions,
  type TransferResult,
  type TransferStatus,
  type UsbDeviceBackend,
  type UsbDeviceInfo,
} from '../../src/usb/backend.js';
import { makeCbw, parseCsw, type Csw } from '../../src/usb/emulated/bot.js';
import { ALL_CAPS } from '../../src/usb/usbredir/caps.js';
import { UsbredirParser } from '../../src/usb/usbredir/parser.js';
import {
  Cap,
  Status,
  type BulkPacket,
  type ConfigurationStatusPacket,
  type ControlPacket,
  type DeviceConnectPacket,
  type EpInfoPacket,
  type HelloPacket,
  type InterfaceInfoPacket,
  type PacketOf,
  type PacketTypeName,
  type UsbredirPacket,
} from '../../src/usb/usbredir/proto.js';
import { UsbredirWriter } from '../../src/usb/usbredir/writer.js';
import { prng } from './chunking.js';

/** Delivers written bytes later, in random pieces (1..maxChunk bytes; sometimes 1 byte). */
export class RandomPipe {
  private pending: Buffer[] = [];
  private scheduled = false;
  private readonly rnd: () => number;
  closed = false;
  bytes = 0;

  constructor(
    private readonly deliver: (chunk: Buffer) => void,
    seed: number,
    private readonly maxChunk = 4096,
  ) {
    this.rnd = prng(seed);
  }

  write(buf: Buffer): void {
    if (this.closed) return;
    this.pending.push(buf);
    this.bytes += buf.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (this.closed) return;
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    let pos = 0;
    while (pos < all.length) {
      const r = this.rnd();
      const size = r < 0.1 ? 1 : 1 + Math.floor(this.rnd() * this.maxChunk);
      this.deliver(all.subarray(pos, Math.min(all.length, pos + size)));
      pos += size;
    }
  }
}

export interface FakeGuestOptions {
  send: (buf: Buffer) => void;
  caps?: number[];
  version?: string;
  /** Sent as filter_filter right after the host's hello (as QEMU does with filter=). */
  filter?: string;
  /** Answer device_connect with filter_reject (as QEMU does on a filter/speed mismatch). */
  rejectDevice?: boolean;
  /** Don't acknowledge device_disconnect (to test the host's timeout). */
  noDisconnectAck?: boolean;
}

export interface ScsiOptions {
  /** Expected IN data length (dCBWDataTransferLength, direction IN). */
  dataIn?: number;
  /** OUT data (dCBWDataTransferLength = its length unless transferLength says otherwise). */
  dataOut?: Buffer;
  /** Override dCBWDataTransferLength. */
  transferLength?: number;
  /** Direction flag when transferLength is given without data. */
  dirIn?: boolean;
  lun?: number;
  /** Sizes of the bulk IN requests for the data phase (default: one request for everything). */
  inRequests?: number[];
  /** Sizes of the bulk OUT packets for the data phase (default 16 KiB pieces). */
  outChunk?: number;
  /** Send the CBW, the OUT data and the IN requests without waiting for replies (QEMU pipelining). */
  pipeline?: boolean;
}

export interface ScsiResult {
  csw: Csw | null;
  data: Buffer;
  /** Status of every data-phase bulk reply, in order. */
  dataStatuses: number[];
  /** Status of the bulk IN reply that should have carried the CSW. */
  cswStatus: number;
  /** Lengths of the data-phase IN replies. */
  inLengths: number[];
}

export class FakeGuest extends EventEmitter {
  readonly parser: UsbredirParser;
  readonly writer: UsbredirWriter;
  private readonly opts: FakeGuestOptions;
  private nextId = 1n;
  private tagCounter = 1;
  readonly received: UsbredirPacket[] = [];
  private consumed = 0;
  private readonly replyWaiters = new Map<bigint, (p: UsbredirPacket) => void>();
  private readonly typeWaiters: { pred: (p: UsbredirPacket) => boolean; resolve: (p: UsbredirPacket) => void }[] = [];
  hostHello: HelloPacket | null = null;
  deviceConnect: DeviceConnectPacket | null = null;
  interfaceInfo: InterfaceInfoPacket | null = null;
  epInfo: EpInfoPacket | null = null;
  /** Packets that arrived for ids nobody waits for (late replies, cancelled ones). */
  readonly unmatched: UsbredirPacket[] = [];
  error: Error | null = null;

  constructor(opts: FakeGuestOptions) {
    super();
    this.opts = opts;
    const caps = opts.caps ?? [...ALL_CAPS];
    this.parser = new UsbredirParser({ role: 'usb-guest', caps });
    this.writer = new UsbredirWriter({ role: 'usb-guest', caps });
  }

  start(): void {
    this.opts.send(this.writer.hello(this.opts.version ?? 'qemu usb-redir guest (fake)'));
  }

  send(p: UsbredirPacket): void {
    this.opts.send(this.writer.encode(p));
  }

  feed(chunk: Buffer): void {
    let packets: UsbredirPacket[];
    try {
      packets = this.parser.feed(chunk);
    } catch (e) {
      this.error = e as Error;
      throw e;
    }
    for (const p of packets) this.onPacket(p);
  }

  private onPacket(p: UsbredirPacket): void {
    this.received.push(p);
    switch (p.type) {
      case 'hello':
        this.hostHello = p;
        this.writer.setPeerCaps(p.caps);
        if (this.opts.filter !== undefined && this.writer.negotiated!.peerHas(Cap.filter)) {
          this.send({ type: 'filterFilter', id: 0n, filter: this.opts.filter });
        }
        break;
      case 'interfaceInfo':
        this.interfaceInfo = p;
        break;
      case 'epInfo':
        this.epInfo = p;
        break;
      case 'deviceConnect':
        this.deviceConnect = p;
        if (this.opts.rejectDevice) this.send({ type: 'filterReject', id: 0n });
        break;
      case 'deviceDisconnect':
        this.deviceConnect = null;
        if (!this.opts.noDisconnectAck && this.writer.negotiated!.has(Cap.deviceDisconnectAck)) {
          this.send({ type: 'deviceDisconnectAck', id: 0n });
        }
        break;
      default:
        break;
    }
    const isReply =
      p.type === 'controlPacket' ||
      p.type === 'bulkPacket' ||
      p.type === 'configurationStatus' ||
      p.type === 'altSettingStatus' ||
      (p.type === 'interruptPacket' && !(p.endpoint & 0x80)) ||
      ((p.type === 'interruptReceivingStatus' || p.type === 'bulkReceivingStatus' || p.type === 'isoStreamStatus' || p.type === 'bulkStreamsStatus') && p.id !== 0n);
    if (isReply) {
      const w = this.replyWaiters.get(p.id);
      if (w) {
        this.replyWaiters.delete(p.id);
        w(p);
      } else {
        this.unmatched.push(p);
      }
    }
    for (let i = 0; i < this.typeWaiters.length; i++) {
      const w = this.typeWaiters[i]!;
      if (w.pred(p)) {
        this.typeWaiters.splice(i, 1);
        w.resolve(p);
        break;
      }
    }
    this.emit('packet', p);
  }

  /** Resolve with the first packet (already received after the last waitFor, or future) matching. */
  waitFor<T extends PacketTypeName>(type: T, pred: (p: PacketOf<T>) => boolean = () => true, timeoutMs = 5000): Promise<PacketOf<T>> {
    const match = (p: UsbredirPacket): p is PacketOf<T> => p.type === type && pred(p as PacketOf<T>);
    for (let i = this.consumed; i < this.received.length; i++) {
      const p = this.received[i]!;
      if (match(p)) {
        this.consumed = i + 1;
        return Promise.resolve(p);
      }
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.typeWaiters.indexOf(entry);
        if (i >= 0) this.typeWaiters.splice(i, 1);
        reject(new Error(`fake guest: no ${type} packet within ${timeoutMs} ms`));
      }, timeoutMs);
      const entry = {
        pred: (p: UsbredirPacket) => match(p),
        resolve: (p: UsbredirPacket) => {
          clearTimeout(timer);
          this.consumed = this.received.length;
          resolve(p as PacketOf<T>);
        },
      };
      this.typeWaiters.push(entry);
    });
  }

  newId(): bigint {
    return this.nextId++;
  }

  /** Send a request and resolve with the reply carrying its id. */
  request<R extends UsbredirPacket>(p: UsbredirPacket, timeoutMs = 10000): Promise<R> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.replyWaiters.delete(p.id);
        reject(new Error(`fake guest: no reply to ${p.type} id ${p.id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.replyWaiters.set(p.id, (r) => {
        clearTimeout(timer);
        resolve(r as R);
      });
      this.send(p);
    });
  }

  control(requestType: number, request: number, value: number, index: number, lengthOrData: number | Buffer): Promise<ControlPacket> {
    const isIn = (requestType & 0x80) !== 0;
    const data = typeof lengthOrData === 'number' ? Buffer.alloc(0) : lengthOrData;
    const length = typeof lengthOrData === 'number' ? lengthOrData : lengthOrData.length;
    return this.request({ type: 'controlPacket', id: this.newId(), endpoint: requestType & 0x80, request, requestType, status: 0, value, index, length, data: isIn ? Buffer.alloc(0) : data });
  }

  getDescriptor(type: number, index: number, length: number, langId = 0): Promise<ControlPacket> {
    return this.control(0x80, 6, (type << 8) | index, langId, length);
  }

  setConfiguration(configuration: number): Promise<ConfigurationStatusPacket> {
    return this.request({ type: 'setConfiguration', id: this.newId(), configuration });
  }

  bulkOut(endpoint: number, data: Buffer, id = this.newId()): Promise<BulkPacket> {
    return this.request({ type: 'bulkPacket', id, endpoint, status: 0, length: data.length, streamId: 0, data });
  }

  bulkIn(endpoint: number, length: number, id = this.newId()): Promise<BulkPacket> {
    return this.request({ type: 'bulkPacket', id, endpoint: endpoint | 0x80, status: 0, length, streamId: 0, data: Buffer.alloc(0) });
  }

  cancel(id: bigint): void {
    this.send({ type: 'cancelDataPacket', id });
  }

  reset(): void {
    this.send({ type: 'reset', id: 0n });
  }

  // ---- mass storage --------------------------------------------------------------------

  /** What Linux does first: device descriptor, configuration, strings, SET_CONFIGURATION, Get Max LUN. */
  async enumerate(): Promise<{ device: Buffer; config: Buffer; strings: string[]; maxLun: number; configStatus: ConfigurationStatusPacket }> {
    const dev8 = await this.getDescriptor(1, 0, 8); // the first 8 bytes, for bMaxPacketSize0
    if (dev8.status !== Status.success) throw new Error(`GET_DESCRIPTOR(device, 8) failed: ${dev8.status}`);
    const device = (await this.getDescriptor(1, 0, 18)).data;
    const cfg9 = (await this.getDescriptor(2, 0, 9)).data;
    const config = (await this.getDescriptor(2, 0, cfg9.readUInt16LE(2))).data;
    const langs = (await this.getDescriptor(3, 0, 255)).data;
    const lang = langs.readUInt16LE(2);
    const strings: string[] = [];
    for (const i of [device[14]!, device[15]!, device[16]!]) {
      const s = await this.getDescriptor(3, i, 255, lang);
      strings.push(s.data.subarray(2, s.data[0]).toString('utf16le'));
    }
    const configStatus = await this.setConfiguration(config[5]!);
    const lun = await this.control(0xa1, 0xfe, 0, 0, 1);
    return { device, config, strings, maxLun: lun.status === Status.success ? lun.data[0]! : 0, configStatus };
  }

  /** One SCSI command over BOT: CBW, data phase, CSW. */
  async scsi(cdb: number[] | Buffer, o: ScsiOptions = {}): Promise<ScsiResult> {
    const tag = this.tagCounter++;
    const dataIn = o.dataIn !== undefined || (o.dataOut === undefined && o.dirIn === true);
    const H = o.transferLength ?? o.dataIn ?? o.dataOut?.length ?? 0;
    const cbw = makeCbw({ tag, dataLength: H, dataIn, lun: o.lun ?? 0, cdb: Buffer.from(cdb) });
    const result: ScsiResult = { csw: null, data: Buffer.alloc(0), dataStatuses: [], cswStatus: -1, inLengths: [] };
    const waits: Promise<unknown>[] = [];
    const cbwReply = this.bulkOut(0x02, cbw);
    if (!o.pipeline) {
      const r = await cbwReply;
      if (r.status !== Status.success) {
        result.dataStatuses.push(r.status);
        return result;
      }
    } else {
      waits.push(cbwReply);
    }
    if (H > 0 && !dataIn) {
      const data = o.dataOut ?? Buffer.alloc(H);
      const chunk = o.outChunk ?? 16384;
      const outs: Promise<BulkPacket>[] = [];
      for (let off = 0; off < data.length; off += chunk) {
        const p = this.bulkOut(0x02, data.subarray(off, off + chunk));
        if (o.pipeline) outs.push(p);
        else {
          const r = await p;
          result.dataStatuses.push(r.status);
          if (r.status !== Status.success) break;
        }
      }
      for (const r of await Promise.all(outs)) result.dataStatuses.push(r.status);
    } else if (H > 0 && dataIn) {
      const parts: Buffer[] = [];
      if (o.inRequests) {
        // Sent together (as QEMU pipelines IN requests); answered in order.
        const reqs = o.inRequests.map((n) => this.bulkIn(0x81, n));
        for (const r of await Promise.all(reqs)) {
          result.dataStatuses.push(r.status);
          result.inLengths.push(r.data.length);
          parts.push(r.data);
        }
      } else {
        let got = 0;
        while (got < H) {
          const r = await this.bulkIn(0x81, H - got);
          result.dataStatuses.push(r.status);
          result.inLengths.push(r.data.length);
          if (r.status !== Status.success) break;
          parts.push(r.data);
          const requested = H - got;
          got += r.data.length;
          if (r.data.length < requested) break; // a short packet ends the data phase
        }
      }
      result.data = Buffer.concat(parts);
    }
    await Promise.all(waits);
    const cswReply = await this.bulkIn(0x81, 13);
    result.cswStatus = cswReply.status;
    if (cswReply.status === Status.success) {
      result.csw = parseCsw(cswReply.data);
      if (result.csw && result.csw.tag !== tag) throw new Error(`CSW tag ${result.csw.tag} != CBW tag ${tag}`);
    }
    return result;
  }

  /** REQUEST SENSE -> [key, asc, ascq]. */
  async requestSense(): Promise<[number, number, number]> {
    const r = await this.scsi([0x03, 0, 0, 0, 18, 0], { dataIn: 18 });
    if (!r.csw || r.csw.status !== 0) throw new Error('REQUEST SENSE failed');
    return [r.data[2]! & 0x0f, r.data[12]!, r.data[13]!];
  }

  /** Bulk-Only reset recovery: class reset, CLEAR_FEATURE(HALT) on IN then OUT. */
  async resetRecovery(): Promise<number[]> {
    const a = await this.control(0x21, 0xff, 0, 0, Buffer.alloc(0));
    const b = await this.control(0x02, 1, 0, 0x81, Buffer.alloc(0));
    const c = await this.control(0x02, 1, 0, 0x02, Buffer.alloc(0));
    return [a.status, b.status, c.status];
  }
}

export interface Harness {
  host: UsbredirHost;
  guest: FakeGuest;
  toHost: RandomPipe;
  toGuest: RandomPipe;
  traces: UsbTraceEvent[];
  hostErrors: Error[];
  /** Close the pipes (as if the channel went away). */
  cut(): void;
}

export interface HarnessOptions {
  seed?: number;
  maxChunk?: number;
  guest?: Omit<FakeGuestOptions, 'send'>;
  host?: Partial<Omit<UsbredirHostOptions, 'device' | 'send'>>;
  /** Wait for device_connect (default true unless the guest filter/reject options say otherwise). */
  waitConnect?: boolean;
}

/** A host driving `device`, wired to a fake guest through random-split pipes, both started. */
export async function harness(device: UsbDeviceBackend, o: HarnessOptions = {}): Promise<Harness> {
  const seed = o.seed ?? 1;
  const traces: UsbTraceEvent[] = [];
  const hostErrors: Error[] = [];
  let host!: UsbredirHost;
  let guest!: FakeGuest;
  const toHost = new RandomPipe((c) => host.feed(c), seed, o.maxChunk);
  const toGuest = new RandomPipe((c) => guest.feed(c), seed + 1, o.maxChunk);
  guest = new FakeGuest({ ...o.guest, send: (b) => toHost.write(b) });
  host = new UsbredirHost({
    version: '0.0.0-test',
    filterWaitMs: 50,
    disconnectAckTimeoutMs: 500,
    onTrace: (ev) => traces.push(ev),
    ...o.host,
    device,
    send: (b) => toGuest.write(b),
  });
  host.on('error', (e) => hostErrors.push(e));
  guest.start();
  host.start();
  if (o.waitConnect ?? true) await guest.waitFor('deviceConnect');
  return {
    host,
    guest,
    toHost,
    toGuest,
    traces,
    hostErrors,
    cut: () => {
      toHost.closed = true;
      toGuest.closed = true;
    },
  };
}

// ---- images -------------------------------------------------------------------------------

/** A temporary directory removed by the returned cleanup. */
export function tempDir(prefix = 'spicectl-usb-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A FAT image of sizeKiB KiB made with mkfs.vfat -C, with files copied in by mcopy. */
export function makeFatImage(path: string, sizeKiB: number, files: Record<string, Buffer> = {}, label = 'SPICECTL'): void {
  execFileSync('mkfs.vfat', ['-C', '-n', label, path, String(sizeKiB)], { stdio: 'pipe' });
  const dir = `${path}.files`;
  mkdirSync(dir, { recursive: true });
  for (const [name, data] of Object.entries(files)) {
    const f = join(dir, name);
    writeFileSync(f, data);
    execFileSync('mcopy', ['-i', path, f, `::${name}`], { stdio: 'pipe' });
  }
  rmSync(dir, { recursive: true, force: true });
}

/** An ISO 9660 image (Rock Ridge + Joliet) of the given files, made with genisoimage. */
export function makeIso(path: string, files: Record<string, Buffer>): void {
  const dir = `${path}.files`;
  mkdirSync(dir, { recursive: true });
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
  execFileSync('genisoimage', ['-quiet', '-o', path, '-R', '-J', '-V', 'SPICECTL', dir], { stdio: 'pipe' });
  rmSync(dir, { recursive: true, force: true });
}

/** Deterministic pseudo-random bytes. */
export function patternBytes(n: number, seed: number): Buffer {
  const rnd = prng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rnd() * 256);
  return b;
}

/** CDB helpers. */
export const cdb = {
  inquiry: (alloc = 36, evpd = false, page = 0): number[] => [0x12, evpd ? 1 : 0, page, (alloc >> 8) & 0xff, alloc & 0xff, 0],
  tur: (): number[] => [0, 0, 0, 0, 0, 0],
  readCapacity10: (): number[] => [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  readCapacity16: (alloc = 32): number[] => [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, (alloc >>> 24) & 0xff, (alloc >> 16) & 0xff, (alloc >> 8) & 0xff, alloc & 0xff, 0, 0],
  read10: (lba: number, blocks: number): number[] => [0x28, 0, (lba >>> 24) & 0xff, (lba >> 16) & 0xff, (lba >> 8) & 0xff, lba & 0xff, 0, (blocks >> 8) & 0xff, blocks & 0xff, 0],
  write10: (lba: number, blocks: number, fua = false): number[] => [0x2a, fua ? 0x08 : 0, (lba >>> 24) & 0xff, (lba >> 16) & 0xff, (lba >> 8) & 0xff, lba & 0xff, 0, (blocks >> 8) & 0xff, blocks & 0xff, 0],
  read6: (lba: number, blocks: number): number[] => [0x08, (lba >> 16) & 0x1f, (lba >> 8) & 0xff, lba & 0xff, blocks & 0xff, 0],
  read12: (lba: number, blocks: number): number[] => [0xa8, 0, (lba >>> 24) & 0xff, (lba >> 16) & 0xff, (lba >> 8) & 0xff, lba & 0xff, (blocks >>> 24) & 0xff, (blocks >> 16) & 0xff, (blocks >> 8) & 0xff, blocks & 0xff, 0, 0],
  read16: (lba: number, blocks: number): number[] => [0x88, 0, 0, 0, 0, 0, (lba >>> 24) & 0xff, (lba >> 16) & 0xff, (lba >> 8) & 0xff, lba & 0xff, (blocks >>> 24) & 0xff, (blocks >> 16) & 0xff, (blocks >> 8) & 0xff, blocks & 0xff, 0, 0],
  modeSense6: (page: number, alloc = 192, dbd = false): number[] => [0x1a, dbd ? 0x08 : 0, page, 0, alloc, 0],
  modeSense10: (page: number, alloc = 512, dbd = false): number[] => [0x5a, dbd ? 0x08 : 0, page, 0, 0, 0, 0, (alloc >> 8) & 0xff, alloc & 0xff, 0],
  syncCache: (): number[] => [0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0],
};

// ---- a scripted device backend (for host tests) -----------------------------------------

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Handler<A extends unknown[]> = (...args: A) => Promise<TransferResult>;

/**
 * A device whose transfers are answered by test-provided handlers. Configuration 1:
 * interface 0 (vendor class 0xff): bulk IN 0x81 / bulk OUT 0x02 (512), interrupt IN 0x83
 * (8 bytes, bInterval 4); interface 1: alt 0 with no endpoint, alt 1 with bulk IN 0x85.
 */
export class ScriptedDevice implements UsbDeviceBackend {
  readonly info: UsbDeviceInfo = {
    speed: 'high',
    bcdUSB: 0x0200,
    deviceClass: 0,
    deviceSubclass: 0,
    deviceProtocol: 0,
    vendorId: 0x1234,
    productId: 0x5678,
    bcdDevice: 0x0102,
    description: 'scripted test device',
  };
  readonly deviceDescriptor = Buffer.from([18, 1, 0x00, 0x02, 0, 0, 0, 64, 0x34, 0x12, 0x78, 0x56, 0x02, 0x01, 0, 0, 0, 1]);
  readonly config = Buffer.from([
    9, 2, 64, 0, 2, 1, 0, 0x80, 50,
    9, 4, 0, 0, 3, 0xff, 0, 0, 0,
    7, 5, 0x81, 2, 0x00, 0x02, 0,
    7, 5, 0x02, 2, 0x00, 0x02, 0,
    7, 5, 0x83, 3, 8, 0, 4,
    9, 4, 1, 0, 0, 0xff, 1, 0, 0,
    9, 4, 1, 1, 1, 0xff, 1, 1, 0,
    7, 5, 0x85, 2, 0x00, 0x02, 0,
  ]);
  configuration = 1;
  private readonly alts = new Map<number, number>([[0, 0], [1, 0]]);
  readonly calls: string[] = [];
  /** How many times the host plugged it in (device_connect). */
  pluggedCount = 0;
  plugged(): void {
    this.pluggedCount++;
  }
  readonly signals: AbortSignal[] = [];
  onControl: Handler<[ControlSetup, Buffer | undefined, AbortSignal | undefined]> = async (s) =>
    s.requestType & 0x80 ? dataIn(Buffer.alloc(s.length, 0xcc)) : dataOut(s.length);
  onBulk: Handler<[number, number | Buffer, AbortSignal | undefined]> = async (_ep, x) => (typeof x === 'number' ? dataIn(Buffer.alloc(x, 1)) : dataOut(x.length));
  onInterrupt: Handler<[number, number | Buffer, AbortSignal | undefined]> = async (_ep, x) => (typeof x === 'number' ? dataIn(Buffer.alloc(Math.min(x, 8), 2)) : dataOut(x.length));
  setConfigurationResult: TransferStatus = 'success';
  resetResult = true;
  cancelAllCalls = 0;
  closed = false;

  configDescriptor(index: number): Buffer | undefined {
    return index === 0 ? this.config : undefined;
  }
  currentInterfaces(): InterfaceInfo[] {
    return interfacesAt(parseConfigDescriptor(this.config), (n) => this.alts.get(n) ?? 0);
  }
  altSetting(i: number): number | undefined {
    return this.alts.get(i);
  }
  control(setup: ControlSetup, data?: Buffer, opts?: TransferOptions): Promise<TransferResult> {
    this.calls.push(`control ${setup.requestType.toString(16)}/${setup.request}`);
    if (opts?.signal) this.signals.push(opts.signal);
    return this.onControl(setup, data, opts?.signal);
  }
  bulk(ep: number, x: number | Buffer, opts?: TransferOptions): Promise<TransferResult> {
    this.calls.push(`bulk ${ep.toString(16)} ${typeof x === 'number' ? x : `out ${x.length}`}`);
    if (opts?.signal) this.signals.push(opts.signal);
    return this.onBulk(ep, x, opts?.signal);
  }
  interrupt(ep: number, x: number | Buffer, opts?: TransferOptions): Promise<TransferResult> {
    if (opts?.signal) this.signals.push(opts.signal);
    return this.onInterrupt(ep, x, opts?.signal);
  }
  async setConfiguration(v: number): Promise<TransferStatus> {
    this.calls.push(`setConfiguration ${v}`);
    if (this.setConfigurationResult === 'success') this.configuration = v;
    return this.setConfigurationResult;
  }
  async setAltSetting(i: number, a: number): Promise<TransferStatus> {
    this.calls.push(`setAltSetting ${i} ${a}`);
    const ok = parseConfigDescriptor(this.config).interfaces.some((x) => x.number === i && x.altSetting === a);
    if (!ok) return 'stall';
    this.alts.set(i, a);
    return 'success';
  }
  async reset(): Promise<boolean> {
    this.calls.push('reset');
    return this.resetResult;
  }
  cancelAll(): void {
    this.cancelAllCalls++;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}
