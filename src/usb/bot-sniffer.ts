// Reads the Bulk-Only Transport traffic of a real mass-storage device as it passes through the
// host (CBWs out, CSWs in) and reports the same scsi-command / scsi-status trace events as the
// emulated devices report about themselves, so `bench recognition --device` gets the same SCSI
// timeline and histogram. It only watches: nothing is changed, delayed or held back.
//
// A CBW is a 31-byte OUT transfer signed "USBC"; its CSW a 13-byte IN transfer signed "USBS"
// with the same tag. Sense data is not followed (it comes in a later REQUEST SENSE), so failed
// commands carry no sense code.
import type { DeviceTraceEvent } from './backend.js';
import { CBW_LENGTH, CSW_LENGTH, CSW_SIGNATURE, parseCbw, scsiCommandEvent } from './emulated/bot.js';

export class BotSniffer {
  /** Commands seen and not yet answered, by tag: their opcode and LUN for the status event. */
  private readonly open = new Map<number, { opcode: number; lun: number }>();

  constructor(private readonly emit: (ev: DeviceTraceEvent) => void) {}

  /** Data the guest sent to a bulk OUT endpoint. */
  out(data: Buffer): void {
    if (data.length !== CBW_LENGTH) return;
    const cbw = parseCbw(data);
    if (typeof cbw === 'string') return; // write data that happens to be 31 bytes long
    // A guest reuses tags; keep the map small if CSWs never come (device gone, reset).
    if (this.open.size > 256) this.open.clear();
    this.open.set(cbw.tag, { opcode: cbw.cdb[0]!, lun: cbw.lun });
    this.emit(scsiCommandEvent(cbw));
  }

  /** Data a bulk IN endpoint returned to the guest. */
  in(data: Buffer): void {
    if (data.length !== CSW_LENGTH || data.readUInt32LE(0) !== CSW_SIGNATURE) return;
    const tag = data.readUInt32LE(4);
    const cmd = this.open.get(tag);
    if (!cmd) return; // a 13-byte read of data that looks like a CSW, or one we did not see start
    this.open.delete(tag);
    this.emit({ kind: 'scsi-status', lun: cmd.lun, tag, opcode: cmd.opcode, status: data[12]!, residue: data.readUInt32LE(8) });
  }

  /** A USB reset or an unplug: open commands will not be answered. */
  reset(): void {
    this.open.clear();
  }
}
