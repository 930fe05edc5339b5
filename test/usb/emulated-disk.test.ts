// The emulated USB stick end to end: UsbredirHost + EmulatedMassStorage (BOT + SCSI disk over
// a real FAT image made with mkfs.vfat/mcopy) driven by a fake usb-guest through random-split
// byte pipes, doing what QEMU + a Linux guest do.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

import { EmulatedMassStorage, openEmulatedDisk } from '../../src/usb/emulated/mass-storage.js';
import { ImageFile, SYNC_READ_MAX, type BlockFile } from '../../src/usb/emulated/image-file.js';
import { formatRecognition, RecognitionRecorder } from '../../src/usb/recognition.js';
import { Status } from '../../src/usb/usbredir/proto.js';
import { parseConfigDescriptor } from '../../src/usb/backend.js';
import { prng } from './chunking.js';
import { cdb, harness, makeFatImage, patternBytes, tempDir, type Harness } from './fake-guest.js';

const FILE_A = patternBytes(300_000, 7);
let tmp: { dir: string; cleanup: () => void };
let fatA: string; // pristine FAT image with HELLO.BIN
let fatB: string; // another FAT image with OTHER.TXT

before(() => {
  tmp = tempDir();
  fatA = join(tmp.dir, 'a.img');
  fatB = join(tmp.dir, 'b.img');
  makeFatImage(fatA, 4096, { 'HELLO.BIN': FILE_A, 'README.TXT': Buffer.from('hello from spicectl\n') });
  makeFatImage(fatB, 4096, { 'OTHER.TXT': Buffer.from('written through emulated SCSI WRITE(10)\n') }, 'OTHERFS');
});
after(() => tmp.cleanup());

let n = 0;
function copyOf(src: string): string {
  const p = join(tmp.dir, `work-${++n}.img`);
  copyFileSync(src, p);
  return p;
}

async function setup(path: string, opts: Parameters<typeof openEmulatedDisk>[1] = {}, seed = 1): Promise<Harness & { dev: EmulatedMassStorage }> {
  const dev = await openEmulatedDisk(path, opts);
  const h = await harness(dev, { seed });
  return Object.assign(h, { dev });
}

