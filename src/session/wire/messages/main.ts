import { ProtocolError } from '../../../util/errors.js';
import { Reader } from '../reader.js';
import { Writer } from '../writer.js';

// INIT: 8 x u32: session_id, display_channels_hint, supported_mouse_modes, current_mouse_mode,
//   agent_connected, agent_tokens, multi_media_time, ram_hint
export interface MainInit {
  sessionId: number;
  displayChannelsHint: number;
  supportedMouseModes: number;
  currentMouseMode: number;
  agentConnected: boolean;
  agentTokens: number;
  multiMediaTime: number;
  ramHint: number;
}
export function parseMainInit(body: Buffer): MainInit {
  const r = new Reader(body, 0, 'MAIN_INIT');
  return {
    sessionId: r.u32('session_id'),
    displayChannelsHint: r.u32('display_channels_hint'),
    supportedMouseModes: r.u32('supported_mouse_modes'),
    currentMouseMode: r.u32('current_mouse_mode'),
    agentConnected: r.u32('agent_connected') !== 0,
    agentTokens: r.u32('agent_tokens'),
    multiMediaTime: r.u32('multi_media_time'),
    ramHint: r.u32('ram_hint'),
  };
}

// CHANNELS_LIST: u32 num, num x {u8 type, u8 id}
export function parseChannelsList(body: Buffer): { type: number; id: number }[] {
  const r = new Reader(body, 0, 'CHANNELS_LIST');
  const n = r.u32('num_of_channels');
  if (n * 2 > r.remaining) throw new ProtocolError(`CHANNELS_LIST declares ${n} channels in ${r.remaining} bytes`);
  const out: { type: number; id: number }[] = [];
  for (let i = 0; i < n; i++) out.push({ type: r.u8('type'), id: r.u8('id') });
  return out;
}

// MOUSE_MODE: u16 supported_modes, u16 current_mode
export function parseMouseMode(body: Buffer): { supported: number; current: number } {
  const r = new Reader(body, 0, 'MOUSE_MODE');
  return { supported: r.u16('supported_modes'), current: r.u16('current_mode') };
}

// NAME: u32 name_len (incl. NUL), u8 name[name_len]
export function parseName(body: Buffer): string {
  const r = new Reader(body, 0, 'NAME');
  const len = r.u32('name_len');
  return r.bytes(len, 'name').toString('utf8').replace(/\0.*$/s, '');
}

// UUID: u8 uuid[16]
export function parseUuid(body: Buffer): string {
  const h = new Reader(body, 0, 'UUID').bytes(16, 'uuid').toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// AGENT_TOKEN / AGENT_CONNECTED_TOKENS / AGENT_DISCONNECTED / MULTI_MEDIA_TIME: u32
export function parseU32(body: Buffer, what: string): number {
  return new Reader(body, 0, what).u32(what);
}

export function encodeU16(v: number): Buffer {
  return new Writer(2).u16(v).finish();
}
export function encodeU32(v: number): Buffer {
  return new Writer(4).u32(v).finish();
}
