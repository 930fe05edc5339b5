// USB Attached SCSI end to end: UsbredirHost + EmulatedMassStorage (alt setting 1, bulk streams)
// driven by the fake usb-guest the way Linux's uas driver and QEMU's xHCI do it: SET_INTERFACE 1,
// alloc_bulk_streams on the status and data pipes, then per command a status request, a data
// request (stream = tag) and the Command IU, several commands in flight at once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { openEmulatedCd, openEmulatedDisk, UAS_EP, type EmulatedMassStorage } from '../../src/usb/emulated/mass-storage.js';
import { IuId, makeCommandIu, makeTaskManagementIu, ResponseCode, TaskFunction } from '../../src/usb/emulated/uas.js';
import { parseConfigDescriptor, type UsbDeviceBackend } from '../../src/usb/backend.js';
import { epIndex, Status, type AltSettingStatusPacket, type BulkPacket, type BulkStreamsStatusPacket } from '../../src/usb/usbredir/proto.js';
import { cdb, harness, makeFatImage, makeIso, patternBytes, tempDir, tick, type FakeGuest, type Harness } from './fake-guest.js';

const FILE = patternBytes(200_000, 5);
let tmp: { dir: string; cleanup: () => void };
let fat: string;
let iso: string;
let n = 0;

before(() => {
  tmp = tempDir('spicectl-uas-');
  fat = join(tmp.dir, 'fat.img');
  makeFatImage(fat, 2048, { 'DATA.BIN': FILE });
  iso = join(tmp.dir, 'disc.iso');
  makeIso(iso, { 'data.bin': FILE });
});
after(() => tmp.cleanup());

function copyOf(src: string): string {
  const p = join(tmp.dir, `work-${++n}.img`);
  copyFileSync(src, p);
  return p;
}

/** Enumerated, configured, at alt setting 1 with 8 streams: what Linux's uas probe leaves. */
async function setupUas(dev: UsbDeviceBackend, seed = 1): Promise<Harness> {
  const h = await harness(dev, { seed });
  await h.guest.enumerate();
  const alt = await h.guest.request<AltSettingStatusPacket>({ type: 'setAltSetting', id: h.guest.newId(), interface: 0, alt: 1 });
  assert.equal(alt.status, Status.success);
  const mask = [UAS_EP.status, UAS_EP.dataIn, UAS_EP.dataOut].reduce((m, ep) => m | (1 << epIndex(ep)), 0);
  const st = await h.guest.request<BulkStreamsStatusPacket>({ type: 'allocBulkStreams', id: h.guest.newId(), endpoints: mask, noStreams: 8 });
  assert.equal(st.status, Status.success);
  return h;
}

interface UasResult {
  iu: Buffer;
  /** SCSI status byte (Sense IU) */
  status: number;
  sense: Buffer;
  data: Buffer;
  dataStatus: number | null;
}

const stream = (g: FakeGuest, endpoint: number, tag: number, lengthOrData: number | Buffer): Promise<BulkPacket> =>
  g.request<BulkPacket>({
    type: 'bulkPacket',
    id: g.newId(),
    endpoint,
    status: 0,
    length: typeof lengthOrData === 'number' ? lengthOrData : lengthOrData.length,
    streamId: tag,
    data: typeof lengthOrData === 'number' ? Buffer.alloc(0) : lengthOrData,
  });

/** One command the Linux way: status request, data request, then the Command IU, all at once. */
async function uasCommand(g: FakeGuest, tag: number, c: number[], o: { dataIn?: number; dataOut?: Buffer; commandFirst?: boolean; lun?: number } = {}): Promise<UasResult> {
  const sendCmd = () => g.bulkOut(UAS_EP.command, makeCommandIu({ tag, cdb: c, lun: o.lun }));
  const cmd = o.commandFirst ? sendCmd() : null;
  const status = stream(g, UAS_EP.status, tag, 112);
  const data = o.dataIn !== undefined ? stream(g, UAS_EP.dataIn, tag, o.dataIn) : o.dataOut ? stream(g, UAS_EP.dataOut, tag, o.dataOut) : null;
  const cmdReply = await (cmd ?? sendCmd());
  assert.equal(cmdReply.status, Status.success);
  const [st, d] = await Promise.all([status, data]);
  assert.equal(st.status, Status.success);
  const iu = st.data;
  return {
    iu,
    status: iu[6]!,
    sense: iu.subarray(16, 16 + iu.readUInt16BE(14)),
    data: d?.data ?? Buffer.alloc(0),
    dataStatus: d ? d.status : null,
  };
}

const senseTriple = (s: Buffer): [number, number, number] => [s[2]! & 0x0f, s[12]!, s[13]!];

