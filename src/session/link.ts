import { SpiceError } from '../util/errors.js';
import { encryptTicket } from './auth.js';
import type { Connection } from './channels/connection.js';
import { AuthMechanism, CommonCap, LINK_ERR_NEED_SECURED, LINK_ERR_PERMISSION_DENIED, LINK_MAGIC, LinkError, channelName } from './wire/enums.js';
import { hasCap } from './wire/caps.js';
import { LINK_HEADER_SIZE, encodeLinkMess, parseLinkHeader, parseLinkReply, parseLinkResult } from './wire/messages/link.js';

export interface LinkParams {
  connectionId: number;
  channelType: number;
  channelId: number;
  commonCaps: number[];
  channelCaps: number[];
  password: string;
  /** whether a password was given at all, for a better error */
  passwordGiven: boolean;
}

export interface LinkResult {
  serverCommonCaps: number[];
  serverChannelCaps: number[];
  miniHeader: boolean;
  linkMs: number;
  authMs: number;
}

/** The server refused the link with a SpiceLinkErr code. */
export class LinkRefused extends SpiceError {
  constructor(readonly linkError: number, code: SpiceError['code'], message: string) {
    super(code, message);
  }
}

function refusal(err: number, p: LinkParams): LinkRefused {
  const ch = `${channelName(p.channelType)}:${p.channelId}`;
  const name = LinkError[err] ?? `error ${err}`;
  switch (err) {
    case LINK_ERR_PERMISSION_DENIED:
      return new LinkRefused(err, 'auth', p.passwordGiven
        ? 'authentication failed: the server refused the password (check it, or whether it has expired)'
        : 'authentication failed: the server needs a password; give it with --password-file, --password-env NAME, SPICE_PASSWORD or --password-stdin');
    case LINK_ERR_NEED_SECURED:
      return new LinkRefused(err, 'tls', `the server requires TLS for the ${ch} channel: connect with a tls-port (spice+tls:// or ?tls-port=)`);
    case 6:
      return new LinkRefused(err, 'protocol', `the server refuses TLS for the ${ch} channel: use the plain port`);
    case 8:
      return new LinkRefused(err, 'disconnected', `the server no longer knows this session (${name}) while linking ${ch}: another client may have taken over`);
    case 9:
      return new LinkRefused(err, 'protocol', `the server has no ${ch} channel (${name})`);
    default:
      return new LinkRefused(err, 'protocol', `the server refused the ${ch} link: ${name}`);
  }
}

/**
 * Link stage (digest §1.2): LinkHeader+LinkMess -> LinkHeader+LinkReply -> [auth mechanism]
 * -> 128-byte RSA-OAEP ticket -> u32 result.
 */
export async function performLink(conn: Connection, p: LinkParams): Promise<LinkResult> {
  const t0 = performance.now();
  conn.write(encodeLinkMess(p));
  const size = parseLinkHeader(await conn.read(LINK_HEADER_SIZE));
  const reply = parseLinkReply(await conn.read(size));
  if (reply.error !== 0) throw refusal(reply.error, p);
  const linkMs = performance.now() - t0;

  const t1 = performance.now();
  const selection = hasCap(reply.commonCaps, CommonCap.authSelection);
  if (selection) {
    if (!hasCap(reply.commonCaps, CommonCap.authSpice)) {
      throw new SpiceError('auth', 'the server only offers SASL authentication, which spicectl does not support yet');
    }
    const mech = Buffer.alloc(4);
    mech.writeUInt32LE(AuthMechanism.spice, 0);
    conn.write(mech);
  }
  conn.write(encryptTicket(reply.pubKey, p.password));
  const resultBuf = await conn.read(4);
  const result = parseLinkResult(resultBuf);
  if (result === LINK_MAGIC) {
    // A whole link-error message instead of a 4-byte result (unsupported mechanism).
    const restSize = parseLinkHeader(Buffer.concat([resultBuf, await conn.read(LINK_HEADER_SIZE - 4)]));
    const err = parseLinkReply(await conn.read(restSize)).error;
    throw refusal(err || 3, p);
  }
  if (result !== 0) throw refusal(result, p);
  return {
    serverCommonCaps: reply.commonCaps,
    serverChannelCaps: reply.channelCaps,
    miniHeader: hasCap(reply.commonCaps, CommonCap.miniHeader),
    linkMs,
    authMs: performance.now() - t1,
  };
}
