// The metrics registry, the text exposition format, tsinetd's metrics, the --metrics address,
// and the pure parts of readiness; every rendering is read back with an independent strict
// parser (test/helpers/prometheus.ts) and, where installed, checked by promtool.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CommanderError } from 'commander';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCommandLine, type CliIo } from '../../../src/app/cli.js';
import {
  formatValue,
  Registry,
  renderPrometheus,
  serviceStates,
  SPAWN_BUCKETS,
  TsinetdMetrics,
  type MetricFamily,
  type ServiceState,
} from '../../../src/ops/metrics.js';
import { formatListenAddress, parseListenAddress } from '../../../src/ops/metrics-http.js';
import { checkReadyFd, notifyAssignments } from '../../../src/ops/readiness.js';
import { newService } from '../../../src/service-defaults.js';
import type { Service } from '../../../src/table.js';
import { findPromtool, parsePrometheusText, promtoolCheck, sampleValue } from '../../helpers/prometheus.js';

function svc(id: string, enabled = true): Service {
  const s = newService(id, 'xinetd', { file: 't.conf', line: 1 });
  s.enabled = enabled;
  return s;
}

const promtool = findPromtool();
const noPromtool = promtool === null ? 'promtool is not installed (Debian package prometheus, or unpacked in /opt/promtool-ref)' : false;

test('renders HELP, TYPE and samples exactly, escaping help text and label values', () => {
  const r = new Registry();
  const c = r.counter('demo_total', 'A help with a back\\slash\nand a newline.', ['service', 'reason']);
  c.inc(['a"b', 'x\\y\nz'], 2);
  c.inc(['plain', 'address']);
  r.gauge('demo_up', 'Up.').set([], 1);
  assert.equal(
    renderPrometheus(r),
    [
      '# HELP demo_total A help with a back\\\\slash\\nand a newline.',
      '# TYPE demo_total counter',
      'demo_total{service="a\\"b",reason="x\\\\y\\nz"} 2',
      'demo_total{service="plain",reason="address"} 1',
      '# HELP demo_up Up.',
      '# TYPE demo_up gauge',
      'demo_up 1',
      '',
    ].join('\n'),
  );
});

test('histogram: cumulative buckets, an observation equal to a bound counts in that bucket, +Inf, _sum, _count', () => {
  const r = new Registry();
  const h = r.histogram('lat_seconds', 'Latency.', [0.1, 1]);
  for (const v of [0.05, 0.1, 0.5, 1, 7]) h.observe([], v);
  const text = renderPrometheus(r);
  assert.equal(
    text,
    [
      '# HELP lat_seconds Latency.',
      '# TYPE lat_seconds histogram',
      'lat_seconds_bucket{le="0.1"} 2',
      'lat_seconds_bucket{le="1"} 4',
      'lat_seconds_bucket{le="+Inf"} 5',
      'lat_seconds_sum 8.65',
      'lat_seconds_count 5',
      '',
    ].join('\n'),
  );
  const parsed = parsePrometheusText(text);
  assert.equal(parsed.get('lat_seconds')?.type, 'histogram');
});

test('special values are spelled as the format wants', () => {
  assert.equal(formatValue(NaN), 'NaN');
  assert.equal(formatValue(Infinity), '+Inf');
  assert.equal(formatValue(-Infinity), '-Inf');
  assert.equal(formatValue(0.25), '0.25');
  assert.equal(formatValue(1e21), '1e+21');
  const text = renderPrometheus([{ name: 'g', help: 'h', type: 'gauge', samples: [{ labels: {}, value: NaN }] }]);
  assert.ok(Number.isNaN(sampleValue(parsePrometheusText(text), 'g')));
});

test('an empty registry renders nothing; the strict parser accepts that', () => {
  assert.equal(renderPrometheus(new Registry()), '');
  assert.equal(parsePrometheusText('').size, 0);
});

test('the registry refuses bad names, reused names, the le label and a wrong number of label values', () => {
  const r = new Registry();
  assert.throws(() => r.counter('1bad', 'x'), /invalid metric name/);
  assert.throws(() => r.counter('ok_total', 'x', ['bad-label']), /invalid label name/);
  assert.throws(() => r.counter('ok2_total', 'x', ['__reserved']), /invalid label name/);
  assert.throws(() => r.histogram('h', 'x', [1], ['le']), /invalid label name/);
  assert.throws(() => r.histogram('h2', 'x', [2, 1]), /increasing/);
  const c = r.counter('ok_total', 'x', ['a']);
  assert.throws(() => r.counter('ok_total', 'x'), /registered twice/);
  assert.throws(() => c.inc([]), /1 label value/);
});

