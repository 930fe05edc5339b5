// The emulated USB CD-ROM end to end: UsbredirHost + EmulatedMassStorage (BOT + MMC over an
// ISO made with genisoimage) driven by the fake usb-guest, with the commands Linux's sr and
// cdrom drivers (and Windows' cdrom.sys) use to recognise and mount a disc.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { openEmulatedCd, type EmulatedMassStorage } from '../../src/usb/emulated/mass-storage.js';
import { lbaToMsf } from '../../src/usb/emulated/scsi-cd.js';
import { Status } from '../../src/usb/usbredir/proto.js';
import { cdb, harness, makeIso, patternBytes, tempDir, type Harness } from './fake-guest.js';

const FILE = patternBytes(700_000, 21);
let tmp: { dir: string; cleanup: () => void };
let iso: string;
let isoBytes: Buffer;

before(() => {
  tmp = tempDir('spicectl-cd-');
  iso = join(tmp.dir, 'disc.iso');
  makeIso(iso, { 'data.bin': FILE, 'readme.txt': Buffer.from('spicectl emulated CD\n') });
  isoBytes = readFileSync(iso);
});
after(() => tmp.cleanup());

async function setup(seed = 1): Promise<Harness & { dev: EmulatedMassStorage }> {
  const dev = await openEmulatedCd(iso);
  const h = await harness(dev, { seed });
  await h.guest.enumerate();
  return Object.assign(h, { dev });
}

const be16 = (n: number): number[] => [(n >> 8) & 0xff, n & 0xff];
const readToc = (format: number, track: number, alloc: number, msf = false): number[] => [0x43, msf ? 0x02 : 0, format, 0, 0, 0, track, ...be16(alloc), 0];

