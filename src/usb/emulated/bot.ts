// USB Mass Storage Bulk-Only Transport (BOT), device side: CBW on bulk OUT, optional data
// phase, CSW on bulk IN, over usbredir-style transfers (each bulk IN request has its own
// length and is answered with at most that many bytes; fewer = a short packet).
//
// Wire format (docs/protocol-digest.md §10.2):
//   CBW (31 B, OUT): u32 'USBC' 0x43425355, u32 tag, u32 dataTransferLength, u8 flags (bit 7 =
//                    data IN), u8 LUN (bits 0-3), u8 CB length (bits 0-4, 1..16), u8 CB[16]
//   CSW (13 B, IN):  u32 'USBS' 0x53425355, u32 tag, u32 residue, u8 status (0 passed,
//                    1 failed, 2 phase error)
//
// Behaviour:
// * Bulk IN requests are queued (any number outstanding) and answered in order as data
//   becomes available; READ data is read from the image per request (one read each).
// * When the device has less data than the host expects, the data phase ends with a short
//   packet; if the last data packet exactly filled its request, the next IN request gets a
//   zero-length packet first (so the host sees the end of the data phase), then the CSW.
// * Host/device length or direction disagreements follow the BOT "thirteen cases": extra
//   host length -> residue; host too short for a READ/WRITE, or opposite directions -> phase
//   error (status 2, after the host's data phase is consumed / ended with a zero-length packet).
// * An invalid CBW (wrong size or signature, CB length 0 or > 16) stalls both bulk endpoints
//   until a Bulk-Only Mass Storage Reset AND a CLEAR_FEATURE(ENDPOINT_HALT) per endpoint.
// * OUT transfers are handled strictly in order (a promise chain): WRITE data is written to
//   the file as it arrives, and each bulk OUT is answered once its bytes are written.
// * Cancelling a queued IN request (its signal) removes it and resolves it 'cancelled'; the
//   data it would have carried goes to the next request.

import { dataIn, dataOut, failed, type DeviceTraceEvent, type TransferOptions, type TransferResult } from '../backend.js';
import { describeCdb, fixedSense, formatSense, SENSE, type ScsiPlan, type ScsiStatus, type Sense } from './scsi.js';
import type { CancelSignal } from '../cancel.js';

export const CBW_SIGNATURE = 0x43425355;
export const CSW_SIGNATURE = 0x53425355;
export const CBW_LENGTH = 31;
export const CSW_LENGTH = 13;

export const CswStatus = { passed: 0, failed: 1, phaseError: 2 } as const;

export interface Cbw {
  tag: number;
  dataLength: number;
  dataIn: boolean;
  lun: number;
  cdb: Buffer;
}

/** Parse a CBW; a string says why it is not valid and meaningful. */
export function parseCbw(buf: Buffer): Cbw | string {
  if (buf.length !== CBW_LENGTH) return `CBW of ${buf.length} bytes (expected ${CBW_LENGTH})`;
  const sig = buf.readUInt32LE(0);
  if (sig !== CBW_SIGNATURE) return `bad CBW signature 0x${sig.toString(16).padStart(8, '0')}`;
  const flags = buf[12]!;
  const cbLength = buf[14]! & 0x1f;
  if (cbLength < 1 || cbLength > 16) return `bad CBW CB length ${cbLength}`;
  return {
    tag: buf.readUInt32LE(4),
    dataLength: buf.readUInt32LE(8),
    dataIn: (flags & 0x80) !== 0,
    lun: buf[13]! & 0x0f,
    // Decode by opcode, not by CB length (Windows pads 6-byte CDBs to 12): keep all 16 bytes.
    cdb: Buffer.from(buf.subarray(15, 31)),
  };
}