test('the strict parser rejects what Prometheus rejects', () => {
  const bad = [
    'x{a="b} 1\n', // unterminated value
    'x{a="\\q"} 1\n', // bad escape
    'x 1', // no final newline
    'x one\n',
    '# TYPE x counter\nx 1\n# TYPE x counter\n',
    'x 1\n# TYPE x counter\n',
    'x 1\ny 1\nx{a="b"} 2\n', // family split in two
    'x 1\nx 2\n', // duplicate series
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\n',
    '# TYPE h histogram\nh_bucket{le="1"} 1\nh_count 1\n', // no +Inf
  ];
  for (const text of bad) assert.throws(() => parsePrometheusText(text), Error, JSON.stringify(text));
});

test('property: any label values and numbers survive rendering and strict parsing', () => {
  const labelValue = fc.string({ unit: fc.constantFrom('a', 'Z', '"', '\\', '\n', ' ', '{', '}', ',', '=', 'é', '😀', 'n') });
  const value = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(0, -0, Infinity, -Infinity));
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.tuple(labelValue, labelValue, value), { selector: (t) => `${t[0]}\u0000${t[1]}`, maxLength: 8 }),
      fc.string(),
      (rows, help) => {
        const r = new Registry();
        const g = r.gauge('prop_value', help, ['a', 'b']);
        for (const [a, b, v] of rows) g.set([a, b], v);
        const parsed = parsePrometheusText(renderPrometheus(r));
        const f = parsed.get('prop_value');
        assert.equal(f?.help, help);
        assert.equal(f.samples.length, rows.length);
        for (const [a, b, v] of rows) {
          const got = sampleValue(parsed, 'prop_value', { a, b });
          if (Number.isNaN(v)) assert.ok(Number.isNaN(got));
          else assert.equal(got, v === 0 ? 0 : v);
        }
      },
    ),
  );
});

test('property: histogram buckets are cumulative and end with _count', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: 0, max: 20, noNaN: true })), (values) => {
      const r = new Registry();
      const h = r.histogram('p_seconds', 'p', SPAWN_BUCKETS);
      for (const v of values) h.observe([], v);
      const parsed = parsePrometheusText(renderPrometheus(r));
      assert.equal(sampleValue(parsed, 'p_seconds_count'), values.length);
      for (const bound of SPAWN_BUCKETS) {
        assert.equal(sampleValue(parsed, 'p_seconds_bucket', { le: String(bound) }), values.filter((v) => v <= bound).length);
      }
    }),
  );
});

function fixedMetrics(): TsinetdMetrics {
  return new TsinetdMetrics({ version: '9.9.9', startTimeSeconds: 1700000000, processFigures: () => ({ openFds: 12, maxFds: 1024 }) });
}

test('tsinetd metrics: accepted, refused by reason, spawn latency and failures, reloads', () => {
  const m = fixedMetrics();
  const a = svc('alpha');
  const b = svc('beta');
  m.accepted(a);
  m.accepted(a);
  m.refused(a, 'address');
  m.refused(a, 'per_source_limit');
  m.refused(a, 'address');
  m.refused(b, 'connections per second');
  m.spawned(a, 0.0007);
  m.spawned(a, 0.3);
  m.spawnFailed(b);
  m.reloaded('ok');
  const p = parsePrometheusText(m.render());
  assert.equal(sampleValue(p, 'tsinetd_connections_total', { service: 'alpha', result: 'accepted' }), 2);
  assert.equal(sampleValue(p, 'tsinetd_connections_total', { service: 'alpha', result: 'refused' }), 3);
  assert.equal(sampleValue(p, 'tsinetd_connections_total', { service: 'beta', result: 'refused' }), 1);
  assert.equal(sampleValue(p, 'tsinetd_refused_total', { service: 'alpha', reason: 'address' }), 2);
  assert.equal(sampleValue(p, 'tsinetd_refused_total', { service: 'alpha', reason: 'per_source_limit' }), 1);
  assert.equal(sampleValue(p, 'tsinetd_refused_total', { service: 'beta', reason: 'connections per second' }), 1);
  assert.equal(sampleValue(p, 'tsinetd_spawn_seconds_count'), 2);
  assert.equal(sampleValue(p, 'tsinetd_spawn_seconds_bucket', { le: '0.001' }), 1);
  assert.equal(sampleValue(p, 'tsinetd_spawn_seconds_bucket', { le: '0.25' }), 1);
  assert.equal(sampleValue(p, 'tsinetd_spawn_seconds_bucket', { le: '0.5' }), 2);
  assert.equal(sampleValue(p, 'tsinetd_spawn_failures_total', { service: 'beta' }), 1);
  assert.equal(sampleValue(p, 'tsinetd_reloads_total', { result: 'ok' }), 1);
  assert.equal(sampleValue(p, 'tsinetd_reloads_total', { result: 'failed' }), 0);
  assert.equal(sampleValue(p, 'tsinetd_build_info', { version: '9.9.9' }), 1);
  assert.equal(sampleValue(p, 'process_open_fds'), 12);
  assert.equal(sampleValue(p, 'process_max_fds'), 1024);
  assert.equal(sampleValue(p, 'process_start_time_seconds'), 1700000000);
  assert.ok((sampleValue(p, 'process_resident_memory_bytes') ?? 0) > 1_000_000);
  // Without a source (before serving) every state is 0 and nothing runs.
  for (const state of ['active', 'suspended', 'disabled', 'failed']) assert.equal(sampleValue(p, 'tsinetd_services', { state }), 0);
  assert.equal(p.get('tsinetd_running_servers')?.samples.length, 0);
});

