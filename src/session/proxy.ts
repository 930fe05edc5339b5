// HTTP CONNECT proxies (the one proxy method spice-gtk and remote-viewer support): parse the
// proxy URL, open a tunnel to the SPICE server, hand back the raw socket. transport.ts calls
// connectViaProxy() instead of net.connect() when a proxy is set, then runs TLS on top.
//
// Proxy URL (spice-gtk's rules, src/spice-uri.c): [http://][user[:password]@]host[:port][/]
// where the scheme defaults to http and the port to 3128; IPv6 hosts go in brackets. spice-gtk
// also accepts https:// (TLS to the proxy itself, default port 3129); spicectl does not (yet).
// User and password may be percent-encoded (so a ':' or '@' can appear in them); spicectl decodes
// %XX, but spice-gtk does not (it sends them as written and cuts the password at a second ':'),
// so a file meant for remote-viewer too should keep credentials to plain characters (lintVv warns).
//
// Where the proxy comes from (resolveProxy): a --proxy flag, else the .vv file's proxy=, else
// the SPICE_PROXY environment variable (spice-gtk: a session's proxy property overrides
// SPICE_PROXY). An empty value at any level means "no proxy" and stops the search.
//
// Exit codes of failures (see the table in src/util/errors.ts):
//   proxy not reachable (refused, DNS, no route)        unreachable (3)
//   407: proxy credentials missing or refused            auth (4)   -- see below
//   any other refusal (403, 502, 503, 504, ...)           unreachable (3)
//   the answer is not HTTP, or headers over 16 KiB       protocol (6)
//   no complete answer within timeoutMs                   timeout (7)
//   malformed proxy URL                                   usage (2)
// Why 407 is 'auth' (4) and not 'unreachable' (3): exit 4 already means "the credentials you gave
// were not accepted; fix them", and that is exactly the fix here. The route itself works (we
// reached the proxy, it answered), so calling it "unreachable" would send people debugging the
// network. The message names the proxy, so it is never mistaken for a wrong SPICE password.
import net from 'node:net';
import { SpiceError } from '../util/errors.js';

export interface ProxyUrl {
  scheme: 'http';
  host: string;
  port: number;
  username?: string;
  password?: string;
}

const MAX_RESPONSE_HEADER = 16 * 1024;

// Only IPv6 literals get brackets: Proxmox's spiceproxy gets host names like
// "pvespiceproxy:6543a1b2:100:node::0123abcd" and expects them as written (spice-gtk sends
// "CONNECT host:port" verbatim).
const bracket = (host: string) => (net.isIP(host) === 6 ? `[${host}]` : host);

/** "http://host:port" with credentials hidden: safe for messages and logs. */
export function describeProxy(p: ProxyUrl): string {
  return `http://${p.username !== undefined ? `${encodeURIComponent(p.username)}:***@` : ''}${bracket(p.host)}:${p.port}`;
}

/** Decode %XX escapes; a '%' that does not start one, or bytes that are not UTF-8, stay as written. */
function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/%(?![0-9A-Fa-f]{2})/g, '%25'));
  } catch {
    return s;
  }
}

/** Hide a password in a URL-ish string for messages. */
export function redact(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)?([^@/]*?):([^@/]*)@/i, (_, s: string | undefined, u: string) => `${s ?? ''}${u}:***@`);
}

