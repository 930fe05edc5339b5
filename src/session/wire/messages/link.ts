import { ProtocolError } from '../../../util/errors.js';
import { LINK_MAGIC, PROTOCOL_MAJOR, PROTOCOL_MINOR } from '../enums.js';
import { Reader } from '../reader.js';
import { Writer } from '../writer.js';

// SpiceLinkHeader (16): u32 magic "REDQ", u32 major, u32 minor, u32 size (bytes that follow)
export const LINK_HEADER_SIZE = 16;
// SpiceLinkMess (18): u32 connection_id, u8 channel_type, u8 channel_id, u32 num_common_caps,
//   u32 num_channel_caps, u32 caps_offset (from the start of the mess = 18), then the caps words
const LINK_MESS_SIZE = 18;
// SpiceLinkReply (178): u32 error, u8 pub_key[162] (DER SubjectPublicKeyInfo), u32 num_common_caps,
//   u32 num_channel_caps, u32 caps_offset (from the start of the reply), then the caps words
export const LINK_REPLY_SIZE = 178;
export const PUBKEY_SIZE = 162;
/** The server refuses link bodies over 4096 bytes; so do we. */
export const MAX_LINK_BODY = 4096;

export interface LinkMess {
  connectionId: number;
  channelType: number;
  channelId: number;
  commonCaps: number[];
  channelCaps: number[];
}

export interface LinkReply {
  error: number;
  pubKey: Buffer;
  commonCaps: number[];
  channelCaps: number[];
}

export function encodeLinkMess(m: LinkMess): Buffer {
  const capsBytes = 4 * (m.commonCaps.length + m.channelCaps.length);
  const w = new Writer(LINK_HEADER_SIZE + LINK_MESS_SIZE + capsBytes);
  w.u32(LINK_MAGIC).u32(PROTOCOL_MAJOR).u32(PROTOCOL_MINOR).u32(LINK_MESS_SIZE + capsBytes);
  w.u32(m.connectionId).u8(m.channelType).u8(m.channelId);
  w.u32(m.commonCaps.length).u32(m.channelCaps.length).u32(LINK_MESS_SIZE);
  for (const c of m.commonCaps) w.u32(c);
  for (const c of m.channelCaps) w.u32(c);
  return w.finish();
}

/** Returns the size of the link body that follows this header. */
export function parseLinkHeader(buf: Buffer): number {
  const r = new Reader(buf, 0, 'link header');
  const magic = r.u32('magic');
  if (magic !== LINK_MAGIC) {
    throw new ProtocolError(
      `not a SPICE server: link reply starts with 0x${magic.toString(16).padStart(8, '0')} instead of "REDQ" (is this the right port?)`,
    );
  }
  const major = r.u32('major_version');
  if (major !== PROTOCOL_MAJOR) {
    throw new ProtocolError(`server speaks SPICE protocol ${major}, this client speaks ${PROTOCOL_MAJOR}`);
  }
  r.u32('minor_version');
  const size = r.u32('size');
  if (size > MAX_LINK_BODY) throw new ProtocolError(`link reply declares ${size} bytes, over the ${MAX_LINK_BODY}-byte limit`);
  return size;
}

export function parseLinkReply(buf: Buffer): LinkReply {
  const r = new Reader(buf, 0, 'link reply');
  const error = r.u32('error');
  if (error !== 0) {
    // On errors the rest is zero-filled and may even be short; the error code is all we need.
    return { error, pubKey: Buffer.alloc(0), commonCaps: [], channelCaps: [] };
  }
  const pubKey = r.bytes(PUBKEY_SIZE, 'pub_key');
  const nCommon = r.u32('num_common_caps');
  const nChannel = r.u32('num_channel_caps');
  const capsOffset = r.u32('caps_offset');
  if (nCommon > 1024 || nChannel > 1024) throw new ProtocolError(`link reply declares ${nCommon}+${nChannel} caps words`);
  const c = new Reader(buf, capsOffset, 'link reply caps');
  const commonCaps: number[] = [];
  const channelCaps: number[] = [];
  for (let i = 0; i < nCommon; i++) commonCaps.push(c.u32('common caps'));
  for (let i = 0; i < nChannel; i++) channelCaps.push(c.u32('channel caps'));
  return { error, pubKey, commonCaps, channelCaps };
}

/** A 4-byte link result (after the ticket). */
export function parseLinkResult(buf: Buffer): number {
  return new Reader(buf, 0, 'link result').u32('result');
}
