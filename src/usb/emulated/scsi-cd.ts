// SCSI multimedia device (PDT 5, MMC) over an ISO image: a read-only CD-ROM / DVD-ROM with
// 2048-byte blocks, one data track in one closed session, as Linux's sr/cdrom drivers, udev's
// cdrom_id and Windows' cdrom.sys query it: READ TOC/PMA/ATIP (formats 0, 1, 2, MSF or LBA),
// GET CONFIGURATION (profile list, core, morphing, removable medium, random readable, CD/DVD
// read, power management), GET EVENT STATUS NOTIFICATION (polled: operational change, power
// management, media), READ DISC INFORMATION, READ TRACK INFORMATION, MODE SENSE(6/10) (pages
// 0x01, 0x0D, 0x1A, 0x1C, 0x2A), MECHANISM STATUS, GET PERFORMANCE, SET CD SPEED, READ CD
// (user data only), READ SUB-CHANNEL, MODE SELECT (ignored), plus everything in scsi.ts.
// Writes are not implemented by a read-only drive: ILLEGAL REQUEST / INVALID COMMAND OPERATION
// CODE. Images larger than an 80-minute CD (360000 blocks) are presented as DVD-ROM.

import { modePage, need, Opcode, ScsiLogicalUnit, SENSE, type LogicalUnitOptions, type ScsiPlan } from './scsi.js';

export type ScsiCdOptions = Omit<LogicalUnitOptions, 'pdt' | 'blockSize' | 'readOnly' | 'removable'>;

/**
 * The drive claims SPC (version 3), below SPC-2: Linux asks a unit that claims SPC-2 or later for
 * its VPD pages (eight more INQUIRY round trips through the usbredir channel for pages nothing
 * reads on a CD). Not SCSI-2: over UAS Linux would then probe LUN 1 with an INQUIRY and a
 * throwaway SCSI device; an SPC unit gets one REPORT LUNS instead (Bulk-Only sends neither).
 */
const CD_INQUIRY_VERSION = 0x03;

const PROFILE_CD_ROM = 0x0008;
const PROFILE_DVD_ROM = 0x0010;
/** 80 minutes x 60 s x 75 frames. */
const CD_MAX_BLOCKS = 360000;

const MEDIA_EVENT = { noChange: 0, ejectRequest: 1, newMedia: 2, mediaRemoval: 3 } as const;

/** LBA -> MSF bytes [0, M, S, F] (LBA 0 = 00:02:00). */
export function lbaToMsf(lba: number): Buffer {
  const f = lba + 150;
  return Buffer.from([0, Math.floor(f / 4500) & 0xff, Math.floor(f / 75) % 60, f % 75]);
}

export class ScsiCd extends ScsiLogicalUnit {
  protected readonly modeBlockDescriptor = false;
  readonly dvd: boolean;
  private mediaEvent: number = MEDIA_EVENT.newMedia;

  constructor(opts: ScsiCdOptions) {
    super({ version: CD_INQUIRY_VERSION, ...opts, pdt: 0x05, blockSize: 2048, readOnly: true, removable: true });
    this.dvd = this.blocks > CD_MAX_BLOCKS;
  }

  override powerOn(): void {
    super.powerOn();
    this.mediaEvent = MEDIA_EVENT.newMedia;
  }

  get currentProfile(): number {
    if (!this.mediumPresent) return 0;
    return this.dvd ? PROFILE_DVD_ROM : PROFILE_CD_ROM;
  }

  protected override onMediumChange(present: boolean): void {
    this.mediaEvent = present ? MEDIA_EVENT.newMedia : MEDIA_EVENT.mediaRemoval;
    if (present) this.unitAttention = SENSE.mediumChanged;
  }

  protected commandSpecific(op: number, cdb: Buffer): ScsiPlan | null {
    switch (op) {
      case Opcode.readToc:
        need(cdb, 10);
        return this.readToc(cdb);
      case Opcode.getConfiguration:
        need(cdb, 10);
        return this.dataIn(this.configuration(cdb[1]! & 0x03, cdb.readUInt16BE(2)), cdb.readUInt16BE(7));
      case Opcode.getEventStatusNotification:
        need(cdb, 10);
        return this.eventStatus(cdb);
      case Opcode.readDiscInformation:
        need(cdb, 10);
        return this.discInformation(cdb);
      case Opcode.readTrackInformation:
        need(cdb, 10);
        return this.trackInformation(cdb);
      case Opcode.mechanismStatus:
        need(cdb, 12);
        return this.dataIn(this.mechanismStatus(), cdb.readUInt16BE(8));
      case Opcode.getPerformance:
        need(cdb, 12);
        return this.performance(cdb);
      case Opcode.setCdSpeed:
        return this.good();
      case Opcode.readCd:
        need(cdb, 12);
        return this.readCd(cdb);
      case Opcode.readSubChannel:
        need(cdb, 10);
        return this.subChannel(cdb);
      default:
        return null;
    }
  }