describe('emulated USB stick: enumeration', () => {
  it('describes itself as a high-speed BOT mass-storage device', async () => {
    const h = await setup(copyOf(fatA), { speed: 'high' });
    const g = h.guest;
    // usbredir metadata sent before device_connect
    assert.deepEqual(g.interfaceInfo!.interfaces, [{ number: 0, class: 8, subclass: 6, protocol: 0x50 }]);
    const eps = g.epInfo!.endpoints;
    assert.equal(eps[0]!.type, 0);
    assert.equal(eps[16]!.type, 0);
    assert.deepEqual([eps[17]!.type, eps[17]!.maxPacketSize, eps[17]!.interface], [2, 512, 0]); // 0x81
    assert.deepEqual([eps[2]!.type, eps[2]!.maxPacketSize], [2, 512]); // 0x02
    assert.equal(eps[1]!.type, 255);
    const dc = g.deviceConnect!;
    assert.deepEqual([dc.speed, dc.deviceClass, dc.vendorId, dc.productId, dc.deviceVersionBcd], [2, 0, 0x1209, 0x0001, 0x0100]);

    const en = await g.enumerate();
    assert.equal(en.device.length, 18);
    assert.equal(en.device.readUInt16LE(2), 0x0200);
    assert.equal(en.config.length, 32);
    assert.deepEqual([...en.config.subarray(9 + 5, 9 + 8)], [0x08, 0x06, 0x50]);
    assert.equal(en.strings[0], 'spicectl');
    assert.match(en.strings[2]!, /^[0-9A-F]{12,}$/);
    assert.equal(en.maxLun, 0);
    assert.equal(en.configStatus.status, Status.success);
    assert.equal(en.configStatus.configuration, 1);

    // device qualifier (valid for a high-speed device) and other-speed configuration
    const q = await g.getDescriptor(6, 0, 10);
    assert.equal(q.status, Status.success);
    assert.deepEqual([...q.data], [10, 6, 0x00, 0x02, 0, 0, 0, 64, 1, 0]);
    const os = await g.getDescriptor(7, 0, 32);
    assert.equal(os.data[1], 7);
    assert.equal(os.data.readUInt16LE(22), 64);
    // BOS, Microsoft OS string: stall
    assert.equal((await g.getDescriptor(0x0f, 0, 5)).status, Status.stall);
    assert.equal((await g.getDescriptor(3, 0xee, 18, 0)).status, Status.stall);
    // replies are truncated to wLength
    assert.equal((await g.getDescriptor(2, 0, 9)).data.length, 9);
    // GET_STATUS device / endpoint
    assert.deepEqual([...(await g.control(0x80, 0, 0, 0, 2)).data], [0, 0]);
    assert.deepEqual([...(await g.control(0x82, 0, 0, 0x81, 2)).data], [0, 0]);
    // get_configuration
    const gc = await g.request<import('../../src/usb/usbredir/proto.js').ConfigurationStatusPacket>({ type: 'getConfiguration', id: g.newId() });
    assert.equal(gc.configuration, 1);
    // set_alt_setting 0/0 ok, 0/1 stalls
    const alt0 = await g.request<import('../../src/usb/usbredir/proto.js').AltSettingStatusPacket>({ type: 'setAltSetting', id: g.newId(), interface: 0, alt: 0 });
    assert.equal(alt0.status, Status.success);
    const alt1 = await g.request<import('../../src/usb/usbredir/proto.js').AltSettingStatusPacket>({ type: 'setAltSetting', id: g.newId(), interface: 0, alt: 1 });
    assert.equal(alt1.status, Status.stall);
    // unknown vendor request stalls
    assert.equal((await g.control(0xc0, 0x33, 0, 0, 4)).status, Status.stall);
    assert.deepEqual(h.hostErrors, []);
    await h.host.close();
  });

  it('is SuperSpeed by default: USB 3.2 descriptors, endpoint companions, BOS, the USB 3 requests', async () => {
    const h = await setup(copyOf(fatA));
    const g = h.guest;
    const eps = g.epInfo!.endpoints;
    // ep0 of 2^9 bytes, bulk 1024 both ways
    assert.deepEqual([eps[0]!.maxPacketSize, eps[16]!.maxPacketSize], [512, 512]);
    assert.deepEqual([eps[17]!.type, eps[17]!.maxPacketSize, eps[2]!.maxPacketSize], [2, 1024, 1024]);
    assert.equal(g.deviceConnect!.speed, 3);

    const en = await g.enumerate();
    assert.equal(en.device.readUInt16LE(2), 0x0320);
    assert.equal(en.device[7], 9);
    // configuration: 9 + Bulk-Only alt 0 (interface 9 + 2 x (endpoint 7 + companion 6)) + UAS
    // alt 1 (interface 9 + 4 x (endpoint 7 + companion 6 + pipe usage 4))
    assert.equal(en.config.length, 44 + 77);
    assert.equal(en.config.readUInt16LE(2), 44 + 77);
    const parsed = parseConfigDescriptor(en.config);
    assert.deepEqual(parsed.interfaces.map((i) => [i.altSetting, i.protocol]), [[0, 0x50], [1, 0x62]]);
    const ep = parsed.interfaces[0]!.endpoints;
    assert.deepEqual(ep.map((e) => [e.address, e.maxPacketSize]), [[0x81, 1024], [0x02, 1024]]);
    assert.deepEqual([...en.config.subarray(25, 31)], [6, 0x30, 0, 0, 0, 0]);
    assert.equal(en.config[8], 13); // bMaxPower in 8 mA units: 104 mA

    // BOS: header, USB 2.0 extension (LPM), SuperSpeed capability (FS/HS/SS)
    const bos5 = await g.getDescriptor(0x0f, 0, 5);
    assert.equal(bos5.status, Status.success);
    const total = bos5.data.readUInt16LE(2);
    const bos = (await g.getDescriptor(0x0f, 0, total)).data;
    assert.equal(bos.length, 22);
    assert.deepEqual([bos[0], bos[1], bos[4]], [5, 0x0f, 2]);
    assert.deepEqual([bos[5], bos[6], bos[7]], [7, 0x10, 0x02]);
    assert.deepEqual([bos[12], bos[13], bos[14], bos.readUInt16LE(16)], [10, 0x10, 0x03, 0x000e]);
    // a SuperSpeed device has no device qualifier nor other-speed configuration
    assert.equal((await g.getDescriptor(6, 0, 10)).status, Status.stall);
    assert.equal((await g.getDescriptor(7, 0, 32)).status, Status.stall);
    // SET_SEL (6 bytes), SET_ISOCH_DELAY, U1/U2 enable, FUNCTION_SUSPEND: accepted
    assert.equal((await g.control(0x00, 0x30, 0, 0, Buffer.alloc(6))).status, Status.success);
    assert.equal((await g.control(0x00, 0x31, 40, 0, Buffer.alloc(0))).status, Status.success);
    assert.equal((await g.control(0x00, 3, 48, 0, Buffer.alloc(0))).status, Status.success);
    assert.equal((await g.control(0x00, 3, 49, 0, Buffer.alloc(0))).status, Status.success);
    assert.equal((await g.control(0x01, 3, 0, 0, Buffer.alloc(0))).status, Status.success);
    // ... but a wrong SET_SEL length still stalls
    assert.equal((await g.control(0x00, 0x30, 0, 0, Buffer.alloc(2))).status, Status.stall);
    // and the data path is unchanged
    const inq = await g.scsi(cdb.inquiry(36), { dataIn: 36 });
    assert.equal(inq.csw!.status, 0);
    assert.equal(inq.data[2], 5); // a disk claims SPC-3
    assert.deepEqual(h.hostErrors, []);
    await h.host.close();
  });

  it('auto: a guest that enumerates it as USB 2 (64-byte read, then a reset) gets a high-speed device', async () => {
    const h = await setup(copyOf(fatA));
    const g = h.guest;
    assert.equal(g.deviceConnect!.speed, 3); // plugged as SuperSpeed
    // USB 3 enumeration: resets first, then short reads; nothing changes
    g.reset();
    const ss = await g.getDescriptor(1, 0, 8);
    assert.deepEqual([ss.data.readUInt16LE(2), ss.data[7]], [0x0320, 9]);
    // a 64-byte read alone is no proof (another OS's USB 3 stack may read that much)
    g.reset();
    const first = await g.getDescriptor(1, 0, 64);
    assert.deepEqual([first.data.length, first.data.readUInt16LE(2), first.data[7]], [18, 0x0320, 9]);
    assert.equal(h.dev.speed, 'super');
    // ... but followed by a reset it is USB 2's "new scheme": high speed from then on
    g.reset();
    const again = await g.getDescriptor(1, 0, 8);
    assert.deepEqual([again.data.readUInt16LE(2), again.data[7]], [0x0200, 64]);
    const cfg = (await g.getDescriptor(2, 0, 255)).data;
    assert.equal(cfg.length, 32);
    // (the other USB 2 signature, a 64-byte read then an 8-byte one, is checked below)
    assert.equal((await g.getDescriptor(6, 0, 10)).status, Status.success); // a device qualifier now
    const start = g.received.length;
    await g.setConfiguration(1);
    const ep = g.received.slice(start).find((p) => p.type === 'epInfo') as { endpoints: { maxPacketSize: number }[] };
    assert.deepEqual([ep.endpoints[0]!.maxPacketSize, ep.endpoints[17]!.maxPacketSize, ep.endpoints[2]!.maxPacketSize], [64, 512, 512]);
    assert.equal(h.dev.speed, 'high');
    // plugged again: SuperSpeed again
    h.dev.plugged();
    assert.equal(h.dev.speed, 'super');
    await h.host.close();
  });

  it('auto: a 64-byte read then an 8-byte one (USB 2, once addressed) answers the 8 bytes at high speed', async () => {
    const h = await setup(copyOf(fatA));
    const g = h.guest;
    g.reset();
    assert.equal((await g.getDescriptor(1, 0, 64)).data[7], 9);
    const eight = await g.getDescriptor(1, 0, 8);
    assert.deepEqual([eight.data.length, eight.data.readUInt16LE(2), eight.data[7]], [8, 0x0200, 64]);
    assert.equal(h.dev.speed, 'high');
    await h.host.close();
  });

  it('an explicit super stays SuperSpeed whatever the guest reads first', async () => {
    const h = await setup(copyOf(fatA), { speed: 'super' });
    const first = await h.guest.getDescriptor(1, 0, 64);
    assert.deepEqual([first.data.readUInt16LE(2), first.data[7]], [0x0320, 9]);
    assert.equal(h.dev.speed, 'super');
    await h.host.close();
  });

  it('full speed: 64-byte packets, and a high-speed-only request stalls', async () => {
    const h = await setup(copyOf(fatA), { speed: 'full' });
    const g = h.guest;
    assert.equal(g.deviceConnect!.speed, 1);
    assert.equal(g.epInfo!.endpoints[17]!.maxPacketSize, 64);
    const en = await g.enumerate();
    assert.equal(en.device.readUInt16LE(2), 0x0200);
    assert.equal(en.config.length, 32);
    assert.equal((await g.getDescriptor(6, 0, 10)).status, Status.stall);
    assert.equal((await g.control(0x00, 0x30, 0, 0, Buffer.alloc(6))).status, Status.stall);
    await h.host.close();
  });

  it('refuses an unknown speed with a clear error', async () => {
    await assert.rejects(openEmulatedDisk(copyOf(fatA), { speed: 'warp' as never }), /USB speed must be auto, super, high, full, not "warp"/);
  });

  it('sends interface_info and ep_info before the configuration status', async () => {
    const h = await setup(copyOf(fatA));
    const start = h.guest.received.length;
    await h.guest.setConfiguration(1);
    const types = h.guest.received.slice(start).map((p) => p.type);
    assert.deepEqual(types, ['interfaceInfo', 'epInfo', 'configurationStatus']);
    await h.host.close();
  });
});

