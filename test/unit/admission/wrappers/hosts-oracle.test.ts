// The TCP-wrappers evaluation (hosts-syntax.ts, hosts-match.ts, hosts-options.ts) against
// Debian's tcpdmatch, the libwrap oracle: generated hosts.allow / hosts.deny pairs, daemon
// names and client addresses, each one decided by both. Skips when tcpdmatch is absent.
//
// tcpdmatch given a bare address simulates a failed host name lookup and an unknown user, and
// it has no server endpoint (server address "unknown", no port). Given a name (localhost), it
// looks the name up and prints what it found; `unknown` and `paranoid` stand for failed
// lookups; `user@client` sets the user; `daemon@server` gives a server address (port 0). The
// requests below are built from what tcpdmatch printed about each of them. It runs in dry-run mode: spawn and aclexec do not run (aclexec counts as exit 0),
// twist prints "delegated". The user and group options are left out: in dry-run mode
// libwrap really calls setuid/setgid (its test of dry_run is inverted).
//
// Replay a failure with TSINETD_ORACLE_SEED=<seed printed below>.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseHostsFile } from '../../../../src/admission/wrappers/hosts-syntax.js';
import { evaluateAccess, type WrapRequest } from '../../../../src/admission/wrappers/hosts-match.js';
import { expandBanner } from '../../../../src/admission/wrappers/hosts-options.js';
import { tempDir } from '../../../helpers/temp.js';

const TCPDMATCH = '/usr/sbin/tcpdmatch';
const CASES = Number(process.env['TSINETD_ORACLE_CASES'] ?? 400);
const BATCH = 8;

const DAEMONS = ['in.tftpd', 'in.ftpd', 'sshd', 'in.tftpd@127.0.0.1'];
const CLIENTS = [
  '127.0.0.1',
  '127.0.0.2',
  '::1',
  '::ffff:127.0.0.1',
  '10.1.2.3',
  '2001:db8::5',
  '127.0.0.1',
  '127.0.0.2',
  '::1',
  '::ffff:127.0.0.1',
  '10.1.2.3',
  '2001:db8::5',
  'localhost',
  'unknown',
  'paranoid',
  'root@127.0.0.2',
];

const daemonToken = fc.constantFrom(
  'ALL',
  'ALL',
  'in.tftpd',
  'in.ftpd',
  'sshd',
  'in.',
  '*ftpd',
  'in.?tpd',
  'IN.TFTPD',
  'KNOWN',
  'UNKNOWN',
  '69',
  '0',
  '.ftpd',
  'in.tftpd@localhost',
  'ALL@LOCAL',
  'ALL@127.0.0.',
  'ALL@[::1]',
  'EXCEPT',
  'sshd@127.0.0.1',
  'ALL@ALL',
  'in.tftpd@unknown',
  'tftpd',
);

const clientToken = fc.constantFrom(
  'ALL',
  'ALL',
  'LOCAL',
  'KNOWN',
  'UNKNOWN',
  'PARANOID',
  'EXCEPT',
  'EXCEPT',
  '127.0.0.1',
  '127.0.0.2',
  '10.1.2.3',
  '127.0.0.',
  '127.',
  '10.',
  '127.0.1.',
  '127.0.0.0/24',
  '127.0.0.1/24',
  '127.0.0.0/255.255.255.0',
  '10.0.0.0/8',
  '0.0.0.0/0.0.0.0',
  '127.0.0.0/0',
  '127.0.0.2/32',
  '127.0.0.0/33',
  '127/8',
  '127.0.0.2/255.255.255.255',
  '127.0.0.0/24abc',
  '127.0.0.0/0x8',
  '[::1]',
  '[::1]/128',
  '[2001:db8::]/32',
  '[2001:DB8::5]',
  '[::]/0',
  '[::ffff:127.0.0.1]',
  '[::ffff:127.0.0.0]/104',
  '[::1]/',
  '[::1]/abc',
  '[::1]/129',
  '[::1]/-1',
  '[0:0:0:0:0:0:0:1]',
  '[::1',
  '127.0.0.*',
  '127.0.0.?',
  '10.*',
  '*',
  '?',
  '*.*.*.*',
  '2001:*',
  '::ffff:*',
  '.example.test',
  'example.',
  'unknown',
  'Unknown',
  '@netgroup',
  'root@ALL',
  'KNOWN@127.0.0.1',
  'UNKNOWN@ALL',
  'unknown@127.0.0.2',
  'ROOT@127.0.0.2',
  'r*@ALL',
  'localhost',
  '.localhost',
  'local*',
  'LOCALHOST',
  '::1',
  '2001:db8::5',
  '/nonexistent/hosts-list',
  '0177.0.0.1',
  '0x7f.0.0.2',
);

