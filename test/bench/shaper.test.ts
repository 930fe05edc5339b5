// The link shaper on loopback: measured rates, one bucket per direction shared by all
// connections, independent directions, byte-exact forwarding, delay, channel tagging.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { LinkShaper, SharedBucket, parseTarget } from '../../src/bench/shaper.js';

const servers: net.Server[] = [];
const shapers: LinkShaper[] = [];
after(async () => {
  await Promise.all(shapers.map((s) => s.close()));
  for (const s of servers) s.close();
});

/** A server running onConn for every connection; resolves with its port. */
async function serve(onConn: (s: net.Socket) => void): Promise<number> {
  const server = net.createServer(onConn);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

async function shaped(target: number, opts: ConstructorParameters<typeof LinkShaper>[0]): Promise<{ shaper: LinkShaper; port: number }> {
  const shaper = new LinkShaper(opts);
  shapers.push(shaper);
  return { shaper, port: await shaper.listen({ host: '127.0.0.1', port: target }) };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Reads until `n` bytes arrived; resolves with them and the ms it took from `t0`. */
function receive(s: net.Socket, n: number, t0 = performance.now()): Promise<{ data: Buffer; ms: number }> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    s.on('data', (d: Buffer) => {
      parts.push(d);
      got += d.length;
      if (got >= n) resolve({ data: Buffer.concat(parts), ms: performance.now() - t0 });
    });
    s.once('error', reject);
  });
}

// The first two slices go at once (a full bucket, then one overdraw); the rest at the rate.
// Never faster than the rate; a loaded machine may make it a little slower.
const near = (ms: number, expected: number, what: string) =>
  assert.ok(ms >= expected * 0.95 && ms <= expected * 1.25 + 50, `${what}: ${ms.toFixed(0)} ms, expected ~${expected.toFixed(0)} ms`);

test('one connection downloads at the rate (the first burst goes at once)', async () => {
  const payload = randomBytes(300_000);
  const port = await serve((s) => s.end(payload));
  const { shaper, port: p } = await shaped(port, { rate: 200_000 });
  const t0 = performance.now();
  const c = await connect(p);
  const { data, ms } = await receive(c, payload.length, t0);
  assert.ok(data.equals(payload));
  near(ms, ((payload.length - 2 * shaper.down.slice) / 200_000) * 1000, 'down 300 kB at 200 kB/s');
  assert.equal(shaper.counters.down, payload.length);
  c.destroy();
});

test('one connection uploads at the rate', async () => {
  const payload = randomBytes(200_000);
  let t0 = 0;
  const got = new Promise<{ data: Buffer; ms: number }>((resolve) => {
    void serve((s) => void receive(s, payload.length, t0).then(resolve));
  });
  await new Promise((r) => setTimeout(r, 20));
  const port = (servers.at(-1)!.address() as net.AddressInfo).port;
  const { shaper, port: p } = await shaped(port, { rate: 100_000 });
  const c = await connect(p);
  t0 = performance.now();
  c.write(payload);
  const { data, ms } = await got;
  assert.ok(data.equals(payload));
  near(ms, ((payload.length - 2 * shaper.up.slice) / 100_000) * 1000, 'up 200 kB at 100 kB/s');
  c.destroy();
});

test('all connections share one bucket per direction, and share it fairly', async () => {
  const payload = randomBytes(150_000);
  const port = await serve((s) => s.end(payload));
  const { shaper, port: p } = await shaped(port, { rate: 200_000 });
  const t0 = performance.now();
  const [a, b] = await Promise.all([connect(p), connect(p)]);
  const [ra, rb] = await Promise.all([receive(a, payload.length, t0), receive(b, payload.length, t0)]);
  const total = 2 * payload.length;
  near(Math.max(ra.ms, rb.ms), ((total - 2 * shaper.down.slice) / 200_000) * 1000, 'two downloads of 150 kB at 200 kB/s together');
  // FIFO slices: neither finishes long before the other
  assert.ok(Math.abs(ra.ms - rb.ms) < 250, `${ra.ms.toFixed(0)} vs ${rb.ms.toFixed(0)} ms`);
  assert.equal(shaper.counters.connections, 2);
  a.destroy();
  b.destroy();
});

test('the two directions are independent', async () => {
  const down = randomBytes(150_000);
  const up = randomBytes(150_000);
  let upDone!: Promise<{ data: Buffer; ms: number }>;
  const t0 = performance.now();
  const port = await serve((s) => {
    upDone = receive(s, up.length, t0);
    s.write(down);
  });
  const { port: p } = await shaped(port, { rate: 100_000 });
  const c = await connect(p);
  c.write(up);
  const rd = await receive(c, down.length, t0);
  const ru = await upDone;
  assert.ok(ru.data.equals(up) && rd.data.equals(down));
  // each direction ~1.4 s; one shared bucket for both would take ~2.9 s
  assert.ok(Math.max(rd.ms, ru.ms) < 2200, `down ${rd.ms.toFixed(0)} ms, up ${ru.ms.toFixed(0)} ms`);
  c.destroy();
});

