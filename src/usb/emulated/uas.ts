// USB Attached SCSI (UAS), device side, over SuperSpeed bulk streams: the guest queues a
// command's status request, data request and Command IU together, so a command costs one round
// trip over usbredir instead of Bulk-Only's three (CBW, data, CSW), and several commands can be
// in flight at once. Sense data comes back in the status (no REQUEST SENSE round).
//
// Pipes (alt setting 1 of the mass-storage interface; T10 UAS-2 and the USB UASP 1.0 spec):
//   command (bulk OUT, no streams)  Command IU / Task Management IU
//   status  (bulk IN, streams)      Sense IU / Response IU, on the stream named by the IU's tag
//   data-in (bulk IN, streams), data-out (bulk OUT, streams): the command's data, stream = tag
//
// Information units (big-endian tags):
//   Command IU   01 rsvd tag(2) prio/attr rsvd addCdbLen rsvd LUN(8) CDB(16) [additional CDB]
//   Sense IU     03 rsvd tag(2) statusQualifier(2) status rsvd(7) senseLength(2) sense...
//   Response IU  04 rsvd tag(2) additionalResponseInfo(3) responseCode
//   Task Mgmt IU 05 rsvd tag(2) function rsvd taskTag(2) LUN(8)
//
// Requests for a stream may come before the Command IU that uses it (Linux submits status and
// data requests first), so each stream keeps its queued requests until a command claims them.
// Requests still queued when a command's status goes out belong to it (they came before the
// Command IU): data-in ones end with no data, data-out ones are consumed unread, so a later
// command on the same tag never inherits them. Only SuperSpeed with streams is supported
// (USB 2 UAS needs Read/Write Ready IUs); stream 0 requests stall.

import { dataIn, dataOut, failed, type DeviceTraceEvent, type TransferOptions, type TransferResult } from '../backend.js';
import { MissingLun, scsiCommandEvent, type BotLun } from './bot.js';
import { fixedSense, formatSense, SENSE, type ScsiPlan, type ScsiStatus, type Sense } from './scsi.js';
import type { CancelSignal } from '../cancel.js';

export const IuId = { command: 0x01, sense: 0x03, response: 0x04, taskManagement: 0x05 } as const;
export const COMMAND_IU_LENGTH = 32;
export const TASK_MANAGEMENT_IU_LENGTH = 16;

/** Response IU codes (UAS-2 table "RESPONSE CODE"). */
export const ResponseCode = {
  complete: 0x00,
  invalidIu: 0x02,
  notSupported: 0x04,
  failed: 0x05,
  succeeded: 0x08,
  incorrectLun: 0x09,
  overlappedTag: 0x0a,
} as const;

/** Task management functions. */
export const TaskFunction = {
  abortTask: 0x01,
  abortTaskSet: 0x02,
  clearTaskSet: 0x04,
  logicalUnitReset: 0x08,
  itNexusReset: 0x10,
  queryTask: 0x80,
  queryTaskSet: 0x81,
} as const;

export interface UasEndpoints {
  command: number;
  status: number;
  dataIn: number;
  dataOut: number;
}

export interface UasOptions {
  luns: BotLun[];
  endpoints: UasEndpoints;
  trace?: (ev: DeviceTraceEvent) => void;
}

interface InRequest {
  length: number;
  resolve: (r: TransferResult) => void;
  signal?: CancelSignal;
  onAbort?: () => void;
}

interface OutRequest {
  data: Buffer;
  resolve: (r: TransferResult) => void;
  signal?: CancelSignal;
  onAbort?: () => void;
}

interface Task {
  tag: number;
  lun: number;
  unit: BotLun;
  cdb: Buffer;
  plan: ScsiPlan;
  /** Bytes of the data phase (0 when the command moves no data). */
  bytes: number;
  done: number;
  ioFailed: boolean;
  /** A data request is being served (one at a time per task). */
  busy: boolean;
  aborted: boolean;
}

/** Everything queued on one stream (= one tag). */
interface Stream {
  status: InRequest[];
  dataIn: InRequest[];
  dataOut: OutRequest[];
  task: Task | null;
  /** Sense / Response IUs waiting for a status request. */
  iu: Buffer[];
}

const EMPTY = Buffer.alloc(0);

export function parseCommandIu(buf: Buffer): { tag: number; lun: number; cdb: Buffer } | string {
  if (buf.length < COMMAND_IU_LENGTH) return `Command IU of ${buf.length} bytes (at least ${COMMAND_IU_LENGTH})`;
  const extra = (buf[6]! >> 2) * 4;
  if (buf.length < COMMAND_IU_LENGTH + extra) return `Command IU of ${buf.length} bytes (${COMMAND_IU_LENGTH + extra} with its additional CDB)`;
  return { tag: buf.readUInt16BE(2), lun: lunOf(buf, 8), cdb: Buffer.from(buf.subarray(16, 32 + extra)) };
}