const optionField = fc.constantFrom(
  'allow',
  'deny',
  'ALLOW',
  'DENY',
  'twist /bin/echo 421',
  'spawn /bin/true',
  'spawn (echo %a %d) &',
  'bogus',
  '',
  ' ',
  'allow = yes',
  'severity auth.info',
  'severity bogus',
  'severity local0.debug',
  'nice 5',
  'nice',
  'nice x',
  'umask 077',
  'umask 999',
  'umask = 022',
  'linger 5',
  'linger -1',
  'rfc931 3',
  'rfc931',
  'rfc931 0',
  'keepalive',
  'keepalive 3',
  'setenv FOO bar',
  'setenv',
  'aclexec /bin/false',
  'banners /nonexistent-banners',
  'echo hi',
  '/bin/echo hi',
  'spawn echo a\\:b',
);

const list = (tok: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.tuple(fc.array(tok, { minLength: 0, maxLength: 4 }), fc.constantFrom(' ', ', ', ',', '\t', '  ')).map(([ts, sep]) => ts.join(sep));

const rule = fc
  .tuple(list(daemonToken), list(clientToken), fc.option(fc.array(optionField, { minLength: 1, maxLength: 3 }), { nil: null }))
  .map(([d, c, o]) => (o === null ? `${d}: ${c}` : `${d}: ${c}: ${o.join(' : ')}`));

const line = fc.oneof(
  { weight: 8, arbitrary: rule },
  { weight: 1, arbitrary: fc.constantFrom('# a comment', '#ALL: ALL', '   # ALL: ALL', '  # no colon here', '', '   ', 'nocolon 127.0.0.1') },
  // A rule cut in two by a continuation line: joined with nothing in between.
  {
    weight: 1,
    arbitrary: fc.tuple(rule, fc.nat()).map(([r, n]) => {
      const k = n % (r.length + 1);
      return `${r.slice(0, k)}\\\n${r.slice(k)}`;
    }),
  },
  { weight: 1, arbitrary: fc.constantFrom('# comment that continues \\', 'ALL: 127.0.0.1\\', 'in.tftpd,\\') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('ALL: 127.0.0.1 ::1 10.1.2.3: twist /bin/echo 421', 'ALL EXCEPT sshd: UNKNOWN: severity auth.info : twist /bin/echo no'),
  },
);

const file = fc.tuple(fc.array(line, { minLength: 0, maxLength: 6 }), fc.boolean(), fc.integer({ min: 0, max: 9 })).map(([lines, crlf, last]) => {
  const eol = crlf ? '\r\n' : '\n';
  const body = lines.map((l) => l + eol).join('');
  // One file in ten lacks its final newline.
  return last === 0 && body.length > 0 ? body.slice(0, -eol.length) : body;
});

const caseArb = fc.record({
  allow: file,
  deny: file,
  daemon: fc.constantFrom(...DAEMONS),
  client: fc.constantFrom(...CLIENTS),
});

type Verdict = 'granted' | 'denied' | 'delegated';

/** One request tcpdmatch decided: what it knew, and its verdict. */
interface Decided {
  request: WrapRequest;
  verdict: Verdict;
}

/** tcpdmatch's report: a block per client address, each ending in "access: ...". */
function readReport(stdout: string, daemonArg: string, clientArg: string): Decided[] {
  const at = daemonArg.indexOf('@');
  const daemon = at < 0 ? daemonArg : daemonArg.slice(0, at);
  const cat = clientArg.indexOf('@');
  const user = cat < 0 ? 'unknown' : clientArg.slice(0, cat);
  const out: Decided[] = [];
  let seen: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^(client|server|access):\s+(?:(hostname|address|username|process)\s+)?(.*)$/.exec(line);
    if (m === null) continue;
    if (m[1] !== 'access') {
      seen[`${m[1]} ${m[2]}`] = m[3]!.trim();
      continue;
    }
    const verdict = /^(granted|denied|delegated)/.exec(m[3]!)?.[1] as Verdict | undefined;
    if (verdict === undefined) throw new Error(`tcpdmatch said: ${stdout}`);
    out.push({
      verdict,
      request: {
        daemon,
        server: {
          address: seen['server address'] ?? 'unknown',
          port: at < 0 ? null : 0,
          hostname: seen['server hostname'] ?? 'unknown',
        },
        client: {
          address: seen['client address'] ?? 'unknown',
          port: null,
          hostname: seen['client hostname'] ?? 'unknown',
          user,
        },
      },
    });
    seen = {};
  }
  if (out.length === 0) throw new Error(`tcpdmatch said: ${stdout}`);
  return out;
}