/** The trace event of a command (emulated devices, and real ones read by BotSniffer). */
export function scsiCommandEvent(cbw: Cbw): Extract<DeviceTraceEvent, { kind: 'scsi-command' }> {
  const d = describeCdb(cbw.cdb);
  return {
    kind: 'scsi-command',
    lun: cbw.lun,
    tag: cbw.tag,
    opcode: cbw.cdb[0]!,
    name: d.name,
    cdb: cbw.cdb,
    dataLength: cbw.dataLength,
    dataIn: cbw.dataIn,
    ...(d.lba !== undefined ? { lba: d.lba, blocks: d.blocks } : {}),
  };
}

export function makeCbw(c: { tag: number; dataLength: number; dataIn: boolean; lun?: number; cdb: Buffer | number[] }): Buffer {
  const cdb = Buffer.from(c.cdb);
  if (cdb.length < 1 || cdb.length > 16) throw new RangeError('CDB must be 1..16 bytes');
  const b = Buffer.alloc(CBW_LENGTH);
  b.writeUInt32LE(CBW_SIGNATURE, 0);
  b.writeUInt32LE(c.tag >>> 0, 4);
  b.writeUInt32LE(c.dataLength >>> 0, 8);
  b[12] = c.dataIn ? 0x80 : 0;
  b[13] = c.lun ?? 0;
  b[14] = cdb.length;
  cdb.copy(b, 15);
  return b;
}

export function makeCsw(tag: number, residue: number, status: number): Buffer {
  const b = Buffer.alloc(CSW_LENGTH);
  b.writeUInt32LE(CSW_SIGNATURE, 0);
  b.writeUInt32LE(tag >>> 0, 4);
  b.writeUInt32LE(Math.max(0, Math.min(residue, 0xffffffff)) >>> 0, 8);
  b[12] = status;
  return b;
}

export interface Csw {
  tag: number;
  residue: number;
  status: number;
}

export function parseCsw(buf: Buffer): Csw | null {
  if (buf.length !== CSW_LENGTH || buf.readUInt32LE(0) !== CSW_SIGNATURE) return null;
  return { tag: buf.readUInt32LE(4), residue: buf.readUInt32LE(8), status: buf[12]! };
}

/** What BOT needs from a logical unit (ScsiLogicalUnit implements it). */
export interface BotLun {
  command(cdb: Buffer): ScsiPlan;
  /** Current sense, for traces. */
  readonly sense?: Sense | null;
}

export interface BotOptions {
  luns: BotLun[];
  /** Bulk IN / OUT endpoint addresses (for halt handling). */
  inEndpoint: number;
  outEndpoint: number;
  trace?: (ev: DeviceTraceEvent) => void;
}

type Phase = 'cbw' | 'data-in' | 'zlp' | 'data-out' | 'status' | 'csw';

interface Command {
  cbw: Cbw;
  opcode: number;
  lun: BotLun;
  plan: ScsiPlan;
  phaseError: boolean;
  /** Bytes the device moves in the data phase (IN: sends; OUT: passes to plan.write). */
  devBytes: number;
  sent: number;
  received: number;
  processed: number;
  lastFull: boolean;
  ioFailed: boolean;
  csw: Buffer | null;
}

interface InRequest {
  length: number;
  resolve: (r: TransferResult) => void;
  signal?: CancelSignal;
  onAbort?: () => void;
}

const EMPTY = Buffer.alloc(0);

/** Answers a LUN the device does not have (INQUIRY: no device here; anything else: LUN not supported). */
export class MissingLun implements BotLun {
  sense: Sense | null = null;
  command(cdb: Buffer): ScsiPlan {
    if (cdb[0] === 0x12) {
      // INQUIRY: peripheral qualifier 3 / type 0x1f: no device at this LUN.
      const d = Buffer.alloc(36);
      d[0] = 0x7f;
      d[3] = 0x02;
      d[4] = 31;
      const alloc = cdb.length >= 5 ? cdb.readUInt16BE(3) : 36;
      const data = d.subarray(0, Math.min(36, alloc));
      return { dir: data.length ? 'in' : 'none', length: data.length, exact: false, data, finish: () => 'good' };
    }
    if (cdb[0] === 0x03) {
      const data = fixedSense(SENSE.lunNotSupported).subarray(0, Math.min(18, cdb[4] ?? 18));
      return { dir: data.length ? 'in' : 'none', length: data.length, exact: false, data, finish: () => 'good' };
    }
    this.sense = SENSE.lunNotSupported;
    return { dir: 'none', length: 0, exact: false, finish: () => 'check' };
  }
}

