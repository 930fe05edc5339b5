// Primes V8 for a recognition. After device_connect the guest stays silent for ~280 ms (Linux
// debounces a new port for 100+ ms, resets it and waits again), then sends ~60 requests one after
// the other, each waiting for our answer. The first time our request path runs (usbredir
// parser, host, mass storage, UAS/BOT, SCSI, writer) V8 interprets it and collects feedback:
// measured here, our own time was 20-31 ms on a process's first recognition and 9-11 ms on a later
// one. So during the silence we run a scratch copy of the device through a short enumeration and
// SCSI probe over both transports, in this process, with nothing on the wire.
//
// The scratch device is a second, read-only instance on the same image; its host talks to a
// small in-memory usb-guest written here. Nothing it does reaches the real device, its host, the
// channel or the statistics. It stops early once `stop()` says so (the guest started talking).

import { ALL_CAPS } from './usbredir/caps.js';
import { UsbredirParser } from './usbredir/parser.js';
import { UsbredirWriter } from './usbredir/writer.js';
import { epIndex, type UsbredirPacket } from './usbredir/proto.js';
import { makeCbw } from './emulated/bot.js';
import { BULK_IN_EP, BULK_OUT_EP, UAS_EP } from './emulated/mass-storage.js';
import { makeCommandIu } from './emulated/uas.js';
import { UsbredirHost } from './host.js';
import type { UsbDeviceBackend } from './backend.js';

/** The endpoints the UAS streams are allocated on (status, data-in, data-out), as usbredir's mask. */
const STREAM_EPS = (1 << epIndex(UAS_EP.status)) | (1 << epIndex(UAS_EP.dataIn)) | (1 << epIndex(UAS_EP.dataOut));

interface Probe {
  cdb: number[];
  dataIn: number;
}
/** A packet without its id (the scratch guest numbers its requests). */
type Request = UsbredirPacket extends infer P ? (P extends UsbredirPacket ? Omit<P, 'id'> : never) : never;

/** A Linux probe and mount of each kind, in the order Linux sends them. */
const COMMON: Probe[] = [
  { cdb: [0x12, 0, 0, 0, 36, 0], dataIn: 36 }, // INQUIRY
  { cdb: [0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0], dataIn: 16 }, // REPORT LUNS
  { cdb: [0x00, 0, 0, 0, 0, 0], dataIn: 0 }, // TEST UNIT READY
  { cdb: [0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], dataIn: 8 }, // READ CAPACITY(10)
];
const PROBE: Record<'disk' | 'cd', Probe[]> = {
  disk: [
    ...COMMON,
    { cdb: [0x1a, 0, 0x3f, 0, 192, 0], dataIn: 192 }, // MODE SENSE(6), all pages
    { cdb: [0x1e, 0, 0, 0, 1, 0], dataIn: 0 }, // PREVENT ALLOW MEDIUM REMOVAL
    { cdb: [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], dataIn: 512 }, // READ(10) of block 0
  ],
  cd: [
    ...COMMON,
    { cdb: [0x1a, 0, 0x2a, 0, 128, 0], dataIn: 128 }, // MODE SENSE(6), CD capabilities
    { cdb: [0x46, 0, 0, 0, 0, 0, 0, 0, 16, 0], dataIn: 16 }, // GET CONFIGURATION
    { cdb: [0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0], dataIn: 8 }, // GET EVENT STATUS NOTIFICATION
    { cdb: [0x43, 0, 0, 0, 0, 0, 0, 0, 12, 0], dataIn: 12 }, // READ TOC
    { cdb: [0x51, 0, 0, 0, 0, 0, 0, 0, 34, 0], dataIn: 34 }, // READ DISC INFORMATION
    { cdb: [0x52, 1, 0, 0, 0, 1, 0, 0, 36, 0], dataIn: 36 }, // READ TRACK INFORMATION
    { cdb: [0x1e, 0, 0, 0, 1, 0], dataIn: 0 }, // PREVENT ALLOW MEDIUM REMOVAL
    { cdb: [0x28, 0, 0, 0, 0, 16, 0, 0, 1, 0], dataIn: 2048 }, // READ(10) of the volume descriptor
  ],
};

/** Rounds of the probe: one makes V8 compile the path, more let it reach its baseline compiler
 *  (measured: our time per recognition 20-30 ms cold, 14-17 ms after one round, 10-13 after four;
 *  four take ~50 ms here, well inside the guest's ~280 ms of silence). */
export const WARM_UP_ROUNDS = 4;
/** A step that takes longer than this means the scratch device and guest disagree: stop. */
const STEP_TIMEOUT_MS = 200;

/** An in-memory usb-guest: numbered requests, each resolved by the host's answer. */
class ScratchGuest {
  private readonly parser = new UsbredirParser({ role: 'usb-guest', caps: [...ALL_CAPS] });
  private readonly writer = new UsbredirWriter({ role: 'usb-guest', caps: [...ALL_CAPS] });
  private readonly waiting = new Map<bigint, (p: UsbredirPacket) => void>();
  private nextId = 1n;
  private readonly hello: Promise<void>;
  private helloSeen!: () => void;

  constructor(private readonly toHost: (b: Buffer) => void) {
    this.hello = new Promise((r) => (this.helloSeen = r));
  }

  start(): Promise<void> {
    this.toHost(this.writer.hello('spicectl warm-up'));
    return this.hello;
  }

  /** Bytes from the host. */
  feed(chunk: Buffer): void {
    for (const p of this.parser.feed(chunk)) {
      if (p.type === 'hello') {
        this.writer.setPeerCaps(p.caps);
        this.helloSeen();
      }
      const done = this.waiting.get(p.id);
      if (done && p.type !== 'hello') {
        this.waiting.delete(p.id);
        done(p);
      }
    }
  }