  // ---- READ TOC/PMA/ATIP ---------------------------------------------------------------

  private address(lba: number, msf: boolean): Buffer {
    if (msf) return lbaToMsf(lba);
    const b = Buffer.alloc(4);
    b.writeUInt32BE(lba >>> 0, 0);
    return b;
  }

  private readToc(cdb: Buffer): ScsiPlan {
    if (!this.mediumPresent) return this.check(SENSE.mediumNotPresent);
    const msf = (cdb[1]! & 0x02) !== 0;
    let format = cdb[2]! & 0x0f;
    if (format === 0 && cdb[9]! >> 6 !== 0) format = cdb[9]! >> 6; // older (SFF-8020) placement
    const track = cdb[6]!;
    const alloc = cdb.readUInt16BE(7);
    const CONTROL = 0x14; // ADR 1 (Q sub-channel position), control 4 (data track)
    switch (format) {
      case 0: {
        if (track > 1 && track !== 0xaa) return this.check(SENSE.invalidFieldInCdb);
        const descs: Buffer[] = [];
        if (track <= 1) descs.push(Buffer.concat([Buffer.from([0, CONTROL, 1, 0]), this.address(0, msf)]));
        descs.push(Buffer.concat([Buffer.from([0, CONTROL, 0xaa, 0]), this.address(this.blocks, msf)]));
        const head = Buffer.from([0, 0, 1, 1]);
        head.writeUInt16BE(2 + 8 * descs.length, 0);
        return this.dataIn(Buffer.concat([head, ...descs]), alloc);
      }
      case 1: {
        // Multi-session information: first session 1, last session 1, first track of the last session.
        const b = Buffer.concat([Buffer.from([0, 10, 1, 1, 0, CONTROL, 1, 0]), this.address(0, msf)]);
        return this.dataIn(b, alloc);
      }
      case 2: {
        // Full TOC (always MSF): points A0 (first track, disc type), A1 (last track), A2 (lead-out), track 1.
        const leadOut = lbaToMsf(this.blocks);
        const entry = (point: number, p: number[]): Buffer => Buffer.from([1, CONTROL, 0, point, 0, 0, 0, 0, ...p]);
        const entries = [entry(0xa0, [1, 0x00, 0]), entry(0xa1, [1, 0, 0]), entry(0xa2, [leadOut[1]!, leadOut[2]!, leadOut[3]!]), entry(0x01, [0, 2, 0])];
        const head = Buffer.from([0, 0, 1, 1]);
        head.writeUInt16BE(2 + 11 * entries.length, 0);
        return this.dataIn(Buffer.concat([head, ...entries]), alloc);
      }
      default:
        return this.check(SENSE.invalidFieldInCdb);
    }
  }

  // ---- GET CONFIGURATION -----------------------------------------------------------------

  private features(): { code: number; version: number; persistent: boolean; current: boolean; data: Buffer }[] {
    const present = this.mediumPresent;
    const profiles = Buffer.alloc(8);
    profiles.writeUInt16BE(PROFILE_DVD_ROM, 0);
    profiles[2] = this.currentProfile === PROFILE_DVD_ROM ? 1 : 0;
    profiles.writeUInt16BE(PROFILE_CD_ROM, 4);
    profiles[6] = this.currentProfile === PROFILE_CD_ROM ? 1 : 0;
    const core = Buffer.alloc(8);
    core.writeUInt32BE(0x00000008, 0); // physical interface standard: USB
    const random = Buffer.alloc(8);
    random.writeUInt32BE(2048, 0);
    random.writeUInt16BE(this.dvd ? 16 : 1, 4); // blocking
    return [
      { code: 0x0000, version: 0, persistent: true, current: true, data: profiles },
      { code: 0x0001, version: 2, persistent: true, current: true, data: core },
      { code: 0x0002, version: 1, persistent: true, current: true, data: Buffer.alloc(4) }, // polled events only
      // tray loading mechanism (001b << 5), eject, lock
      { code: 0x0003, version: 0, persistent: true, current: true, data: Buffer.from([0x20 | 0x08 | 0x01, 0, 0, 0]) },
      { code: 0x0010, version: 0, persistent: false, current: present, data: random },
      { code: 0x001e, version: 2, persistent: false, current: present && !this.dvd, data: Buffer.alloc(4) },
      { code: 0x001f, version: 0, persistent: false, current: present && this.dvd, data: Buffer.alloc(0) },
      { code: 0x0100, version: 0, persistent: true, current: true, data: Buffer.alloc(0) },
    ];
  }