describe('emulated CD-ROM', () => {
  it('identifies as a removable MMC device with 2048-byte blocks', async () => {
    const h = await setup();
    const g = h.guest;
    assert.equal(g.deviceConnect!.vendorId, 0x2b23);
    assert.equal(g.deviceConnect!.productId, 0xcdcd);
    const inq = await g.scsi(cdb.inquiry(96), { dataIn: 96 });
    assert.equal(inq.data[0], 0x05);
    assert.equal(inq.data[1], 0x80);
    // SPC, below SPC-2: Linux then skips eight VPD INQUIRY round trips
    assert.equal(inq.data[2], 0x03);
    assert.equal((await g.scsi(cdb.tur())).csw!.status, 0);
    const cap = await g.scsi(cdb.readCapacity10(), { dataIn: 8 });
    const blocks = isoBytes.length / 2048;
    assert.equal(cap.data.readUInt32BE(0), blocks - 1);
    assert.equal(cap.data.readUInt32BE(4), 2048);
    // the primary volume descriptor at LBA 16
    const pvd = await g.scsi(cdb.read10(16, 1), { dataIn: 2048 });
    assert.equal(pvd.data[0], 1);
    assert.equal(pvd.data.toString('latin1', 1, 6), 'CD001');
    assert.equal(pvd.data.toString('latin1', 40, 48), 'SPICECTL');
    await h.host.close();
  });

  it('reads the whole ISO byte-exact with READ(10) and READ(12)', async () => {
    const h = await setup(3);
    const g = h.guest;
    const blocks = isoBytes.length / 2048;
    const parts: Buffer[] = [];
    for (let lba = 0; lba < blocks; lba += 32) {
      const nb = Math.min(32, blocks - lba);
      const r = await g.scsi(lba % 64 === 0 ? cdb.read10(lba, nb) : cdb.read12(lba, nb), { dataIn: nb * 2048 });
      assert.equal(r.csw!.status, 0);
      parts.push(r.data);
    }
    const all = Buffer.concat(parts);
    assert.ok(all.equals(isoBytes));
    assert.ok(all.includes(FILE.subarray(0, 8192)));
    // past the end
    const oob = await g.scsi(cdb.read10(blocks, 1), { dataIn: 2048 });
    assert.equal(oob.csw!.status, 1);
    assert.deepEqual(await g.requestSense(), [0x5, 0x21, 0x00]);
    // READ CD, user data only (2048 bytes a sector)
    const rcd = await g.scsi([0xbe, 0, 0, 0, 0, 16, 0, 0, 2, 0x10, 0, 0], { dataIn: 4096 });
    assert.ok(rcd.data.equals(isoBytes.subarray(16 * 2048, 18 * 2048)));
    // READ CD asking for raw sectors: not supported
    assert.equal((await g.scsi([0xbe, 0, 0, 0, 0, 16, 0, 0, 1, 0xf8, 0, 0], { dataIn: 2352 })).csw!.status, 1);
    await h.host.close();
  });

  it('answers READ TOC in formats 0, 1 and 2, LBA and MSF', async () => {
    const h = await setup(5);
    const g = h.guest;
    const blocks = isoBytes.length / 2048;
    // format 0 (TOC), LBA: track 1 at 0, lead-out at `blocks`
    const toc = await g.scsi(readToc(0, 0, 804), { dataIn: 804 });
    assert.equal(toc.csw!.status, 0);
    assert.equal(toc.data.readUInt16BE(0), 18);
    assert.deepEqual([toc.data[2], toc.data[3]], [1, 1]);
    assert.deepEqual([...toc.data.subarray(4, 12)], [0, 0x14, 1, 0, 0, 0, 0, 0]);
    assert.deepEqual([toc.data[13], toc.data[14]], [0x14, 0xaa]);
    assert.equal(toc.data.readUInt32BE(16), blocks);
    // format 0, MSF: 00:02:00 and the lead-out
    const msf = await g.scsi(readToc(0, 0, 804, true), { dataIn: 804 });
    assert.deepEqual([...msf.data.subarray(8, 12)], [0, 0, 2, 0]);
    assert.deepEqual([...msf.data.subarray(16, 20)], [...lbaToMsf(blocks)]);
    // Linux's per-track entry reads (12 bytes) and the lead-out alone
    const t1 = await g.scsi(readToc(0, 1, 12), { dataIn: 12 });
    assert.equal(t1.data[6], 1);
    const lo = await g.scsi(readToc(0, 0xaa, 12), { dataIn: 12 });
    assert.equal(lo.data.readUInt16BE(0), 10);
    assert.equal(lo.data[6], 0xaa);
    // a track that does not exist
    assert.equal((await g.scsi(readToc(0, 2, 12), { dataIn: 12 })).csw!.status, 1);
    assert.deepEqual(await g.requestSense(), [0x5, 0x24, 0x00]);
    // format 1: session info
    const ses = await g.scsi(readToc(1, 0, 12), { dataIn: 12 });
    assert.deepEqual([...ses.data], [0, 10, 1, 1, 0, 0x14, 1, 0, 0, 0, 0, 0]);
    // format 2: full TOC with A0/A1/A2 and track 1
    const full = await g.scsi(readToc(2, 1, 1000), { dataIn: 1000 });
    assert.equal(full.data.readUInt16BE(0), 2 + 44);
    const points = [0, 1, 2, 3].map((i) => full.data[4 + 11 * i + 3]);
    assert.deepEqual(points, [0xa0, 0xa1, 0xa2, 0x01]);
    // the old (SFF-8020) format field in byte 9
    const old = await g.scsi([0x43, 0, 0, 0, 0, 0, 0, 0, 12, 0x40], { dataIn: 12 });
    assert.equal(old.data[1], 10);
    // MSF conversion
    assert.deepEqual([...lbaToMsf(0)], [0, 0, 2, 0]);
    assert.deepEqual([...lbaToMsf(4500 - 150)], [0, 1, 0, 0]);
    await h.host.close();
  });

  it('answers GET CONFIGURATION, GET EVENT STATUS, disc/track information, mode pages, mechanism status', async () => {
    const h = await setup(7);
    const g = h.guest;
    const blocks = isoBytes.length / 2048;
    // GET CONFIGURATION, all features: header + profile list with CD-ROM current
    const gc = await g.scsi([0x46, 0, 0, 0, 0, 0, 0, ...be16(1024), 0], { dataIn: 1024 });
    assert.equal(gc.csw!.status, 0);
    assert.equal(gc.data.readUInt32BE(0) + 4, gc.data.length);
    assert.equal(gc.data.readUInt16BE(6), 0x0008);
    const codes: number[] = [];
    for (let off = 8; off < gc.data.length; off += 4 + gc.data[off + 3]!) codes.push(gc.data.readUInt16BE(off));
    assert.deepEqual(codes, [0x0000, 0x0001, 0x0002, 0x0003, 0x0010, 0x001e, 0x001f, 0x0100]);
    // header only (udev asks 8 bytes first)
    const gc8 = await g.scsi([0x46, 0, 0, 0, 0, 0, 0, 0, 8, 0], { dataIn: 8 });
    assert.deepEqual([gc8.data.length, gc8.data.readUInt16BE(6)], [8, 0x0008]);
    // RT=2: one feature (random readable: 2048-byte blocks)
    const rr = await g.scsi([0x46, 2, 0, 0x10, 0, 0, 0, 0, 64, 0], { dataIn: 64 });
    assert.equal(rr.data.length, 8 + 4 + 8);
    assert.equal(rr.data.readUInt16BE(8), 0x0010);
    assert.equal(rr.data.readUInt32BE(12), 2048);
    // RT=2 for a feature we lack: header only
    assert.equal((await g.scsi([0x46, 2, 0, 0x20, 0, 0, 0, 0, 64, 0], { dataIn: 64 })).data.length, 8);

    // GET EVENT STATUS NOTIFICATION, polled, media class: new media once, then no change
    const gesn = (cls: number) => [0x4a, 0x01, 0, 0, cls, 0, 0, 0, 8, 0];
    const e1 = await g.scsi(gesn(0x10), { dataIn: 8 });
    assert.deepEqual([...e1.data], [0, 6, 4, 0x16, 2, 0x02, 0, 0]);
    const e2 = await g.scsi(gesn(0x10), { dataIn: 8 });
    assert.deepEqual([...e2.data.subarray(4)], [0, 0x02, 0, 0]);
    // power management class; unsupported class only -> NEA
    assert.equal((await g.scsi(gesn(0x04), { dataIn: 8 })).data[2], 2);
    assert.deepEqual([...(await g.scsi(gesn(0x40), { dataIn: 8 })).data], [0, 2, 0x80, 0x16]);
    // asynchronous mode is not supported
    assert.equal((await g.scsi([0x4a, 0, 0, 0, 0x10, 0, 0, 0, 8, 0], { dataIn: 8 })).csw!.status, 1);
    assert.deepEqual(await g.requestSense(), [0x5, 0x24, 0x00]);

    // READ DISC INFORMATION: complete disc, one session, one track
    const di = await g.scsi([0x51, 0, 0, 0, 0, 0, 0, 0, 34, 0], { dataIn: 34 });
    assert.equal(di.data.readUInt16BE(0), 32);
    assert.equal(di.data[2]! & 0x03, 2);
    assert.deepEqual([di.data[3], di.data[4], di.data[5], di.data[6]], [1, 1, 1, 1]);
    // READ TRACK INFORMATION for track 1
    const ti = await g.scsi([0x52, 1, 0, 0, 0, 1, 0, 0, 36, 0], { dataIn: 36 });
    assert.equal(ti.data[2], 1);
    assert.equal(ti.data.readUInt32BE(24), blocks);
    assert.equal((await g.scsi([0x52, 1, 0, 0, 0, 2, 0, 0, 36, 0], { dataIn: 36 })).csw!.status, 1);

    // MODE SENSE(10) capabilities page 0x2A (Linux sr asks it with 128 bytes)
    const caps = await g.scsi(cdb.modeSense10(0x2a, 128), { dataIn: 128 });
    assert.equal(caps.csw!.status, 0);
    assert.equal(caps.data.readUInt16BE(6), 0, 'no block descriptor');
    assert.equal(caps.data[8]! & 0x3f, 0x2a);
    assert.equal(caps.data[9], 20);
    assert.equal(caps.data[8 + 6]! & 0x08, 0x08, 'eject supported');
    assert.equal(caps.data[8 + 6]! >> 5, 1, 'tray');
    const all = await g.scsi(cdb.modeSense10(0x3f, 1024), { dataIn: 1024 });
    assert.equal(all.data.readUInt16BE(0) + 2, all.data.length);
    // MODE SENSE(6) works too; MODE SELECT is accepted
    assert.equal((await g.scsi(cdb.modeSense6(0x2a, 64), { dataIn: 64 })).csw!.status, 0);
    assert.equal((await g.scsi([0x55, 0x10, 0, 0, 0, 0, 0, 0, 8, 0], { dataOut: Buffer.alloc(8) })).csw!.status, 0);
    // MECHANISM STATUS, GET PERFORMANCE, SET CD SPEED, READ SUB-CHANNEL
    const mech = await g.scsi([0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0], { dataIn: 8 });
    assert.deepEqual([...mech.data], [0, 0, 0, 0, 0, 0, 0, 0]);
    const perf = await g.scsi([0xac, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0], { dataIn: 24 });
    assert.equal(perf.data.length, 24);
    assert.equal((await g.scsi([0xbb, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0])).csw!.status, 0);
    assert.equal((await g.scsi([0x42, 0, 0, 0, 0, 0, 0, 0, 16, 0], { dataIn: 16 })).data[1], 0x15);
    await h.host.close();
  });

  it('is read-only, ejects and reloads like a tray drive', async () => {
    const h = await setup(9);
    const g = h.guest;
    // writes are not a CD-ROM command
    const w = await g.scsi(cdb.write10(0, 1), { dataOut: Buffer.alloc(2048) });
    assert.equal(w.csw!.status, 1);
    assert.deepEqual(await g.requestSense(), [0x5, 0x20, 0x00]);
    // PREVENT blocks the eject
    assert.equal((await g.scsi([0x1e, 0, 0, 0, 1, 0])).csw!.status, 0);
    assert.equal((await g.scsi([0x1b, 0, 0, 0, 0x02, 0])).csw!.status, 1);
    assert.deepEqual(await g.requestSense(), [0x5, 0x53, 0x02]);
    assert.equal((await g.scsi([0x1e, 0, 0, 0, 0, 0])).csw!.status, 0);
    // eject: not ready, medium removal event, door open
    let ejected = 0;
    h.traces.length = 0;
    assert.equal((await g.scsi([0x1b, 0, 0, 0, 0x02, 0])).csw!.status, 0);
    ejected = h.traces.filter((t) => t.kind === 'device' && t.event.kind === 'eject').length;
    assert.equal(ejected, 1);
    assert.equal((await g.scsi(cdb.tur())).csw!.status, 1);
    assert.deepEqual(await g.requestSense(), [0x2, 0x3a, 0x00]);
    const ev = await g.scsi([0x4a, 0x01, 0, 0, 0x10, 0, 0, 0, 8, 0], { dataIn: 8 });
    assert.deepEqual([ev.data[4], ev.data[5]], [3, 0x01]);
    assert.equal((await g.scsi(cdb.read10(16, 1), { dataIn: 2048 })).csw!.status, 1);
    // load: a unit attention (medium changed) once, then ready
    assert.equal((await g.scsi([0x1b, 0, 0, 0, 0x03, 0])).csw!.status, 0);
    assert.equal((await g.scsi(cdb.tur())).csw!.status, 1);
    assert.deepEqual(await g.requestSense(), [0x6, 0x28, 0x00]);
    assert.equal((await g.scsi(cdb.tur())).csw!.status, 0);
    const ev2 = await g.scsi([0x4a, 0x01, 0, 0, 0x10, 0, 0, 0, 8, 0], { dataIn: 8 });
    assert.deepEqual([ev2.data[4], ev2.data[5]], [2, 0x02]);
    assert.equal(g.received.filter((p) => p.type === 'bulkPacket' && p.status === Status.stall).length, 0);
    await h.host.close();
  });

  it('plugged in again, it starts from power-on: medium loaded, a new-media event, unlocked', async () => {
    const h = await setup(11);
    const g = h.guest;
    const gesn = [0x4a, 0x01, 0, 0, 0x10, 0, 0, 0, 8, 0];
    assert.equal((await g.scsi(gesn, { dataIn: 8 })).data[4], 2); // new media
    assert.equal((await g.scsi(gesn, { dataIn: 8 })).data[4], 0); // then nothing new
    assert.equal((await g.scsi([0x1e, 0, 0, 0, 1, 0])).csw!.status, 0); // locked
    assert.equal((await g.scsi([0x1b, 0, 0, 0, 0x02, 0])).csw!.status, 1); // so no eject
    h.dev.plugged();
    assert.equal(h.dev.configuration, 0);
    assert.equal((await g.scsi(gesn, { dataIn: 8 })).data[4], 2);
    assert.equal((await g.scsi(cdb.tur())).csw!.status, 0);
    assert.equal((await g.scsi([0x1b, 0, 0, 0, 0x02, 0])).csw!.status, 0); // unlocked: ejects
    await h.host.close();
  });
});
