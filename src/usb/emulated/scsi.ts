// SCSI pieces shared by the emulated disk (SBC, scsi-disk.ts) and CD (MMC, scsi-cd.ts):
// sense data, the command "plan" the Bulk-Only Transport executes, CDB field decoding, and a
// base logical unit with the commands both device types answer the same way (TEST UNIT
// READY, REQUEST SENSE, INQUIRY incl. VPD 0x00/0x80/0x83, REPORT LUNS, PREVENT ALLOW MEDIUM
// REMOVAL, START STOP UNIT, READ CAPACITY(10)/(16), READ(6/10/12/16), VERIFY, MODE SENSE
// framing).
//
// Facts: SPC-3/SBC-2/MMC-5 (T10), docs/protocol-digest.md §10.3. All multi-byte CDB and
// parameter fields are big-endian.
//
// A command is executed in two steps so that the transport can move data in between:
//   const plan = lu.command(cdb);   // decode + validate; may already fail (sense set)
//   ... data phase: plan.data / plan.read(offset, n) for IN, plan.write(offset, chunk) for OUT
//   const status = await plan.finish();   // 'good' or 'check' (sense set)
// Commands run one at a time (BOT has no queueing), so the LU's sense is unambiguous.

import type { ImageFile } from './image-file.js';

export type ScsiStatus = 'good' | 'check';

export interface ScsiPlan {
  /** Direction of the data phase the command wants. */
  dir: 'none' | 'in' | 'out';
  /** Bytes the device intends to transfer (0 for 'none'). */
  length: number;
  /**
   * true (READ/WRITE/VERIFY data): the host's transfer length must cover `length`, else
   * phase error. false (allocation-length commands): silently truncate to the host length.
   */
  exact: boolean;
  /** Prepared IN data (small responses). */
  data?: Buffer;
  /** Streamed IN data: bytes [offset, offset + length) of the response. Rejects on I/O error (sense set). */
  read?(offset: number, length: number): Promise<Buffer>;
  /** OUT data, delivered in order: bytes [offset, offset + data.length). Rejects on I/O error (sense set). */
  write?(offset: number, data: Buffer): Promise<void>;
  /** Status once the data phase is over. */
  finish(): ScsiStatus | Promise<ScsiStatus>;
}

export interface Sense {
  key: number;
  asc: number;
  ascq: number;
  /** INFORMATION field (e.g. the failing LBA); sets the VALID bit. */
  info?: number;
}

export const SenseKey = {
  noSense: 0x0,
  recoveredError: 0x1,
  notReady: 0x2,
  mediumError: 0x3,
  hardwareError: 0x4,
  illegalRequest: 0x5,
  unitAttention: 0x6,
  dataProtect: 0x7,
  abortedCommand: 0xb,
  miscompare: 0xe,
} as const;

const s = (key: number, asc: number, ascq = 0): Sense => Object.freeze({ key, asc, ascq });

/** Sense codes used by the emulations (key / ASC / ASCQ). */
export const SENSE = {
  noSense: s(0x0, 0x00),
  mediumNotPresent: s(0x2, 0x3a),
  unrecoveredReadError: s(0x3, 0x11),
  writeError: s(0x3, 0x0c),
  internalTargetFailure: s(0x4, 0x44),
  parameterListLengthError: s(0x5, 0x1a),
  invalidOpcode: s(0x5, 0x20),
  lbaOutOfRange: s(0x5, 0x21),
  invalidFieldInCdb: s(0x5, 0x24),
  lunNotSupported: s(0x5, 0x25),
  invalidFieldInParameterList: s(0x5, 0x26),
  savingParametersNotSupported: s(0x5, 0x39),
  mediumRemovalPrevented: s(0x5, 0x53, 0x02),
  cannotReadMediumIncompatible: s(0x5, 0x30, 0x02),
  mediumChanged: s(0x6, 0x28),
  powerOnReset: s(0x6, 0x29),
  writeProtected: s(0x7, 0x27),
  miscompare: s(0xe, 0x1d),
} as const;