/** Single-level LUN (SAM peripheral or flat addressing) of an 8-byte LUN field. */
function lunOf(buf: Buffer, at: number): number {
  return buf.readUInt16BE(at) & 0x3fff;
}

export function makeCommandIu(c: { tag: number; lun?: number; cdb: Buffer | number[] }): Buffer {
  const b = Buffer.alloc(COMMAND_IU_LENGTH);
  b[0] = IuId.command;
  b.writeUInt16BE(c.tag, 2);
  b.writeUInt16BE(c.lun ?? 0, 8);
  Buffer.from(c.cdb).copy(b, 16, 0, 16);
  return b;
}

export function makeSenseIu(tag: number, status: number, sense: Buffer = EMPTY): Buffer {
  const b = Buffer.alloc(16 + sense.length);
  b[0] = IuId.sense;
  b.writeUInt16BE(tag, 2);
  b[6] = status;
  b.writeUInt16BE(sense.length, 14);
  sense.copy(b, 16);
  return b;
}

export function makeResponseIu(tag: number, code: number): Buffer {
  const b = Buffer.alloc(8);
  b[0] = IuId.response;
  b.writeUInt16BE(tag, 2);
  b[7] = code;
  return b;
}

export function makeTaskManagementIu(c: { tag: number; fn: number; taskTag?: number; lun?: number }): Buffer {
  const b = Buffer.alloc(TASK_MANAGEMENT_IU_LENGTH);
  b[0] = IuId.taskManagement;
  b.writeUInt16BE(c.tag, 2);
  b[4] = c.fn;
  b.writeUInt16BE(c.taskTag ?? 0, 6);
  b.writeUInt16BE(c.lun ?? 0, 8);
  return b;
}

/** SCSI status byte of a Sense IU. */
export const SCSI_GOOD = 0x00;
export const SCSI_CHECK_CONDITION = 0x02;

export class UasTransport {
  private readonly luns: BotLun[];
  private readonly ep: UasEndpoints;
  private trace: ((ev: DeviceTraceEvent) => void) | undefined;
  private readonly missing = new MissingLun();
  private readonly streams = new Map<number, Stream>();
  private streamCount = 0;
  /** Bumped by every reset: async continuations of an older generation change nothing. */
  private gen = 0;
  /** Commands completed, for stats. */
  commands = 0;

  constructor(opts: UasOptions) {
    this.luns = opts.luns;
    this.ep = opts.endpoints;
    this.trace = opts.trace;
  }

  setTrace(trace: ((ev: DeviceTraceEvent) => void) | undefined): void {
    this.trace = trace;
  }

  /** For tests and logs: tags with a command in progress. */
  get activeTags(): number[] {
    return [...this.streams.entries()].filter(([, s]) => s.task).map(([t]) => t);
  }

  allocStreams(count: number): boolean {
    if (count < 1) return false;
    this.streamCount = count;
    return true;
  }

  freeStreams(): void {
    this.reset();
    this.streamCount = 0;
  }

  /** Port reset, alt setting or configuration change: every task ends, every request is cancelled. */
  reset(): void {
    this.gen++;
    for (const s of this.streams.values()) {
      if (s.task) s.task.aborted = true;
      for (const r of [...s.status, ...s.dataIn]) this.finish(r, failed('cancelled'));
      for (const r of s.dataOut) this.finish(r, failed('cancelled'));
    }
    this.streams.clear();
  }

  bulk(endpoint: number, lengthOrData: number | Buffer, opts: TransferOptions = {}): Promise<TransferResult> {
    if (opts.signal?.aborted) return Promise.resolve(failed('cancelled'));
    const stream = opts.streamId ?? 0;
    if (endpoint === this.ep.command && Buffer.isBuffer(lengthOrData)) return Promise.resolve(this.onIu(lengthOrData));
    const streamed = endpoint === this.ep.status || endpoint === this.ep.dataIn || endpoint === this.ep.dataOut;
    // Stream ids run from 1 to the number allocated; stream 0 means "no streams" (USB 2 UAS).
    if (!streamed || stream < 1 || (this.streamCount > 0 && stream > this.streamCount)) return Promise.resolve(failed('stall'));
    const s = this.stream(stream);
    return new Promise((resolve) => {
      if (endpoint === this.ep.dataOut) {
        if (!Buffer.isBuffer(lengthOrData)) return resolve(failed('stall'));
        const req: OutRequest = { data: lengthOrData, resolve, signal: opts.signal };
        this.watchAbort(req, s.dataOut, () => this.finish(req, failed('cancelled')));
        s.dataOut.push(req);
      } else {
        if (typeof lengthOrData !== 'number') return resolve(failed('stall'));
        const req: InRequest = { length: lengthOrData, resolve, signal: opts.signal };
        const queue = endpoint === this.ep.status ? s.status : s.dataIn;
        this.watchAbort(req, queue, () => this.finish(req, failed('cancelled')));
        queue.push(req);
      }
      this.pump(stream);
    });
  }

