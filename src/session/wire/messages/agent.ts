// The VD agent protocol carried in main-channel AGENT_DATA messages (digest §3.4, spice/vd_agent.h).
// Pure codecs: whole VDAgentMessages <-> AGENT_DATA chunks, and each message's data layout.
import { ProtocolError } from '../../../util/errors.js';
import { Reader } from '../reader.js';
import { Writer } from '../writer.js';

export const AGENT_PROTOCOL = 1;
/** The largest AGENT_DATA body a client may send (VD_AGENT_MAX_DATA_SIZE); more gets it disconnected. */
export const AGENT_MAX_DATA_SIZE = 2048;
export const AGENT_HEADER_SIZE = 20;

export const AgentMsg = {
  mouseState: 1, monitorsConfig: 2, reply: 3, clipboard: 4, displayConfig: 5, announceCapabilities: 6,
  clipboardGrab: 7, clipboardRequest: 8, clipboardRelease: 9, fileXferStart: 10, fileXferStatus: 11,
  fileXferData: 12, clientDisconnected: 13, maxClipboard: 14, audioVolumeSync: 15, graphicsDeviceInfo: 16,
} as const;

export function agentMsgName(type: number): string {
  for (const [name, t] of Object.entries(AgentMsg)) if (t === type) return name;
  return `type${type}`;
}

/** Agent capability bits (VD_AGENT_CAP_*). */
export const AgentCap = {
  mouseState: 0, monitorsConfig: 1, reply: 2, clipboard: 3, displayConfig: 4, clipboardByDemand: 5,
  clipboardSelection: 6, sparseMonitorsConfig: 7, guestLineendLf: 8, guestLineendCrlf: 9, maxClipboard: 10,
  audioVolumeSync: 11, monitorsConfigPosition: 12, fileXferDisabled: 13, fileXferDetailedErrors: 14,
  graphicsDeviceInfo: 15, clipboardNoReleaseOnRegrab: 16, clipboardGrabSerial: 17,
} as const;

export const ClipboardType = { none: 0, utf8Text: 1, imagePng: 2, imageBmp: 3, imageTiff: 4, imageJpg: 5, fileList: 6 } as const;
export const CLIPBOARD_TYPE_NAMES: Record<number, string> = {
  0: 'none', 1: 'text', 2: 'png', 3: 'bmp', 4: 'tiff', 5: 'jpeg', 6: 'file-list',
};
export const Selection = { clipboard: 0, primary: 1, secondary: 2 } as const;

export const AgentReplyError = { success: 1, error: 2 } as const;
export const MonitorsFlag = { usePos: 1, physicalSize: 2 } as const;

export const FileXferStatus = {
  canSendData: 0, cancelled: 1, error: 2, success: 3, notEnoughSpace: 4, sessionLocked: 5, vdagentNotConnected: 6, disabled: 7,
} as const;

// ---------------------------------------------------------------------------------------------
// VDAgentMessage header: u32 protocol (=1), u32 type, u64 opaque (=0), u32 size, then size bytes.

export interface AgentMessage {
  type: number;
  data: Buffer;
  /** the declared data size; with `dropped` the data was over the limit and skipped (data is empty) */
  size: number;
  dropped?: boolean;
}

export function encodeAgentMessage(type: number, data: Uint8Array = Buffer.alloc(0)): Buffer {
  return new Writer(AGENT_HEADER_SIZE + data.length).u32(AGENT_PROTOCOL).u32(type).u64(0n).u32(data.length).bytes(data).finish();
}

/**
 * Splits one whole VDAgentMessage into AGENT_DATA bodies of at most 2048 bytes. The first
 * holds the 20-byte header and the first 2028 data bytes; none reaches into another message
 * (the server's agent-msg-filter disconnects clients that break either rule).
 */
export function chunkAgentMessage(message: Buffer, max = AGENT_MAX_DATA_SIZE): Buffer[] {
  if (message.length < AGENT_HEADER_SIZE) throw new RangeError('not a VDAgentMessage');
  const out: Buffer[] = [];
  for (let i = 0; i < message.length; i += max) out.push(message.subarray(i, Math.min(message.length, i + max)));
  return out;
}

/**
 * Reassembles the server->client agent stream: AGENT_DATA bodies in, whole messages out. A
 * message may span several AGENT_DATA messages and one may hold several messages. Sizes are
 * checked against a limit before anything is allocated.
 */
export class AgentReassembler {
  private header = Buffer.alloc(AGENT_HEADER_SIZE);
  private headerFill = 0;
  private type = 0;
  private body: Buffer | null = null;
  private bodyFill = 0;
  /** bytes of an over-limit message still to skip */
  private skip = 0;

  private skipped = 0;

