// A small HTTP CONNECT proxy for tests (127.0.0.1 only): optional basic auth, counts TCP
// connections and tunnels, records every request, and can misbehave on purpose (refuse, stay
// silent, answer garbage, send the 200 together with the server's first bytes).
import net from 'node:net';

export interface HttpProxyOptions {
  /** Require "Proxy-Authorization: Basic" with these credentials (else 407). */
  auth?: { user: string; password: string };
  /** Answer this status instead of opening a tunnel (e.g. 403), per target. */
  refuse?: (host: string, port: number) => number | undefined;
  /** Wait for the target's first bytes and send them in the same write as the 200 answer. */
  bundleFirstChunk?: boolean;
  /** Read the request and never answer (timeout tests). */
  silent?: boolean;
  /** Answer these bytes instead of HTTP, then close. */
  rawAnswer?: string;
  /** Where a target really is (as Proxmox's spiceproxy maps "pvespiceproxy:..." host names). */
  route?: (host: string, port: number) => { host: string; port: number } | undefined;
}

export interface ProxyRequest {
  method: string;
  target: string;
  /** The decoded "user:password" of Proxy-Authorization, if any. */
  credentials?: string;
  status: number;
}

export interface HttpProxy {
  host: string;
  port: number;
  /** http://127.0.0.1:PORT, with user:password@ when the proxy requires auth. */
  url: string;
  /** http://127.0.0.1:PORT without credentials. */
  bareUrl: string;
  /** TCP connections accepted so far. */
  readonly connections: number;
  /** Tunnels opened (200 answered) so far. */
  readonly tunnels: number;
  readonly requests: ProxyRequest[];
  close(): Promise<void>;
}

const REASONS: Record<number, string> = {
  200: 'Connection established',
  400: 'Bad Request',
  403: 'Forbidden',
  405: 'Method Not Allowed',
  407: 'Proxy Authentication Required',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

export async function startHttpProxy(opts: HttpProxyOptions = {}): Promise<HttpProxy> {
  let connections = 0;
  let tunnels = 0;
  const requests: ProxyRequest[] = [];
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  const answer = (client: net.Socket, status: number, extra = '') =>
    client.end(`HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\n${extra}Content-Length: 0\r\nConnection: close\r\n\r\n`);

  const server = net.createServer((client) => {
    connections++;
    track(client);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 16384) client.destroy();
        return;
      }
      client.removeListener('data', onData);
      client.pause();
      const lines = head.subarray(0, end).toString('latin1').split('\r\n');
      const early = head.subarray(end + 4);
      const [method = '', target = ''] = lines[0]!.split(' ');
      const headers = new Map<string, string>();
      for (const l of lines.slice(1)) {
        const c = l.indexOf(':');
        if (c > 0) headers.set(l.slice(0, c).trim().toLowerCase(), l.slice(c + 1).trim());
      }
      const auth = /^Basic\s+(\S+)$/i.exec(headers.get('proxy-authorization') ?? '');
      const req: ProxyRequest = { method, target, status: 0 };
      if (auth) req.credentials = Buffer.from(auth[1]!, 'base64').toString('utf8');
      requests.push(req);
      if (opts.silent) return;
      if (opts.rawAnswer !== undefined) {
        req.status = -1;
        client.end(opts.rawAnswer);
        return;
      }
      if (method !== 'CONNECT') return answer(client, (req.status = 405));
      if (opts.auth && req.credentials !== `${opts.auth.user}:${opts.auth.password}`) {
        return answer(client, (req.status = 407), 'Proxy-Authenticate: Basic realm="spicectl-test"\r\n');
      }
      const m = /^(?:\[([^\]]+)\]|(.+)):(\d+)$/.exec(target);
      if (!m) return answer(client, (req.status = 400));
      const host = m[1] ?? m[2]!;
      const port = Number(m[3]);
      const refused = opts.refuse?.(host, port);
      if (refused) return answer(client, (req.status = refused));
      const upstream = net.connect(opts.route?.(host, port) ?? { host, port });
      track(upstream);
      upstream.once('error', () => {
        if (!req.status) answer(client, (req.status = 502));
      });
      upstream.once('connect', () => {
        tunnels++;
        req.status = 200;
        const ok = Buffer.from('HTTP/1.1 200 Connection established\r\n\r\n');
        if (early.length) upstream.write(early);
        const pipeBoth = () => {
          client.pipe(upstream);
          upstream.pipe(client);
          client.resume();
        };
        if (opts.bundleFirstChunk) {
          upstream.once('data', (first: Buffer) => {
            client.write(Buffer.concat([ok, first]));
            pipeBoth();
          });
        } else {
          client.write(ok);
          pipeBoth();
        }
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    };
    client.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const bareUrl = `http://127.0.0.1:${port}`;
  const url = opts.auth ? `http://${encodeURIComponent(opts.auth.user)}:${encodeURIComponent(opts.auth.password)}@127.0.0.1:${port}` : bareUrl;
  return {
    host: '127.0.0.1',
    port,
    url,
    bareUrl,
    get connections() {
      return connections;
    },
    get tunnels() {
      return tunnels;
    },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A TCP echo server on 127.0.0.1 (optionally greeting first), for tunnel tests. */
export async function startEchoServer(opts: { greeting?: string } = {}): Promise<{ port: number; connections: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    if (opts.greeting !== undefined) s.write(opts.greeting);
    s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