describe('emulated USB stick: SCSI', () => {
  it('answers the Linux recognition sequence and records a timeline', async () => {
    const path = copyOf(fatA);
    const img = readFileSync(path);
    const rec = new RecognitionRecorder();
    const dev = await openEmulatedDisk(path);
    const h = await harness(dev, { seed: 3, host: { onTrace: rec.record } });
    const g = h.guest;
    await g.enumerate();

    const inq = await g.scsi(cdb.inquiry(36), { dataIn: 36 });
    assert.equal(inq.csw!.status, 0);
    assert.equal(inq.data.length, 36);
    assert.equal(inq.data[0], 0x00); // direct access
    assert.equal(inq.data[1], 0x80); // removable
    assert.equal(inq.data.toString('latin1', 8, 16), 'spicectl');
    assert.equal((await g.scsi(cdb.tur())).csw!.status, 0);

    const cap = await g.scsi(cdb.readCapacity10(), { dataIn: 8 });
    const blocks = img.length / 512;
    assert.equal(cap.data.readUInt32BE(0), blocks - 1);
    assert.equal(cap.data.readUInt32BE(4), 512);

    const ms = await g.scsi(cdb.modeSense6(0x3f, 192), { dataIn: 192 });
    assert.equal(ms.csw!.status, 0);
    assert.equal(ms.data[0]! + 1, ms.data.length);
    assert.equal(ms.data[2]! & 0x80, 0, 'not write protected');
    assert.equal(ms.csw!.residue, 192 - ms.data.length);

    const r0 = await g.scsi(cdb.read10(0, 1), { dataIn: 512 });
    assert.equal(r0.csw!.status, 0);
    assert.equal(r0.csw!.residue, 0);
    assert.deepEqual(r0.data, img.subarray(0, 512));
    assert.equal(r0.data.readUInt16BE(510), 0x55aa);

    const rep = rec.report();
    for (const k of ['helloReceived', 'deviceConnectSent', 'firstControl', 'setConfiguration', 'firstScsiCommand', 'readCapacity', 'firstReadLba0', 'lastCommand'] as const) {
      assert.notEqual(rep[k], null, k);
    }
    assert.ok(rep.helloReceived! <= rep.deviceConnectSent!);
    assert.ok(rep.setConfiguration! <= rep.firstScsiCommand!);
    assert.ok(rep.readCapacity! <= rep.firstReadLba0!);
    assert.equal(rep.opcodes['INQUIRY'], 1);
    assert.equal(rep.opcodes['READ(10)'], 1);
    assert.equal(rep.opcodes['READ CAPACITY(10)'], 1);
    assert.equal(rep.scsiFailures, 0);
    const lines = formatRecognition(rep);
    assert.ok(lines.some((l) => l.startsWith('first READ of LBA 0') && l.includes('ms')));
    assert.ok(lines.some((l) => l.includes('READ(10)')));
    await h.host.close();
  });

  it('answers the other commands a host asks', async () => {
    const path = copyOf(fatA);
    const size = statSync(path).size;
    const h = await setup(path);
    const g = h.guest;
    await g.enumerate();
    // VPD pages 0x00 / 0x80 / 0x83
    const v0 = await g.scsi(cdb.inquiry(255, true, 0x00), { dataIn: 255 });
    assert.deepEqual([...v0.data], [0, 0x00, 0, 3, 0x00, 0x80, 0x83]);
    const v80 = await g.scsi(cdb.inquiry(255, true, 0x80), { dataIn: 255 });
    assert.equal(v80.data[1], 0x80);
    assert.match(v80.data.toString('latin1', 4, 4 + v80.data[3]!), /^[0-9A-F]{24}$/);
    const v83 = await g.scsi(cdb.inquiry(255, true, 0x83), { dataIn: 255 });
    assert.equal(v83.data[1], 0x83);
    assert.equal(v83.data[5] & 0x0f, 1); // T10 vendor id designator
    // unsupported VPD page
    const v42 = await g.scsi(cdb.inquiry(255, true, 0x42), { dataIn: 255 });
    assert.equal(v42.csw!.status, 1);
    assert.equal(v42.data.length, 0);
    assert.deepEqual(await g.requestSense(), [0x5, 0x24, 0x00]);
    // READ CAPACITY(16)
    const c16 = await g.scsi(cdb.readCapacity16(), { dataIn: 32 });
    assert.equal(c16.data.readBigUInt64BE(0), BigInt(size / 512 - 1));
    assert.equal(c16.data.readUInt32BE(8), 512);
    // READ FORMAT CAPACITIES (Windows)
    const rfc = await g.scsi([0x23, 0, 0, 0, 0, 0, 0, 0, 252, 0], { dataIn: 252 });
    assert.equal(rfc.data.length, 12);
    assert.equal(rfc.data[3], 8);
    assert.equal(rfc.data.readUInt32BE(4), size / 512);
    assert.equal(rfc.data[8], 2);
    assert.equal(rfc.data.readUIntBE(9, 3), 512);
    // MODE SENSE(10) caching page, (6) with block descriptor, changeable values, saved values
    const ms10 = await g.scsi(cdb.modeSense10(0x08), { dataIn: 512 });
    assert.equal(ms10.data.readUInt16BE(0) + 2, ms10.data.length);
    assert.equal(ms10.data.readUInt16BE(6), 8); // block descriptor length
    assert.equal(ms10.data[16], 0x08);
    assert.equal(ms10.data[18]! & 0x04, 0x04); // WCE
    const ms6bd = await g.scsi(cdb.modeSense6(0x1c, 255), { dataIn: 255 });
    assert.equal(ms6bd.data[3], 8);
    assert.equal(ms6bd.data.readUIntBE(9, 3), 512);
    const saved = await g.scsi([0x1a, 0, 0xc0 | 0x3f, 0, 192, 0], { dataIn: 192 });
    assert.equal(saved.csw!.status, 1);
    assert.deepEqual(await g.requestSense(), [0x5, 0x39, 0x00]);
    const badPage = await g.scsi(cdb.modeSense6(0x05), { dataIn: 192 });
    assert.equal(badPage.csw!.status, 1);
    // REPORT LUNS
    const rl = await g.scsi([0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0], { dataIn: 16 });
    assert.equal(rl.data.readUInt32BE(0), 8);
    // PREVENT ALLOW, START STOP (start), VERIFY, SYNCHRONIZE CACHE
    for (const c of [[0x1e, 0, 0, 0, 1, 0], [0x1e, 0, 0, 0, 0, 0], [0x1b, 0, 0, 0, 1, 0], [0x2f, 0, 0, 0, 0, 0, 0, 0, 8, 0], cdb.syncCache()]) {
      const r = await g.scsi(c);
      assert.equal(r.csw!.status, 0, `opcode ${c[0]}`);
    }
    // unknown opcode, out-of-range read, sense cleared after REQUEST SENSE
    const unk = await g.scsi([0xd9, 0, 0, 0, 0, 0]);
    assert.equal(unk.csw!.status, 1);
    assert.deepEqual(await g.requestSense(), [0x5, 0x20, 0x00]);
    assert.deepEqual(await g.requestSense(), [0x0, 0x00, 0x00]);
    const oob = await g.scsi(cdb.read10(size / 512 - 1, 2), { dataIn: 1024 });
    assert.equal(oob.csw!.status, 1);
    assert.equal(oob.data.length, 0);
    assert.equal(oob.csw!.residue, 1024);
    assert.deepEqual(await g.requestSense(), [0x5, 0x21, 0x00]);
    // READ(6), READ(12), READ(16) agree with READ(10)
    const img = readFileSync(path);
    for (const c of [cdb.read6(40, 3), cdb.read12(40, 3), cdb.read16(40, 3), cdb.read10(40, 3)]) {
      const r = await g.scsi(c, { dataIn: 1536 });
      assert.deepEqual(r.data, img.subarray(40 * 512, 43 * 512), `opcode ${c[0]}`);
    }
    // Windows-style 12-byte CB length for a 6-byte CDB
    const padded = await g.scsi([...cdb.tur(), 0, 0, 0, 0, 0, 0]);
    assert.equal(padded.csw!.status, 0);
    // eject, then not ready; load again
    assert.equal((await g.scsi([0x1b, 0, 0, 0, 0x02, 0])).csw!.status, 0);
    assert.equal((await g.scsi(cdb.tur())).csw!.status, 1);
    assert.deepEqual(await g.requestSense(), [0x2, 0x3a, 0x00]);
    assert.equal((await g.scsi([0x1b, 0, 0, 0, 0x03, 0])).csw!.status, 0);
    assert.equal((await g.scsi(cdb.tur())).csw!.status, 0);
    assert.deepEqual(h.hostErrors, []);
    await h.host.close();
  });

  it('reads the whole FAT image back byte-exact, one file read per bulk IN', async () => {
    const path = copyOf(fatA);
    const img = readFileSync(path);
    const h = await setup(path, {}, 5);
    const g = h.guest;
    await g.enumerate();
    const blocks = img.length / 512;
    const got: Buffer[] = [];
    const per = 128; // 64 KiB READ(10)s, as Linux issues them
    for (let lba = 0; lba < blocks; lba += per) {
      const nb = Math.min(per, blocks - lba);
      const r = await g.scsi(cdb.read10(lba, nb), { dataIn: nb * 512 });
      assert.equal(r.csw!.status, 0);
      assert.equal(r.csw!.residue, 0);
      got.push(r.data);
    }
    assert.ok(Buffer.concat(got).equals(img), 'image read back byte-exact');
    assert.ok(Buffer.concat(got).includes(FILE_A.subarray(0, 4096)), 'the mcopy-ed file is in there');

    // a big single request (QEMU asks 128 KiB+ at once): one bulk IN answered with one read
    const readsBefore = h.dev.image.stats.reads;
    const big = await g.scsi(cdb.read10(8, 512), { dataIn: 512 * 512 });
    assert.equal(big.inLengths.length, 1);
    assert.equal(big.inLengths[0], 256 * 1024);
    assert.ok(big.data.equals(img.subarray(8 * 512, 520 * 512)));
    assert.equal(h.dev.image.stats.reads - readsBefore, 1);

    // pipelined: CBW + three IN requests in flight at once, answered in order
    const pip = await g.scsi(cdb.read10(100, 96), { dataIn: 96 * 512, inRequests: [16384, 16384, 16384], pipeline: true });
    assert.deepEqual(pip.inLengths, [16384, 16384, 16384]);
    assert.ok(pip.data.equals(img.subarray(100 * 512, 196 * 512)));
    assert.equal(pip.csw!.status, 0);
    await h.host.close();
  });

  it('random reads, request sizes and pipelining agree with the file (several seeds)', async () => {
    const path = copyOf(fatA);
    const img = readFileSync(path);
    const blocks = img.length / 512;
    for (const seed of [31, 32, 33]) {
      const h = await setup(path, {}, seed);
      const g = h.guest;
      await g.enumerate();
      const rnd = prng(seed);
      for (let i = 0; i < 25; i++) {
        const nb = 1 + Math.floor(rnd() * 200);
        const lba = Math.floor(rnd() * (blocks - nb));
        const total = nb * 512;
        // split the data phase into 1..4 IN requests of multiples of 512
        const reqs: number[] = [];
        let left = total;
        while (left > 0) {
          const k = left <= 512 || rnd() < 0.4 ? left : 512 * (1 + Math.floor(rnd() * (left / 512 - 1)));
          reqs.push(k);
          left -= k;
        }
        const r = await g.scsi(cdb.read10(lba, nb), { dataIn: total, inRequests: reqs, pipeline: rnd() < 0.5 });
        assert.equal(r.csw!.status, 0);
        assert.ok(r.data.equals(img.subarray(lba * 512, lba * 512 + total)), `seed ${seed} read ${lba}+${nb}`);
      }
      assert.deepEqual(h.hostErrors, []);
      await h.host.close();
    }
  });

  it('writes reach the file (a whole other filesystem, checked with mtools)', async () => {
    const path = copyOf(fatA);
    const other = readFileSync(fatB);
    const h = await setup(path, {}, 9);
    const g = h.guest;
    await g.enumerate();
    const per = 64;
    const blocks = other.length / 512;
    for (let lba = 0; lba < blocks; lba += per) {
      const nb = Math.min(per, blocks - lba);
      const r = await g.scsi(cdb.write10(lba, nb), { dataOut: other.subarray(lba * 512, (lba + nb) * 512), outChunk: 5000, pipeline: lba % 128 === 0 });
      assert.equal(r.csw!.status, 0, `write at ${lba}`);
      assert.equal(r.csw!.residue, 0);
    }
    const sync = await g.scsi(cdb.syncCache());
    assert.equal(sync.csw!.status, 0);
    assert.ok(h.dev.image.stats.syncs >= 1);
    // read back through SCSI and from the file
    const back = await g.scsi(cdb.read10(0, 64), { dataIn: 64 * 512 });
    assert.ok(back.data.equals(other.subarray(0, 64 * 512)));
    assert.ok(readFileSync(path).equals(other));
    const listing = execFileSync('mtype', ['-i', path, '::OTHER.TXT']).toString();
    assert.equal(listing, 'written through emulated SCSI WRITE(10)\n');
    // FUA write
    const fua = await g.scsi(cdb.write10(10, 1, true), { dataOut: Buffer.alloc(512, 0xab) });
    assert.equal(fua.csw!.status, 0);
    await h.host.close();
    assert.equal(readFileSync(path)[10 * 512], 0xab);
  });

  it('--ro refuses writes with DATA PROTECT and reports write protection', async () => {
    const path = copyOf(fatA);
    const before = readFileSync(path);
    const h = await setup(path, { readOnly: true });
    const g = h.guest;
    await g.enumerate();
    const ms = await g.scsi(cdb.modeSense6(0x3f), { dataIn: 192 });
    assert.equal(ms.data[2]! & 0x80, 0x80, 'WP bit');
    const w = await g.scsi(cdb.write10(0, 4), { dataOut: Buffer.alloc(2048, 0xee) });
    assert.deepEqual(w.dataStatuses, [Status.success]); // the OUT data is consumed
    assert.equal(w.csw!.status, 1);
    assert.equal(w.csw!.residue, 2048);
    assert.deepEqual(await g.requestSense(), [0x7, 0x27, 0x00]);
    assert.equal((await g.scsi(cdb.read10(0, 1), { dataIn: 512 })).csw!.status, 0);
    await h.host.close();
    assert.ok(readFileSync(path).equals(before));
  });
});

