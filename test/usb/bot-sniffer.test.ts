// A real mass-storage device says nothing about its SCSI commands; the host reads them from the
// Bulk-Only traffic instead. Checked against the emulated devices' own account of the same run.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { BotSniffer } from '../../src/usb/bot-sniffer.js';
import type { DeviceTraceEvent, UsbDeviceBackend } from '../../src/usb/backend.js';
import { makeCbw, CSW_SIGNATURE } from '../../src/usb/emulated/bot.js';
import { openEmulatedDisk } from '../../src/usb/emulated/mass-storage.js';
import { RecognitionRecorder, type RecognitionReport } from '../../src/usb/recognition.js';
import { cdb, harness, makeFatImage, tempDir } from './fake-guest.js';

function csw(tag: number, status: number, residue = 0): Buffer {
  const b = Buffer.alloc(13);
  b.writeUInt32LE(CSW_SIGNATURE, 0);
  b.writeUInt32LE(tag, 4);
  b.writeUInt32LE(residue, 8);
  b[12] = status;
  return b;
}

describe('BotSniffer', () => {
  it('pairs CBWs and CSWs by tag; names, LBAs and statuses as the emulated devices report them', () => {
    const seen: DeviceTraceEvent[] = [];
    const s = new BotSniffer((e) => seen.push(e));
    s.out(makeCbw({ tag: 7, dataLength: 4096, dataIn: true, cdb: [0x28, 0, 0, 0, 0, 0x10, 0, 0, 2, 0] }));
    s.in(Buffer.alloc(4096)); // the data: not a CSW
    s.in(csw(7, 0));
    s.out(makeCbw({ tag: 8, dataLength: 0, dataIn: false, cdb: [0x00, 0, 0, 0, 0, 0] }));
    s.in(csw(8, 1));
    assert.deepEqual(seen.map((e) => e.kind), ['scsi-command', 'scsi-status', 'scsi-command', 'scsi-status']);
    const read = seen[0] as Extract<DeviceTraceEvent, { kind: 'scsi-command' }>;
    assert.deepEqual([read.name, read.lba, read.blocks, read.dataLength, read.dataIn], ['READ(10)', 16, 2, 4096, true]);
    assert.deepEqual(seen[3], { kind: 'scsi-status', lun: 0, tag: 8, opcode: 0, status: 1, residue: 0 });
  });

  it('ignores what only looks like BOT: 31 bytes of write data, a 13-byte read, an unknown tag; a reset forgets open commands', () => {
    const seen: DeviceTraceEvent[] = [];
    const s = new BotSniffer((e) => seen.push(e));
    s.out(Buffer.alloc(31, 0x55));
    s.in(csw(99, 0)); // never started
    s.in(Buffer.alloc(13));
    s.out(makeCbw({ tag: 1, dataLength: 0, dataIn: false, cdb: [0x00, 0, 0, 0, 0, 0] }));
    s.reset();
    s.in(csw(1, 0));
    assert.deepEqual(seen.map((e) => e.kind), ['scsi-command']);
  });
});

describe('the host reads a pass-through device\'s SCSI traffic', () => {
  let tmp: { dir: string; cleanup: () => void };
  let img: string;
  before(() => {
    tmp = tempDir();
    img = join(tmp.dir, 'stick.img');
    makeFatImage(img, 4096, { 'A.TXT': Buffer.from('sniffed\n') });
  });
  after(() => tmp.cleanup());

  /** The same guest session against the emulated stick, with or without its own trace. */
  async function recognise(hideOwnTrace: boolean, n: number): Promise<RecognitionReport> {
    const path = join(tmp.dir, `copy-${n}.img`);
    copyFileSync(img, path);
    const disk = await openEmulatedDisk(path);
    // As a libusb device looks to the host: no setTraceSink.
    const device: UsbDeviceBackend = hideOwnTrace
      ? new Proxy(disk, { get: (t, k) => (k === 'setTraceSink' ? undefined : Reflect.get(t, k, t)) as unknown })
      : disk;
    const rec = new RecognitionRecorder();
    const h = await harness(device, { seed: 5, host: { onTrace: rec.record } });
    const g = h.guest;
    await g.enumerate();
    await g.scsi(cdb.inquiry(36), { dataIn: 36 });
    await g.scsi(cdb.tur());
    await g.scsi(cdb.readCapacity10(), { dataIn: 8 });
    await g.scsi(cdb.read10(0, 8), { dataIn: 4096 });
    await g.scsi([0xff, 0, 0, 0, 0, 0]); // unknown opcode: CHECK CONDITION
    await h.host.close();
    return rec.report();
  }

  it('gives the same commands, histogram, failures and timeline points as the device\'s own trace', async () => {
    const own = await recognise(false, 1);
    const sniffed = await recognise(true, 2);
    assert.equal(sniffed.scsiCommands, 5);
    assert.deepEqual(sniffed.opcodes, own.opcodes);
    assert.equal(sniffed.scsiCommands, own.scsiCommands);
    assert.equal(sniffed.scsiFailures, 1);
    assert.equal(own.scsiFailures, 1);
    for (const k of ['firstScsiCommand', 'readCapacity', 'firstReadLba0', 'lastCommand'] as const) {
      assert.notEqual(sniffed[k], null, k);
    }
    // only the emulated device knows the sense of its failure
    assert.deepEqual(Object.keys(own.senses), ['5/20/00']);
    assert.deepEqual(sniffed.senses, {});
  });
});
