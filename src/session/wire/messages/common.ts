import { Reader } from '../reader.js';
import { Writer } from '../writer.js';

// SET_ACK: u32 generation, u32 window
export function parseSetAck(body: Buffer): { generation: number; window: number } {
  const r = new Reader(body, 0, 'SET_ACK');
  return { generation: r.u32('generation'), window: r.u32('window') };
}

// PING: u32 id, u64 timestamp, data[] (padding for the bandwidth test)
export function parsePing(body: Buffer): { id: number; timestamp: bigint; dataSize: number } {
  const r = new Reader(body, 0, 'PING');
  return { id: r.u32('id'), timestamp: r.u64('timestamp'), dataSize: r.remaining };
}

// PONG: u32 id, u64 timestamp (copied from the PING, without the data)
export function encodePong(id: number, timestamp: bigint): Buffer {
  return new Writer(12).u32(id).u64(timestamp).finish();
}

export function encodeAckSync(generation: number): Buffer {
  return new Writer(4).u32(generation).finish();
}

// DISCONNECTING: u64 time_stamp, u32 reason (a link error code)
export function parseDisconnecting(body: Buffer): { reason: number } {
  const r = new Reader(body, 0, 'DISCONNECTING');
  r.u64('time_stamp');
  return { reason: r.u32('reason') };
}

// NOTIFY: u64 time_stamp, u32 severity, u32 visibility, u32 what, u32 message_len, u8 message[len]
export interface Notify { severity: number; visibility: number; what: number; message: string }
export function parseNotify(body: Buffer): Notify {
  const r = new Reader(body, 0, 'NOTIFY');
  r.u64('time_stamp');
  const severity = r.u32('severity');
  const visibility = r.u32('visibility');
  const what = r.u32('what');
  const len = r.u32('message_len');
  const text = r.bytes(len, 'message');
  return { severity, visibility, what, message: text.toString('utf8').replace(/\0+$/, '') };
}

// WAIT_FOR_CHANNELS: u8 count, count x {u8 channel_type, u8 channel_id, u64 message_serial}
export interface WaitItem { channelType: number; channelId: number; serial: bigint }
export function parseWaitList(r: Reader): WaitItem[] {
  const n = r.u8('wait_count');
  const out: WaitItem[] = [];
  for (let i = 0; i < n; i++) {
    out.push({ channelType: r.u8('channel_type'), channelId: r.u8('channel_id'), serial: r.u64('message_serial') });
  }
  return out;
}

// LIST: u16 count, u32 offsets[count] -> each sub-message {u16 type, u32 size, body}
export function parseMessageList(body: Buffer): { type: number; body: Buffer }[] {
  const r = new Reader(body, 0, 'LIST');
  const n = r.u16('count');
  const out: { type: number; body: Buffer }[] = [];
  for (let i = 0; i < n; i++) {
    const sub = r.at(r.u32('offset'), 'sub-message');
    const type = sub.u16('type');
    const size = sub.u32('size');
    out.push({ type, body: sub.bytes(size, 'sub-message body') });
  }
  return out;
}