/** "5/24/00" */
export function formatSense(x: Sense): string {
  const h = (v: number): string => v.toString(16).padStart(2, '0');
  return `${x.key.toString(16)}/${h(x.asc)}/${h(x.ascq)}`;
}

/** Fixed-format sense data (18 bytes, response code 0x70 = current). */
export function fixedSense(x: Sense): Buffer {
  const b = Buffer.alloc(18);
  b[0] = 0x70;
  b[2] = x.key & 0x0f;
  if (x.info !== undefined) {
    b[0] |= 0x80; // VALID: INFORMATION is meaningful
    b.writeUInt32BE(x.info >>> 0, 3);
  }
  b[7] = 10; // additional sense length
  b[12] = x.asc;
  b[13] = x.ascq;
  return b;
}

export const Opcode = {
  testUnitReady: 0x00,
  requestSense: 0x03,
  formatUnit: 0x04,
  read6: 0x08,
  write6: 0x0a,
  inquiry: 0x12,
  modeSelect6: 0x15,
  modeSense6: 0x1a,
  startStopUnit: 0x1b,
  sendDiagnostic: 0x1d,
  preventAllow: 0x1e,
  readFormatCapacities: 0x23,
  readCapacity10: 0x25,
  read10: 0x28,
  write10: 0x2a,
  verify10: 0x2f,
  synchronizeCache10: 0x35,
  readSubChannel: 0x42,
  readToc: 0x43,
  getConfiguration: 0x46,
  getEventStatusNotification: 0x4a,
  readDiscInformation: 0x51,
  readTrackInformation: 0x52,
  modeSelect10: 0x55,
  modeSense10: 0x5a,
  read16: 0x88,
  write16: 0x8a,
  verify16: 0x8f,
  synchronizeCache16: 0x91,
  serviceActionIn16: 0x9e,
  reportLuns: 0xa0,
  reportKey: 0xa4,
  read12: 0xa8,
  write12: 0xaa,
  getPerformance: 0xac,
  readDvdStructure: 0xad,
  verify12: 0xaf,
  setCdSpeed: 0xbb,
  mechanismStatus: 0xbd,
  readCd: 0xbe,
} as const;

const NAMES: Record<number, string> = {
  0x00: 'TEST UNIT READY',
  0x03: 'REQUEST SENSE',
  0x04: 'FORMAT UNIT',
  0x08: 'READ(6)',
  0x0a: 'WRITE(6)',
  0x12: 'INQUIRY',
  0x15: 'MODE SELECT(6)',
  0x1a: 'MODE SENSE(6)',
  0x1b: 'START STOP UNIT',
  0x1d: 'SEND DIAGNOSTIC',
  0x1e: 'PREVENT ALLOW MEDIUM REMOVAL',
  0x23: 'READ FORMAT CAPACITIES',
  0x25: 'READ CAPACITY(10)',
  0x28: 'READ(10)',
  0x2a: 'WRITE(10)',
  0x2f: 'VERIFY(10)',
  0x35: 'SYNCHRONIZE CACHE(10)',
  0x42: 'READ SUB-CHANNEL',
  0x43: 'READ TOC/PMA/ATIP',
  0x46: 'GET CONFIGURATION',
  0x4a: 'GET EVENT STATUS NOTIFICATION',
  0x51: 'READ DISC INFORMATION',
  0x52: 'READ TRACK INFORMATION',
  0x55: 'MODE SELECT(10)',
  0x5a: 'MODE SENSE(10)',
  0x85: 'ATA PASS-THROUGH(16)',
  0x88: 'READ(16)',
  0x8a: 'WRITE(16)',
  0x8f: 'VERIFY(16)',
  0x91: 'SYNCHRONIZE CACHE(16)',
  0x9e: 'SERVICE ACTION IN(16)',
  0xa0: 'REPORT LUNS',
  0xa1: 'ATA PASS-THROUGH(12)',
  0xa4: 'REPORT KEY',
  0xa8: 'READ(12)',
  0xaa: 'WRITE(12)',
  0xac: 'GET PERFORMANCE',
  0xad: 'READ DVD STRUCTURE',
  0xaf: 'VERIFY(12)',
  0xbb: 'SET CD SPEED',
  0xbd: 'MECHANISM STATUS',
  0xbe: 'READ CD',
};

