import { SpiceError } from '../util/errors.js';

/** Where to connect: one type for URIs, .vv files and flags. */
export interface Endpoint {
  host?: string;
  port?: number;
  tlsPort?: number;
  unixPath?: string;
  /** a password carried by the URI (?password=), discouraged but accepted like spice-gtk */
  password?: string;
}

function parsePort(v: string, what: string): number {
  if (!/^\d{1,5}$/.test(v) || Number(v) < 1 || Number(v) > 65535) throw new SpiceError('usage', `invalid ${what} "${v}": expected 1-65535`);
  return Number(v);
}

/**
 * spice://host:port, spice://host?port=P&tls-port=T, spice+tls://host:port,
 * spice+unix:///path, spice://[::1]:5900. Query separators & or ;.
 */
export function parseSpiceUri(uri: string): Endpoint {
  const m = /^(spice|spice\+tls|spice\+unix):\/\/(.*)$/i.exec(uri.trim());
  if (!m) throw new SpiceError('usage', `"${uri}" is not a SPICE URI: use spice://host:port, spice+tls://host:port or spice+unix:///path`);
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!;
  if (scheme === 'spice+unix') {
    if (!rest.startsWith('/')) throw new SpiceError('usage', `"${uri}": spice+unix needs an absolute socket path (spice+unix:///run/vm.sock)`);
    return { unixPath: decodeURIComponent(rest) };
  }
  const qAt = rest.search(/[?;]/);
  const authority = (qAt >= 0 ? rest.slice(0, qAt) : rest).replace(/\/$/, '');
  const query = qAt >= 0 ? rest.slice(qAt + 1) : '';
  const hostPort = authority.includes('@') ? authority.slice(authority.lastIndexOf('@') + 1) : authority;
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(hostPort);
  if (v6) {
    host = v6[1]!;
    portText = v6[2];
  } else {
    const parts = hostPort.split(':');
    if (parts.length > 2) throw new SpiceError('usage', `"${uri}": write IPv6 addresses in brackets, e.g. spice://[::1]:5900`);
    host = parts[0]!;
    portText = parts[1];
  }
  if (!host) throw new SpiceError('usage', `"${uri}" has no host`);
  const ep: Endpoint = { host };
  if (portText) {
    if (scheme === 'spice+tls') ep.tlsPort = parsePort(portText, 'port');
    else ep.port = parsePort(portText, 'port');
  }
  for (const kv of query.split(/[&;]/).filter(Boolean)) {
    const eq = kv.indexOf('=');
    const key = (eq < 0 ? kv : kv.slice(0, eq)).toLowerCase();
    const value = decodeURIComponent(eq < 0 ? '' : kv.slice(eq + 1));
    if (scheme === 'spice+tls' && (key === 'port' || key === 'tls-port')) continue;
    if (key === 'port') ep.port = parsePort(value, 'port');
    else if (key === 'tls-port') ep.tlsPort = parsePort(value, 'tls-port');
    else if (key === 'password') ep.password = value;
    else throw new SpiceError('usage', `"${uri}": unknown query key "${key}" (known: port, tls-port, password)`);
  }
  if (ep.port === undefined && ep.tlsPort === undefined) {
    throw new SpiceError('usage', `"${uri}" names no port: use spice://host:port or ?port=/&tls-port=`);
  }
  return ep;
}
