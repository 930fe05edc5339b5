// A throw-away certificate authority and server certificate for TLS tests, written in the file
// names QEMU's and Xspice's x509-dir expect: ca-cert.pem, server-cert.pem, server-key.pem.
// RSA keys come from node:crypto (fast, native) and are converted for node-forge, which builds and
// signs the certificates (forge's own RSA key generation takes seconds).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';

export interface TestCaOptions {
  /** Server certificate common name (default "localhost"). */
  cn?: string;
  /** subjectAltName DNS names (default ["localhost"]). */
  dnsNames?: string[];
  /** subjectAltName IP addresses (default ["127.0.0.1"]). */
  ips?: string[];
  /** Organization of both certificates (default "spicectl test"). */
  org?: string;
  /** Validity of the server certificate (default: from 1 day ago to 365 days from now). */
  notBefore?: Date;
  notAfter?: Date;
  /** Pre-generated RSA private keys (PEM, PKCS#1 or PKCS#8) to skip key generation. */
  keys?: { ca?: string; server?: string };
}

export interface TestCa {
  dir: string;
  caCertFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  /** CA certificate (PEM): what a client passes as its trusted CA. */
  caPem: string;
  caKeyPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  /** Server subject in SPICE host-subject form: "C=XX,O=spicectl test,CN=localhost". */
  subject: string;
  /** CA subject, same form. */
  caSubject: string;
}

/** A new RSA private key as PKCS#8 PEM (node:crypto, ~0.1 s for 2048 bits). */
export function generateRsaKeyPem(bits = 2048): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 65537 });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function keyPair(pem: string): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  const privateKey = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  return { privateKey, publicKey: forge.pki.setRsaPublicKey(privateKey.n, privateKey.e) };
}

function serial(): string {
  const b = randomBytes(16);
  b[0]! &= 0x7f; // positive
  b[0]! |= 0x01; // no leading zero byte
  return b.toString('hex');
}

type Attr = { shortName: string; value: string };
const subjectString = (attrs: Attr[]) => attrs.map((a) => `${a.shortName}=${a.value}`).join(',');

/**
 * Create a CA and a CA-signed server certificate (RSA 2048, SHA-256, SAN DNS:localhost +
 * IP:127.0.0.1 by default) in DIR (created if missing).
 */
export function createTestCa(dir: string, opts: TestCaOptions = {}): TestCa {
  mkdirSync(dir, { recursive: true });
  const org = opts.org ?? 'spicectl test';
  const now = Date.now();
  const day = 86_400_000;

  const caKeyPem = opts.keys?.ca ?? generateRsaKeyPem();
  const caKeys = keyPair(caKeyPem);
  const caAttrs: Attr[] = [
    { shortName: 'C', value: 'XX' },
    { shortName: 'O', value: org },
    { shortName: 'CN', value: `${org} CA` },
  ];
  const ca = forge.pki.createCertificate();
  ca.publicKey = caKeys.publicKey;
  ca.serialNumber = serial();
  ca.validity.notBefore = new Date(now - day);
  ca.validity.notAfter = new Date(now + 3650 * day);
  ca.setSubject(caAttrs);
  ca.setIssuer(caAttrs);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());

  const serverKeyPem = opts.keys?.server ?? generateRsaKeyPem();
  const serverKeys = keyPair(serverKeyPem);
  const attrs: Attr[] = [
    { shortName: 'C', value: 'XX' },
    { shortName: 'O', value: org },
    { shortName: 'CN', value: opts.cn ?? 'localhost' },
  ];
  const cert = forge.pki.createCertificate();
  cert.publicKey = serverKeys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = opts.notBefore ?? new Date(now - day);
  cert.validity.notAfter = opts.notAfter ?? new Date(now + 365 * day);
  cert.setSubject(attrs);
  cert.setIssuer(caAttrs);
  const altNames = [
    ...(opts.dnsNames ?? ['localhost']).map((value) => ({ type: 2, value })),
    ...(opts.ips ?? ['127.0.0.1']).map((ip) => ({ type: 7, ip })),
  ];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKeys.privateKey, forge.md.sha256.create());

  const caPem = forge.pki.certificateToPem(ca);
  const serverCertPem = forge.pki.certificateToPem(cert);
  const caCertFile = join(dir, 'ca-cert.pem');
  const serverCertFile = join(dir, 'server-cert.pem');
  const serverKeyFile = join(dir, 'server-key.pem');
  writeFileSync(caCertFile, caPem);
  writeFileSync(serverCertFile, serverCertPem);
  writeFileSync(serverKeyFile, serverKeyPem, { mode: 0o600 });
  return {
    dir,
    caCertFile,
    serverCertFile,
    serverKeyFile,
    caPem,
    caKeyPem,
    serverCertPem,
    serverKeyPem,
    subject: subjectString(attrs),
    caSubject: subjectString(caAttrs),
  };
}