export class BulkOnlyTransport {
  private readonly luns: BotLun[];
  private readonly inEp: number;
  private readonly outEp: number;
  private trace: ((ev: DeviceTraceEvent) => void) | undefined;
  private readonly missing = new MissingLun();

  private phase: Phase = 'cbw';
  private cmd: Command | null = null;
  private readonly inQueue: InRequest[] = [];
  private serving = false;
  private outTail: Promise<unknown> = Promise.resolve();
  private haltIn = false;
  private haltOut = false;
  private needsReset = false;
  /** Bumped by every reset: async continuations of an older generation change nothing. */
  private gen = 0;
  /** Commands completed, for stats. */
  commands = 0;

  constructor(opts: BotOptions) {
    if (opts.luns.length < 1 || opts.luns.length > 16) throw new RangeError('BOT needs 1..16 LUNs');
    this.luns = opts.luns;
    this.inEp = opts.inEndpoint;
    this.outEp = opts.outEndpoint;
    this.trace = opts.trace;
  }

  /** Highest LUN number (the Get Max LUN answer). */
  get maxLun(): number {
    return this.luns.length - 1;
  }

  setTrace(trace: ((ev: DeviceTraceEvent) => void) | undefined): void {
    this.trace = trace;
  }

  /** For tests and logs. */
  get state(): { phase: Phase; haltIn: boolean; haltOut: boolean; needsReset: boolean; queuedIn: number } {
    return { phase: this.phase, haltIn: this.haltIn, haltOut: this.haltOut, needsReset: this.needsReset, queuedIn: this.inQueue.length };
  }

  // ---- endpoint state (standard requests) -------------------------------------------------

  isHalted(ep: number): boolean {
    if (ep === this.inEp) return this.haltIn;
    if (ep === this.outEp) return this.haltOut;
    return false;
  }

  /** SET_FEATURE(ENDPOINT_HALT). */
  setHalt(ep: number): void {
    if (ep === this.inEp) this.haltIn = true;
    if (ep === this.outEp) this.haltOut = true;
    this.pump();
  }

  /** CLEAR_FEATURE(ENDPOINT_HALT). While a reset is still required, the next transfer stalls again. */
  clearHalt(ep: number): void {
    if (ep === this.inEp) this.haltIn = false;
    if (ep === this.outEp) this.haltOut = false;
    this.pump();
  }

  /** Bulk-Only Mass Storage Reset (class request 0xFF): ready for the next CBW; halts unchanged. */
  reset(): void {
    this.gen++;
    this.needsReset = false;
    this.phase = 'cbw';
    this.cmd = null;
    this.trace?.({ kind: 'bot-reset' });
    this.pump();
  }

  /** USB port reset / configuration change: BOT reset, halts cleared, queued requests cancelled. */
  usbReset(): void {
    this.reset();
    this.haltIn = false;
    this.haltOut = false;
    this.cancelAll();
  }

  /** Resolve every queued IN request as cancelled. */
  cancelAll(): void {
    for (const req of this.inQueue.splice(0)) this.complete(req, failed('cancelled'));
  }

  // ---- transfers ----------------------------------------------------------------------------

  bulkIn(length: number, opts: TransferOptions = {}): Promise<TransferResult> {
    return new Promise((resolve) => {
      const signal = opts.signal;
      if (signal?.aborted) return resolve(failed('cancelled'));
      const req: InRequest = { length, resolve, signal };
      if (signal) {
        req.onAbort = () => {
          const i = this.inQueue.indexOf(req);
          if (i >= 0) {
            this.inQueue.splice(i, 1);
            this.complete(req, failed('cancelled'));
          }
        };
        signal.addEventListener('abort', req.onAbort, { once: true });
      }
      this.inQueue.push(req);
      this.pump();
    });
  }