/** Parse a proxy URL as spice-gtk does (http only). Throws SpiceError('usage'). */
export function parseProxyUrl(url: string): ProxyUrl {
  const text = url.trim();
  const bad = (why: string) => new SpiceError('usage', `proxy "${redact(text)}": ${why}`);
  if (text === '') throw bad('empty proxy URL');
  let rest = text;
  const sm = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (sm) {
    const scheme = sm[1]!.toLowerCase();
    if (scheme === 'https') throw bad('https:// proxies (TLS to the proxy) are not supported by spicectl: use an http:// proxy');
    if (scheme !== 'http') throw bad(`unsupported scheme "${scheme}": only HTTP CONNECT proxies (http://host:port) are supported`);
    rest = text.slice(sm[0].length);
  }
  rest = rest.replace(/\/+$/, '');
  if (/[/?#]/.test(rest)) throw bad('a proxy URL has no path, query or fragment: write http://host:port');
  let username: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const auth = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = auth.indexOf(':');
    username = decode(colon < 0 ? auth : auth.slice(0, colon));
    password = colon < 0 ? undefined : decode(auth.slice(colon + 1));
  }
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]*)\](.*)$/.exec(rest);
  if (v6) {
    host = v6[1]!;
    if (v6[2] !== '' && !v6[2]!.startsWith(':')) throw bad('unexpected text after the ] of the IPv6 address');
    portText = v6[2] ? v6[2].slice(1) : undefined;
    if (net.isIP(host) !== 6) throw bad(`"${host}" is not an IPv6 address`);
  } else {
    const parts = rest.split(':');
    if (parts.length > 2) throw bad('write IPv6 proxy addresses in brackets: http://[::1]:3128');
    host = parts[0]!;
    portText = parts[1];
  }
  if (host === '') throw bad('no host name');
  let port = 3128;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) throw bad(`invalid port "${portText}": expected 1-65535`);
    port = Number(portText);
  }
  const p: ProxyUrl = { scheme: 'http', host, port };
  if (username !== undefined) p.username = username;
  if (password !== undefined) p.password = password;
  return p;
}

/**
 * The proxy to use, or undefined for a direct connection: flag, else the .vv proxy=, else
 * SPICE_PROXY. An empty string at a level means "no proxy" (and hides the levels below).
 */
export function resolveProxy(src: { flag?: string; file?: string; env?: NodeJS.ProcessEnv }): ProxyUrl | undefined {
  const env = src.env ?? process.env;
  const chosen = src.flag ?? src.file ?? env.SPICE_PROXY;
  if (chosen === undefined || chosen.trim() === '') return undefined;
  return parseProxyUrl(chosen);
}

export interface ProxyConnectOptions {
  timeoutMs: number;
  /** Extra request headers (tests). */
  headers?: Record<string, string>;
}

