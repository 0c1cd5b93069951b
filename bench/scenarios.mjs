// scenarios.mjs - the benchmark's scenarios, the xinetd-syntax config written for each (read
// unchanged by xinetd and tsinetd), and the command line of every server it can run.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { blockList } from '../scripts/block-list.mjs';

const REQUEST = 'ping-pong request line\\n'; // loadgen turns \n into a newline

/**
 * id, title, transport, loadgen arguments (besides port, concurrency and duration), the servers
 * that can run it, and the baseline it is read against (if any).
 */
export function scenarios({ udpTimeoutMs }) {
  return [
    {
      id: 'S1',
      title: 'spawn `hello` (a C program printing one line) per connection, stream nowait',
      proto: 'tcp',
      loadgen: ['-e', 'hello from the spawned server'],
      servers: ['xinetd', 'tsinetd', 'forklimit'],
    },
    {
      id: 'S1w',
      title: 'S1 with TCP wrappers: a 5,000-line hosts.deny (`ALL: 10.a.b.c`, DenyHosts style) that matches no client',
      proto: 'tcp',
      loadgen: ['-e', 'hello from the spawned server'],
      servers: ['xinetd', 'tsinetd'],
      /** Read against this scenario of the same server in the same run (report.mjs). */
      sameServerBaseline: 'S1',
    },
    {
      id: 'S1e',
      title: 'spawn `/bin/cat` per connection: the client writes a line, half-closes, reads the echo to EOF',
      proto: 'tcp',
      loadgen: ['-s', REQUEST, '-e', 'ping-pong request line'],
      servers: ['xinetd', 'tsinetd', 'forklimit'],
    },
    {
      id: 'S2',
      title: 'internal `daytime`, stream',
      proto: 'tcp',
      loadgen: ['-m', '10'],
      servers: ['xinetd', 'tsinetd'],
    },
    {
      id: 'S2e',
      title: 'internal `echo`, stream: the client writes a line, half-closes, reads the echo to EOF',
      proto: 'tcp',
      loadgen: ['-s', REQUEST, '-e', 'ping-pong request line'],
      servers: ['xinetd', 'tsinetd'],
    },
    {
      id: 'S4',
      title: `internal \`echo\`, dgram (UDP, wait = yes); a reply missing after ${udpTimeoutMs} ms is lost`,
      proto: 'udp',
      loadgen: ['-u', '-s', 'ping\\n', '-e', 'ping', '-t', String(udpTimeoutMs)],
      servers: ['xinetd', 'tsinetd'],
    },
  ];
}

/** The service block of one scenario (what both daemons are given). */
function serviceBlock(scenarioId, port, tools) {
  const common = ['\tuser = root', '\tbind = 127.0.0.1', `\tport = ${port}`];
  const stream = ['\tsocket_type = stream', '\tprotocol = tcp', '\twait = no'];
  switch (scenarioId) {
    case 'S1':
    case 'S1w':
      return ['service bench-hello', '{', '\ttype = UNLISTED', ...stream, ...common, `\tserver = ${tools.hello}`, '}'];
    case 'S1e':
      return ['service bench-cat', '{', '\ttype = UNLISTED', ...stream, ...common, `\tserver = ${tools.cat}`, '}'];
    case 'S2':
      return ['service daytime', '{', '\ttype = INTERNAL UNLISTED', ...stream, ...common, '}'];
    case 'S2e':
      return ['service echo', '{', '\ttype = INTERNAL UNLISTED', ...stream, ...common, '}'];
    case 'S4':
      return [
        'service echo', '{', '\ttype = INTERNAL UNLISTED', '\tsocket_type = dgram', '\tprotocol = udp',
        '\twait = yes', ...common, '}',
      ];
    default:
      throw new Error(`unknown scenario ${scenarioId}`);
  }
}

/** The xinetd.conf text of one scenario; with log = false the log_* lines are left out. */
export function xinetdConfig(scenarioId, port, dir, tools, log) {
  const defaults = ['defaults', '{'];
  if (log) {
    defaults.push(`\tlog_type = FILE ${join(dir, 'service.log')}`, '\tlog_on_success = PID HOST', '\tlog_on_failure = HOST');
  }
  defaults.push('\tinstances = UNLIMITED', '\tper_source = UNLIMITED', '\tcps = 1000000 1', '}', '');
  return [...defaults, ...serviceBlock(scenarioId, port, tools), ''].join('\n');
}

/**
 * argv to start `server` for a scenario in `dir`. Both daemons get the same flags
 * (-dontfork -f CONF, daemon messages to a file); the config is written here.
 */
export function serverArgv(server, scenarioId, port, dir, tools, log) {
  if (server === 'forklimit') {
    return [tools.forklimit, String(port), scenarioId === 'S1' ? tools.hello : tools.cat];
  }
  const conf = join(dir, `${server}.conf`);
  writeFileSync(conf, xinetdConfig(scenarioId, port, dir, tools, log));
  const flags = ['-dontfork', '-f', conf, '-filelog', join(dir, 'daemon.log')];
  if (scenarioId === 'S1w') return wrappedArgv(server, dir, tools, flags);
  if (server === 'xinetd') return [tools.xinetd, ...flags];
  if (server === 'tsinetd') return [...tools.tsinetd, ...flags];
  throw new Error(`unknown server ${server}`);
}

/**
 * S1w: both daemons read the same scratch rule files. xinetd can only read /etc/hosts.allow and
 * /etc/hosts.deny: it gets the scratch files bind-mounted over them in a mount namespace of its
 * own (`unshare -m`, then exec: the pid measured is xinetd's); the machine's files are untouched.
 */
function wrappedArgv(server, dir, tools, flags) {
  const allow = join(dir, 'hosts.allow');
  const deny = join(dir, 'hosts.deny');
  writeFileSync(allow, '');
  writeFileSync(deny, blockList(5000));
  if (server === 'tsinetd') return [...tools.tsinetd, ...flags, '--hosts-allow', allow, '--hosts-deny', deny];
  const quote = (a) => `'${a.replace(/'/g, "'\\''")}'`;
  const script = `mount --bind ${quote(allow)} /etc/hosts.allow && mount --bind ${quote(deny)} /etc/hosts.deny && exec ${[tools.xinetd, ...flags].map(quote).join(' ')}`;
  return ['unshare', '-m', '--propagation', 'private', 'sh', '-c', script];
}
