import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRate, TokenBucket } from '../../src/session/limiter.js';
import { Connection } from '../../src/session/channels/connection.js';
import { ChannelStats } from '../../src/session/stats/counters.js';
import { socketPair } from '../helpers/socket-pair.js';

test('rates', () => {
  assert.equal(parseRate('30KB/s'), 30000);
  assert.equal(parseRate('30kb'), 30000);
  assert.equal(parseRate('1.5MB/s'), 1.5e6);
  assert.equal(parseRate('240kbit/s'), 30000);
  assert.equal(parseRate('64KiB/s'), 65536);
  assert.equal(parseRate('none'), null);
  assert.throws(() => parseRate('fast'), /not a rate/);
  assert.throws(() => parseRate('10B/s'), /below 100/);
});

test('token bucket: overdraw then wait', () => {
  const b = new TokenBucket(10000, 1000);
  assert.equal(b.delayMs(), 0);
  b.spend(3000);
  const d = b.delayMs();
  assert.ok(d >= 190 && d <= 200, `${d}`);
});

// Measures the real rate through a loopback socket pair (outgoing and incoming limits).
test('a limited connection moves bytes at the limit, both ways', async () => {
  const { sock, peer, close } = await socketPair();
  const conn = new Connection(sock, new ChannelStats(), 'test', () => {});
  conn.limitOut = new TokenBucket(100_000, 5000);
  conn.limitIn = new TokenBucket(100_000, 5000);
  conn.startMessages(true, () => {}, () => {});
  // out: 50 KB at 100 KB/s ~ 0.45 s (the burst goes at once)
  let got = 0;
  const t0 = performance.now();
  const all = new Promise<void>((r) => peer.on('data', (d) => { got += d.length; if (got >= 50_000) r(); }));
  for (let i = 0; i < 50; i++) conn.write(Buffer.alloc(1000));
  await all;
  const outS = (performance.now() - t0) / 1000;
  assert.ok(outS > 0.4 && outS < 0.8, `out took ${outS}s`);
  // in: the peer sends 60 KB; reading is paused so it takes ~0.55 s
  const t1 = performance.now();
  peer.write(Buffer.alloc(60_000));
  await new Promise<void>((r) => { const iv = setInterval(() => { if (conn.stats.in.bytes >= 60_000) { clearInterval(iv); r(); } }, 5); });
  const inS = (performance.now() - t1) / 1000;
  assert.ok(inS > 0.45 && inS < 0.9, `in took ${inS}s`);
  conn.close();
  close();
});
