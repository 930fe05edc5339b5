import { constants, createPublicKey, publicEncrypt } from 'node:crypto';
import { ProtocolError, SpiceError } from '../util/errors.js';

/** spice-gtk refuses longer tickets; the server can only ever match 59 bytes. */
export const MAX_PASSWORD_BYTES = 60;

/**
 * SPICE ticket: the password plus a NUL, RSA-OAEP (SHA-1, MGF1-SHA-1) with the server's
 * per-link 1024-bit key (DER SubjectPublicKeyInfo). Always 128 bytes, even without a password.
 */
export function encryptTicket(pubKeyDer: Buffer, password: string): Buffer {
  const plain = Buffer.concat([Buffer.from(password, 'utf8'), Buffer.from([0])]);
  if (plain.length > MAX_PASSWORD_BYTES) {
    throw new SpiceError('auth', `the password is ${plain.length - 1} bytes long; SPICE tickets are limited to ${MAX_PASSWORD_BYTES - 1}`);
  }
  let key;
  try {
    key = createPublicKey({ key: pubKeyDer, format: 'der', type: 'spki' });
  } catch (e) {
    throw new ProtocolError('the server sent a public key that does not parse', { cause: e });
  }
  return publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, plain);
}