/** A file handle whose writes fail with ENOSPC past `limit` bytes. */
async function failingHandle(path: string, limit: number): Promise<BlockFile> {
  const fh = await open(path, 'r+');
  return {
    read: (b, o, l, p) => fh.read(b, o, l, p),
    write: async (b, o, l, p) => {
      if (p + l > limit) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 });
      return fh.write(b, o, l, p);
    },
    sync: () => fh.sync(),
    close: () => fh.close(),
  };
}

/** A file handle that counts blocking and async reads; reads at `failAt` fail with EIO. */
async function countingHandle(path: string, failAt = -1): Promise<BlockFile & { syncReads: number; asyncReads: number }> {
  const fh = await open(path, 'r');
  const eio = () => Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', errno: -5 });
  const h = {
    syncReads: 0,
    asyncReads: 0,
    read: async (b: Buffer, o: number, l: number, p: number) => {
      h.asyncReads++;
      if (p === failAt) throw eio();
      return fh.read(b, o, l, p);
    },
    readSync: (b: Buffer, o: number, l: number, p: number) => {
      h.syncReads++;
      if (p === failAt) throw eio();
      return readSync(fh.fd, b, o, l, p);
    },
    write: () => Promise.reject(new Error('read-only')),
    sync: () => Promise.resolve(),
    close: () => fh.close(),
  };
  return h;
}

