// The client's own turnaround (TurnStats): received bytes -> the next write, and how a
// Connection feeds it (after the incoming limiter, before the outgoing one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket } from '../../src/session/limiter.js';
import { Connection } from '../../src/session/channels/connection.js';
import { ChannelStats, TurnStats } from '../../src/session/stats/counters.js';
import { socketPair } from '../helpers/socket-pair.js';

test('a turn runs from the last bytes received to the next write', () => {
  const t = new TurnStats();
  t.out(5);
  assert.deepEqual([t.count, t.ms], [0, 0], 'a write with nothing received before it is no turn');
  t.in(10);
  t.out(12.5);
  t.out(13);
  assert.deepEqual([t.count, t.ms], [1, 2.5], 'one write answers the bytes; the next is not a turn');
  t.in(20);
  t.in(25);
  t.out(26);
  assert.deepEqual([t.count, t.ms], [2, 3.5], 'the clock restarts with the bytes that completed the request');
  t.in(30);
  t.idle();
  t.out(40);
  assert.deepEqual([t.count, t.ms], [2, 3.5], 'after idle() the write is our own initiative');
});

test("a connection's turns leave out the outgoing limiter's queue", async () => {
  const { sock, peer, close } = await socketPair();
  const conn = new Connection(sock, new ChannelStats(), 'test', () => {});
  conn.limitOut = new TokenBucket(100_000, 5000);
  peer.write(Buffer.alloc(16));
  const request = await conn.read(16);
  assert.equal(request.length, 16);
  // the reply: 30 KB through a 100 KB/s limiter takes ~0.25 s to leave, but we wrote it at once
  let got = 0;
  const t0 = performance.now();
  const all = new Promise<void>((r) => peer.on('data', (d) => { got += d.length; if (got >= 30_000) r(); }));
  for (let i = 0; i < 30; i++) conn.write(Buffer.alloc(1000));
  await all;
  assert.ok(performance.now() - t0 > 200, 'the limiter held the reply');
  assert.equal(conn.stats.turns.count, 1);
  assert.ok(conn.stats.turns.ms < 50, `turn ${conn.stats.turns.ms} ms`);
  conn.close();
  close();
});
