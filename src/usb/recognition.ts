// A device's recognition timeline, as seen in its usbredir traffic: when the hellos went
// by, when we plugged the device, when the guest started enumerating it, configured it, sent
// its first SCSI command, asked the capacity, read LBA 0, and what it asked for (an opcode
// histogram). Fed from UsbredirHost's onTrace; used by `bench` and the TUI.
//
//   const rec = new RecognitionRecorder();
//   const host = new UsbredirHost({ ..., onTrace: rec.record });
//   ... later: rec.report()  (times in ms since rec.startedAt, or null when not seen)

import { performance } from 'node:perf_hooks';
import type { UsbTraceEvent } from './host.js';
import { Opcode, opcodeName } from './emulated/scsi.js';

export interface RecognitionReport {
  /** Clock value all other times are relative to (the recorder's creation or reset). */
  startedAt: number;
  helloReceived: number | null;
  deviceConnectSent: number | null;
  firstControl: number | null;
  setConfiguration: number | null;
  firstScsiCommand: number | null;
  readCapacity: number | null;
  firstReadLba0: number | null;
  lastCommand: number | null;
  /** SCSI commands by name ("READ(10)": 12), in first-seen order. */
  opcodes: Record<string, number>;
  scsiCommands: number;
  /** Commands that ended with CHECK CONDITION (or phase error). */
  scsiFailures: number;
  /** Sense codes of failed commands ("5/20/00": 2). */
  senses: Record<string, number>;
  controlRequests: number;
  bulkInBytes: number;
  bulkOutBytes: number;
  resets: number;
  botResets: number;
  rejected: string | null;
}

const READS: ReadonlySet<number> = new Set([Opcode.read6, Opcode.read10, Opcode.read12, Opcode.read16, Opcode.readCd]);

export class RecognitionRecorder {
  private r: RecognitionReport;
  private readonly clock: () => number;

  constructor(clock: () => number = () => performance.now()) {
    this.clock = clock;
    this.r = RecognitionRecorder.empty(clock());
  }

  private static empty(startedAt: number): RecognitionReport {
    return {
      startedAt,
      helloReceived: null,
      deviceConnectSent: null,
      firstControl: null,
      setConfiguration: null,
      firstScsiCommand: null,
      readCapacity: null,
      firstReadLba0: null,
      lastCommand: null,
      opcodes: {},
      scsiCommands: 0,
      scsiFailures: 0,
      senses: {},
      controlRequests: 0,
      bulkInBytes: 0,
      bulkOutBytes: 0,
      resets: 0,
      botResets: 0,
      rejected: null,
    };
  }

  /** Start over (e.g. before re-plugging the device). */
  reset(): void {
    this.r = RecognitionRecorder.empty(this.clock());
  }

  /** The trace listener (bound: pass it as onTrace directly). */
  readonly record = (ev: UsbTraceEvent): void => {
    const r = this.r;
    const t = ev.t - r.startedAt;
    const first = (k: 'helloReceived' | 'deviceConnectSent' | 'firstControl' | 'setConfiguration' | 'firstScsiCommand' | 'readCapacity' | 'firstReadLba0'): void => {
      if (r[k] === null) r[k] = t;
    };
    switch (ev.kind) {
      case 'hello-received':
        first('helloReceived');
        break;
      case 'device-connect-sent':
        first('deviceConnectSent');
        break;
      case 'control':
        r.controlRequests++;
        first('firstControl');
        break;
      case 'set-configuration':
        if (ev.status === 'success' && ev.configuration !== 0) first('setConfiguration');
        break;
      case 'bulk':
        if (ev.endpoint & 0x80) r.bulkInBytes += ev.length;
        else r.bulkOutBytes += ev.length;
        break;
      case 'reset':
        r.resets++;
        break;
      case 'rejected':
        r.rejected = ev.reason;
        break;
      case 'device': {
        const d = ev.event;
        if (d.kind === 'scsi-command') {
          first('firstScsiCommand');
          r.scsiCommands++;
          r.lastCommand = t;
          const name = d.name || opcodeName(d.opcode);
          r.opcodes[name] = (r.opcodes[name] ?? 0) + 1;
          if (d.opcode === Opcode.readCapacity10 || name === 'READ CAPACITY(16)') first('readCapacity');
          if (READS.has(d.opcode) && d.lba === 0 && (d.blocks ?? 0) > 0) first('firstReadLba0');
        } else if (d.kind === 'scsi-status') {
          r.lastCommand = t;
          if (d.status !== 0) {
            r.scsiFailures++;
            if (d.sense) r.senses[d.sense] = (r.senses[d.sense] ?? 0) + 1;
          }
        } else if (d.kind === 'bot-reset') {
          r.botResets++;
        }
        break;
      }
      default:
        break;
    }
  };

  /** A snapshot (a copy; safe to keep). */
  report(): RecognitionReport {
    return { ...this.r, opcodes: { ...this.r.opcodes }, senses: { ...this.r.senses } };
  }
}

/** Human lines: "device_connect sent      +12.3 ms" ..., then the opcode histogram. */
export function formatRecognition(r: RecognitionReport): string[] {
  const ms = (v: number | null): string => (v === null ? '—' : `+${v.toFixed(1)} ms`);
  const lines = [
    `hello received           ${ms(r.helloReceived)}`,
    `device_connect sent      ${ms(r.deviceConnectSent)}`,
    `first control request    ${ms(r.firstControl)}`,
    `SET_CONFIGURATION        ${ms(r.setConfiguration)}`,
    `first SCSI command       ${ms(r.firstScsiCommand)}`,
    `READ CAPACITY            ${ms(r.readCapacity)}`,
    `first READ of LBA 0      ${ms(r.firstReadLba0)}`,
    `last SCSI command        ${ms(r.lastCommand)}`,
    `SCSI commands ${r.scsiCommands} (${r.scsiFailures} failed), control requests ${r.controlRequests}, bulk in ${r.bulkInBytes} B, out ${r.bulkOutBytes} B`,
  ];
  for (const [name, n] of Object.entries(r.opcodes)) lines.push(`  ${name.padEnd(32)} ${n}`);
  if (r.rejected) lines.push(`rejected: ${r.rejected}`);
  return lines;
}
