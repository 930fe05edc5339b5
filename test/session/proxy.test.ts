// HTTP CONNECT proxy client (src/session/proxy.ts) against the local test proxy and echo server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { connectRequest, connectViaProxy, describeProxy, parseProxyUrl, redact, resolveProxy } from '../../src/session/proxy.js';
import { SpiceError, type ErrorCode } from '../../src/util/errors.js';
import { startEchoServer, startHttpProxy } from '../helpers/http-proxy.js';

const isCode = (code: ErrorCode, re?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof SpiceError, `expected a SpiceError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  if (re) assert.match(e.message, re);
  return true;
};

/** Write, then read until n bytes came back. */
async function roundTrip(sock: net.Socket, data: string, n = data.length): Promise<string> {
  let got = '';
  const done = new Promise<void>((resolve, reject) => {
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.length >= n) resolve();
    });
    sock.once('error', reject);
  });
  sock.write(data);
  await done;
  return got;
}

describe('parseProxyUrl (spice-gtk rules)', () => {
  test('scheme, credentials, default port, IPv6, trailing slash', () => {
    assert.deepEqual(parseProxyUrl('http://proxy.example:8080'), { scheme: 'http', host: 'proxy.example', port: 8080 });
    assert.deepEqual(parseProxyUrl('proxy.example'), { scheme: 'http', host: 'proxy.example', port: 3128 });
    assert.deepEqual(parseProxyUrl('HTTP://u:p@h:1/'), { scheme: 'http', host: 'h', port: 1, username: 'u', password: 'p' });
    assert.deepEqual(parseProxyUrl('http://us%40er:p%3Ass@h'), { scheme: 'http', host: 'h', port: 3128, username: 'us@er', password: 'p:ss' });
    assert.deepEqual(parseProxyUrl('http://u:50%off%@h'), { scheme: 'http', host: 'h', port: 3128, username: 'u', password: '50%off%' }, 'a stray % stays');
    assert.deepEqual(parseProxyUrl('http://u:a:b@h'), { scheme: 'http', host: 'h', port: 3128, username: 'u', password: 'a:b' });
    assert.deepEqual(parseProxyUrl('http://user@h:2'), { scheme: 'http', host: 'h', port: 2, username: 'user' });
    assert.deepEqual(parseProxyUrl('http://[::1]:3128'), { scheme: 'http', host: '::1', port: 3128 });
  });

  test('bad URLs are usage errors that never show the password', () => {
    for (const [bad, re] of [
      ['socks5://h:1080', /only HTTP CONNECT/],
      ['https://h:3129', /https:\/\/ proxies .* not supported/],
      ['http://h:0', /invalid port "0"/],
      ['http://h:99999', /invalid port/],
      ['http://h:12ab', /invalid port/],
      ['http://:8080', /no host/],
      ['http://h:1/path', /no path/],
      ['http://::1:3128', /brackets/],
      ['http://u:s3cret@h:x', /invalid port/],
      ['', /empty/],
    ] as const) {
      assert.throws(() => parseProxyUrl(bad), (e: unknown) => isCode('usage', re)(e) && !(e as Error).message.includes('s3cret'), bad);
    }
  });

  test('describeProxy and redact hide passwords', () => {
    assert.equal(describeProxy(parseProxyUrl('http://bob:pw@h:1')), 'http://bob:***@h:1');
    assert.equal(describeProxy(parseProxyUrl('[::1]:9')), 'http://[::1]:9');
    assert.equal(redact('http://bob:pw@h:1'), 'http://bob:***@h:1');
    assert.equal(redact('bob:pw@h:1'), 'bob:***@h:1');
    assert.equal(redact('http://h:1'), 'http://h:1');
  });

  test('resolveProxy: flag, then the .vv file, then SPICE_PROXY; empty means none', () => {
    const env = { SPICE_PROXY: 'http://env:1' };
    assert.equal(resolveProxy({ env })?.host, 'env');
    assert.equal(resolveProxy({ file: 'http://file:2', env })?.host, 'file');
    assert.equal(resolveProxy({ flag: 'http://flag:3', file: 'http://file:2', env })?.host, 'flag');
    assert.equal(resolveProxy({ flag: '', file: 'http://file:2', env }), undefined);
    assert.equal(resolveProxy({ file: '', env }), undefined);
    assert.equal(resolveProxy({ env: {} }), undefined);
    assert.equal(resolveProxy({ env: { SPICE_PROXY: '' } }), undefined);
  });

  test('CONNECT request: authority form, Host, basic auth, IPv6 in brackets', () => {
    assert.equal(connectRequest(parseProxyUrl('h:1'), 'vm.example', 5900), 'CONNECT vm.example:5900 HTTP/1.1\r\nHost: vm.example:5900\r\n\r\n');
    const r = connectRequest(parseProxyUrl('http://Aladdin:open%20sesame@h:1'), '::1', 61000);
    assert.match(r, /^CONNECT \[::1\]:61000 HTTP\/1\.1\r\nHost: \[::1\]:61000\r\n/);
    assert.match(r, /\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n$/);
    // Proxmox's spiceproxy host names contain colons and go out verbatim, as spice-gtk sends them
    assert.match(connectRequest(parseProxyUrl('h'), 'pvespiceproxy:6543a1b2:100:pve::01ab', 61000), /^CONNECT pvespiceproxy:6543a1b2:100:pve::01ab:61000 HTTP\/1\.1\r\n/);
  });
});

describe('connectViaProxy', () => {
  let echo: Awaited<ReturnType<typeof startEchoServer>>;
  before(async () => {
    echo = await startEchoServer();
  });
  after(() => echo.close());

  test('tunnels to the target; bytes flow both ways; the proxy counts one connection', async () => {
    const proxy = await startHttpProxy();
    try {
      const sock = await connectViaProxy(proxy.url, '127.0.0.1', echo.port, { timeoutMs: 5000 });
      assert.equal(await roundTrip(sock, 'REDQ hello'), 'REDQ hello');
      sock.destroy();
      assert.equal(proxy.connections, 1);
      assert.equal(proxy.tunnels, 1);
      assert.deepEqual(proxy.requests.map((r) => [r.method, r.target, r.status]), [['CONNECT', `127.0.0.1:${echo.port}`, 200]]);
    } finally {
      await proxy.close();
    }
  });

  test('basic auth from the URL; 407 without or with wrong credentials is an auth error (exit 4)', async () => {
    const proxy = await startHttpProxy({ auth: { user: 'spice', password: 'p@ss:word' } });
    try {
      const sock = await connectViaProxy(proxy.url, '127.0.0.1', echo.port, { timeoutMs: 5000 });
      assert.equal(await roundTrip(sock, 'x'), 'x');
      sock.destroy();
      assert.equal(proxy.requests[0]!.credentials, 'spice:p@ss:word');
      await assert.rejects(connectViaProxy(proxy.bareUrl, '127.0.0.1', echo.port, { timeoutMs: 5000 }), isCode('auth', /requires credentials \(407 Proxy Authentication Required\): put them in the proxy URL/));
      const wrong = proxy.url.replace('p%40ss', 'nope');
      await assert.rejects(connectViaProxy(wrong, '127.0.0.1', echo.port, { timeoutMs: 5000 }), (e: unknown) => isCode('auth', /refused the credentials of user "spice"/)(e) && !(e as Error).message.includes('nope'));
      assert.equal(proxy.tunnels, 1);
    } finally {
      await proxy.close();
    }
  });

  test('refusals are "unreachable" (exit 3) with a hint per status', async () => {
    const proxy = await startHttpProxy({ refuse: (_h, port) => (port === 1 ? 403 : port === 2 ? 503 : undefined) });
    try {
      await assert.rejects(connectViaProxy(proxy.url, 'vm', 1, { timeoutMs: 5000 }), isCode('unreachable', /refused the tunnel to vm:1 \(403 Forbidden\): the proxy does not allow/));
      await assert.rejects(connectViaProxy(proxy.url, 'vm', 2, { timeoutMs: 5000 }), isCode('unreachable', /503 Service Unavailable\): the proxy could not reach the SPICE server/));
      // the proxy cannot connect to the target: 502
      const closed = await startEchoServer();
      await closed.close();
      await assert.rejects(connectViaProxy(proxy.url, '127.0.0.1', closed.port, { timeoutMs: 5000 }), isCode('unreachable', /502 Bad Gateway/));
    } finally {
      await proxy.close();
    }
  });

  test('no proxy listening: unreachable, naming the proxy', async () => {
    const gone = await startHttpProxy();
    await gone.close();
    await assert.rejects(connectViaProxy(gone.url, '127.0.0.1', echo.port, { timeoutMs: 5000 }), isCode('unreachable', new RegExp(`cannot reach proxy 127\\.0\\.0\\.1:${gone.port}: connection refused`)));
  });

  test('a silent proxy times out (exit 7); a non-HTTP answer is a protocol error (exit 6)', async () => {
    const silent = await startHttpProxy({ silent: true });
    const garbage = await startHttpProxy({ rawAnswer: 'REDQ\x02\x00\x00\x00garbage that is not HTTP\r\n\r\n' });
    const closer = await startHttpProxy({ rawAnswer: '' });
    try {
      await assert.rejects(connectViaProxy(silent.url, 'vm', 5900, { timeoutMs: 300 }), isCode('timeout', /did not answer the CONNECT to vm:5900 within 300 ms/));
      await assert.rejects(connectViaProxy(garbage.url, 'vm', 5900, { timeoutMs: 5000 }), isCode('protocol', /is not an HTTP proxy: it answered "REDQ/));
      await assert.rejects(connectViaProxy(closer.url, 'vm', 5900, { timeoutMs: 5000 }), isCode('unreachable', /closed the connection without answering/));
    } finally {
      await Promise.all([silent.close(), garbage.close(), closer.close()]);
    }
  });

  test('bytes that arrive with the 200 answer are kept for the caller (unshift)', async () => {
    const greeter = await startEchoServer({ greeting: 'SERVER-FIRST\n' });
    const proxy = await startHttpProxy({ bundleFirstChunk: true });
    try {
      const sock = await connectViaProxy(proxy.url, '127.0.0.1', greeter.port, { timeoutMs: 5000 });
      // a consumer attaching 'data' later (as the SPICE Connection does) sees the greeting first
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(sock.readableLength, 'SERVER-FIRST\n'.length);
      assert.equal(await roundTrip(sock, 'ping', 'SERVER-FIRST\nping'.length), 'SERVER-FIRST\nping');
      sock.destroy();
    } finally {
      await proxy.close();
      await greeter.close();
    }
  });

  test('answers split into 1-byte pieces and LF-only line endings are read correctly', async () => {
    const server = net.createServer((c) => {
      c.once('data', async () => {
        const answer = 'HTTP/1.0 200 OK\nVia: test\n\nLEFT';
        for (const ch of answer) {
          c.write(ch);
          await new Promise((r) => setImmediate(r));
        }
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const port = (server.address() as net.AddressInfo).port;
      const sock = await connectViaProxy(`http://127.0.0.1:${port}`, 'vm', 1, { timeoutMs: 5000 });
      const got = await new Promise<string>((resolve) => {
        let s = '';
        sock.on('data', (d: Buffer) => {
          s += d.toString();
          if (s.length >= 4) resolve(s);
        });
      });
      assert.equal(got, 'LEFT');
      sock.destroy();
    } finally {
      server.close();
    }
  });

  test('oversized response headers are a protocol error', async () => {
    const server = net.createServer((c) => c.once('data', () => c.write(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(20000)}`)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const port = (server.address() as net.AddressInfo).port;
      await assert.rejects(connectViaProxy(`127.0.0.1:${port}`, 'vm', 1, { timeoutMs: 5000 }), isCode('protocol', /more than 16 KiB/));
    } finally {
      server.close();
    }
  });
});
