// SCSI direct-access block device (PDT 0, SBC) over an image file: what a USB stick answers.
// Shared commands live in scsi.ts; here: WRITE(6/10/12/16), SYNCHRONIZE CACHE(10/16),
// READ FORMAT CAPACITIES, MODE SELECT(6/10) (accepted, ignored), and the disk mode pages
// (read-write error recovery 0x01, caching 0x08, informational exceptions 0x1C).
//
// Writes go to the file as the OUT data arrives (positional writes, any chunking); FUA and
// SYNCHRONIZE CACHE fsync the file. A failed write (ENOSPC, EIO...) fails the command with
// MEDIUM ERROR / WRITE ERROR (03/0C/00) carrying the first failing LBA; the rest of that
// command's data is consumed and dropped, and the device carries on.

import { decodeBlockRange, modePage, need, Opcode, ScsiLogicalUnit, SENSE, type LogicalUnitOptions, type ScsiPlan } from './scsi.js';

export type ScsiDiskOptions = Omit<LogicalUnitOptions, 'pdt' | 'blockSize'> & { blockSize?: number };

export class ScsiDisk extends ScsiLogicalUnit {
  protected readonly modeBlockDescriptor = true;

  constructor(opts: ScsiDiskOptions) {
    super({ ...opts, pdt: 0x00, blockSize: opts.blockSize ?? 512 });
  }

  protected commandSpecific(op: number, cdb: Buffer): ScsiPlan | null {
    switch (op) {
      case Opcode.write6:
      case Opcode.write10:
      case Opcode.write12:
      case Opcode.write16:
        return this.writeBlocks(op, cdb);
      case Opcode.synchronizeCache10:
      case Opcode.synchronizeCache16:
        return this.synchronizeCache();
      case Opcode.readFormatCapacities:
        need(cdb, 10);
        return this.dataIn(this.formatCapacities(), cdb.readUInt16BE(7));
      default:
        return null;
    }
  }

  private writeBlocks(op: number, cdb: Buffer): ScsiPlan {
    const r = decodeBlockRange(cdb);
    if (!r) return this.check(SENSE.invalidFieldInCdb);
    if (!this.mediumPresent) return this.check(SENSE.mediumNotPresent);
    if (this.readOnly) return this.check(SENSE.writeProtected);
    const bad = this.checkRange(r.lba, r.blocks);
    if (bad) return bad;
    if (r.blocks === 0) return this.good();
    const fua = op !== Opcode.write6 && (cdb[1]! & 0x08) !== 0;
    const base = r.lba * this.blockSize;
    let failed = false;
    return {
      dir: 'out',
      length: r.blocks * this.blockSize,
      exact: true,
      write: async (offset: number, data: Buffer): Promise<void> => {
        if (failed) return;
        try {
          await this.image.write(base + offset, data);
        } catch (e) {
          failed = true;
          this.sense = { ...SENSE.writeError, info: r.lba + Math.floor(offset / this.blockSize) };
          this.opts.onIoError?.('write', e);
          throw e;
        }
      },
      finish: async () => {
        if (failed) return 'check';
        if (fua) return this.flush();
        return 'good';
      },
    };
  }

  private synchronizeCache(): ScsiPlan {
    if (!this.mediumPresent) return this.check(SENSE.mediumNotPresent);
    return { dir: 'none', length: 0, exact: false, finish: () => this.flush() };
  }

  private async flush(): Promise<'good' | 'check'> {
    try {
      await this.image.sync();
      return 'good';
    } catch (e) {
      this.sense = SENSE.writeError;
      this.opts.onIoError?.('sync', e);
      return 'check';
    }
  }

  /** READ FORMAT CAPACITIES: capacity list header + one current/maximum capacity descriptor. */
  private formatCapacities(): Buffer {
    const b = Buffer.alloc(12);
    b[3] = 8; // capacity list length
    b.writeUInt32BE(Math.min(this.blocks, 0xffffffff), 4);
    b[8] = this.mediumPresent ? 0x02 : 0x03; // 2 = formatted media, 3 = no media present
    b.writeUIntBE(this.blockSize, 9, 3);
    return b;
  }

  protected modePages(): Map<number, Buffer> {
    const pages = new Map<number, Buffer>();
    // 0x01 read-write error recovery: AWRE|ARRE (automatic reallocation), no retries to report.
    pages.set(0x01, modePage(0x01, [0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    // 0x08 caching: WCE when writable (the host page cache is a write cache that
    // SYNCHRONIZE CACHE flushes), read cache enabled (RCD = 0).
    const caching = Buffer.alloc(18);
    caching[0] = this.readOnly ? 0x00 : 0x04;
    pages.set(0x08, modePage(0x08, caching));
    // 0x1C informational exceptions control: nothing reported.
    pages.set(0x1c, modePage(0x1c, Buffer.alloc(10)));
    return pages;
  }

  protected modeDeviceSpecific(): number {
    // bit 7 WP (write protected), bit 4 DPOFUA (FUA honoured).
    return (this.readOnly ? 0x80 : 0x00) | 0x10;
  }
}