test('tsinetd metrics at scrape time: service states, running servers, counters at 0 before the first client', () => {
  const m = fixedMetrics();
  const on = svc('on');
  const resting = svc('resting');
  const off = svc('off', false);
  const broken = svc('broken');
  let running = 3;
  m.setSource({
    services: () =>
      serviceStates(
        [on, resting, off, broken],
        new Map([
          ['on', 'active'],
          ['resting', 'suspended'],
        ]),
      ),
    running: (s) => (s.id === 'on' ? running : 0),
  });
  let p = parsePrometheusText(m.render());
  assert.equal(sampleValue(p, 'tsinetd_services', { state: 'active' }), 1);
  assert.equal(sampleValue(p, 'tsinetd_services', { state: 'suspended' }), 1);
  assert.equal(sampleValue(p, 'tsinetd_services', { state: 'disabled' }), 1);
  assert.equal(sampleValue(p, 'tsinetd_services', { state: 'failed' }), 1);
  assert.equal(sampleValue(p, 'tsinetd_running_servers', { service: 'on' }), 3);
  assert.equal(sampleValue(p, 'tsinetd_running_servers', { service: 'resting' }), 0);
  assert.equal(sampleValue(p, 'tsinetd_running_servers', { service: 'off' }), undefined);
  assert.equal(sampleValue(p, 'tsinetd_connections_total', { service: 'on', result: 'accepted' }), 0);
  assert.equal(sampleValue(p, 'tsinetd_connections_total', { service: 'broken', result: 'refused' }), 0);
  assert.equal(sampleValue(p, 'tsinetd_connections_total', { service: 'off', result: 'accepted' }), undefined);
  running = 1;
  p = parsePrometheusText(m.render());
  assert.equal(sampleValue(p, 'tsinetd_running_servers', { service: 'on' }), 1);
});

test('serviceStates: a listener reopening after a suspension is still suspended; closed or missing is failed', () => {
  const ids = ['a', 'b', 'c', 'd', 'e'];
  const states = serviceStates(
    [...ids.map((id) => svc(id)), svc('f', false)],
    new Map<string, 'new' | 'active' | 'suspended' | 'closed'>([
      ['a', 'active'],
      ['b', 'suspended'],
      ['c', 'new'],
      ['d', 'closed'],
      ['f', 'active'],
    ]),
  );
  const expected: ServiceState[] = ['active', 'suspended', 'suspended', 'failed', 'failed', 'disabled'];
  assert.deepEqual(
    states.map((s) => s.state),
    expected,
  );
});

test('promtool accepts the rendered tsinetd metrics', { skip: noPromtool }, () => {
  const m = fixedMetrics();
  const a = svc('has "quotes" and \\ backslash');
  m.setSource({ services: () => [{ service: a, state: 'active' }], running: () => 2 });
  m.accepted(a);
  m.refused(a, 'address');
  m.spawned(a, 0.002);
  const problem = promtoolCheck(promtool!, m.render());
  assert.equal(problem, null);
});

