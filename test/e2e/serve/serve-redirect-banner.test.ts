// redirect = host port (an in-process TCP proxy, TRAFFIC byte counts, half-close both ways) and
// banners (raw file bytes before anything else, and once admitted).

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { FIXTURES, internalService, programService, startDaemon, type ServiceDef } from '../../helpers/daemon.js';
import { freePort, tcpRequest } from '../../helpers/net.js';
import { tempDir } from '../../helpers/temp.js';

/** A target server: greets, then once the client has finished sending, tells what it got and closes. */
async function target(t: TestContext): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const chunks: Buffer[] = [];
    socket.write('hello from target\n');
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('end', () => socket.end(`target got ${Buffer.concat(chunks).length} bytes: ${Buffer.concat(chunks).toString()}\n`));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const a = server.address();
  return typeof a === 'object' && a !== null ? a.port : 0;
}

/** A redirect service (no server) that logs TRAFFIC. */
const redirectService = (name: string, port: number, to: string): ServiceDef =>
  programService(name, port, null, { redirect: to, log_on_success: 'PID HOST EXIT DURATION TRAFFIC' });

describe('redirect', () => {
  test('proxies both ways, passes the half-close on, and logs TRAFFIC', async (t) => {
    const targetPort = await target(t);
    const port = await freePort();
    const daemon = await startDaemon(t, { services: [redirectService('redir', port, `127.0.0.1 ${targetPort}`)] });
    const request = 'x'.repeat(5000) + 'END';
    const r = await tcpRequest({ port, send: request });
    const expected = `hello from target\ntarget got ${request.length} bytes: ${request}\n`;
    assert.equal(r.data.toString(), expected);
    assert.equal(r.ended, 'eof');
    await daemon.waitForServiceLog(new RegExp(`TRAFFIC: redir in=${request.length}\\(bytes\\) out=${expected.length}\\(bytes\\)`));
    await daemon.waitForServiceLog(/EXIT: redir status=0 pid=0 duration=\d+\(sec\)/);
    assert.match(daemon.serviceLog(), /START: redir pid=0 from=::ffff:127\.0\.0\.1/);
    // TRAFFIC comes before EXIT, as in xinetd.
    const log = daemon.serviceLog();
    assert.ok(log.indexOf('TRAFFIC: redir') < log.indexOf('EXIT: redir'));
  });

  test('a target that refuses: the client is closed, the daemon says why, the service goes on', async (t) => {
    const dead = await freePort();
    const port = await freePort();
    const daemon = await startDaemon(t, { services: [redirectService('nowhere', port, `127.0.0.1 ${dead}`)] });
    for (let i = 0; i < 2; i++) {
      const r = await tcpRequest({ port, send: 'anyone?' });
      assert.equal(r.data.length, 0);
    }
    await daemon.waitForDaemonLog(/redirect of service nowhere: connect to 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    await daemon.waitForServiceLog(/TRAFFIC: nowhere in=0\(bytes\) out=0\(bytes\)/);
  });
});

describe('banners', () => {
  test('banner_fail: the refused client gets banner then banner_fail; FAIL address is logged', async (t) => {
    const dir = tempDir(t, 'banner');
    writeFileSync(join(dir, 'banner'), 'WELCOME\r\n');
    writeFileSync(join(dir, 'fail'), 'DENIED\r\n');
    const port = await freePort();
    const daemon = await startDaemon(t, {
      services: [
        programService('guarded', port, join(FIXTURES, 'exit-with'), {
          only_from: '127.0.0.1',
          banner: join(dir, 'banner'),
          banner_fail: join(dir, 'fail'),
        }),
      ],
    });
    const refused = await tcpRequest({ port, localAddress: '127.0.0.2' });
    assert.equal(refused.data.toString(), 'WELCOME\r\nDENIED\r\n');
    await daemon.waitForServiceLog(/FAIL: guarded address from=::ffff:127\.0\.0\.2$/);
    assert.equal((await tcpRequest({ port })).data.toString(), 'WELCOME\r\nbye\n');
  });

  test('banner before anything, banner_success once admitted, raw bytes, then the server', async (t) => {
    const dir = tempDir(t, 'banner');
    const banner = join(dir, 'banner');
    const success = join(dir, 'success');
    writeFileSync(banner, Buffer.from('WELCOME\r\n\x00\xff', 'latin1'));
    writeFileSync(success, 'GRANTED\r\n');
    const [port, internalPort, missingPort] = [await freePort(), await freePort(), await freePort()];
    const daemon = await startDaemon(t, {
      services: [
        programService('greeted', port, join(FIXTURES, 'exit-with'), { banner, banner_success: success }),
        internalService('daytime', internalPort, 'stream', { banner }),
        programService('unbannered', missingPort, join(FIXTURES, 'exit-with'), { banner: join(dir, 'absent') }),
      ],
    });
    const r = await tcpRequest({ port });
    assert.deepEqual(r.data, Buffer.concat([Buffer.from('WELCOME\r\n\x00\xff', 'latin1'), Buffer.from('GRANTED\r\nbye\n')]));
    const internal = await tcpRequest({ port: internalPort });
    // eslint-disable-next-line no-control-regex -- the banner holds a NUL byte on purpose
    assert.match(internal.data.toString('latin1'), /^WELCOME\r\n\x00\xff\d\d [A-Z]{3} \d{4} /);
    // The file is read at each connection: an edited banner is used at once.
    writeFileSync(success, 'CHANGED\r\n');
    assert.match((await tcpRequest({ port })).data.toString('latin1'), /\xffCHANGED\r\nbye\n$/);
    // A client refused by only_from gets banner, then banner_fail, and nothing else.
    writeFileSync(join(dir, 'fail'), 'DENIED\r\n');
    // A banner that cannot be read is reported; the connection goes on.
    assert.equal((await tcpRequest({ port: missingPort })).data.toString(), 'bye\n');
    await daemon.waitForDaemonLog(/service = unbannered, open of banner .*absent failed/);
  });
});
