// Display fps: 50 ms update batches; bursts of draws count once, however split; at most 20 a second.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { BATCH_MS, FrameCounter } from '../../src/session/stats/frames.js';

/** Feeds draws at the given monotonic times (ms); wall clock = 1e12 + t. */
function feed(times: number[]): FrameCounter {
  const f = new FrameCounter();
  for (const t of times) f.draw(t, 1e12 + t);
  return f;
}

test('a burst of draws is one frame, even split by a pause shorter than 50 ms; the next update is another', () => {
  const f = feed([0, 0.2, 0.5, 3, 7, 30, 49.9, 1000, 1000.1, 1002]);
  assert.equal(f.draws, 10);
  assert.equal(f.frames, 2);
});

test('updates 60 ms apart count each; faster ones are capped at 20 a second', () => {
  const slow = feed(Array.from({ length: 50 }, (_, i) => i * 60));
  assert.equal(slow.frames, 50);
  const video = Array.from({ length: 90 }, (_, i) => i * 33.3); // 30 fps for 3 s
  const f = feed(video);
  assert.equal(BATCH_MS, 50);
  assert.equal(f.frames, 45, 'every other frame joins the batch of the one before');
  assert.ok(Math.abs(f.averageFps(video.at(-1)! + 33.3) - 15) < 0.5);
  const trickle = feed(Array.from({ length: 400 }, (_, i) => i * 5)); // a draw every 5 ms for 2 s
  assert.equal(trickle.frames, 40, '2 s / 50 ms');
});

test('fps is the frames of the last 3 whole seconds, per second', () => {
  const f = new FrameCounter();
  const base = 1_000_000_000_000; // a whole second
  // 5 frames a second for 4 seconds (200 ms apart), each a burst of 3 draws
  for (let s = 0; s < 4; s++) {
    for (let k = 0; k < 5; k++) {
      const t = s * 1000 + k * 200;
      for (let d = 0; d < 3; d++) f.draw(t + d * 0.1, base + t + d * 0.1);
    }
  }
  assert.equal(f.frames, 20);
  assert.equal(f.draws, 60);
  assert.equal(f.fps(base + 4000 + 10), 5);
  assert.equal(f.fps(base + 30_000), 0, 'idle for long: 0');
});

test('O(1) per draw: a million draws in well under a second', () => {
  const f = new FrameCounter();
  const ee = new EventEmitter();
  ee.on('draw', () => f.draw());
  const t0 = performance.now();
  for (let i = 0; i < 1_000_000; i++) ee.emit('draw', 0);
  const ms = performance.now() - t0;
  assert.equal(f.draws, 1_000_000);
  assert.ok(ms < 1000, `${ms} ms`);
});
