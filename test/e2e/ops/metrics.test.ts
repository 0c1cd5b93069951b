// The metrics endpoint of a real daemon: clients accepted, refused (a second host), servers
// running and failing to start, a reload; each scrape read with the strict parser (and promtool
// where installed); /healthz, /ready, errors; a unix socket endpoint; bad and busy addresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { join } from 'node:path';
import { FIXTURES, internalService, programService, startDaemon, type RunningDaemon } from '../../helpers/daemon.js';
import { closed, freePort, readUntil, tcpConnect, tcpRequest, waitFor, withTimeout } from '../../helpers/net.js';
import { findPromtool, parsePrometheusText, promtoolCheck, sampleValue, type ParsedFamily } from '../../helpers/prometheus.js';
import { tempDir } from '../../helpers/temp.js';

interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Target = { port: number; host?: string } | { socketPath: string };

function request(target: Target, path: string, method = 'GET'): Promise<HttpReply> {
  return withTimeout(
    new Promise<HttpReply>((resolve, reject) => {
      const req = http.request({ ...target, ...('port' in target ? { host: target.host ?? '127.0.0.1' } : {}), path, method, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    }),
    5000,
    `${method} ${path}`,
  );
}

async function scrape(target: Target): Promise<Map<string, ParsedFamily>> {
  const r = await request(target, '/metrics');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  return parsePrometheusText(r.body);
}

/** The port of the endpoint, from the daemon log ("metrics endpoint on http://127.0.0.1:PORT/metrics"). */
async function metricsPort(d: RunningDaemon): Promise<number> {
  const line = await d.waitForDaemonLog(/metrics endpoint on http:\/\/127\.0\.0\.1:\d+\/metrics/);
  return Number(/:(\d+)\/metrics/.exec(line)![1]);
}

const promtool = findPromtool();

test('metrics endpoint: counters, running servers, spawn latency and failures, states, reload; parsed strictly', async (t) => {
  const dir = tempDir(t, 'metrics');
  // A server program that disappears after start-up: starting it fails.
  const vanishing = join(dir, 'vanishing');
  writeFileSync(vanishing, '#!/bin/sh\necho never\n');
  chmodSync(vanishing, 0o755);
  const [pHello, pSleep, pEcho, pGone, pOff, pNew] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
  const services = [
    programService('hello', pHello, '/bin/echo', { server_args: 'hello' }),
    programService('sleepy', pSleep, join(FIXTURES, 'sleeper'), { server_args: '30' }),
    internalService('echo', pEcho, 'stream', { only_from: '127.0.0.1' }),
    programService('gone', pGone, vanishing),
    programService('off', pOff, '/bin/echo', { disable: 'yes' }),
  ];
  const d = await startDaemon(t, { services, args: ['--metrics', '127.0.0.1:0'] });
  const target = { port: await metricsPort(d) };

  // Before any client: every served service is listed at 0.
  let m = await scrape(target);
  assert.equal(sampleValue(m, 'tsinetd_connections_total', { service: 'hello', result: 'accepted' }), 0);
  assert.equal(sampleValue(m, 'tsinetd_services', { state: 'active' }), 4);
  assert.equal(sampleValue(m, 'tsinetd_services', { state: 'disabled' }), 1);
  assert.equal(sampleValue(m, 'tsinetd_spawn_seconds_count'), 0);

  for (let i = 0; i < 2; i++) {
    const r = await tcpRequest({ port: pHello });
    assert.equal(r.data.toString(), 'hello\n');
  }
  const refused = await tcpRequest({ port: pEcho, localAddress: '127.0.0.2', send: 'x' });
  assert.equal(refused.data.length, 0);
  const echoed = await tcpRequest({ port: pEcho, send: 'ping' });
  assert.equal(echoed.data.toString(), 'ping');
  const sleeper = await tcpConnect(pSleep);
  t.after(() => sleeper.destroy());
  await readUntil(sleeper, /started pid=\d+/);
  rmSync(vanishing);
  const failed = await tcpRequest({ port: pGone });
  assert.equal(failed.ended, 'eof');
  await d.waitForServiceLog(/FAIL: gone fork/);
  await d.waitForServiceLog(/FAIL: echo-stream address from=::ffff:127\.0\.0\.2|FAIL: echo-stream address from=127\.0\.0\.2/);

  m = await scrape(target);
  assert.equal(sampleValue(m, 'tsinetd_connections_total', { service: 'hello', result: 'accepted' }), 2);
  assert.equal(sampleValue(m, 'tsinetd_connections_total', { service: 'echo-stream', result: 'accepted' }), 1);
  assert.equal(sampleValue(m, 'tsinetd_connections_total', { service: 'echo-stream', result: 'refused' }), 1);
  assert.equal(sampleValue(m, 'tsinetd_refused_total', { service: 'echo-stream', reason: 'address' }), 1);
  assert.equal(sampleValue(m, 'tsinetd_running_servers', { service: 'sleepy' }), 1);
  assert.equal(sampleValue(m, 'tsinetd_spawn_failures_total', { service: 'gone' }), 1);
  assert.equal(sampleValue(m, 'tsinetd_spawn_failures_total', { service: 'hello' }), 0);
  // hello twice and sleepy once were started; each took well under the 5 s bucket.
  assert.equal(sampleValue(m, 'tsinetd_spawn_seconds_count'), 3);
  assert.equal(sampleValue(m, 'tsinetd_spawn_seconds_bucket', { le: '5' }), 3);
  const sum = sampleValue(m, 'tsinetd_spawn_seconds_sum') ?? -1;
  assert.ok(sum > 0 && sum < 5, `spawn seconds sum ${sum}`);
  assert.ok((sampleValue(m, 'process_open_fds') ?? 0) > 5);
  assert.equal(sampleValue(m, 'tsinetd_reloads_total', { result: 'ok' }), 0);

  // The EXIT of the short servers is accounted: nothing of hello keeps running.
  await waitFor(
    async () => (sampleValue(await scrape(target), 'tsinetd_running_servers', { service: 'hello' }) === 0 ? true : undefined),
    5000,
    'hello servers to be reaped',
  );

  // A reload adds a service: the counters go on, the reload is counted.
  d.rewrite([...services, programService('fresh', pNew, '/bin/echo')]);
  d.signal('SIGHUP');
  await d.waitForDaemonLog(/Reconfigured: new=1/);
  m = await scrape(target);
  assert.equal(sampleValue(m, 'tsinetd_reloads_total', { result: 'ok' }), 1);
  // `gone` lost its program, so the new configuration cannot serve it.
  assert.equal(sampleValue(m, 'tsinetd_services', { state: 'active' }), 4);
  assert.equal(sampleValue(m, 'tsinetd_services', { state: 'failed' }), 1);
  assert.equal(sampleValue(m, 'tsinetd_connections_total', { service: 'hello', result: 'accepted' }), 2);
  assert.equal(sampleValue(m, 'tsinetd_connections_total', { service: 'fresh', result: 'accepted' }), 0);

  if (promtool !== null) {
    const r = await request(target, '/metrics');
    assert.equal(promtoolCheck(promtool, r.body), null);
  } else {
    t.diagnostic('promtool is not installed: the scrape was checked by the strict parser only');
  }

  sleeper.destroy();
  await closed(sleeper).catch(() => {});
});

test('metrics endpoint: /healthz, /ready, HEAD, unknown paths and methods', async (t) => {
  const port = await freePort();
  const d = await startDaemon(t, { services: [internalService('echo', port, 'stream')], args: ['--metrics', '127.0.0.1:0'] });
  const target = { port: await metricsPort(d) };
  assert.deepEqual(
    [(await request(target, '/healthz')).status, (await request(target, '/ready')).body, (await request(target, '/metrics?x=1')).status],
    [200, 'ready\n', 200],
  );
  const head = await request(target, '/metrics', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  assert.equal((await request(target, '/nope')).status, 404);
  const post = await request(target, '/metrics', 'POST');
  assert.equal(post.status, 405);
  assert.equal(post.headers['allow'], 'GET, HEAD');
});

test('metrics endpoint on a unix socket; the socket file is removed on exit', async (t) => {
  const dir = tempDir(t, 'metrics');
  const socketPath = join(dir, 'metrics.sock');
  const port = await freePort();
  const d = await startDaemon(t, { services: [internalService('echo', port, 'stream')], args: ['--metrics', socketPath] });
  await d.waitForDaemonLog(/metrics endpoint on unix socket/);
  const m = await scrape({ socketPath });
  assert.equal(sampleValue(m, 'tsinetd_services', { state: 'active' }), 1);
  assert.equal((await request({ socketPath }, '/ready')).status, 200);
  const status = await d.stop('SIGTERM');
  assert.equal(status.code, 0);
  assert.equal(existsSync(socketPath), false);
});

test('a bad --metrics address is a usage error; a busy one stops the start before any service is bound', async (t) => {
  const port = await freePort();
  const bad = await startDaemon(t, { services: [internalService('echo', port, 'stream')], args: ['--metrics', '127.0.0.1:99999'], expectFailure: true });
  assert.equal(bad.exitedStatus?.code, 2);
  assert.match(bad.stderr(), /--metrics: invalid metrics address '127\.0\.0\.1:99999': '99999' is not a port number/);

  const busy = net.createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  t.after(() => busy.close());
  const busyPort = (busy.address() as net.AddressInfo).port;
  const d = await startDaemon(t, { services: [internalService('echo', port, 'stream')], args: ['--metrics', `127.0.0.1:${busyPort}`], expectFailure: true });
  assert.equal(d.exitedStatus?.code, 1);
  assert.match(d.daemonLog(), /cannot start the metrics endpoint: .*EADDRINUSE/);
  assert.doesNotMatch(d.daemonLog(), /Started working/);
  const r = await tcpRequest({ port, timeoutMs: 2000 });
  assert.equal(r.ended, 'ECONNREFUSED');
});