describe('UAS (USB Attached SCSI) over bulk streams', () => {
  it('offers alt setting 1 (08/06/62) with four pipes and 8 streams at SuperSpeed only', async () => {
    const dev = await openEmulatedDisk(copyOf(fat));
    const cfg = parseConfigDescriptor(dev.configDescriptor(0)!);
    const alt1 = cfg.interfaces.find((i) => i.altSetting === 1)!;
    assert.deepEqual([alt1.class, alt1.subclass, alt1.protocol], [8, 6, 0x62]);
    assert.deepEqual(alt1.endpoints.map((e) => [e.address, e.maxStreams]), [[0x04, 0], [0x83, 8], [0x81, 8], [0x02, 8]]);
    // each endpoint: companion, then a pipe usage descriptor with pipe ids 1..4 in that order
    const raw = dev.configDescriptor(0)!;
    const pipes: number[] = [];
    for (let off = 0; off < raw.length; off += raw[off]!) if (raw[off + 1] === 0x24) pipes.push(raw[off + 2]!);
    assert.deepEqual(pipes, [1, 2, 3, 4]);
    await dev.close();

    const high = await openEmulatedDisk(copyOf(fat), { speed: 'high' });
    assert.equal(parseConfigDescriptor(high.configDescriptor(0)!).interfaces.length, 1);
    assert.equal(await high.setAltSetting(0, 1), 'stall');
    await high.close();
    const off = await openEmulatedDisk(copyOf(fat), { uas: false });
    assert.equal(parseConfigDescriptor(off.configDescriptor(0)!).interfaces.length, 1);
    assert.equal(await off.setAltSetting(0, 1), 'stall');
    await off.close();
  });

  it('switches to UAS: new ep_info with streams, commands with data and sense in the status', async () => {
    const dev = await openEmulatedDisk(copyOf(fat));
    const h = await setupUas(dev);
    const g = h.guest;
    const eps = g.epInfo!.endpoints;
    assert.deepEqual([eps[epIndex(0x83)]!.type, eps[epIndex(0x83)]!.maxStreams], [2, 8]);
    assert.deepEqual([eps[epIndex(0x04)]!.type, eps[epIndex(0x04)]!.maxStreams], [2, 0]);
    assert.equal(g.interfaceInfo!.interfaces[0]!.protocol, 0x62);
    assert.equal(dev.transport, 'uas');

    const inq = await uasCommand(g, 1, cdb.inquiry(36), { dataIn: 36 });
    assert.equal(inq.iu[0], IuId.sense);
    assert.equal(inq.iu.readUInt16BE(2), 1);
    assert.equal(inq.status, 0);
    assert.equal(inq.data[0], 0x00);
    assert.equal(inq.data.length, 36);
    const cap = await uasCommand(g, 2, cdb.readCapacity10(), { dataIn: 8 });
    assert.equal(cap.data.readUInt32BE(4), 512);
    const blocks = cap.data.readUInt32BE(0) + 1;
    // a failed command: the sense comes in the Sense IU, and the waiting data request ends empty
    const bad = await uasCommand(g, 3, cdb.read10(blocks + 10, 1), { dataIn: 512 });
    assert.equal(bad.status, 0x02);
    assert.deepEqual(senseTriple(bad.sense), [0x5, 0x21, 0x00]);
    assert.equal(bad.data.length, 0);
    // an unknown LUN
    const lun1 = await uasCommand(g, 3, cdb.tur(), { lun: 1 });
    assert.equal(lun1.status, 0x02);
    assert.deepEqual(senseTriple(lun1.sense), [0x5, 0x25, 0x00]);
    assert.deepEqual(h.hostErrors, []);
    await h.host.close();
  });

  it('runs commands concurrently on different tags and in either arrival order', async () => {
    const path = copyOf(iso);
    const isoBytes = readFileSync(path);
    const dev = await openEmulatedCd(path);
    const h = await setupUas(dev, 3);
    const g = h.guest;
    assert.equal((await uasCommand(g, 1, cdb.tur())).status, 0);
    const reads = [16, 17, 18, 19, 20, 24, 32, 40].map((lba, i) => uasCommand(g, i + 1, cdb.read10(lba, 2), { dataIn: 4096, commandFirst: i % 2 === 1 }).then((r) => ({ lba, r })));
    for (const { lba, r } of await Promise.all(reads)) {
      assert.equal(r.status, 0);
      assert.ok(r.data.equals(isoBytes.subarray(lba * 2048, (lba + 2) * 2048)), `LBA ${lba}`);
    }
    // a tag that is still busy (its READ waits for a data request): Response IU "overlapped tag"
    // on that stream; the first command still completes afterwards
    const status8 = stream(g, UAS_EP.status, 8, 112);
    await g.bulkOut(UAS_EP.command, makeCommandIu({ tag: 8, cdb: cdb.read10(16, 1) }));
    await g.bulkOut(UAS_EP.command, makeCommandIu({ tag: 8, cdb: cdb.tur() }));
    const overlapped = await status8;
    assert.equal(overlapped.status, Status.success, `status ${overlapped.status} len ${overlapped.length}`);
    assert.deepEqual([overlapped.data[0], overlapped.data[7]], [IuId.response, ResponseCode.overlappedTag]);
    const [first, firstData] = await Promise.all([stream(g, UAS_EP.status, 8, 112), stream(g, UAS_EP.dataIn, 8, 2048)]);
    assert.ok(firstData.data.equals(isoBytes.subarray(16 * 2048, 17 * 2048)));
    assert.deepEqual([first.data[0], first.data[6]], [IuId.sense, 0]);
    assert.deepEqual(h.hostErrors, []);
    await h.host.close();
  });

  it('writes data that arrives before its Command IU, and reads it back', async () => {
    const path = copyOf(fat);
    const dev = await openEmulatedDisk(path);
    const h = await setupUas(dev, 5);
    const g = h.guest;
    const payload = patternBytes(8 * 512, 99);
    const w = await uasCommand(g, 4, cdb.write10(100, 8), { dataOut: payload });
    assert.equal(w.status, 0);
    assert.equal(w.dataStatus, Status.success);
    const r = await uasCommand(g, 5, cdb.read10(100, 8), { dataIn: 8 * 512, commandFirst: true });
    assert.ok(r.data.equals(payload));
    await uasCommand(g, 6, cdb.syncCache());
    await h.host.close();
    assert.ok(readFileSync(path).subarray(100 * 512, 108 * 512).equals(payload));
  });

  it('answers task management, bad IUs and stream 0 without hanging the guest', async () => {
    const dev = await openEmulatedDisk(copyOf(fat));
    const h = await setupUas(dev, 7);
    const g = h.guest;
    // READ whose data request never comes: ABORT TASK ends it, its status request is not answered
    const status2 = stream(g, UAS_EP.status, 2, 112);
    await g.bulkOut(UAS_EP.command, makeCommandIu({ tag: 2, cdb: cdb.read10(0, 1) }));
    await tick(5);
    const tmfStatus = stream(g, UAS_EP.status, 7, 112);
    await g.bulkOut(UAS_EP.command, makeTaskManagementIu({ tag: 7, fn: TaskFunction.abortTask, taskTag: 2 }));
    const tmf = await tmfStatus;
    assert.deepEqual([tmf.data[0], tmf.data.readUInt16BE(2), tmf.data[7]], [IuId.response, 7, ResponseCode.complete]);
    assert.deepEqual(dev.uas!.activeTags, []);
    // the tag is free again; the status request still waiting on stream 2 serves it
    const again = stream(g, UAS_EP.dataIn, 2, 512);
    await g.bulkOut(UAS_EP.command, makeCommandIu({ tag: 2, cdb: cdb.read10(0, 1) }));
    const [st2, d2] = await Promise.all([status2, again]);
    assert.equal(st2.data[6], 0);
    assert.equal(d2.data.length, 512);
    // an IU this device does not know
    const badStatus = stream(g, UAS_EP.status, 3, 112);
    const bad = Buffer.alloc(16);
    bad[0] = 0x33;
    bad.writeUInt16BE(3, 2);
    await g.bulkOut(UAS_EP.command, bad);
    assert.equal((await badStatus).data[7], ResponseCode.invalidIu);
    // unsupported task management function
    const qs = stream(g, UAS_EP.status, 4, 112);
    await g.bulkOut(UAS_EP.command, makeTaskManagementIu({ tag: 4, fn: 0x40 }));
    assert.equal((await qs).data[7], ResponseCode.notSupported);
    // stream 0 on a streamed pipe is a protocol error
    assert.equal((await stream(g, UAS_EP.status, 0, 112)).status, Status.stall);
    // a reset returns to Bulk-Only at alt setting 0
    g.reset();
    await tick(20);
    assert.equal(dev.transport, 'bot');
    assert.deepEqual(h.hostErrors, []);
    await h.host.close();
  });

  it("answers a command's status in the same turn as the command itself", async () => {
    // The host writes what is answered in one turn as one message: a TEST UNIT READY's Sense IU
    // must be ready when its Command IU is accepted, not a few promise hops later.
    const dev = await openEmulatedCd(iso);
    await dev.setConfiguration(1);
    await dev.setAltSetting(0, 1);
    await dev.allocStreams([UAS_EP.status, UAS_EP.dataIn, UAS_EP.dataOut], 8);
    let statusAt = -1;
    let step = 0;
    const status = dev.bulk(UAS_EP.status, 64, { streamId: 1 }).then((r) => ((statusAt = step), r));
    const command = await dev.bulk(UAS_EP.command, makeCommandIu({ tag: 1, cdb: cdb.tur() }));
    step = 1;
    assert.equal(command.status, 'success');
    assert.equal(statusAt, 0, 'the Sense IU was answered before the command completion was handled');
    const r = await status;
    assert.equal(r.status, 'success');
    assert.equal(r.data![0], IuId.sense);
    await dev.close();
  });

  it('cancels a queued request when the guest cancels it', async () => {
    const dev = await openEmulatedDisk(copyOf(fat));
    const h = await setupUas(dev, 9);
    const g = h.guest;
    const id = g.newId();
    const p = g.request<BulkPacket>({ type: 'bulkPacket', id, endpoint: UAS_EP.status, status: 0, length: 112, streamId: 5, data: Buffer.alloc(0) });
    await tick(5);
    g.cancel(id);
    assert.equal((await p).status, Status.cancelled);
    // the stream still works
    const r = await uasCommand(g, 5, cdb.tur());
    assert.equal(r.status, 0);
    await h.host.close();
  });
});
