import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpiceUri } from '../../src/session/uri.js';
import { SpiceError } from '../../src/util/errors.js';
import { parseSubject, subjectMatches } from '../../src/session/transport.js';

test('URIs', () => {
  assert.deepEqual(parseSpiceUri('spice://127.0.0.1:5900'), { host: '127.0.0.1', port: 5900 });
  assert.deepEqual(parseSpiceUri('spice://host?port=5900&tls-port=5901'), { host: 'host', port: 5900, tlsPort: 5901 });
  assert.deepEqual(parseSpiceUri('spice://host;tls-port=5901'), { host: 'host', tlsPort: 5901 });
  assert.deepEqual(parseSpiceUri('spice+tls://h.example:5901?port=1'), { host: 'h.example', tlsPort: 5901 });
  assert.deepEqual(parseSpiceUri('spice://[::1]:5900'), { host: '::1', port: 5900 });
  assert.deepEqual(parseSpiceUri('spice://user@host:5900/'), { host: 'host', port: 5900 });
  assert.deepEqual(parseSpiceUri('spice+unix:///run/vm%20a.sock'), { unixPath: '/run/vm a.sock' });
  assert.deepEqual(parseSpiceUri('spice://h:1?password=p%26w'), { host: 'h', port: 1, password: 'p&w' });
  for (const bad of ['vnc://h:1', 'spice://h', 'spice://h:99999', 'spice://h:1?foo=1', 'spice://::1:5900', 'spice+unix://rel', 'spice://:5900']) {
    assert.throws(() => parseSpiceUri(bad), (e: unknown) => e instanceof SpiceError && e.code === 'usage', bad);
  }
});

test('host subject: ordered, same count, escapes, case and spaces folded', () => {
  assert.deepEqual(parseSubject('C=IL, L=Raanana, O=Red Hat\\, Inc, CN=host'), [['C', 'IL'], ['L', 'Raanana'], ['O', 'Red Hat, Inc'], ['CN', 'host']]);
  const cert = 'C=XX\nO=spicectl test\nCN=localhost';
  assert.ok(subjectMatches('C=XX,O=spicectl test,CN=localhost', cert));
  assert.ok(subjectMatches('C=XX, O=Spicectl  Test, CN=localhost', cert));
  assert.ok(!subjectMatches('C=XX,O=spicectl test', cert));
  assert.ok(!subjectMatches('O=spicectl test,C=XX,CN=localhost', cert));
  assert.ok(!subjectMatches('C=XX,O=spicectl test,CN=other', cert));
});