export function opcodeName(op: number): string {
  return NAMES[op] ?? `OPCODE 0x${op.toString(16).padStart(2, '0')}`;
}

/** Name, and for block commands the LBA and block count, of a CDB (for traces). */
export function describeCdb(cdb: Buffer): { name: string; lba?: number; blocks?: number } {
  const op = cdb[0] ?? 0;
  let name = opcodeName(op);
  if (op === Opcode.serviceActionIn16 && cdb.length > 1 && (cdb[1]! & 0x1f) === 0x10) name = 'READ CAPACITY(16)';
  const rw = decodeBlockRange(cdb);
  return rw ? { name, lba: rw.lba, blocks: rw.blocks } : { name };
}

/** LBA and block count of READ/WRITE/VERIFY(6/10/12/16) and READ CD; null for other opcodes. */
export function decodeBlockRange(cdb: Buffer): { lba: number; blocks: number } | null {
  const op = cdb[0];
  const need = (n: number): boolean => cdb.length >= n;
  switch (op) {
    case Opcode.read6:
    case Opcode.write6:
      if (!need(6)) return null;
      return { lba: ((cdb[1]! & 0x1f) << 16) | (cdb[2]! << 8) | cdb[3]!, blocks: cdb[4] === 0 ? 256 : cdb[4]! };
    case Opcode.read10:
    case Opcode.write10:
    case Opcode.verify10:
      if (!need(10)) return null;
      return { lba: cdb.readUInt32BE(2), blocks: cdb.readUInt16BE(7) };
    case Opcode.read12:
    case Opcode.write12:
    case Opcode.verify12:
      if (!need(12)) return null;
      return { lba: cdb.readUInt32BE(2), blocks: cdb.readUInt32BE(6) };
    case Opcode.read16:
    case Opcode.write16:
    case Opcode.verify16:
      if (!need(16)) return null;
      return { lba: Number(cdb.readBigUInt64BE(2)), blocks: cdb.readUInt32BE(10) };
    case Opcode.readCd:
      if (!need(12)) return null;
      return { lba: cdb.readUInt32BE(2), blocks: (cdb[6]! << 16) | (cdb[7]! << 8) | cdb[8]! };
    default:
      return null;
  }
}

/** ASCII, space padded / truncated to n bytes. */
export function ascii(text: string, n: number): Buffer {
  const b = Buffer.alloc(n, 0x20);
  b.write(text.replace(/[^\x20-\x7e]/g, '?').slice(0, n), 0, 'latin1');
  return b;
}

export interface LogicalUnitOptions {
  /** Peripheral device type: 0 direct access (disk), 5 CD/DVD. */
  pdt: number;
  image: ImageFile;
  blockSize: number;
  readOnly: boolean;
  removable: boolean;
  /** INQUIRY vendor (8), product (16), revision (4): ASCII, padded. */
  vendor: string;
  product: string;
  revision: string;
  /** Unit serial number (VPD 0x80). */
  serial: string;
  /** INQUIRY VERSION byte: 5 = SPC-3 (default), 4 = SPC-2, 2 = SCSI-2. */
  version?: number;
  /** Called when the guest ejects the medium (START STOP UNIT LoEj). */
  onEject?: () => void;
  /** Called when a backing-file operation fails. */
  onIoError?: (op: 'read' | 'write' | 'sync', err: unknown) => void;
}

/** Largest allocation length answered for small responses. */
const MAX_SMALL = 0xffff;

