// The seed use case: a monitoring script started per connection prints one JSON line about a
// local HTTP service: {"status": "OK"} while it answers, {"status": "ERROR", ...} once it is
// stopped or failing.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FIXTURES, have, programService, startDaemon } from '../../helpers/daemon.js';
import { freePort, tcpRequest } from '../../helpers/net.js';

async function check(port: number): Promise<{ status: string; message?: string }> {
  const r = await tcpRequest({ port, timeoutMs: 10_000 });
  assert.equal(r.ended, 'eof');
  return JSON.parse(r.data.toString()) as { status: string; message?: string };
}

describe('JSON health monitor', { skip: have('python3') ? false : 'python3 is not installed' }, () => {
  test('OK while the service answers, ERROR with a message when it fails or is stopped', async (t) => {
    let healthy = true;
    const http: Server = createServer((req, res) => {
      const ok = req.url === '/health' && healthy;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(ok ? 'ok\n' : 'unavailable\n');
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const httpPort = (http.address() as { port: number }).port;
    let httpOpen = true;
    t.after(() => {
      if (httpOpen) http.close();
    });

    const port = await freePort();
    const daemon = await startDaemon(t, {
      services: [
        programService('health', port, join(FIXTURES, 'health-monitor'), {
          env: `HEALTH_URL=http://127.0.0.1:${httpPort}/health`,
          only_from: '127.0.0.0/8 ::1',
        }),
      ],
    });

    assert.deepEqual(await check(port), { status: 'OK' });
    assert.deepEqual(await check(port), { status: 'OK' });

    healthy = false;
    const failing = await check(port);
    assert.equal(failing.status, 'ERROR');
    assert.match(failing.message ?? '', /503/);

    http.closeAllConnections();
    await new Promise<void>((r) => http.close(() => r()));
    httpOpen = false;
    const stopped = await check(port);
    assert.equal(stopped.status, 'ERROR');
    assert.match(stopped.message ?? '', /refused/i);
    await daemon.waitForServiceLog(/EXIT: health status=0/);
  });
});