test('renderPrometheus of plain families is pure: the same input gives the same text', () => {
  const families: MetricFamily[] = [{ name: 'x_total', help: 'x', type: 'counter', samples: [{ labels: { a: '1' }, value: 1 }] }];
  assert.equal(renderPrometheus(families), renderPrometheus(families));
  assert.deepEqual(families[0]!.samples, [{ labels: { a: '1' }, value: 1 }]);
});

test('--metrics addresses', () => {
  const ok: Array<[string, string]> = [
    ['127.0.0.1:9105', '127.0.0.1:9105'],
    ['9105', '127.0.0.1:9105'],
    [':9105', ':9105'],
    ['[::1]:9105', '[::1]:9105'],
    ['localhost:0', 'localhost:0'],
    ['/run/tsinetd/metrics.sock', '/run/tsinetd/metrics.sock'],
  ];
  for (const [text, canonical] of ok) {
    const r = parseListenAddress(text);
    assert.ok(r.ok, text);
    assert.equal(formatListenAddress(r.address), canonical);
  }
  const r = parseListenAddress(':9105');
  assert.deepEqual(r, { ok: true, address: { kind: 'tcp', host: null, port: 9105 } });
  for (const text of ['', '127.0.0.1', '127.0.0.1:', '127.0.0.1:70000', '::1:9105', '[nothex]:1', 'a b:1', 'host:-1', '[::1]9105']) {
    const bad = parseListenAddress(text);
    assert.equal(bad.ok, false, text);
    assert.match(bad.error, /invalid metrics address/);
  }
});

const quietIo: CliIo = { stdout: () => {}, stderr: () => {}, stderrIsTty: false };

test('the command line takes --metrics and --ready-fd, and refuses bad values as usage errors', () => {
  const { options } = parseCommandLine(['-dontfork', '--metrics', '[::1]:0', '--ready-fd', '3'], quietIo);
  assert.deepEqual(options.metrics, { kind: 'tcp', host: '::1', port: 0 });
  assert.equal(options.readyFd, 3);
  const plain = parseCommandLine(['-dontfork'], quietIo).options;
  assert.equal(plain.metrics, null);
  assert.equal(plain.readyFd, null);
  for (const argv of [
    ['--metrics', 'nowhere'],
    ['--ready-fd', 'x'],
    ['--ready-fd', '-1'],
  ]) {
    assert.throws(
      () => parseCommandLine(argv, quietIo),
      (e: unknown) => e instanceof CommanderError && e.exitCode === 2,
      argv.join(' '),
    );
  }
});

test('sd_notify assignments: one per line, newlines in values flattened', () => {
  assert.deepEqual(notifyAssignments({ READY: '1', STATUS: 'two\nlines' }), ['READY=1', 'STATUS=two lines']);
});

test("checkReadyFd: a writable descriptor passes; closed, read-only and Node's own descriptors are refused", (t) => {
  assert.equal(checkReadyFd(2), null);
  assert.match(checkReadyFd(987) ?? '', /^--ready-fd 987: the descriptor is not open \(EBADF\)$/);
  const dir = mkdtempSync(join(tmpdir(), 'tsinetd-readyfd-'));
  const w = openSync(join(dir, 'ready'), 'w');
  const r = openSync(join(dir, 'ready'), 'r');
  t.after(() => {
    closeSync(w);
    closeSync(r);
    rmSync(dir, { recursive: true, force: true });
  });
  assert.equal(checkReadyFd(w), null);
  assert.match(checkReadyFd(r) ?? '', /is open for reading only/);
  if (!existsSync('/proc/self/fd')) return;
  // This process's own event loop descriptors, and pipes whose both ends it holds.
  const links = readdirSync('/proc/self/fd').map((n) => {
    try {
      return [Number(n), readlinkSync(`/proc/self/fd/${n}`)] as const;
    } catch {
      return [Number(n), ''] as const;
    }
  });
  const epoll = links.find(([, l]) => l === 'anon_inode:[eventpoll]');
  assert.ok(epoll !== undefined, 'Node has an eventpoll descriptor');
  assert.match(checkReadyFd(epoll[0]) ?? '', /was not passed to tsinetd \(it is anon_inode:\[eventpoll\], one of Node's own\)/);
  const pair = links.find(([n, l]) => l.startsWith('pipe:') && links.some(([m, k]) => m !== n && k === l) && (checkReadyFd(n) ?? '').includes('not passed'));
  assert.ok(pair !== undefined, 'Node holds both ends of a pipe of its own, and it is refused');
});