/**
 * The behaviour disks and CDs share. Subclasses add their own commands in `commandSpecific`
 * (return null for "not mine") and their mode pages.
 */
export abstract class ScsiLogicalUnit {
  readonly pdt: number;
  readonly image: ImageFile;
  readonly blockSize: number;
  readonly blocks: number;
  readonly readOnly: boolean;
  readonly removable: boolean;
  protected readonly opts: LogicalUnitOptions;
  /** Sense of the last failed command, reported by REQUEST SENSE. */
  sense: Sense | null = null;
  /** A unit attention to report once (medium changed...). */
  unitAttention: Sense | null = null;
  mediumPresent = true;
  preventRemoval = false;

  constructor(opts: LogicalUnitOptions) {
    this.opts = opts;
    this.pdt = opts.pdt;
    this.image = opts.image;
    this.blockSize = opts.blockSize;
    this.blocks = Math.floor(opts.image.size / opts.blockSize);
    this.readOnly = opts.readOnly;
    this.removable = opts.removable;
  }

  /** Decode and validate a CDB; the plan tells the transport what data phase follows. */
  command(cdb: Buffer): ScsiPlan {
    const op = cdb[0] ?? 0;
    if (op !== Opcode.requestSense) this.sense = null;
    if (this.unitAttention && !this.uaExempt(op)) {
      const ua = this.unitAttention;
      this.unitAttention = null;
      return this.check(ua);
    }
    try {
      return this.dispatch(op, cdb);
    } catch (e) {
      if (e instanceof CdbTooShort) return this.check(SENSE.invalidFieldInCdb);
      throw e;
    }
  }

  /** Commands that do not report (nor clear) a pending unit attention. */
  protected uaExempt(op: number): boolean {
    return op === Opcode.inquiry || op === Opcode.requestSense || op === Opcode.reportLuns || op === Opcode.getConfiguration || op === Opcode.getEventStatusNotification;
  }

  private dispatch(op: number, cdb: Buffer): ScsiPlan {
    switch (op) {
      case Opcode.testUnitReady:
        return this.mediumPresent ? this.good() : this.check(SENSE.mediumNotPresent);
      case Opcode.requestSense:
        return this.requestSense(cdb);
      case Opcode.inquiry:
        return this.inquiry(cdb);
      case Opcode.reportLuns:
        return this.reportLuns(cdb);
      case Opcode.preventAllow:
        need(cdb, 6);
        this.preventRemoval = (cdb[4]! & 0x01) !== 0;
        return this.good();
      case Opcode.startStopUnit:
        return this.startStop(cdb);
      case Opcode.readCapacity10:
        if (!this.mediumPresent) return this.check(SENSE.mediumNotPresent);
        return this.dataIn(this.readCapacity10(), 8);
      case Opcode.serviceActionIn16:
        need(cdb, 16);
        if ((cdb[1]! & 0x1f) !== 0x10) return this.check(SENSE.invalidFieldInCdb);
        if (!this.mediumPresent) return this.check(SENSE.mediumNotPresent);
        return this.dataIn(this.readCapacity16(), cdb.readUInt32BE(10));
      case Opcode.read6:
      case Opcode.read10:
      case Opcode.read12:
      case Opcode.read16:
        return this.readBlocks(cdb);
      case Opcode.verify10:
      case Opcode.verify12:
      case Opcode.verify16:
        return this.verify(cdb);
      case Opcode.modeSense6:
        need(cdb, 6);
        return this.modeSense(cdb, false);
      case Opcode.modeSense10:
        need(cdb, 10);
        return this.modeSense(cdb, true);
      // Parameters are accepted and ignored: nothing a guest may set changes how we behave.
      case Opcode.modeSelect6:
        need(cdb, 6);
        return this.discardOut(cdb[4]!);
      case Opcode.modeSelect10:
        need(cdb, 10);
        return this.discardOut(cdb.readUInt16BE(7));
      default: {
        const plan = this.commandSpecific(op, cdb);
        return plan ?? this.check(SENSE.invalidOpcode);
      }
    }
  }