describe('emulated USB stick: image reads', () => {
  it('reads up to SYNC_READ_MAX block the loop (no thread-pool hop); bigger ones stay async', async () => {
    const path = copyOf(fatA);
    const img = readFileSync(path);
    const fh = await countingHandle(path);
    const image = new ImageFile(fh, img.length, { path, readOnly: true });
    assert.ok((await image.read(512, 2048)).equals(img.subarray(512, 2560)));
    assert.ok((await image.read(0, SYNC_READ_MAX)).equals(img.subarray(0, SYNC_READ_MAX)));
    assert.deepEqual([fh.syncReads, fh.asyncReads], [2, 0]);
    assert.ok((await image.read(4096, SYNC_READ_MAX + 512)).equals(img.subarray(4096, 4096 + SYNC_READ_MAX + 512)));
    assert.deepEqual([fh.syncReads, fh.asyncReads], [2, 1]);
    // past the end of the file reads as zeros on both paths
    const tail = await image.read(img.length - 512, 1024);
    assert.ok(tail.subarray(0, 512).equals(img.subarray(img.length - 512)) && tail.subarray(512).every((b) => b === 0));
    await image.close();
  });

  it('images opened from a path use the blocking read for small requests', async () => {
    const image = await ImageFile.open(copyOf(fatA), { readOnly: true });
    const raw = readFileSync(image.path);
    assert.ok((await image.read(1024, 4096)).equals(raw.subarray(1024, 5120)));
    await image.close();
  });

  for (const size of [2048, SYNC_READ_MAX + 2048]) {
    it(`a failing ${size > SYNC_READ_MAX ? 'async' : 'blocking'} read (EIO) gives MEDIUM ERROR / UNRECOVERED READ ERROR and the device carries on`, async () => {
      const path = copyOf(fatA);
      const img = readFileSync(path);
      const image = new ImageFile(await countingHandle(path, 64 * 512), img.length, { path, readOnly: true });
      const dev = new EmulatedMassStorage(image, { kind: 'disk' });
      const h = await harness(dev, { seed: 13 });
      const g = h.guest;
      await g.enumerate();
      const r = await g.scsi(cdb.read10(64, size / 512), { dataIn: size });
      assert.equal(r.csw!.status, 1);
      assert.deepEqual(await g.requestSense(), [0x3, 0x11, 0x00]);
      const ok = await g.scsi(cdb.read10(0, 4), { dataIn: 2048 });
      assert.equal(ok.csw!.status, 0);
      assert.ok(ok.data.equals(img.subarray(0, 2048)));
      await h.host.close();
    });
  }
});

