// The only place that opens sockets: TCP, TLS (node:tls) and unix sockets.
import net from 'node:net';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { SpiceError } from '../util/errors.js';
import { connectViaProxy, describeProxy, type ProxyUrl } from './proxy.js';

export type Target =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'tls'; host: string; port: number }
  | { kind: 'unix'; path: string };

export interface TlsSettings {
  /** PEM CA certificate(s); without it the system store is used. */
  ca?: string;
  /** Expected subject, e.g. "C=XX,O=Org,CN=host": replaces the hostname check (as spice-gtk does). */
  hostSubject?: string;
}

export function describeTarget(t: Target): string {
  return t.kind === 'unix' ? `unix:${t.path}` : `${t.kind === 'tls' ? 'tls:' : ''}${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
}

export interface OpenedSocket {
  socket: net.Socket;
  /** ms spent in connect, and in the TLS handshake (0 for plain) */
  connectMs: number;
  tlsMs: number;
}

const unreachableCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOENT', 'EACCES', 'ECONNRESET', 'EADDRNOTAVAIL', 'ENOTSOCK']);

function unreachable(t: Target, err: NodeJS.ErrnoException): SpiceError {
  const where = describeTarget(t);
  const hints: Record<string, string> = {
    ECONNREFUSED: 'nothing listens there: is the SPICE server running, and is the port right?',
    ENOTFOUND: 'the host name does not resolve: check the spelling or use an IP address',
    EAI_AGAIN: 'the host name could not be resolved (DNS not answering)',
    EHOSTUNREACH: 'no route to the host: check the network',
    ENETUNREACH: 'the network is unreachable: check the network',
    ENOENT: 'no such socket file: is the server running with this unix socket?',
    EACCES: 'permission denied on the socket',
  };
  return new SpiceError('unreachable', `cannot reach ${where}: ${hints[err.code ?? ''] ?? err.message}`, { cause: err });
}

/** Splits "C=XX, O=Org\, Inc, CN=host" into [key, value] pairs; `\,` and `\\` are escapes. */
export function parseSubject(s: string): [string, string][] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) cur += s[++i];
    else if (c === ',') { parts.push(cur); cur = ''; }
    else cur += c;
  }
  parts.push(cur);
  return parts.filter((p) => p.trim() !== '').map((p) => {
    const eq = p.indexOf('=');
    if (eq < 0) throw new SpiceError('usage', `host subject "${s}": "${p.trim()}" is not key=value`);
    return [p.slice(0, eq).trim(), p.slice(eq + 1).trim()];
  });
}

const norm = (v: string) => v.replace(/\s+/g, ' ').trim().toLowerCase();

/** Same entries, same order, same count (X509_NAME_cmp semantics, case and space folded). */
export function subjectMatches(expected: string, certSubjectLines: string): boolean {
  const want = parseSubject(expected);
  const got = certSubjectLines.split('\n').filter(Boolean).map((l) => {
    const eq = l.indexOf('=');
    return [l.slice(0, eq), l.slice(eq + 1)] as [string, string];
  });
  return want.length === got.length && want.every(([k, v], i) => norm(k) === norm(got[i]![0]) && norm(v) === norm(got[i]![1]));
}

function tlsFailure(t: Target, err: NodeJS.ErrnoException, settings: TlsSettings): SpiceError {
  const code = err.code ?? '';
  let what = err.message;
  if (/SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|CERT_UNTRUSTED/.test(code)) {
    what = settings.ca
      ? `the server certificate is not signed by the given CA (${code}): check --ca-file`
      : `the server certificate is not trusted (${code}): pass the server's CA with --ca-file`;
  } else if (code === 'CERT_HAS_EXPIRED') {
    what = 'the server certificate has expired';
  } else if (code === 'CERT_NOT_YET_VALID') {
    what = 'the server certificate is not valid yet (check the clock)';
  } else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    what = `the certificate does not name host "${(t as { host: string }).host}": connect by the name in the certificate, or give --host-subject`;
  }
  return new SpiceError('tls', `TLS to ${describeTarget(t)} failed: ${what}`, { cause: err });
}

export function openSocket(t: Target, opts: { tls?: TlsSettings; timeoutMs: number; proxy?: ProxyUrl }): Promise<OpenedSocket> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err: SpiceError | null, value?: OpenedSocket) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        sock.destroy();
        reject(err);
      } else resolve(value!);
    };
    const timer = setTimeout(
      () => finish(new SpiceError('timeout', `connecting to ${describeTarget(t)} timed out after ${opts.timeoutMs} ms: is the host up and the port open?`)),
      opts.timeoutMs,
    );
    // Through an HTTP CONNECT proxy (never for unix sockets): the tunnel is a plain socket to
    // the target; TLS, if any, runs inside it below. connectViaProxy has its own errors.
    const proxy = t.kind !== 'unix' ? opts.proxy : undefined;
    let sock: net.Socket;
    if (proxy) {
      sock = new net.Socket(); // placeholder until the tunnel is up (finish() may destroy it)
      connectViaProxy(proxy, (t as { host: string }).host, (t as { port: number }).port, { timeoutMs: opts.timeoutMs }).then(
        (tunnel) => {
          if (done) return void tunnel.destroy();
          sock = tunnel;
          sock.once('error', onSocketError);
          onConnected();
        },
        (err: SpiceError) => finish(err),
      );
    } else {
      sock = t.kind === 'unix' ? net.connect({ path: t.path }) : net.connect({ host: t.host, port: t.port });
      sock.once('error', onSocketError);
      sock.once('connect', onConnected);
    }
    function onSocketError(err: NodeJS.ErrnoException) {
      const via = proxy ? ` (through proxy ${describeProxy(proxy)})` : '';
      finish(err.code && unreachableCodes.has(err.code) && !proxy ? unreachable(t, err) : new SpiceError('unreachable', `cannot reach ${describeTarget(t)}${via}: ${err.message}`, { cause: err }));
    }
    function onConnected() {
      if (sock instanceof net.Socket && t.kind !== 'unix') sock.setNoDelay(true);
      const connectMs = performance.now() - started;
      if (t.kind !== 'tls') return finish(null, { socket: sock, connectMs, tlsMs: 0 });
      sock.removeListener('error', onSocketError);
      // A TLS server speaks only after our ClientHello: bytes already here came from the proxy.
      if (sock.readableLength > 0) return finish(new SpiceError('protocol', `the proxy sent ${sock.readableLength} unexpected bytes before the TLS handshake with ${describeTarget(t)}`));
      const settings = opts.tls ?? {};
      const tlsStart = performance.now();
      const secure = tls.connect({
        socket: sock,
        servername: net.isIP(t.host) ? undefined : t.host,
        ca: settings.ca,
        minVersion: 'TLSv1.2',
        rejectUnauthorized: true,
        checkServerIdentity: (host, cert) => {
          if (settings.hostSubject) {
            const subject = new X509Certificate(cert.raw).subject;
            if (subjectMatches(settings.hostSubject, subject)) return undefined;
            const got = subject.split('\n').join(',');
            const e = new Error(`certificate subject "${got}" does not match --host-subject "${settings.hostSubject}"`) as NodeJS.ErrnoException;
            e.code = 'ERR_SPICE_SUBJECT_MISMATCH';
            return e;
          }
          return tls.checkServerIdentity(host, cert);
        },
      });
      secure.once('error', (err: NodeJS.ErrnoException) => finish(tlsFailure(t, err, settings)));
      secure.once('secureConnect', () => {
        secure.removeAllListeners('error');
        finish(null, { socket: secure, connectMs, tlsMs: performance.now() - tlsStart });
      });
    }
  });
}