  private stream(tag: number): Stream {
    let s = this.streams.get(tag);
    if (!s) this.streams.set(tag, (s = { status: [], dataIn: [], dataOut: [], task: null, iu: [] }));
    return s;
  }

  private watchAbort<T extends { signal?: CancelSignal; onAbort?: () => void }>(req: T, queue: T[], cancel: () => void): void {
    if (!req.signal) return;
    req.onAbort = () => {
      const i = queue.indexOf(req);
      if (i >= 0) {
        queue.splice(i, 1);
        cancel();
      }
    };
    req.signal.addEventListener('abort', req.onAbort, { once: true });
  }

  /** Answer a request (IN or OUT) and stop watching its cancellation. */
  private finish(req: InRequest | OutRequest, r: TransferResult): void {
    if (req.signal && req.onAbort) req.signal.removeEventListener('abort', req.onAbort);
    req.resolve(r);
  }

  // ---- command pipe ---------------------------------------------------------------------------

  private onIu(buf: Buffer): TransferResult {
    const id = buf[0];
    const tag = buf.length >= 4 ? buf.readUInt16BE(2) : 0;
    const reject = (code: number, why: string): TransferResult => {
      this.trace?.({ kind: 'uas-response', tag, code, reason: why });
      if (tag >= 1) this.sendIu(tag, makeResponseIu(tag, code));
      return dataOut(buf.length);
    };
    if (id === IuId.command) {
      const c = parseCommandIu(buf);
      if (typeof c === 'string') return reject(ResponseCode.invalidIu, c);
      if (c.tag < 1) return reject(ResponseCode.invalidIu, 'Command IU with tag 0');
      if (this.streams.get(c.tag)?.task) return reject(ResponseCode.overlappedTag, `tag ${c.tag} is already in use`);
      this.startTask(c.tag, c.lun, c.cdb);
      return dataOut(buf.length);
    }
    if (id === IuId.taskManagement) {
      if (buf.length < TASK_MANAGEMENT_IU_LENGTH) return reject(ResponseCode.invalidIu, `Task Management IU of ${buf.length} bytes`);
      if (tag < 1) return reject(ResponseCode.invalidIu, 'Task Management IU with tag 0');
      this.sendIu(tag, makeResponseIu(tag, this.taskManagement(buf[4]!, buf.readUInt16BE(6), lunOf(buf, 8))));
      return dataOut(buf.length);
    }
    return reject(ResponseCode.invalidIu, `unknown IU id 0x${(id ?? 0).toString(16)}`);
  }

  private taskManagement(fn: number, taskTag: number, lun: number): number {
    if (lun >= this.luns.length) return ResponseCode.incorrectLun;
    const tasks = [...this.streams.values()].map((s) => s.task).filter((t): t is Task => !!t && t.lun === lun);
    switch (fn) {
      case TaskFunction.abortTask:
        for (const t of tasks) if (t.tag === taskTag) this.abortTask(t);
        return ResponseCode.complete;
      case TaskFunction.abortTaskSet:
      case TaskFunction.clearTaskSet:
      case TaskFunction.logicalUnitReset:
      case TaskFunction.itNexusReset:
        for (const t of tasks) this.abortTask(t);
        return ResponseCode.complete;
      case TaskFunction.queryTask:
        return tasks.some((t) => t.tag === taskTag) ? ResponseCode.succeeded : ResponseCode.complete;
      case TaskFunction.queryTaskSet:
        return tasks.length ? ResponseCode.succeeded : ResponseCode.complete;
      default:
        return ResponseCode.notSupported;
    }
  }

  /** An aborted task sends no status; its queued data requests end as cancelled. */
  private abortTask(t: Task): void {
    t.aborted = true;
    const s = this.stream(t.tag);
    s.task = null;
    for (const r of s.dataIn.splice(0)) this.finish(r, failed('cancelled'));
    for (const r of s.dataOut.splice(0)) this.finish(r, failed('cancelled'));
    this.trace?.({ kind: 'uas-abort', tag: t.tag });
  }

  private startTask(tag: number, lun: number, cdb: Buffer): void {
    const unit = this.luns[lun] ?? this.missing;
    let plan: ScsiPlan;
    try {
      plan = unit.command(cdb);
    } catch {
      plan = { dir: 'none', length: 0, exact: false, finish: () => 'check' };
    }
    const bytes = plan.dir === 'none' ? 0 : plan.length;
    const task: Task = { tag, lun, unit, cdb, plan, bytes, done: 0, ioFailed: false, busy: false, aborted: false };
    this.stream(tag).task = task;
    this.trace?.(scsiCommandEvent({ tag, lun, cdb, dataLength: bytes, dataIn: plan.dir === 'in' }));
    if (bytes === 0) this.finishTask(task);
    else this.pump(tag);
  }