  bulkOut(data: Buffer, opts: TransferOptions = {}): Promise<TransferResult> {
    const run = (): Promise<TransferResult> => this.handleOut(data, opts.signal);
    const p = this.outTail.then(run, run);
    this.outTail = p;
    return p;
  }

  private complete(req: InRequest, r: TransferResult): void {
    if (req.signal && req.onAbort) req.signal.removeEventListener('abort', req.onAbort);
    req.resolve(r);
  }

  private async handleOut(data: Buffer, signal?: CancelSignal): Promise<TransferResult> {
    if (signal?.aborted) return failed('cancelled');
    if (this.needsReset || this.haltOut) {
      this.haltOut = true;
      return failed('stall');
    }
    switch (this.phase) {
      case 'cbw':
        return this.startCommand(data);
      case 'data-out':
        return this.dataOut(data);
      default:
        // OUT data while the device expects to send: the host is out of step. Stall until it recovers.
        this.haltOut = true;
        return failed('stall');
    }
  }

  private startCommand(data: Buffer): TransferResult {
    const cbw = parseCbw(data);
    if (typeof cbw === 'string') {
      this.invalidCbw(cbw);
      return failed('stall');
    }
    const lun = this.luns[cbw.lun] ?? this.missing;
    const opcode = cbw.cdb[0]!;
    this.trace?.(scsiCommandEvent(cbw));
    let plan: ScsiPlan;
    try {
      plan = lun.command(cbw.cdb);
    } catch {
      plan = { dir: 'none', length: 0, exact: false, finish: () => 'check' };
    }
    const cmd: Command = {
      cbw,
      opcode,
      lun,
      plan,
      phaseError: false,
      devBytes: 0,
      sent: 0,
      received: 0,
      processed: 0,
      lastFull: false,
      ioFailed: false,
      csw: null,
    };
    this.cmd = cmd;
    const H = cbw.dataLength;
    const D = plan.dir === 'none' ? 0 : plan.length;
    if (H === 0) {
      cmd.phaseError = D > 0; // cases 2 and 3: host expects no data
      this.beginStatus();
    } else if (cbw.dataIn) {
      if (plan.dir === 'out' && D > 0) cmd.phaseError = true; // case 8
      else if (plan.dir === 'in') {
        if (D <= H) cmd.devBytes = D; // cases 5 and 6
        else if (!plan.exact) cmd.devBytes = H; // allocation-length command: truncate
        else cmd.phaseError = true; // case 7
      }
      this.phase = 'data-in';
      if (cmd.devBytes === 0) this.endDataIn();
    } else {
      if (plan.dir === 'in' && D > 0) cmd.phaseError = true; // case 10
      else if (plan.dir === 'out') {
        if (D <= H) cmd.devBytes = D; // cases 11 and 12
        else if (!plan.exact) cmd.devBytes = H;
        else cmd.phaseError = true; // case 13
      }
      this.phase = 'data-out';
    }
    this.pump();
    return dataOut(data.length);
  }

  private async dataOut(data: Buffer): Promise<TransferResult> {
    const cmd = this.cmd!;
    const g = this.gen;
    const room = Math.max(0, cmd.devBytes - cmd.received);
    const useful = data.subarray(0, Math.min(room, data.length));
    if (useful.length && !cmd.ioFailed && !cmd.phaseError && cmd.plan.write) {
      try {
        await cmd.plan.write(cmd.received, useful);
        cmd.processed += useful.length;
      } catch {
        cmd.ioFailed = true; // sense set by the LU; the rest of the data is consumed and dropped
      }
    }
    if (g !== this.gen) return dataOut(data.length);
    cmd.received += data.length;
    if (cmd.received >= cmd.cbw.dataLength && this.phase === 'data-out') this.beginStatus();
    return dataOut(data.length);
  }

  private invalidCbw(reason: string): void {
    this.gen++;
    this.needsReset = true;
    this.haltIn = true;
    this.haltOut = true;
    this.phase = 'cbw';
    this.cmd = null;
    this.trace?.({ kind: 'bot-invalid-cbw', reason });
    this.pump();
  }