  /** rt: 0 all features >= start, 1 current ones >= start, 2 only feature `start`. */
  configuration(rt: number, start: number): Buffer {
    const parts: Buffer[] = [];
    for (const f of this.features()) {
      if (rt === 2 ? f.code !== start : f.code < start) continue;
      if (rt === 1 && !f.current) continue;
      const h = Buffer.alloc(4);
      h.writeUInt16BE(f.code, 0);
      h[2] = (f.version << 2) | (f.persistent ? 0x02 : 0) | (f.current ? 0x01 : 0);
      h[3] = f.data.length;
      parts.push(h, f.data);
    }
    const head = Buffer.alloc(8);
    const body = Buffer.concat(parts);
    head.writeUInt32BE(4 + body.length, 0);
    head.writeUInt16BE(this.currentProfile, 6);
    return Buffer.concat([head, body]);
  }

  // ---- GET EVENT STATUS NOTIFICATION (polled) --------------------------------------------

  private eventStatus(cdb: Buffer): ScsiPlan {
    if ((cdb[1]! & 0x01) === 0) return this.check(SENSE.invalidFieldInCdb); // asynchronous mode unsupported
    const SUPPORTED = (1 << 1) | (1 << 2) | (1 << 4);
    const requested = cdb[4]! & SUPPORTED;
    const alloc = cdb.readUInt16BE(7);
    const head = (cls: number, descLen: number): Buffer => {
      const h = Buffer.alloc(4);
      h.writeUInt16BE(2 + descLen, 0);
      h[2] = cls;
      h[3] = SUPPORTED;
      return h;
    };
    if (requested === 0) return this.dataIn(head(0x80, 0), alloc); // NEA: no event class available
    let cls: number;
    if (requested & (1 << 4) && (this.mediaEvent !== MEDIA_EVENT.noChange || !(requested & 0x06))) cls = 4;
    else cls = requested & (1 << 1) ? 1 : requested & (1 << 2) ? 2 : 4;
    let desc: Buffer;
    if (cls === 4) {
      desc = Buffer.from([this.mediaEvent, this.mediumPresent ? 0x02 : 0x01, 0, 0]); // bit1 media present, bit0 tray open
      this.mediaEvent = MEDIA_EVENT.noChange;
    } else if (cls === 2) {
      desc = Buffer.from([0, 0x01, 0, 0]); // no change, active
    } else {
      desc = Buffer.from([0, 0, 0, 0]);
    }
    return this.dataIn(Buffer.concat([head(cls, 4), desc]), alloc);
  }

  // ---- disc / track information ---------------------------------------------------------

  private discInformation(cdb: Buffer): ScsiPlan {
    if ((cdb[1]! & 0x07) !== 0) return this.check(SENSE.invalidFieldInCdb);
    if (!this.mediumPresent) return this.check(SENSE.mediumNotPresent);
    const b = Buffer.alloc(34);
    b.writeUInt16BE(32, 0);
    b[2] = (3 << 2) | 2; // last session complete, disc complete (finalized), not erasable
    b[3] = 1; // first track on disc
    b[4] = 1; // number of sessions (LSB)
    b[5] = 1; // first track in last session (LSB)
    b[6] = 1; // last track in last session (LSB)
    b[7] = 0x20; // URU: unrestricted use
    b[8] = 0x00; // disc type: CD-DA or CD-ROM
    b.writeUInt32BE(0xffffffff, 16); // last session lead-in start: n/a (complete disc)
    b.writeUInt32BE(0xffffffff, 20); // last possible lead-out start: n/a
    return this.dataIn(b, cdb.readUInt16BE(7));
  }

  private trackInformation(cdb: Buffer): ScsiPlan {
    if (!this.mediumPresent) return this.check(SENSE.mediumNotPresent);
    const type = cdb[1]! & 0x03;
    const n = cdb.readUInt32BE(2);
    const ok = type === 0 ? n < this.blocks : type === 1 || type === 2 ? n === 1 : false;
    if (!ok) return this.check(SENSE.invalidFieldInCdb);
    const b = Buffer.alloc(36);
    b.writeUInt16BE(34, 0);
    b[2] = 1; // track number (LSB)
    b[3] = 1; // session number (LSB)
    b[5] = 0x04; // track mode: data, recorded uninterrupted
    b[6] = 0x01; // data mode 1
    b[7] = 0x02; // LRA_V
    b.writeUInt32BE(0, 8); // track start address
    b.writeUInt32BE(this.blocks, 24); // track size
    b.writeUInt32BE(this.blocks - 1, 28); // last recorded address
    return this.dataIn(b, cdb.readUInt16BE(7));
  }

