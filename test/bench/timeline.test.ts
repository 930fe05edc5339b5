import { test } from 'node:test';
import assert from 'node:assert/strict';
import { POINTS, SettleDetector, checkTimeline, emptyTimeline, timelineFromRecognition, type Timeline } from '../../src/bench/timeline.js';
import { RecognitionRecorder } from '../../src/usb/recognition.js';

function full(): Timeline {
  const t = emptyTimeline();
  let v = 10;
  for (const p of POINTS) t[p.key] = v += 10;
  return t;
}

test('every point has a label; the empty timeline has them all null', () => {
  const t = emptyTimeline();
  assert.equal(Object.keys(t).length, POINTS.length);
  assert.ok(Object.values(t).every((v) => v === null));
  assert.ok(POINTS.every((p) => p.label.length > 0));
  assert.equal(POINTS.at(-1)!.key, 'settled');
});

test('checkTimeline: complete and in order, missing points, out of order', () => {
  assert.deepEqual(checkTimeline(full()), []);
  const missing = { ...full(), firstReadLba0: null };
  assert.deepEqual(checkTimeline(missing), ['firstReadLba0 missing']);
  // a CD may never read LBA 0: leave it out of the required points
  assert.deepEqual(checkTimeline(missing, ['usbredirUp', 'firstRead', 'settled']), []);
  const swapped = { ...full(), setConfiguration: 5 };
  assert.match(checkTimeline(swapped).join('\n'), /setConfiguration \(5\.0 ms\) before firstControl/);
  // channelsListed is not ordered (the usbredir channel may open before the list comes)
  assert.deepEqual(checkTimeline({ ...full(), channelsListed: 99_999 }), []);
});

test('timelineFromRecognition takes the device points from a recorder report', () => {
  const rec = new RecognitionRecorder(() => 1000);
  rec.record({ t: 1010, kind: 'hello-received', version: 'x', caps: [] });
  rec.record({ t: 1011, kind: 'device-connect-sent' });
  rec.record({ t: 1200, kind: 'control', setup: { requestType: 0x80, request: 6, value: 0x100, index: 0, length: 18 }, status: 'success', length: 18 } as never);
  rec.record({ t: 1300, kind: 'set-configuration', configuration: 1, status: 'success' });
  const base = { ...emptyTimeline(), mainInit: 5, usbredirUp: 8 };
  const t = timelineFromRecognition(base, rec.report(), 2000);
  assert.equal(t.mainInit, 5);
  assert.equal(t.helloReceived, 10);
  assert.equal(t.deviceConnectSent, 11);
  assert.equal(t.firstControl, 200);
  assert.equal(t.setConfiguration, 300);
  assert.equal(t.firstScsiCommand, null);
  assert.equal(t.settled, 2000);
});

test('settle: armed by the first SCSI command, idle time not counted', () => {
  const s = new SettleDetector(1000);
  // enumeration and the delay_use pause before the first command do not count
  s.activity(100, 'configured');
  s.activity(120, 'transfer');
  assert.equal(s.isArmed, false);
  assert.equal(s.remaining(5000), null);
  assert.equal(s.settledAt(5000), null);
  s.activity(1500, 'scsi');
  s.activity(1600, 'transfer'); // a SCSI device's bulk transfers are part of its commands
  s.activity(1700, 'scsi');
  assert.equal(s.remaining(2000), 700);
  assert.equal(s.settledAt(2000), null);
  assert.equal(s.settledAt(2700), 1700);
  // a later command moves it
  s.activity(2800, 'scsi');
  assert.equal(s.settledAt(3000), null);
  assert.equal(s.settledAt(3800), 2800);
});

test('settle: bytes still on a limited link count once armed, but never arm', () => {
  const s = new SettleDetector(500);
  s.activity(50, 'link');
  assert.equal(s.isArmed, false);
  s.activity(100, 'scsi');
  s.activity(3100, 'link'); // the last data phase took 3 s to cross the link
  assert.equal(s.settledAt(3200), null);
  assert.equal(s.settledAt(3600), 3100);
  // an older time does not move it back
  s.activity(200, 'link');
  assert.equal(s.lastActivity, 3100);
});

test('settle: devices without a SCSI trace arm on SET_CONFIGURATION and count transfers', () => {
  const s = new SettleDetector(300, 'configured');
  s.activity(10, 'transfer');
  assert.equal(s.isArmed, false);
  s.activity(50, 'configured');
  s.activity(90, 'transfer');
  assert.equal(s.settledAt(400), 90);
});