  private endDataIn(): void {
    const cmd = this.cmd!;
    const zlp = !cmd.ioFailed && cmd.sent < cmd.cbw.dataLength && (cmd.sent === 0 || cmd.lastFull);
    if (zlp) this.phase = 'zlp';
    else this.beginStatus();
  }

  private beginStatus(): void {
    const cmd = this.cmd!;
    const g = this.gen;
    this.phase = 'status';
    const st: Promise<ScsiStatus | 'phase'> = cmd.phaseError ? Promise.resolve('phase') : Promise.resolve().then(() => cmd.plan.finish());
    st.then(
      (v) => (v === 'phase' ? CswStatus.phaseError : v === 'good' ? CswStatus.passed : CswStatus.failed),
      () => CswStatus.failed,
    ).then((status) => {
      if (g !== this.gen) return;
      const H = cmd.cbw.dataLength;
      let residue = H;
      if (!cmd.phaseError) {
        if (H === 0) residue = 0;
        else if (cmd.cbw.dataIn) residue = H - cmd.sent;
        else residue = H - cmd.processed;
      }
      cmd.csw = makeCsw(cmd.cbw.tag, residue, status);
      this.commands++;
      const sense = status === CswStatus.failed ? cmd.lun.sense : null;
      this.trace?.({
        kind: 'scsi-status',
        lun: cmd.cbw.lun,
        tag: cmd.cbw.tag,
        opcode: cmd.opcode,
        status,
        residue,
        ...(sense ? { sense: formatSense(sense) } : {}),
      });
      this.phase = 'csw';
      this.pump();
    });
  }

  /** Answer queued IN requests as far as the current phase allows. */
  private pump(): void {
    if (this.serving) return;
    while (this.inQueue.length) {
      if (this.needsReset || this.haltIn) {
        this.haltIn = true;
        this.complete(this.inQueue.shift()!, failed('stall'));
        continue;
      }
      const cmd = this.cmd;
      switch (this.phase) {
        case 'data-in': {
          const c = cmd!;
          const req = this.inQueue.shift()!;
          const n = Math.min(req.length, c.devBytes - c.sent);
          if (c.plan.data || n === 0) {
            const d = c.plan.data ? c.plan.data.subarray(c.sent, c.sent + n) : EMPTY;
            c.sent += d.length;
            c.lastFull = d.length === req.length;
            this.complete(req, dataIn(d));
            if (c.sent >= c.devBytes) this.endDataIn();
            continue;
          }
          this.serving = true;
          const g = this.gen;
          c.plan.read!(c.sent, n).then(
            (buf) => {
              const d = buf.length > n ? buf.subarray(0, n) : buf;
              if (g === this.gen) {
                c.sent += d.length;
                c.lastFull = d.length === req.length;
                if (d.length < n) c.ioFailed = true;
                if (c.sent >= c.devBytes || c.ioFailed) this.endDataIn();
              }
              this.complete(req, dataIn(d));
            },
            () => {
              if (g === this.gen) {
                c.ioFailed = true;
                c.lastFull = false;
                this.endDataIn();
              }
              this.complete(req, dataIn(EMPTY)); // short packet: ends the data phase
            },
          ).finally(() => {
            this.serving = false;
            this.pump();
          });
          return;
        }
        case 'zlp':
          this.complete(this.inQueue.shift()!, dataIn(EMPTY));
          this.beginStatus();
          continue;
        case 'csw': {
          const req = this.inQueue.shift()!;
          const csw = cmd!.csw!;
          this.cmd = null;
          this.phase = 'cbw';
          if (req.length >= CSW_LENGTH) this.complete(req, dataIn(csw));
          else this.complete(req, { status: 'babble', data: csw.subarray(0, req.length), length: req.length });
          continue;
        }
        default:
          return; // waiting for a CBW, OUT data or the command's completion
      }
    }
  }
}