function runTcpdmatch(dir: string, daemon: string, client: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(TCPDMATCH, ['-d', daemon, client], { cwd: dir, timeout: 10_000 }, (err, stdout) =>
      err !== null ? reject(new Error(`tcpdmatch: ${err.message}`, { cause: err })) : resolve(stdout),
    );
  });
}

async function tcpdmatch(dir: string, daemon: string, client: string): Promise<Decided[]> {
  return readReport(await runTcpdmatch(dir, daemon, client), daemon, client);
}

function ours(allow: string, deny: string, req: WrapRequest): Verdict {
  const v = evaluateAccess(parseHostsFile('hosts.allow', allow), parseHostsFile('hosts.deny', deny), req);
  if ('kind' in v) throw new Error(`unexpected need: ${v.what}`);
  return v.delegated ? 'delegated' : v.access;
}

test(`${CASES} generated hosts.allow/hosts.deny cases agree with tcpdmatch`, { skip: !existsSync(TCPDMATCH) && `${TCPDMATCH} not installed` }, async (t) => {
  const seed = process.env['TSINETD_ORACLE_SEED'] !== undefined ? Number(process.env['TSINETD_ORACLE_SEED']) : 20261207;
  const cases = fc.sample(caseArb, { seed, numRuns: CASES });
  const root = tempDir(t, 'oracle');
  const started = Date.now();
  const disagreements: string[] = [];
  const counts: Record<Verdict, number> = { granted: 0, denied: 0, delegated: 0 };
  for (let b = 0; b < cases.length; b += BATCH) {
    await Promise.all(
      cases.slice(b, b + BATCH).map(async (c, k) => {
        const dir = join(root, String(b + k));
        mkdirSync(dir);
        writeFileSync(join(dir, 'hosts.allow'), c.allow);
        writeFileSync(join(dir, 'hosts.deny'), c.deny);
        for (const { request, verdict: want } of await tcpdmatch(dir, c.daemon, c.client)) {
          counts[want]++;
          const got = ours(c.allow, c.deny, request);
          if (got !== want) {
            disagreements.push(
              `case ${b + k}: tcpdmatch -d ${c.daemon} ${c.client}: tcpdmatch ${want}, ours ${got} for ${JSON.stringify(request)}\n` +
                `  hosts.allow: ${JSON.stringify(c.allow)}\n  hosts.deny: ${JSON.stringify(c.deny)}`,
            );
          }
        }
      }),
    );
  }
  const decided = counts.granted + counts.denied + counts.delegated;
  const agree = decided - disagreements.length;
  t.diagnostic(
    `seed ${seed}: ${agree}/${decided} verdicts agree over ${cases.length} cases (tcpdmatch: ${counts.granted} granted, ${counts.denied} denied, ${counts.delegated} delegated) in ${Date.now() - started} ms`,
  );
  // Both outcomes must occur, or the generator tests nothing.
  assert.ok(counts.granted > CASES / 10 && counts.denied > CASES / 10 && counts.delegated > 0, JSON.stringify(counts));
  assert.deepEqual(disagreements.slice(0, 5), [], `seed ${seed}: ${disagreements.length} disagreements`);
});