  /** Device-type commands; null = unsupported opcode. */
  protected abstract commandSpecific(op: number, cdb: Buffer): ScsiPlan | null;
  /** Mode pages by page code (full pages incl. their 2-byte headers), current values. */
  protected abstract modePages(): Map<number, Buffer>;
  /** Device-specific parameter byte of the mode parameter header. */
  protected abstract modeDeviceSpecific(): number;
  /** Whether mode sense returns a block descriptor when DBD=0. */
  protected abstract readonly modeBlockDescriptor: boolean;

  // ---- plan helpers --------------------------------------------------------------------

  good(): ScsiPlan {
    return { dir: 'none', length: 0, exact: false, finish: () => 'good' };
  }

  /** Fail now: sense set, no data phase. */
  check(x: Sense): ScsiPlan {
    this.sense = x;
    return { dir: 'none', length: 0, exact: false, finish: () => 'check' };
  }

  /** A prepared response truncated to the allocation length. */
  dataIn(data: Buffer, allocationLength: number): ScsiPlan {
    const d = data.subarray(0, Math.min(data.length, allocationLength, MAX_SMALL + 1));
    if (d.length === 0) return this.good();
    return { dir: 'in', length: d.length, exact: false, data: d, finish: () => 'good' };
  }

  /** Accept and ignore OUT parameter data (MODE SELECT...). */
  discardOut(length: number): ScsiPlan {
    if (length === 0) return this.good();
    return { dir: 'out', length, exact: false, write: async () => {}, finish: () => 'good' };
  }

  /** Power-on state, for a unit that is plugged in again: medium loaded, nothing pending. */
  powerOn(): void {
    this.sense = null;
    this.unitAttention = null;
    this.mediumPresent = true;
    this.preventRemoval = false;
  }

  // ---- common commands ------------------------------------------------------------------

  private requestSense(cdb: Buffer): ScsiPlan {
    need(cdb, 6);
    let x = this.sense ?? this.unitAttention;
    if (x === this.unitAttention) this.unitAttention = null;
    if (!x) x = this.mediumPresent ? SENSE.noSense : SENSE.mediumNotPresent;
    this.sense = null;
    return this.dataIn(fixedSense(x), cdb[4]!);
  }

  protected standardInquiry(): Buffer {
    const b = Buffer.alloc(36);
    b[0] = this.pdt & 0x1f;
    b[1] = this.removable ? 0x80 : 0x00; // RMB
    b[2] = this.opts.version ?? 0x05;
    b[3] = 0x02; // response data format 2
    b[4] = 36 - 5; // additional length
    ascii(this.opts.vendor, 8).copy(b, 8);
    ascii(this.opts.product, 16).copy(b, 16);
    ascii(this.opts.revision, 4).copy(b, 32);
    return b;
  }

  private inquiry(cdb: Buffer): ScsiPlan {
    need(cdb, 6);
    const evpd = (cdb[1]! & 0x01) !== 0;
    const cmddt = (cdb[1]! & 0x02) !== 0;
    const page = cdb[2]!;
    const alloc = cdb.readUInt16BE(3);
    if (cmddt) return this.check(SENSE.invalidFieldInCdb);
    if (!evpd) {
      if (page !== 0) return this.check(SENSE.invalidFieldInCdb);
      return this.dataIn(this.standardInquiry(), alloc);
    }
    const pdt = this.pdt & 0x1f;
    const vpd = (code: number, body: Buffer): Buffer => {
      const h = Buffer.from([pdt, code, 0, 0]);
      h.writeUInt16BE(body.length, 2);
      return Buffer.concat([h, body]);
    };
    switch (page) {
      case 0x00:
        return this.dataIn(vpd(0x00, Buffer.from([0x00, 0x80, 0x83])), alloc);
      case 0x80:
        return this.dataIn(vpd(0x80, Buffer.from(this.opts.serial, 'latin1')), alloc);
      case 0x83: {
        // One designator: T10 vendor identification (type 1), ASCII (code set 2), associated
        // with the logical unit: vendor (8) + product (16) + serial.
        const id = Buffer.concat([ascii(this.opts.vendor, 8), ascii(this.opts.product, 16), Buffer.from(this.opts.serial, 'latin1')]);
        const desc = Buffer.concat([Buffer.from([0x02, 0x01, 0x00, id.length]), id]);
        return this.dataIn(vpd(0x83, desc), alloc);
      }
      default:
        return this.check(SENSE.invalidFieldInCdb);
    }
  }

