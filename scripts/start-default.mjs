#!/usr/bin/env node
// `npm start`: runs tsinetd in the foreground on the bundled default configuration
// (fixtures/default/), without root and on unprivileged loopback ports:
//   7101/tcp  health monitor: `nc 127.0.0.1 7101` prints {"status": "OK"}
//   9418/tcp  git daemon --inetd: `git clone git://127.0.0.1:9418/example.git`
//   7007/tcp+udp echo, 7013/tcp daytime (internal services)
// It also runs the small local HTTP service (127.0.0.1:7180) that the monitor checks,
// so the monitor reports OK. Stop with Ctrl-C (SIGINT) or SIGTERM.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync, rmSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const template = join(root, 'fixtures', 'default');
const state = join(root, 'build', 'default');
const cli = join(root, 'build', 'bin', 'tsinetd.mjs');
const HEALTH_HTTP_PORT = 7180;

function say(msg) {
  process.stderr.write(`npm start: ${msg}\n`);
}

if (!existsSync(cli)) {
  say('tsinetd is not built yet: run `npm install` (or `npm run build`) first');
  process.exit(1);
}

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

const git = which('git');
const vars = { '@ROOT@': root, '@STATE@': state, '@USER@': userInfo().username, '@GIT@': git ?? '/usr/bin/git' };
const fill = (text) => text.replace(/@[A-Z]+@/g, (m) => vars[m] ?? m);

// The configuration, with this checkout's paths filled in.
rmSync(join(state, 'xinetd.d'), { recursive: true, force: true });
mkdirSync(join(state, 'xinetd.d'), { recursive: true });
writeFileSync(join(state, 'xinetd.conf'), fill(readFileSync(join(template, 'xinetd.conf'), 'utf8')));
for (const name of readdirSync(join(template, 'xinetd.d'))) {
  if (name === 'git' && git === null) {
    say('git is not installed: the git service is left out');
    continue;
  }
  writeFileSync(join(state, 'xinetd.d', name), fill(readFileSync(join(template, 'xinetd.d', name), 'utf8')));
}

// The example repository that git daemon serves.
const repo = join(state, 'repos', 'example.git');
if (git !== null && !existsSync(repo)) {
  mkdirSync(dirname(repo), { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'tsinetd-example-'));
  const run = (args, cwd) => spawnSync(git, args, { cwd, stdio: 'ignore' }).status === 0;
  writeFileSync(join(work, 'README'), 'An example repository served by tsinetd through `git daemon --inetd`.\n');
  const ok =
    run(['init', '-q', '-b', 'main'], work) &&
    run(['add', 'README'], work) &&
    run(['-c', 'user.name=tsinetd', '-c', 'user.email=tsinetd@localhost', 'commit', '-q', '-m', 'Example'], work) &&
    run(['clone', '-q', '--bare', work, repo], state);
  rmSync(work, { recursive: true, force: true });
  if (!ok) say('could not create the example repository');
}

// The local service the health monitor checks.
const http = createServer((req, res) => {
  const ok = req.url === '/health';
  res.writeHead(ok ? 200 : 404, { 'content-type': 'text/plain' });
  res.end(ok ? 'ok\n' : 'not found\n');
});
http.on('error', (err) => say(`health backend on 127.0.0.1:${HEALTH_HTTP_PORT}: ${err.message} (the monitor will report ERROR)`));
http.listen(HEALTH_HTTP_PORT, '127.0.0.1');

const child = spawn(process.execPath, [cli, '-dontfork', '-f', join(state, 'xinetd.conf'), '--dump-file', join(state, 'xinetd.dump'), ...process.argv.slice(2)], {
  stdio: 'inherit',
});
say(`tsinetd pid ${child.pid}; try: nc 127.0.0.1 7101   (service log: ${join(state, 'services.log')})`);

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR1']) {
  process.on(sig, () => {
    if (child.exitCode === null) child.kill(sig);
  });
}
child.on('exit', (code, signal) => {
  http.close();
  process.exitCode = code ?? (signal === 'SIGINT' || signal === 'SIGTERM' ? 0 : 1);
});