describe('emulated USB stick: errors and recovery', () => {
  it('refuses unusable images with one-line input errors', async () => {
    const { SpiceError } = await import('../../src/util/errors.js');
    const tiny = join(tmp.dir, 'tiny.img');
    writeFileSync(tiny, Buffer.alloc(100));
    const cases: [string, RegExp][] = [
      [join(tmp.dir, 'missing.img'), /cannot use image .*missing\.img: ENOENT \(no such file\)/],
      [tmp.dir, /not a regular file/],
      [tiny, /too small \(100 bytes/],
    ];
    for (const [p, re] of cases) {
      await assert.rejects(openEmulatedDisk(p), (e: unknown) => e instanceof SpiceError && e.code === 'input' && re.test(e.message) && !e.message.includes('\n'));
    }
    await assert.rejects(openEmulatedDisk(copyOf(fatA), { serial: 'XYZ' }), /at least 12 hexadecimal digits/);
  });

  it('a failing write (ENOSPC) gives MEDIUM ERROR / WRITE ERROR and the device carries on', async () => {
    const path = copyOf(fatA);
    const size = statSync(path).size;
    const image = new ImageFile(await failingHandle(path, 100 * 512), size, { path });
    const dev = new EmulatedMassStorage(image, { kind: 'disk' });
    const h = await harness(dev, { seed: 11 });
    const g = h.guest;
    await g.enumerate();
    const w = await g.scsi(cdb.write10(98, 8), { dataOut: Buffer.alloc(8 * 512, 0x5a), outChunk: 1024 });
    assert.ok(w.dataStatuses.every((s) => s === Status.success));
    assert.equal(w.csw!.status, 1);
    assert.equal(w.csw!.residue, 8 * 512 - 1024, 'the first 1024 bytes were written');
    assert.deepEqual(await g.requestSense(), [0x3, 0x0c, 0x00]);
    // still alive: reads and a write below the limit work
    const r = await g.scsi(cdb.read10(98, 2), { dataIn: 1024 });
    assert.deepEqual(r.data, Buffer.alloc(1024, 0x5a));
    assert.equal((await g.scsi(cdb.write10(5, 1), { dataOut: Buffer.alloc(512, 1) })).csw!.status, 0);
    assert.equal(h.host.state, 'connected');
    assert.ok(h.traces.some((t) => t.kind === 'device' && t.event.kind === 'io-error'));
    assert.deepEqual(h.hostErrors, []);
    await h.host.close();
  });

  it('a full tmpfs (real ENOSPC) gives MEDIUM ERROR and nothing crashes', async (t) => {
    const mnt = join(tmp.dir, 'tiny');
    execFileSync('mkdir', ['-p', mnt]);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt], { stdio: 'pipe' });
    } catch {
      t.skip('cannot mount a tmpfs here');
      return;
    }
    try {
      const path = join(mnt, 'sparse.img');
      writeFileSync(path, Buffer.alloc(0));
      execFileSync('truncate', ['-s', '2M', path]);
      const h = await setup(path, {}, 13);
      const g = h.guest;
      await g.enumerate();
      const w = await g.scsi(cdb.write10(0, 1024), { dataOut: patternBytes(1024 * 512, 3), outChunk: 65536 });
      assert.equal(w.csw!.status, 1);
      assert.deepEqual(await g.requestSense(), [0x3, 0x0c, 0x00]);
      assert.equal((await g.scsi(cdb.tur())).csw!.status, 0);
      await h.host.close().catch(() => {});
    } finally {
      execFileSync('umount', [mnt]);
    }
  });

  it('a garbage CBW stalls both endpoints until reset recovery', async () => {
    const h = await setup(copyOf(fatA), {}, 17);
    const g = h.guest;
    await g.enumerate();
    const bad = await g.bulkOut(0x02, Buffer.from('this is not a command block wrapper'));
    assert.equal(bad.status, Status.stall);
    assert.equal((await g.bulkIn(0x81, 13)).status, Status.stall);
    assert.deepEqual([...(await g.control(0x82, 0, 0, 0x81, 2)).data], [1, 0], 'IN endpoint halted');
    // CLEAR_FEATURE alone is not enough: the device still wants a reset
    await g.control(0x02, 1, 0, 0x81, Buffer.alloc(0));
    assert.equal((await g.bulkIn(0x81, 13)).status, Status.stall);
    // valid signature but CB length 0
    assert.deepEqual(await g.resetRecovery(), [0, 0, 0]);
    const zeroCb = Buffer.alloc(31);
    zeroCb.writeUInt32LE(0x43425355, 0);
    assert.equal((await g.bulkOut(0x02, zeroCb)).status, Status.stall);
    assert.deepEqual(await g.resetRecovery(), [0, 0, 0]);
    assert.deepEqual([...(await g.control(0x82, 0, 0, 0x81, 2)).data], [0, 0]);
    const r = await g.scsi(cdb.tur());
    assert.equal(r.csw!.status, 0);
    assert.equal((await g.scsi(cdb.inquiry(), { dataIn: 36 })).data.length, 36);
    await h.host.close();
  });

  it('follows the BOT cases for host/device length disagreements', async () => {
    const path = copyOf(fatA);
    const img = readFileSync(path);
    const h = await setup(path, {}, 19);
    const g = h.guest;
    await g.enumerate();
    // Hi > Di: short packet, residue
    const inq = await g.scsi(cdb.inquiry(36), { dataIn: 100 });
    assert.deepEqual([inq.data.length, inq.csw!.status, inq.csw!.residue], [36, 0, 64]);
    // Hi > Di where the data exactly fills a request: zero-length packet, then the CSW
    const zlp = await g.scsi(cdb.read10(0, 1), { dataIn: 1024, inRequests: [512, 512] });
    assert.deepEqual(zlp.inLengths, [512, 0]);
    assert.deepEqual(zlp.data, img.subarray(0, 512));
    assert.deepEqual([zlp.csw!.status, zlp.csw!.residue], [0, 512]);
    // Hi > Dn: no data at all (TEST UNIT READY with an IN data phase)
    const tur = await g.scsi(cdb.tur(), { transferLength: 8, dirIn: true });
    assert.deepEqual([tur.inLengths[0], tur.csw!.status, tur.csw!.residue], [0, 0, 8]);
    // Hi < Di on a READ: phase error
    const pe = await g.scsi(cdb.read10(0, 2), { dataIn: 512 });
    assert.equal(pe.csw!.status, 2);
    // Hn < Do: WRITE without a data phase: phase error
    const pe2 = await g.scsi(cdb.write10(0, 1), { transferLength: 0 });
    assert.equal(pe2.csw!.status, 2);
    // Ho <> Di: READ with an OUT data phase: phase error after the data is consumed
    const pe3 = await g.scsi(cdb.read10(0, 1), { dataOut: Buffer.alloc(512) });
    assert.equal(pe3.csw!.status, 2);
    // hosts do reset recovery after a phase error; everything works again
    assert.deepEqual(await g.resetRecovery(), [0, 0, 0]);
    assert.equal((await g.scsi(cdb.tur())).csw!.status, 0);
    // Ho > Do: extra OUT data is consumed, residue reported
    const w = await g.scsi(cdb.write10(20, 1), { dataOut: Buffer.alloc(1024, 7) });
    assert.deepEqual([w.csw!.status, w.csw!.residue], [0, 512]);
    // REQUEST SENSE with a small allocation length
    const rs = await g.scsi([0x03, 0, 0, 0, 8, 0], { dataIn: 8 });
    assert.equal(rs.data.length, 8);
    // a LUN the device does not have
    const lun3 = await g.scsi(cdb.tur(), { lun: 3 });
    assert.equal(lun3.csw!.status, 1);
    const lun3inq = await g.scsi(cdb.inquiry(), { dataIn: 36, lun: 3 });
    assert.equal(lun3inq.data[0], 0x7f);
    await h.host.close();
  });

  it('cancels a queued bulk IN without losing its data, and survives a USB reset', async () => {
    const path = copyOf(fatA);
    const img = readFileSync(path);
    const h = await setup(path, {}, 23);
    const g = h.guest;
    await g.enumerate();
    // an IN request queued before any CBW, then cancelled: answered 'cancelled' at once
    const id = g.newId();
    const early = g.bulkIn(0x81, 512, id);
    g.cancel(id);
    const c = await early;
    assert.equal(c.status, Status.cancelled);
    assert.equal(c.data.length, 0);
    // cancelling something already answered is ignored
    g.cancel(id);
    const r = await g.scsi(cdb.read10(3, 1), { dataIn: 512 });
    assert.deepEqual(r.data, img.subarray(3 * 512, 4 * 512));
    assert.equal(r.csw!.status, 0);
    // a data IN already being served when the cancel arrives: answered 'cancelled' at once,
    // the late data is dropped; the guest then does reset recovery and carries on
    const { makeCbw } = await import('../../src/usb/emulated/bot.js');
    const cbwReply = await g.bulkOut(0x02, makeCbw({ tag: 99, dataLength: 512, dataIn: true, cdb: Buffer.from(cdb.read10(0, 1)) }));
    assert.equal(cbwReply.status, Status.success);
    const id2 = g.newId();
    const inflight = g.bulkIn(0x81, 512, id2);
    g.cancel(id2);
    const r2 = await inflight;
    assert.ok(r2.status === Status.cancelled || (r2.status === Status.success && r2.data.length === 512));
    assert.deepEqual(await g.resetRecovery(), [0, 0, 0]);
    assert.equal((await g.scsi(cdb.tur())).csw!.status, 0);
    // USB reset: no reply, unconfigured until SET_CONFIGURATION, BOT state reset
    const before = g.received.length;
    g.reset();
    await new Promise((res) => setTimeout(res, 20));
    assert.equal(g.received.length, before, 'reset has no reply');
    assert.equal(h.dev.configuration, 0);
    await g.enumerate();
    assert.equal((await g.scsi(cdb.tur())).csw!.status, 0);
    assert.ok(h.traces.some((t) => t.kind === 'reset'));
    await h.host.close();
  });

  it('detaches with device_disconnect + ack and flushes on close', async () => {
    const path = copyOf(fatA);
    const h = await setup(path, {}, 29);
    const g = h.guest;
    await g.enumerate();
    await g.scsi(cdb.write10(30, 1), { dataOut: Buffer.alloc(512, 0x42) });
    const events: string[] = [];
    h.host.on('disconnected', (d) => events.push(`${d.reason}${d.ackTimedOut ? ' timeout' : ''}`));
    await h.host.detach();
    assert.deepEqual(events, ['detach']);
    assert.equal(g.deviceConnect, null);
    assert.ok(h.traces.some((t) => t.kind === 'device-disconnect-ack'));
    assert.equal(h.host.state, 'ready');
    // requests after the detach fail cleanly
    const late = await g.bulkIn(0x81, 13);
    assert.equal(late.status, Status.ioerror);
    const syncs = h.dev.image.stats.syncs;
    await h.host.close();
    assert.equal(h.dev.image.stats.syncs, syncs + 1, 'fsync on close after a write');
    assert.equal(h.dev.image.isOpen, false);
  });
});