test('unlimited: a byte-exact echo of 4 MB, half-close passed on', async () => {
  const port = await serve((s) => s.pipe(s));
  const { shaper, port: p } = await shaped(port, { rate: null });
  const payload = randomBytes(4 << 20);
  const c = await connect(p);
  const ended = new Promise<void>((r) => c.once('end', r));
  const got = receive(c, payload.length);
  c.end(payload);
  const { data } = await got;
  assert.ok(data.subarray(0, payload.length).equals(payload));
  await ended;
  assert.equal(shaper.counters.up, payload.length);
  assert.equal(shaper.counters.down, payload.length);
});

test('delay: a round trip takes twice the one-way delay', async () => {
  const port = await serve((s) => s.on('data', (d) => s.write(d)));
  const { port: p } = await shaped(port, { rate: null, delayMs: 80 });
  const c = await connect(p);
  const t0 = performance.now();
  const got = receive(c, 4, t0);
  c.write('ping');
  const { data, ms } = await got;
  assert.equal(data.toString(), 'ping');
  assert.ok(ms >= 158 && ms < 400, `${ms.toFixed(0)} ms`);
  c.destroy();
});

test('connections are tagged with their SPICE channel; busy and done times per direction', async () => {
  const port = await serve((s) => s.on('data', () => {}));
  const { shaper, port: p } = await shaped(port, { rate: 100_000 });
  const c = await connect(p);
  // SpiceLinkHeader (REDQ, 2, 2, size) + SpiceLinkMess start: connection id, type 9 (usbredir), id 1
  const head = Buffer.alloc(22);
  head.write('REDQ', 0, 'latin1');
  head.writeUInt32LE(2, 4);
  head.writeUInt32LE(2, 8);
  head.writeUInt32LE(18, 12);
  head.writeUInt32LE(0x1234, 16);
  head[20] = 9;
  head[21] = 1;
  c.write(head);
  c.write(Buffer.alloc(30_000));
  await new Promise((r) => setTimeout(r, 20));
  const conn = shaper.find(9);
  assert.ok(conn, 'usbredir connection found');
  assert.equal(conn.channelId, 1);
  assert.equal(shaper.find(9, 0), undefined);
  assert.equal(conn.up.busy, true, 'still crossing the link');
  const t = performance.now();
  while (conn.up.busy) await new Promise((r) => setTimeout(r, 10));
  assert.equal(conn.up.bytes, 30_022);
  assert.ok(conn.up.lastDoneAt! >= t - 50 && conn.up.lastDoneAt! <= performance.now());
  c.destroy();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(shaper.find(9), undefined, 'closed connections are forgotten');
  // a non-SPICE client is untagged
  const d = await connect(p);
  d.write('GET / HTTP/1.0\r\n\r\nxxxxxxxxx');
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(shaper.list().at(-1)!.channelType, null);
  d.destroy();
});

test('a target that refuses closes the client', async () => {
  const port = await serve(() => {});
  servers.pop()!.close();
  await new Promise((r) => setTimeout(r, 20));
  const { port: p } = await shaped(port, { rate: 30_000 });
  const c = await connect(p);
  await new Promise<void>((resolve) => c.once('close', () => resolve()));
});

test('a shared bucket serves waiters in order', async () => {
  const b = new SharedBucket(50_000, 1000);
  const order: number[] = [];
  const t0 = performance.now();
  await Promise.all([1, 2, 3, 4].map((i) => b.take(1000).then(() => order.push(i))));
  assert.deepEqual(order, [1, 2, 3, 4]);
  // the full bucket lets two slices go at once (one overdraws it), then 2000 B at 50 kB/s = 40 ms
  const ms = performance.now() - t0;
  assert.ok(ms >= 37 && ms < 200, `${ms.toFixed(0)} ms`);
  assert.equal(b.bytes, 4000);
});

test('targets', () => {
  assert.deepEqual(parseTarget('5930'), { host: '127.0.0.1', port: 5930 });
  assert.deepEqual(parseTarget('vm.example:5901'), { host: 'vm.example', port: 5901 });
  assert.deepEqual(parseTarget('[::1]:5900'), { host: '::1', port: 5900 });
  assert.deepEqual(parseTarget('unix:/run/vm.sock'), { path: '/run/vm.sock' });
  assert.throws(() => parseTarget('host:99999'), /not a target/);
  assert.throws(() => parseTarget('unix:rel'), /absolute/);
});
