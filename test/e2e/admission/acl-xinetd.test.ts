// only_from / no_access decisions side by side with the real xinetd (skipped when it is not
// unpacked on this machine; TSINETD_XINETD_REF names another binary). xinetd serves one
// /bin/echo service per case on a dual-stack socket; clients bound to 127.0.0.1 and
// 127.0.0.2 learn whether they were admitted (they read "ok") or refused (closed at once),
// and decideAccess must say the same for the mapped peer address xinetd saw. The forms where
// tsinetd deliberately differs (host names on dual-stack sockets, dotted-quad network
// numbers, IPv6 /128 masks) are not in the table: see the unit tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { compileServiceAcl, decideAccess } from '../../../src/admission/acl.js';
import { parsePeerAddress } from '../../../src/admission/acl-address.js';
import { freePort } from '../../helpers/net.js';

const XINETD = process.env['TSINETD_XINETD_REF'] ?? '/opt/xinetd-ref/usr/sbin/xinetd';
const skip = existsSync(XINETD) ? false : `real xinetd not found at ${XINETD} (set TSINETD_XINETD_REF)`;

const cases: { only_from: string[] | null; no_access: string[] | null }[] = [
  { only_from: ['127.1'], no_access: null },
  { only_from: ['0'], no_access: null },
  { only_from: ['0.0.0.0'], no_access: null },
  { only_from: ['::'], no_access: null },
  { only_from: ['::/0'], no_access: null },
  { only_from: ['::1'], no_access: null },
  { only_from: ['127.0.0.0'], no_access: null },
  { only_from: ['127.0.0.{1,3}'], no_access: null },
  { only_from: ['127.0.0.{2}'], no_access: null },
  { only_from: ['127.{0}'], no_access: null },
  { only_from: ['{127}'], no_access: null },
  { only_from: ['::ffff:127.0.0.1'], no_access: null },
  { only_from: ['::ffff:127.0.0.0/104'], no_access: null },
  { only_from: ['127.0.0.1/32'], no_access: null },
  { only_from: ['127.0.0.1/8'], no_access: null },
  { only_from: ['127.0.0.1/0'], no_access: null },
  { only_from: ['127/8'], no_access: null },
  { only_from: ['127.1/16'], no_access: null },
  { only_from: ['127.0.0.1/33'], no_access: null },
  { only_from: ['2130706433'], no_access: null },
  { only_from: ['0x7f.0.0.1'], no_access: null },
  { only_from: ['0177.0.0.1'], no_access: null },
  { only_from: ['127.0.0.300'], no_access: null },
  { only_from: [], no_access: null },
  { only_from: ['127.0.0.2'], no_access: ['127.0.0.0/8'] },
  { only_from: ['127.0.0.0/24'], no_access: ['127.0.0.2'] },
  { only_from: null, no_access: ['127.0.0.2'] },
  { only_from: null, no_access: ['::ffff:127.0.0.1'] },
];

/** True when the server wrote "ok" before closing; false when it closed without a word. */
function admitted(local: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const sock = new Socket();
    let data = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer on port ${port} for ${local}`));
    }, 5000);
    sock.on('data', (b) => (data += b.toString()));
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(data === 'ok\n');
    });
    sock.connect({ host: '127.0.0.1', port, localAddress: local });
  });
}

/** Starts xinetd with one service per case; null when a port was taken meanwhile (retry). */
async function startXinetd(dir: string, attempt: number): Promise<{ ports: number[]; stop: () => void } | null> {
  const ports: number[] = [];
  for (let i = 0; i < cases.length; i++) ports.push(await freePort());
  const user = userInfo().username;
  const conf = cases
    .map((c, i) => {
      const lines = [
        `service acl${i}`,
        '{',
        '\ttype = UNLISTED',
        `\tport = ${ports[i]}`,
        '\tsocket_type = stream',
        '\tprotocol = tcp',
        '\twait = no',
        `\tuser = ${user}`,
        '\tserver = /bin/echo',
        '\tserver_args = ok',
      ];
      if (c.only_from !== null) lines.push(`\tonly_from = ${c.only_from.join(' ')}`.trimEnd());
      if (c.no_access !== null) lines.push(`\tno_access = ${c.no_access.join(' ')}`);
      lines.push('}', '');
      return lines.join('\n');
    })
    .join('\n');
  const confFile = join(dir, `xinetd-${attempt}.conf`);
  const logFile = join(dir, `xinetd-${attempt}.log`);
  writeFileSync(confFile, conf);
  const child = spawn(XINETD, ['-dontfork', '-f', confFile, '-filelog', logFile], { stdio: 'ignore' });
  const stop = () => {
    child.kill('SIGKILL');
  };
  const end = Date.now() + 10_000;
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  let m: RegExpExecArray | null;
  while ((m = /Started working: (\d+) available service/.exec(log())) === null) {
    if (Date.now() > end || child.exitCode !== null) {
      stop();
      assert.fail(`xinetd did not start:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  if (Number(m[1]) !== cases.length) {
    stop();
    return null;
  }
  return { ports, stop };
}

test('only_from / no_access decide as the real xinetd does for mapped IPv4 clients', { skip, timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsinetd-acl-xinetd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let run: { ports: number[]; stop: () => void } | null = null;
  for (let attempt = 0; attempt < 3 && run === null; attempt++) run = await startXinetd(dir, attempt);
  assert.ok(run !== null, 'xinetd could not bind its ports in three attempts');
  t.after(run.stop);
  const { ports } = run;

  const mismatches: string[] = [];
  await Promise.all(
    cases.map(async (c, i) => {
      const acl = compileServiceAcl(c);
      for (const local of ['127.0.0.1', '127.0.0.2']) {
        const real = await admitted(local, ports[i]!);
        const ours = decideAccess(acl, parsePeerAddress(`::ffff:${local}`)!).allow;
        if (real !== ours) mismatches.push(`${JSON.stringify(c)} from ${local}: xinetd ${real}, tsinetd ${ours}`);
      }
    }),
  );
  assert.deepEqual(mismatches, []);
});
