// Issue #19 items 1, 4 and 5 side by side with the real xinetd (skipped when it is not unpacked
// here; TSINETD_XINETD_REF names another binary): '#' after the values of an address list, an
// attribute error followed by `disable = no`, and numbers xinetd reads its own way (wraps, hex,
// trailing text, negative max_load). The same services run under xinetd and under tsinetd, each
// on its own ports; clients from 127.0.0.1 and 127.0.0.2 must see the same thing from both: the
// server's words, a refusal (closed without a word), or no listener at all.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { programService, renderConfig, startDaemon, type Attrs } from '../../helpers/daemon.js';
import { freePort, tcpRequest, waitFor } from '../../helpers/net.js';

const XINETD = process.env['TSINETD_XINETD_REF'] ?? '/opt/xinetd-ref/usr/sbin/xinetd';
const skip = existsSync(XINETD) ? false : `real xinetd not found at ${XINETD} (set TSINETD_XINETD_REF)`;

const WRAP = 2 ** 32;

interface Case {
  name: string;
  /** Attributes after the standard ones; `port` gets the case's port. */
  attrs: (port: number) => Attrs;
  server?: string;
}

const echo = { server_args: 'ok' };

const cases: Case[] = [
  { name: 'hash_no_access', attrs: () => ({ ...echo, no_access: '127.0.0.1 # was 127.0.0.2' }) },
  { name: 'hash_only_from', attrs: () => ({ ...echo, only_from: '127.0.0.1 # was 127.0.0.2' }) },
  { name: 'error_then_enable', attrs: () => ({ ...echo, log_on_failure: 'USERID#x', disable: 'no' }) },
  { name: 'enable_then_error', attrs: () => ({ ...echo, disable: 'no', log_on_failure: 'USERID#x' }) },
  // xinetd then finds the attribute missing ("missing attribute user", "Must specify a server").
  { name: 'bad_user_then_enable', attrs: () => ({ ...echo, user: 'no-such-user-p19', disable: 'no' }) },
  { name: 'bad_server_then_enable', server: '/nonexistent/p19/prog', attrs: () => ({ ...echo, disable: 'no' }) },
  { name: 'partial_only_from', attrs: () => ({ ...echo, only_from: '127.0.0.1 127.0.0.6,7 127.0.0.2', disable: 'no' }) },
  { name: 'port_wraps', attrs: (p) => ({ ...echo, port: String(WRAP + p) }) },
  { name: 'max_load_hex', attrs: () => ({ ...echo, max_load: '0x50' }) },
  { name: 'max_load_trailing', attrs: () => ({ ...echo, max_load: '2000.5x' }) },
  { name: 'max_load_negative', attrs: () => ({ ...echo, max_load: '-1' }) },
  { name: 'per_source_trailing', attrs: () => ({ ...echo, per_source: '7x' }) },
  { name: 'instances_wraps', attrs: () => ({ ...echo, instances: '99999999999' }) },
  { name: 'instances_wraps_to_0', attrs: () => ({ ...echo, instances: '4294967296' }) },
  { name: 'per_source_wraps_to_0', attrs: () => ({ ...echo, per_source: '4294967296' }) },
  { name: 'cps_minus_one', attrs: () => ({ ...echo, cps: '-1 10' }) },
  { name: 'umask_wraps', server: '/bin/sh', attrs: () => ({ server_args: '-c umask', umask: '40000000027' }) },
];

function services(list: readonly Case[], ports: readonly number[]): ReturnType<typeof programService>[] {
  return list.map((c, i) => {
    const s = programService(c.name, ports[i]!, c.server ?? '/bin/echo', {});
    s.attrs = { ...s.attrs, ...c.attrs(ports[i]!) };
    return s;
  });
}

/** What a client from `local` sees: the server's words, 'refused' or 'no listener'. */
async function seen(port: number, local: string): Promise<string> {
  const r = await tcpRequest({ port, localAddress: local, timeoutMs: 5000 });
  if (r.ended === 'ECONNREFUSED') return 'no listener';
  if (r.ended !== 'eof') return `(${r.ended})`;
  const text = r.data.toString().trim();
  return text === '' ? 'refused' : text;
}

async function observe(ports: readonly number[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [i, c] of cases.entries()) {
    for (const local of ['127.0.0.1', '127.0.0.2']) out[`${c.name} from ${local}`] = await seen(ports[i]!, local);
  }
  return out;
}

/** Runs `list` under the real xinetd, then under tsinetd, and `look`s at each the same way. */
async function sideBySide(
  t: TestContext,
  list: readonly Case[],
  look: (ports: readonly number[]) => Promise<Record<string, string>>,
): Promise<{ real: Record<string, string>; ours: Record<string, string>; logs: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tsinetd-words-xinetd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const xPorts: number[] = [];
  for (let i = 0; i < list.length; i++) xPorts.push(await freePort());
  const conf = join(dir, 'xinetd.conf');
  const log = join(dir, 'xinetd.log');
  writeFileSync(conf, renderConfig(services(list, xPorts), {}));
  const child = spawn(XINETD, ['-dontfork', '-f', conf, '-filelog', log], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  const text = (): string => (existsSync(log) ? readFileSync(log, 'utf8') : '');
  await waitFor(
    () => (/Started working/.test(text()) ? true : child.exitCode !== null ? assert.fail(`xinetd exited:\n${text()}`) : undefined),
    10_000,
    'xinetd to start',
  );
  const real = await look(xPorts);
  child.kill('SIGKILL');

  const tPorts: number[] = [];
  for (let i = 0; i < list.length; i++) tPorts.push(await freePort());
  const d = await startDaemon(t, { services: services(list, tPorts) });
  const ours = await look(tPorts);
  return { real, ours, logs: `xinetd's log:\n${text()}\ntsinetd's:\n${d.daemonLog()}` };
}

test("'#' after values, errors then disable = no, and numbers: tsinetd serves as the real xinetd does", { skip, timeout: 90_000 }, async (t) => {
  const { real, ours, logs } = await sideBySide(t, cases, observe);
  assert.deepEqual(ours, real, logs);
  // The comparison must have something to compare: each kind of outcome occurs.
  const outcomes = new Set(Object.values(real));
  for (const o of ['ok', 'refused', 'no listener']) assert.ok(outcomes.has(o), `no case where xinetd gives '${o}': ${JSON.stringify(real)}`);
  assert.equal(real['umask_wraps from 127.0.0.1'], '0027', 'xinetd keeps the low 32 bits of the octal umask');
});

// deny_time = 4294967295 wraps to -1, which is how xinetd stores FOREVER: a client that touches
// the sensor is refused by every service (tsinetd used to read -1 as "log only").
test('a SENSOR whose deny_time wraps to -1 bans its clients, as in xinetd', { skip, timeout: 60_000 }, async (t) => {
  const list: Case[] = [
    { name: 'sensor', attrs: () => ({ flags: 'SENSOR', deny_time: '4294967295' }) },
    { name: 'other', attrs: () => echo },
  ];
  const look = async ([sensor, other]: readonly number[]): Promise<Record<string, string>> => ({
    before: await seen(other!, '127.0.0.2'),
    sensor: await seen(sensor!, '127.0.0.2'),
    after: await seen(other!, '127.0.0.2'),
    otherClient: await seen(other!, '127.0.0.1'),
  });
  const { real, ours, logs } = await sideBySide(t, list, look);
  assert.deepEqual(real, { before: 'ok', sensor: 'refused', after: 'refused', otherClient: 'ok' }, logs);
  assert.deepEqual(ours, real, logs);
});