  /** maxSize(type) = the largest data size kept for that message type; bigger ones are skipped */
  constructor(private readonly maxSize: (type: number) => number) {}

  /** True when no partial message is pending. */
  get idle(): boolean {
    return this.headerFill === 0 && this.body === null && this.skip === 0;
  }

  reset(): void {
    this.headerFill = 0;
    this.body = null;
    this.bodyFill = 0;
    this.skip = 0;
  }

  feed(chunk: Buffer): AgentMessage[] {
    const out: AgentMessage[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - pos);
        this.skip -= n;
        pos += n;
        if (this.skip === 0) out.push({ type: this.type, data: Buffer.alloc(0), size: this.skipped, dropped: true });
        continue;
      }
      if (this.body === null) {
        const n = Math.min(AGENT_HEADER_SIZE - this.headerFill, chunk.length - pos);
        chunk.copy(this.header, this.headerFill, pos, pos + n);
        this.headerFill += n;
        pos += n;
        if (this.headerFill < AGENT_HEADER_SIZE) break;
        const protocol = this.header.readUInt32LE(0);
        const type = this.header.readUInt32LE(4);
        const size = this.header.readUInt32LE(16);
        this.headerFill = 0;
        if (protocol !== AGENT_PROTOCOL) {
          this.reset();
          throw new ProtocolError(`agent message with protocol ${protocol} (expected ${AGENT_PROTOCOL}): the agent stream is out of step`);
        }
        this.type = type;
        // Too big: skip its bytes without keeping them (the stream stays in step) and report it.
        if (size > this.maxSize(type)) {
          this.skip = this.skipped = size;
          continue;
        }
        if (size === 0) {
          out.push({ type, data: Buffer.alloc(0), size: 0 });
          continue;
        }
        this.body = Buffer.allocUnsafe(size);
        this.bodyFill = 0;
      }
      const n = Math.min(this.body.length - this.bodyFill, chunk.length - pos);
      chunk.copy(this.body, this.bodyFill, pos, pos + n);
      this.bodyFill += n;
      pos += n;
      if (this.bodyFill === this.body.length) {
        out.push({ type: this.type, data: this.body, size: this.body.length });
        this.body = null;
      }
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// ANNOUNCE_CAPABILITIES: u32 request, u32 caps[] (word count = (size - 4) / 4)

export function encodeAnnounceCaps(request: boolean, caps: readonly number[]): Buffer {
  const w = new Writer(4 + caps.length * 4).u32(request ? 1 : 0);
  for (const c of caps) w.u32(c);
  return w.finish();
}

export function parseAnnounceCaps(data: Buffer): { request: boolean; caps: number[] } {
  const r = new Reader(data, 0, 'agent ANNOUNCE_CAPABILITIES');
  const request = r.u32('request') !== 0;
  const caps: number[] = [];
  while (r.remaining >= 4) caps.push(r.u32('caps'));
  return { request, caps };
}

// ---------------------------------------------------------------------------------------------
// Clipboard messages. With CLIPBOARD_SELECTION (both sides) each starts with u8 selection + 3
// reserved bytes; with CLIPBOARD_GRAB_SERIAL (both sides) a GRAB carries u32 serial next.
//   GRAB:    [sel] [serial] u32 types[]
//   REQUEST: [sel] u32 type
//   CLIPBOARD (data): [sel] u32 type, data[]
//   RELEASE: [sel]

export interface ClipboardFraming {
  selection: boolean;
  serial: boolean;
}

function selPrefix(w: Writer, f: ClipboardFraming, selection: number): void {
  if (f.selection) w.u8(selection).u8(0).u8(0).u8(0);
  else if (selection !== Selection.clipboard) throw new RangeError('this agent only knows the CLIPBOARD selection');
}

function readSel(r: Reader, f: ClipboardFraming): number {
  if (!f.selection) return Selection.clipboard;
  const s = r.u8('selection');
  r.bytes(3, 'reserved');
  return s;
}

export function encodeClipboardGrab(f: ClipboardFraming, selection: number, serial: number, types: readonly number[]): Buffer {
  const w = new Writer(12 + types.length * 4);
  selPrefix(w, f, selection);
  if (f.serial) w.u32(serial);
  for (const t of types) w.u32(t);
  return w.finish();
}

export function parseClipboardGrab(f: ClipboardFraming, data: Buffer): { selection: number; serial: number | null; types: number[] } {
  const r = new Reader(data, 0, 'agent CLIPBOARD_GRAB');
  const selection = readSel(r, f);
  const serial = f.serial ? r.u32('serial') : null;
  const types: number[] = [];
  while (r.remaining >= 4) types.push(r.u32('types'));
  return { selection, serial, types };
}

export function encodeClipboardRequest(f: ClipboardFraming, selection: number, type: number): Buffer {
  const w = new Writer(8);
  selPrefix(w, f, selection);
  return w.u32(type).finish();
}

export function parseClipboardRequest(f: ClipboardFraming, data: Buffer): { selection: number; type: number } {
  const r = new Reader(data, 0, 'agent CLIPBOARD_REQUEST');
  const selection = readSel(r, f);
  return { selection, type: r.u32('type') };
}

export function encodeClipboardData(f: ClipboardFraming, selection: number, type: number, payload: Uint8Array): Buffer {
  const w = new Writer(8 + payload.length);
  selPrefix(w, f, selection);
  return w.u32(type).bytes(payload).finish();
}

export function parseClipboardData(f: ClipboardFraming, data: Buffer): { selection: number; type: number; data: Buffer } {
  const r = new Reader(data, 0, 'agent CLIPBOARD');
  const selection = readSel(r, f);
  const type = r.u32('type');
  return { selection, type, data: r.rest() };
}

export function encodeClipboardRelease(f: ClipboardFraming, selection: number): Buffer {
  const w = new Writer(4);
  selPrefix(w, f, selection);
  return w.finish();
}

export function parseClipboardRelease(f: ClipboardFraming, data: Buffer): { selection: number } {
  // Some agents send a 1-byte selection here; accept anything that has the first byte.
  if (!f.selection || data.length === 0) return { selection: Selection.clipboard };
  return { selection: data[0]! };
}

// ---------------------------------------------------------------------------------------------
// MONITORS_CONFIG: u32 num_of_monitors, u32 flags, num x {u32 height, u32 width, u32 depth,
//   i32 x, i32 y} (height first!), then with PHYSICAL_SIZE num x {u16 height_mm, u16 width_mm}.

export interface MonitorConfig {
  width: number;
  height: number;
  depth?: number;
  x?: number;
  y?: number;
}

export function encodeMonitorsConfig(monitors: readonly MonitorConfig[], flags: number): Buffer {
  const w = new Writer(8 + monitors.length * 20);
  w.u32(monitors.length).u32(flags & ~MonitorsFlag.physicalSize);
  for (const m of monitors) w.u32(m.height).u32(m.width).u32(m.depth ?? 32).i32(m.x ?? 0).i32(m.y ?? 0);
  return w.finish();
}

export function parseMonitorsConfig(data: Buffer): { flags: number; monitors: Required<MonitorConfig>[] } {
  const r = new Reader(data, 0, 'agent MONITORS_CONFIG');
  const n = r.u32('num_of_monitors');
  const flags = r.u32('flags');
  if (n * 20 > r.remaining) throw new ProtocolError(`agent MONITORS_CONFIG declares ${n} monitors in ${r.remaining} bytes`);
  const monitors: Required<MonitorConfig>[] = [];
  for (let i = 0; i < n; i++) {
    const height = r.u32('height');
    const width = r.u32('width');
    monitors.push({ height, width, depth: r.u32('depth'), x: r.i32('x'), y: r.i32('y') });
  }
  return { flags, monitors };
}

// REPLY: u32 type (of the request), u32 error (1 SUCCESS, 2 ERROR)
export function parseReply(data: Buffer): { type: number; error: number } {
  const r = new Reader(data, 0, 'agent REPLY');
  return { type: r.u32('type'), error: r.u32('error') };
}
export function encodeReply(type: number, error: number): Buffer {
  return new Writer(8).u32(type).u32(error).finish();
}

// MAX_CLIPBOARD: i32 max (-1 = unlimited)
export function encodeMaxClipboard(max: number): Buffer {
  return new Writer(4).i32(max).finish();
}
export function parseMaxClipboard(data: Buffer): number {
  return new Reader(data, 0, 'agent MAX_CLIPBOARD').i32('max');
}

// ---------------------------------------------------------------------------------------------
// File transfer.
//   START:  u32 id, then a NUL-terminated GLib key file: [vdagent-file-xfer] name=... size=...
//   STATUS: u32 id, u32 result, optional detail (ERROR: u8 error_type, u32 error_code;
//           NOT_ENOUGH_SPACE: u64 free bytes)
//   DATA:   u32 id, u64 size, data[size]

/** A GLib key-file value: backslash escapes for \, newline, CR, tab and a leading space. */
export function keyFileEscape(v: string): string {
  let out = v.replace(/[\\\n\r\t]/g, (c) => ({ '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c]!);
  if (out.startsWith(' ')) out = `\\s${out.slice(1)}`;
  return out;
}

export function encodeFileXferStart(id: number, name: string, size: number | bigint): Buffer {
  const text = `[vdagent-file-xfer]\nname=${keyFileEscape(name)}\nsize=${size}\n\0`;
  return new Writer(4 + text.length * 3).u32(id).bytes(Buffer.from(text, 'utf8')).finish();
}

export function parseFileXferStart(data: Buffer): { id: number; name: string; size: bigint } {
  const r = new Reader(data, 0, 'agent FILE_XFER_START');
  const id = r.u32('id');
  const text = r.rest().toString('utf8').replace(/\0.*$/s, '');
  const get = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(text)?.[1];
  const name = (get('name') ?? '').replace(/\\(.)/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t', s: ' ' })[c] ?? c);
  const size = BigInt(get('size') ?? '0');
  return { id, name, size };
}

export interface FileXferStatusMsg {
  id: number;
  result: number;
  /** NOT_ENOUGH_SPACE detail */
  freeBytes?: bigint;
  /** ERROR detail */
  errorType?: number;
  errorCode?: number;
}

export function parseFileXferStatus(data: Buffer): FileXferStatusMsg {
  const r = new Reader(data, 0, 'agent FILE_XFER_STATUS');
  const out: FileXferStatusMsg = { id: r.u32('id'), result: r.u32('result') };
  if (out.result === FileXferStatus.notEnoughSpace && r.remaining >= 8) out.freeBytes = r.u64('disk_free_space');
  if (out.result === FileXferStatus.error && r.remaining >= 5) {
    out.errorType = r.u8('error_type');
    out.errorCode = r.u32('error_code');
  }
  return out;
}

export function encodeFileXferStatus(id: number, result: number, detail: Uint8Array = Buffer.alloc(0)): Buffer {
  return new Writer(8 + detail.length).u32(id).u32(result).bytes(detail).finish();
}

export const FILE_XFER_DATA_HEADER = 12;

export function encodeFileXferData(id: number, payload: Uint8Array): Buffer {
  return new Writer(FILE_XFER_DATA_HEADER + payload.length).u32(id).u64(BigInt(payload.length)).bytes(payload).finish();
}

export function parseFileXferData(data: Buffer): { id: number; data: Buffer } {
  const r = new Reader(data, 0, 'agent FILE_XFER_DATA');
  const id = r.u32('id');
  const size = r.u64('size');
  if (size > BigInt(r.remaining)) throw new ProtocolError(`agent FILE_XFER_DATA declares ${size} bytes, ${r.remaining} present`);
  return { id, data: r.bytes(Number(size), 'data') };
}

// GLib GIOErrorEnum names for the detailed ERROR status (the common ones).
const GIO_ERRORS: Record<number, string> = {
  0: 'failed', 1: 'not found', 2: 'already exists', 3: 'is a directory', 4: 'not a directory', 5: 'not empty',
  6: 'not a regular file', 7: 'not a symbolic link', 8: 'not mountable', 9: 'filename too long', 10: 'invalid filename',
  11: 'too many links', 12: 'no space left', 13: 'invalid argument', 14: 'permission denied', 15: 'not supported',
  19: 'cancelled', 21: 'read-only file system', 26: 'busy', 31: 'too many open files',
};

const iec = (n: bigint | number) => {
  let v = Number(n);
  for (const u of ['B', 'KiB', 'MiB', 'GiB', 'TiB']) {
    if (v < 1024 || u === 'TiB') return `${u === 'B' ? v : v.toFixed(1)} ${u}`;
    v /= 1024;
  }
  return `${v}`;
};
export { iec as formatBytes };

/** One line for a non-success FILE_XFER_STATUS, saying what the guest said and what to do. */
export function describeFileXferStatus(s: FileXferStatusMsg): string {
  switch (s.result) {
    case FileXferStatus.cancelled: return 'the guest cancelled the transfer';
    case FileXferStatus.error: {
      const detail = s.errorType === 0 && s.errorCode !== undefined ? ` (${GIO_ERRORS[s.errorCode] ?? `GIO error ${s.errorCode}`})` : '';
      return `the guest agent could not write the file${detail}`;
    }
    case FileXferStatus.notEnoughSpace:
      return `not enough space in the guest${s.freeBytes !== undefined ? ` (${iec(s.freeBytes)} free)` : ''}`;
    case FileXferStatus.sessionLocked: return "the guest's session is locked: unlock it and try again";
    case FileXferStatus.vdagentNotConnected: return 'no agent runs in the guest user session (spice-vdagent is not connected to its daemon)';
    case FileXferStatus.disabled: return 'file transfer is disabled in the guest agent';
    case FileXferStatus.success: return 'done';
    case FileXferStatus.canSendData: return 'ready';
    default: return `the guest answered with unknown status ${s.result}`;
  }
}
