// The recognition timeline of one benchmark run: named points in ms from the run's t0 (before
// the TCP connect of a fresh session; in hot-plug mode the plug), what they mean, their
// expected order, and the idle detector that decides when the device has "settled". Pure: no
// sockets, no timers.

import type { RecognitionReport } from '../usb/recognition.js';

export type PointKey =
  | 'mainInit'
  | 'channelsListed'
  | 'usbredirUp'
  | 'helloReceived'
  | 'deviceConnectSent'
  | 'firstControl'
  | 'setConfiguration'
  | 'firstScsiCommand'
  | 'readCapacity'
  | 'firstRead'
  | 'firstReadLba0'
  | 'settled';

export interface PointDef {
  key: PointKey;
  label: string;
  /** part of the causal chain: each such point is at or after the previous one */
  ordered: boolean;
}

/** Every point, in the order a table shows them. */
export const POINTS: readonly PointDef[] = [
  { key: 'mainInit', label: 'main channel up (MAIN_INIT)', ordered: true },
  { key: 'channelsListed', label: 'channel list received', ordered: false },
  { key: 'usbredirUp', label: 'usbredir channel up', ordered: true },
  { key: 'helloReceived', label: 'usbredir hello received', ordered: true },
  { key: 'deviceConnectSent', label: 'device_connect sent', ordered: true },
  { key: 'firstControl', label: 'first control request', ordered: true },
  { key: 'setConfiguration', label: 'SET_CONFIGURATION', ordered: true },
  { key: 'firstScsiCommand', label: 'first SCSI command', ordered: true },
  { key: 'readCapacity', label: 'READ CAPACITY', ordered: true },
  // A CD's file system starts at LBA 16 and Linux does not scan CDs for partitions, so a
  // guest may never read LBA 0 of a CD: the first READ of any block is the point for those.
  { key: 'firstRead', label: 'first READ (any LBA)', ordered: true },
  { key: 'firstReadLba0', label: 'first READ of LBA 0', ordered: true },
  { key: 'settled', label: 'settled (last command)', ordered: true },
];

/** Points that only a SCSI (mass-storage) device produces. */
export const SCSI_POINTS: ReadonlySet<PointKey> = new Set(['firstScsiCommand', 'readCapacity', 'firstRead', 'firstReadLba0']);

export type Timeline = Record<PointKey, number | null>;

export function emptyTimeline(): Timeline {
  return Object.fromEntries(POINTS.map((p) => [p.key, null])) as Timeline;
}

/**
 * Fills the device points from a RecognitionRecorder report whose startedAt is the run's t0
 * (`base` holds the session points and firstRead).
 */
export function timelineFromRecognition(base: Timeline, r: RecognitionReport, settled: number | null): Timeline {
  return {
    ...base,
    helloReceived: r.helloReceived,
    deviceConnectSent: r.deviceConnectSent,
    firstControl: r.firstControl,
    setConfiguration: r.setConfiguration,
    firstScsiCommand: r.firstScsiCommand,
    readCapacity: r.readCapacity,
    firstReadLba0: r.firstReadLba0,
    settled,
  };
}

/**
 * Problems with a timeline: ordered points that are missing (from `required`) or earlier than
 * an ordered point before them. Empty = complete and in order.
 */
export function checkTimeline(t: Timeline, required: readonly PointKey[] = POINTS.filter((p) => p.ordered).map((p) => p.key)): string[] {
  const problems: string[] = [];
  for (const k of required) if (t[k] === null) problems.push(`${k} missing`);
  let prev: { key: PointKey; t: number } | null = null;
  for (const p of POINTS) {
    if (!p.ordered) continue;
    const v = t[p.key];
    if (v === null) continue;
    if (prev && v < prev.t) problems.push(`${p.key} (${v.toFixed(1)} ms) before ${prev.key} (${prev.t.toFixed(1)} ms)`);
    prev = { key: p.key, t: v };
  }
  return problems;
}

/**
 * Decides when a device has settled: it is armed by the first SCSI command (or by
 * SET_CONFIGURATION for devices without a SCSI trace, so usb-storage's delay_use pause before
 * the first command is not mistaken for idleness); after that every SCSI command and its
 * completion is activity (for devices without a SCSI trace: every transfer), and so is the
 * time its bytes spend on a limited link; the device has settled once it has been idle
 * `settleMs`. `settledAt` is the last activity before that idle period: the idle wait itself
 * is not counted.
 */
export class SettleDetector {
  private armed = false;
  private last: number | null = null;

  constructor(readonly settleMs: number, private readonly armOn: 'scsi' | 'configured' = 'scsi') {}

  /**
   * Activity at time t (ms since t0). `kind` says what it was: 'link' = the device's bytes were
   * still crossing a (limited) link at t; it never arms the detector, but once armed it counts,
   * so a slow link's last data phase is part of the recognition and not mistaken for idleness.
   */
  activity(t: number, kind: 'scsi' | 'configured' | 'transfer' | 'link'): void {
    if (kind !== 'link') {
      // A SCSI device's commands are its activity (their bulk transfers are part of them).
      if (this.armOn === 'scsi' && kind !== 'scsi') return;
      if (!this.armed && (kind === 'scsi' || kind === 'configured')) this.armed = true;
    }
    if (this.armed && (this.last === null || t > this.last)) this.last = t;
  }

  get isArmed(): boolean {
    return this.armed;
  }

  /** Time of the last activity (null before arming). */
  get lastActivity(): number | null {
    return this.last;
  }

  /** ms still to wait at time `now` before the device counts as settled (0 = settled; null = not armed). */
  remaining(now: number): number | null {
    if (this.last === null) return null;
    return Math.max(0, this.last + this.settleMs - now);
  }

  /** The settled time at `now`, or null while the device is not (yet) idle long enough. */
  settledAt(now: number): number | null {
    return this.remaining(now) === 0 ? this.last : null;
  }
}