/** The CONNECT request for a target, with basic auth when the URL has a user name. */
export function connectRequest(proxy: ProxyUrl, targetHost: string, targetPort: number, headers: Record<string, string> = {}): string {
  const authority = `${bracket(targetHost)}:${targetPort}`;
  const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
  if (proxy.username !== undefined) {
    const token = Buffer.from(`${proxy.username}:${proxy.password ?? ''}`, 'utf8').toString('base64');
    lines.push(`Proxy-Authorization: Basic ${token}`);
  }
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

const hints: Record<string, string> = {
  ECONNREFUSED: 'connection refused: is the proxy running, and is the port right?',
  ENOTFOUND: 'the proxy host name does not resolve',
  EAI_AGAIN: 'the proxy host name could not be resolved (DNS not answering)',
  EHOSTUNREACH: 'no route to the proxy host',
  ENETUNREACH: 'the network is unreachable',
  ECONNRESET: 'the proxy reset the connection',
};

/**
 * Open a TCP connection to the proxy and ask it for a tunnel to targetHost:targetPort.
 * Resolves with the socket once the proxy answered 2xx; any bytes that arrived after the
 * response headers are pushed back (unshift) so the caller reads them first. The socket is
 * returned in the same state as a fresh net.Socket: no listeners of ours, not paused.
 */
export function connectViaProxy(
  proxyUrl: string | ProxyUrl,
  targetHost: string,
  targetPort: number,
  opts: ProxyConnectOptions,
): Promise<net.Socket> {
  let proxy: ProxyUrl;
  try {
    proxy = typeof proxyUrl === 'string' ? parseProxyUrl(proxyUrl) : proxyUrl;
  } catch (e) {
    return Promise.reject(e);
  }
  const where = `${bracket(proxy.host)}:${proxy.port}`;
  const target = `${bracket(targetHost)}:${targetPort}`;
  return new Promise((resolve, reject) => {
    let done = false;
    let phase: 'connect' | 'answer' = 'connect';
    const sock = net.connect({ host: proxy.host, port: proxy.port });
    let head = Buffer.alloc(0);
    const finish = (err: SpiceError | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.removeListener('readable', onReadable);
      sock.removeListener('error', onError);
      sock.removeListener('end', onEnd);
      sock.removeListener('connect', onConnect);
      if (err) {
        sock.destroy();
        reject(err);
      } else resolve(sock);
    };
    const timer = setTimeout(() => {
      finish(
        new SpiceError(
          'timeout',
          phase === 'connect'
            ? `connecting to proxy ${where} timed out after ${opts.timeoutMs} ms: is the proxy host up?`
            : `proxy ${where} did not answer the CONNECT to ${target} within ${opts.timeoutMs} ms`,
        ),
      );
    }, opts.timeoutMs);
    const onError = (err: NodeJS.ErrnoException) => {
      const hint = hints[err.code ?? ''] ?? err.message;
      finish(new SpiceError('unreachable', phase === 'connect' ? `cannot reach proxy ${where}: ${hint}` : `proxy ${where} failed while opening a tunnel to ${target}: ${hint}`, { cause: err }));
    };
    const onEnd = () => {
      finish(new SpiceError('unreachable', `proxy ${where} closed the connection without answering the CONNECT to ${target}`));
    };
    const onConnect = () => {
      phase = 'answer';
      sock.setNoDelay(true);
      sock.write(connectRequest(proxy, targetHost, targetPort, opts.headers));
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while (!done && (chunk = sock.read() as Buffer | null) !== null) {
        head = Buffer.concat([head, chunk]);
        const end = headerEnd(head);
        if (end < 0) {
          if (head.length > MAX_RESPONSE_HEADER) return finish(new SpiceError('protocol', `proxy ${where} sent more than ${MAX_RESPONSE_HEADER / 1024} KiB of response headers`));
          if (head.length >= 5 && !head.subarray(0, 5).equals(Buffer.from('HTTP/'))) return finish(notHttp(where, head));
          continue;
        }
        const status = parseStatus(head.subarray(0, end));
        if (!status) return finish(notHttp(where, head));
        const rest = head.subarray(end + (head[end] === 13 ? 2 : 1));
        if (status.code >= 200 && status.code < 300) {
          finish(null);
          if (rest.length) sock.unshift(rest);
          return;
        }
        return finish(refusal(where, target, proxy, status.code, status.reason));
      }
    };
    sock.once('connect', onConnect);
    sock.on('error', onError);
    sock.on('end', onEnd);
    sock.on('readable', onReadable);
  });
}

/** Index of the blank line that ends the headers (at its first CR or LF), or -1. */
function headerEnd(b: Buffer): number {
  const crlf = b.indexOf('\r\n\r\n');
  const lf = b.indexOf('\n\n');
  if (crlf < 0) return lf < 0 ? -1 : lf + 1;
  if (lf < 0) return crlf + 2;
  return Math.min(crlf + 2, lf + 1);
}

function parseStatus(head: Buffer): { code: number; reason: string } | null {
  const first = head.toString('latin1').split(/\r?\n/)[0]!;
  const m = /^HTTP\/\d(?:\.\d)? (\d{3})(?: (.*))?$/.exec(first);
  return m ? { code: Number(m[1]), reason: (m[2] ?? '').trim() } : null;
}

function notHttp(where: string, head: Buffer): SpiceError {
  const sample = head.subarray(0, 40).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
  return new SpiceError('protocol', `${where} is not an HTTP proxy: it answered "${sample}" to CONNECT (is this the SPICE port instead of the proxy port?)`);
}

function refusal(where: string, target: string, proxy: ProxyUrl, code: number, reason: string): SpiceError {
  const status = `${code}${reason ? ` ${reason}` : ''}`;
  if (code === 407) {
    return new SpiceError(
      'auth',
      proxy.username === undefined
        ? `proxy ${where} requires credentials (${status}): put them in the proxy URL, http://user:password@${where}`
        : `proxy ${where} refused the credentials of user "${proxy.username}" (${status}): check the user and password in the proxy URL`,
    );
  }
  let hint = '';
  if (code === 403) hint = ': the proxy does not allow tunnels to this host or port (check its CONNECT/ACL rules)';
  else if (code === 502 || code === 503) hint = ': the proxy could not reach the SPICE server (is the host right, and is the server up?)';
  else if (code === 504) hint = ': the proxy timed out reaching the SPICE server';
  else if (code === 405 || code === 501) hint = ': the proxy does not support CONNECT';
  return new SpiceError('unreachable', `proxy ${where} refused the tunnel to ${target} (${status})${hint}`);
}