  // ---- data and status --------------------------------------------------------------------

  /** Serve what a stream's queued requests allow. */
  private pump(tag: number): void {
    const s = this.streams.get(tag);
    if (!s) return;
    while (s.iu.length && s.status.length) this.finish(s.status.shift()!, dataIn(s.iu.shift()!));
    const t = s.task;
    if (!t || t.busy || t.done >= t.bytes) return;
    if (t.plan.dir === 'in' && s.dataIn.length) this.serveIn(t, s.dataIn.shift()!);
    else if (t.plan.dir === 'out' && s.dataOut.length) this.serveOut(t, s.dataOut.shift()!);
  }

  private serveIn(t: Task, req: InRequest): void {
    const n = Math.min(req.length, t.bytes - t.done);
    const deliver = (d: Buffer): void => {
      t.done += d.length;
      // A short answer (or a failed read) ends the data phase.
      if (d.length < req.length) t.done = t.bytes;
      this.finish(req, dataIn(d));
      if (t.done >= t.bytes) this.finishTask(t);
      else this.pump(t.tag);
    };
    if (t.plan.data || n === 0) return deliver(t.plan.data ? t.plan.data.subarray(t.done, t.done + n) : EMPTY);
    t.busy = true;
    const g = this.gen;
    t.plan.read!(t.done, n).then(
      (buf) => (buf.length > n ? buf.subarray(0, n) : buf),
      () => EMPTY, // the LU set the sense; the short answer below marks the failure
    ).then((d) => {
      t.busy = false;
      if (g !== this.gen || t.aborted) return this.finish(req, failed('cancelled'));
      if (d.length < n) t.ioFailed = true;
      deliver(d);
    });
  }

  private serveOut(t: Task, req: OutRequest): void {
    const useful = req.data.subarray(0, Math.max(0, Math.min(t.bytes - t.done, req.data.length)));
    const g = this.gen;
    const accepted = (): void => {
      t.busy = false;
      if (g !== this.gen || t.aborted) return this.finish(req, failed('cancelled'));
      t.done += useful.length;
      // Less than the command needs in one request is fine (more may follow); nothing useful ends it.
      if (useful.length === 0) t.done = t.bytes;
      this.finish(req, dataOut(req.data.length));
      if (t.done >= t.bytes) this.finishTask(t);
      else this.pump(t.tag);
    };
    if (!useful.length || t.ioFailed || !t.plan.write) return accepted();
    t.busy = true;
    t.plan.write(t.done, useful).then(accepted, () => {
      t.ioFailed = true; // sense set by the LU; the rest of the data is consumed and dropped
      accepted();
    });
  }

  private finishTask(t: Task): void {
    const g = this.gen;
    let status: ScsiStatus | Promise<ScsiStatus>;
    try {
      status = t.plan.finish();
    } catch {
      status = 'check';
    }
    // Most plans know their status at once: the Sense IU then goes out in this turn, with the
    // command's other answers. A plan that must wait (SYNCHRONIZE CACHE) answers later.
    if (typeof status === 'string') this.sendStatus(t, g, status);
    else status.then((v) => this.sendStatus(t, g, v), () => this.sendStatus(t, g, 'check'));
  }

  private sendStatus(t: Task, g: number, status: ScsiStatus): void {
    if (g !== this.gen || t.aborted) return;
    // Read the sense now: another command on the LU may replace it.
    const sense: Sense | null = status === 'check' ? (t.unit.sense ?? (t.ioFailed ? SENSE.unrecoveredReadError : SENSE.internalTargetFailure)) : null;
    const s = this.stream(t.tag);
    s.task = null;
    // Requests that came before the Command IU belong to this command: end them.
    for (const r of s.dataIn.splice(0)) this.finish(r, dataIn(EMPTY));
    for (const r of s.dataOut.splice(0)) this.finish(r, dataOut(r.data.length));
    this.commands++;
    const residue = Math.max(0, t.bytes - t.done);
    this.trace?.({
      kind: 'scsi-status',
      lun: t.lun,
      tag: t.tag,
      opcode: t.cdb[0]!,
      status: status === 'good' ? 0 : 1,
      residue,
      ...(sense ? { sense: formatSense(sense) } : {}),
    });
    this.sendIu(t.tag, makeSenseIu(t.tag, sense ? SCSI_CHECK_CONDITION : SCSI_GOOD, sense ? fixedSense(sense) : EMPTY));
  }

  private sendIu(tag: number, iu: Buffer): void {
    this.stream(tag).iu.push(iu);
    this.pump(tag);
  }
}