  private reportLuns(cdb: Buffer): ScsiPlan {
    need(cdb, 12);
    const b = Buffer.alloc(16);
    b.writeUInt32BE(8, 0); // one LUN (LUN 0: all zero)
    return this.dataIn(b, cdb.readUInt32BE(6));
  }

  private startStop(cdb: Buffer): ScsiPlan {
    need(cdb, 6);
    const start = (cdb[4]! & 0x01) !== 0;
    const loej = (cdb[4]! & 0x02) !== 0;
    const powerCondition = cdb[4]! >> 4;
    if (powerCondition !== 0 || !loej) return this.good();
    if (!start) {
      if (!this.removable) return this.good();
      if (this.preventRemoval) return this.check(SENSE.mediumRemovalPrevented);
      if (this.mediumPresent) {
        this.mediumPresent = false;
        this.onMediumChange(false);
        this.opts.onEject?.();
      }
      return this.good();
    }
    if (!this.mediumPresent) {
      this.mediumPresent = true;
      this.onMediumChange(true);
    }
    return this.good();
  }

  /** Hook for subclasses (CD media events). */
  protected onMediumChange(_present: boolean): void {}

  private readCapacity10(): Buffer {
    const b = Buffer.alloc(8);
    const last = this.blocks - 1;
    b.writeUInt32BE(last > 0xfffffffe ? 0xffffffff : last, 0);
    b.writeUInt32BE(this.blockSize, 4);
    return b;
  }

  private readCapacity16(): Buffer {
    const b = Buffer.alloc(32);
    b.writeBigUInt64BE(BigInt(this.blocks - 1), 0);
    b.writeUInt32BE(this.blockSize, 8);
    return b;
  }

  /** Check medium and range of a block command; returns the failure plan or null. */
  protected checkRange(lba: number, blocks: number): ScsiPlan | null {
    if (!this.mediumPresent) return this.check(SENSE.mediumNotPresent);
    if (lba > this.blocks || blocks > this.blocks - lba) return this.check({ ...SENSE.lbaOutOfRange, info: Math.min(lba, 0xffffffff) });
    return null;
  }

  protected readBlocks(cdb: Buffer, bytesPerBlock = this.blockSize): ScsiPlan {
    const r = decodeBlockRange(cdb);
    if (!r) return this.check(SENSE.invalidFieldInCdb);
    const bad = this.checkRange(r.lba, r.blocks);
    if (bad) return bad;
    if (r.blocks === 0 || bytesPerBlock === 0) return this.good();
    return this.readPlan(r.lba, r.blocks * bytesPerBlock);
  }

  /** Stream `length` bytes of the image starting at block lba. */
  protected readPlan(lba: number, length: number): ScsiPlan {
    const base = lba * this.blockSize;
    let failed = false;
    return {
      dir: 'in',
      length,
      exact: true,
      read: async (offset: number, n: number): Promise<Buffer> => {
        try {
          return await this.image.read(base + offset, n);
        } catch (e) {
          failed = true;
          this.sense = { ...SENSE.unrecoveredReadError, info: lba + Math.floor(offset / this.blockSize) };
          this.opts.onIoError?.('read', e);
          throw e;
        }
      },
      finish: () => (failed ? 'check' : 'good'),
    };
  }