  private mechanismStatus(): Buffer {
    const b = Buffer.alloc(8);
    b[1] = this.mediumPresent ? 0x00 : 0x10; // mechanism idle; door open after an eject
    return b;
  }

  private performance(cdb: Buffer): ScsiPlan {
    const maxDesc = cdb.readUInt16BE(8);
    const type = cdb[10]!;
    const KBPS = 24 * 176; // 24x
    if (type === 0 && maxDesc > 0 && this.mediumPresent) {
      const b = Buffer.alloc(8 + 16);
      b.writeUInt32BE(4 + 16, 0);
      b.writeUInt32BE(0, 8);
      b.writeUInt32BE(KBPS, 12);
      b.writeUInt32BE(this.blocks - 1, 16);
      b.writeUInt32BE(KBPS, 20);
      return this.dataIn(b, b.length);
    }
    const h = Buffer.alloc(8);
    h.writeUInt32BE(4, 0);
    return this.dataIn(h, 8);
  }

  private readCd(cdb: Buffer): ScsiPlan {
    const sectorType = (cdb[1]! >> 2) & 0x07;
    const mainChannel = cdb[9]! & 0xf8;
    if ((sectorType !== 0 && sectorType !== 2) || cdb[10]! & 0x07) return this.check(SENSE.invalidFieldInCdb);
    if (mainChannel === 0) return this.readBlocks(cdb, 0);
    if (mainChannel !== 0x10) return this.check(SENSE.invalidFieldInCdb); // only user data (2048 bytes a sector)
    return this.readBlocks(cdb);
  }

  private subChannel(cdb: Buffer): ScsiPlan {
    const subQ = (cdb[2]! & 0x40) !== 0;
    const format = cdb[3]!;
    const alloc = cdb.readUInt16BE(7);
    const head = Buffer.from([0, 0x15, 0, 0]); // audio status: none to report
    if (!subQ) return this.dataIn(head, alloc);
    let data: Buffer;
    if (format === 1) {
      data = Buffer.concat([Buffer.from([1, 0x14, 1, 1]), this.address(0, (cdb[1]! & 0x02) !== 0), this.address(0, (cdb[1]! & 0x02) !== 0)]);
    } else if (format === 2 || format === 3) {
      data = Buffer.alloc(20);
      data[0] = format;
    } else {
      return this.check(SENSE.invalidFieldInCdb);
    }
    head.writeUInt16BE(data.length, 2);
    return this.dataIn(Buffer.concat([head, data]), alloc);
  }

  // ---- mode pages --------------------------------------------------------------------------

  protected modePages(): Map<number, Buffer> {
    const pages = new Map<number, Buffer>();
    pages.set(0x01, modePage(0x01, [0x00, 0x01, 0, 0, 0, 0, 0x01, 0, 0, 0])); // read-write error recovery
    pages.set(0x0d, modePage(0x0d, [0, 0, 0, 60, 0, 75])); // CD device parameters: 60 S/M, 75 F/S
    pages.set(0x1a, modePage(0x1a, Buffer.alloc(10))); // power condition
    pages.set(0x1c, modePage(0x1c, Buffer.alloc(10))); // fault / failure reporting
    const caps = Buffer.alloc(20);
    caps[0] = 0x01 | 0x02 | 0x08; // reads CD-R, CD-RW, DVD-ROM
    caps[1] = 0x00; // writes nothing
    caps[2] = 0x40 | 0x20 | 0x10; // multi-session, mode 2 form 2, mode 2 form 1
    caps[4] = 0x01 | 0x08 | 0x20 | (this.preventRemoval ? 0x02 : 0); // lock, eject, tray; lock state
    const KBPS = 24 * 176;
    caps.writeUInt16BE(KBPS, 6); // maximum read speed (obsolete field, still read by Linux)
    caps.writeUInt16BE(256, 8); // volume levels
    caps.writeUInt16BE(0, 10); // buffer size
    caps.writeUInt16BE(KBPS, 12); // current read speed
    pages.set(0x2a, modePage(0x2a, caps));
    return pages;
  }

  protected modeDeviceSpecific(): number {
    return 0;
  }
}