test('% expansions agree with what tcpdmatch writes from a banners file', { skip: !existsSync(TCPDMATCH) && `${TCPDMATCH} not installed` }, async (t) => {
  // The banners option sends DIR/<daemon> to the client, each line with LF made CRLF, then through percent_x;
  // tcpdmatch's "client" is its stdout. %p (tcpdmatch's pid) is left out.
  const template = ['A %a|%A|%c|%d|%h|%H|%n|%N|%r|%R|%s|%u|%%|%z|%', 'B $(id) `a` "q" \\ end %'];
  const dir = tempDir(t, 'oracle-percent');
  mkdirSync(join(dir, 'banners'));
  const bannerFile = template.map((l) => l + '\n').join('') + 'C no newline %a =END=';
  writeFileSync(join(dir, 'banners', 'in.tftpd'), bannerFile);
  writeFileSync(join(dir, 'hosts.allow'), `ALL: ALL: banners ${join(dir, 'banners')}\n`);
  writeFileSync(join(dir, 'hosts.deny'), '');
  let compared = 0;
  for (const client of ['127.0.0.2', 'r;o`t$ x@127.0.0.2', 'localhost', '::ffff:127.0.0.1', 'paranoid', 'unknown']) {
    const out = await runTcpdmatch(dir, 'in.tftpd', client);
    const end = out.indexOf('=END=') + '=END='.length;
    const banner = out.slice(0, end);
    const { request } = readReport(out.slice(end), 'in.tftpd', client)[0]!;
    const ctx = { daemon: request.daemon, pid: 0, client: request.client, server: request.server };
    // libwrap turns LF into CRLF before expanding: a % right before the line end eats the CR.
    assert.equal(banner, expandBanner(bannerFile, ctx), client);
    assert.ok(banner.includes('B $(id) `a` "q" \\ end \n'), banner);
    compared++;
  }
  assert.equal(compared, 6);
});

test(
  'line-handling edge cases agree with tcpdmatch (2048-byte limit, continuations, NUL bytes, CR)',
  { skip: !existsSync(TCPDMATCH) && `${TCPDMATCH} not installed` },
  async (t) => {
    const pad = (head: string, total: number, tail = '\n') => head + ' '.repeat(total - head.length - tail.length) + tail;
    const files: Buffer[] = [];
    for (const total of [2045, 2046, 2047, 2048, 2049]) {
      files.push(Buffer.from(pad('ALL: 127.0.0.1', total)));
      // The same length cut in two by a continuation (the backslash-newline counts while reading).
      const body = pad('ALL: 127.0.0.1', total);
      files.push(Buffer.from(`${body.slice(0, 1000)}\\\n${body.slice(1000)}`));
      files.push(Buffer.from(`sshd: 10.0.0.1\n${pad('ALL: 127.0.0.1', total)}`));
    }
    for (const text of [
      'ALL: 10.0.0.1\0junk\n 127.0.0.2\n',
      '\0ALL: 127.0.0.2\nALL: 10.0.0.9\n',
      'ALL: 10.0.0.9\n\0\n',
      'ALL: 127.0.0.2\r',
      'ALL: 127.0.0.2\rALL: 10.0.0.1\n',
      '# comment \\\nALL: 127.0.0.2\nALL: 10.0.0.1\n',
      'ALL: 10.0.0.1\\\n',
      'ALL: 10.0.0.1\n\\\n',
      'ALL: 10.0.0.1 \\\n\\\n 127.0.0.2\n',
      '\\\n\\\nALL: 127.0.0.2\n',
      ' \t\r\n#x\n \\\nALL: 127.0.0.2\n',
      ':\n: :\nALL:127.0.0.2:\n',
    ]) {
      files.push(Buffer.from(text, 'latin1'));
    }
    const dir = tempDir(t, 'oracle-lines');
    writeFileSync(join(dir, 'hosts.allow'), '');
    let compared = 0;
    for (const [k, bytes] of files.entries()) {
      writeFileSync(join(dir, 'hosts.deny'), bytes);
      for (const client of ['127.0.0.1', '127.0.0.2', '10.0.0.9']) {
        const [first] = await tcpdmatch(dir, 'in.tftpd', client);
        assert.ok(first, `tcpdmatch printed no decision for file ${k}, client ${client}`);
        const { request, verdict } = first;
        const v = evaluateAccess(parseHostsFile('hosts.allow', ''), parseHostsFile('hosts.deny', bytes), request);
        assert.equal('kind' in v ? v.kind : v.access, verdict, `file ${k} ${JSON.stringify(bytes.toString('latin1').slice(0, 60))}... client ${client}`);
        compared++;
      }
    }
    t.diagnostic(`${compared} line-handling verdicts agree`);
  },
);