  request(p: Request): Promise<UsbredirPacket> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.toHost(this.writer.encode({ ...p, id } as UsbredirPacket));
    });
  }

  control(requestType: number, request: number, value: number, index: number, length: number): Promise<UsbredirPacket> {
    return this.request({ type: 'controlPacket', endpoint: requestType & 0x80, request, requestType, status: 0, value, index, length, data: Buffer.alloc(0) });
  }

  bulkIn(endpoint: number, length: number, streamId = 0): Promise<UsbredirPacket> {
    return this.request({ type: 'bulkPacket', endpoint, status: 0, length, streamId, data: Buffer.alloc(0) });
  }

  bulkOut(endpoint: number, data: Buffer, streamId = 0): Promise<UsbredirPacket> {
    return this.request({ type: 'bulkPacket', endpoint, status: 0, length: data.length, streamId, data });
  }
}

type Step = (f: () => Promise<unknown>) => Promise<void>;

/** One enumeration and SCSI probe, over UAS when the device offers it, then over Bulk-Only. */
async function probe(g: ScratchGuest, kind: 'disk' | 'cd', step: Step, result: WarmUpResult): Promise<void> {
  for (const [value, length] of [[0x100, 8], [0x100, 18], [0xf00, 5], [0x200, 9], [0x200, 255], [0x300, 255], [0x302, 255]] as const) {
    await step(() => g.control(0x80, 6, value, value === 0x300 ? 0 : 0x409, length));
  }
  await step(() => g.request({ type: 'setConfiguration', configuration: 1 }));
  // UAS: status and data requests on the command's stream, then its Command IU.
  const alt = await g.request({ type: 'setAltSetting', interface: 0, alt: 1 });
  if (alt.type === 'altSettingStatus' && alt.status === 0) {
    await step(() => g.request({ type: 'allocBulkStreams', endpoints: STREAM_EPS, noStreams: 8 }));
    for (const [i, c] of PROBE[kind].entries()) {
      const tag = 1 + (i % 4);
      await step(async () => {
        const [status] = await Promise.all([
          g.bulkIn(UAS_EP.status, 112, tag),
          g.bulkIn(UAS_EP.dataIn, Math.max(c.dataIn, 1), tag),
          g.bulkOut(UAS_EP.command, makeCommandIu({ tag, cdb: c.cdb })),
        ]);
        // Sense IU: byte 6 is the SCSI status.
        if (status.type === 'bulkPacket' && status.data[0] === 0x03 && status.data[6] === 0) result.good++;
      });
    }
    await step(() => g.request({ type: 'freeBulkStreams', endpoints: STREAM_EPS }));
    await step(() => g.request({ type: 'setAltSetting', interface: 0, alt: 0 }));
  }
  // Bulk-Only: CBW, data, CSW.
  await step(() => g.control(0xa1, 0xfe, 0, 0, 1)); // GET MAX LUN
  for (const [i, c] of PROBE[kind].entries()) {
    await step(async () => {
      await g.bulkOut(BULK_OUT_EP, makeCbw({ tag: i + 1, dataLength: c.dataIn, dataIn: true, cdb: c.cdb }));
      // A failed command with a data phase stalls the IN pipe: clear it, then read the CSW.
      const data = c.dataIn ? await g.bulkIn(BULK_IN_EP, c.dataIn) : null;
      if (data?.type === 'bulkPacket' && data.status !== 0) await g.control(0x02, 1, 0, BULK_IN_EP, 0);
      const csw = await g.bulkIn(BULK_IN_EP, 13);
      // CSW: byte 12 is the status (0 = passed).
      if (csw.type === 'bulkPacket' && csw.data.length === 13 && csw.data[12] === 0) result.good++;
    });
  }
}

export interface WarmUpResult {
  /** requests (or request groups: one SCSI command) started */
  steps: number;
  /** SCSI commands that completed with GOOD status */
  good: number;
}

/**
 * Runs a scratch device (opened by `open`, closed here) through an enumeration and a SCSI probe
 * over UAS (when it offers it) and Bulk-Only. Never throws.
 * trace: also build the trace events a traced host builds (bench's timeline).
 */
export async function warmUpRequestPath(
  kind: 'disk' | 'cd',
  open: () => Promise<UsbDeviceBackend>,
  stop: () => boolean,
  trace = false,
): Promise<WarmUpResult> {
  let device: UsbDeviceBackend | null = null;
  let host: UsbredirHost | null = null;
  const result: WarmUpResult = { steps: 0, good: 0 };
  try {
    device = await open();
    let guest: ScratchGuest | null = null;
    const h = new UsbredirHost({ device, send: (b) => guest!.feed(b), version: 'warm-up', filterWaitMs: 0, onTrace: trace ? () => {} : undefined });
    host = h;
    guest = new ScratchGuest((b) => h.feed(b));
    h.start();
    await guest.start();
    const g = guest;
    const step: Step = async (f) => {
      // Each step starts on a fresh turn of the event loop: the scratch device answers from
      // memory (and reads its image synchronously), so without this the whole warm-up would be
      // one turn, and a guest request arriving meanwhile would wait for all of it.
      await new Promise<void>((r) => setImmediate(r));
      if (stop()) throw new Error('stopped');
      result.steps++;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('step timed out')), STEP_TIMEOUT_MS)));
      try {
        await Promise.race([f(), late]);
      } finally {
        clearTimeout(timer);
      }
    };
    for (let round = 0; round < WARM_UP_ROUNDS; round++) await probe(g, kind, step, result);
  } catch {
    // A warm-up that stops early or trips over something has still done its job.
  } finally {
    host?.channelClosed();
    await device?.close().catch(() => {});
  }
  return result;
}