  private verify(cdb: Buffer): ScsiPlan {
    const r = decodeBlockRange(cdb);
    if (!r) return this.check(SENSE.invalidFieldInCdb);
    const bytchk = (cdb[1]! >> 1) & 0x03;
    const bad = this.checkRange(r.lba, r.blocks);
    if (bad) return bad;
    if (bytchk === 0 || r.blocks === 0) return this.good();
    if (bytchk !== 1) return this.check(SENSE.invalidFieldInCdb);
    // BYTCHK=1: compare the OUT data with the medium.
    const base = r.lba * this.blockSize;
    let result: ScsiStatus = 'good';
    return {
      dir: 'out',
      length: r.blocks * this.blockSize,
      exact: true,
      write: async (offset, data) => {
        if (result !== 'good') return;
        let have: Buffer;
        try {
          have = await this.image.read(base + offset, data.length);
        } catch (e) {
          result = 'check';
          this.sense = SENSE.unrecoveredReadError;
          this.opts.onIoError?.('read', e);
          throw e;
        }
        if (!have.equals(data)) {
          result = 'check';
          this.sense = SENSE.miscompare;
        }
      },
      finish: () => result,
    };
  }

  private modeSense(cdb: Buffer, ten: boolean): ScsiPlan {
    const dbd = (cdb[1]! & 0x08) !== 0;
    const pc = cdb[2]! >> 6;
    const page = cdb[2]! & 0x3f;
    const subpage = cdb[3]!;
    const alloc = ten ? cdb.readUInt16BE(7) : cdb[4]!;
    if (pc === 3) return this.check(SENSE.savingParametersNotSupported);
    if (subpage !== 0 && !(page === 0x3f && subpage === 0xff)) return this.check(SENSE.invalidFieldInCdb);
    const pages = this.modePages();
    if (pc === 1) {
      // Changeable values: nothing is changeable, so every parameter bit is 0.
      for (const [k, v] of pages) pages.set(k, modePage(k, Buffer.alloc(v.length - 2)));
    }
    let body: Buffer;
    if (page === 0x3f) {
      body = Buffer.concat([...pages.keys()].sort((a, b) => a - b).map((k) => pages.get(k)!));
    } else {
      const p = pages.get(page);
      if (!p) return this.check(SENSE.invalidFieldInCdb);
      body = p;
    }
    let bd = Buffer.alloc(0);
    if (!dbd && this.modeBlockDescriptor) {
      // Short block descriptor: density 0, number of blocks (u24, saturated), reserved, block length (u24).
      bd = Buffer.alloc(8);
      bd.writeUIntBE(Math.min(this.blocks, 0xffffff), 1, 3);
      bd.writeUIntBE(this.blockSize, 5, 3);
    }
    const devspec = this.modeDeviceSpecific();
    let head: Buffer;
    if (ten) {
      head = Buffer.alloc(8);
      head.writeUInt16BE(8 + bd.length + body.length - 2, 0);
      head[3] = devspec;
      head.writeUInt16BE(bd.length, 6);
    } else {
      head = Buffer.alloc(4);
      head[0] = Math.min(255, 4 + bd.length + body.length - 1);
      head[2] = devspec;
      head[3] = bd.length;
    }
    return this.dataIn(Buffer.concat([head, bd, body]), alloc);
  }
}

class CdbTooShort extends Error {}

/** Throw (-> INVALID FIELD IN CDB) when the CDB is shorter than its opcode needs. */
export function need(cdb: Buffer, n: number): void {
  if (cdb.length < n) throw new CdbTooShort(`CDB of ${cdb.length} bytes, need ${n}`);
}

/** A mode page: code, then its parameter bytes (page length = params.length). */
export function modePage(code: number, params: number[] | Buffer): Buffer {
  const p = Buffer.isBuffer(params) ? params : Buffer.from(params);
  return Buffer.concat([Buffer.from([code & 0x3f, p.length]), p]);
}
