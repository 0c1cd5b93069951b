// Set-ups of the real packages the end-to-end tests serve (serve-git, udp-wait-sender,
// packages-xinetd): a bare git repository to clone, and in.tftpd (tftpd-hpa) as xinetd runs it.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { programService, type Attrs, type ServiceDef } from './daemon.js';

export const TFTPD = '/usr/sbin/in.tftpd';
export const TFTP = '/usr/bin/tftp';

/** A repository with one commit (README holding `readme`), cloned bare into dir/repos/repo.git; returns dir/repos. */
export function bareGitRepo(dir: string, readme: string): string {
  const work = join(dir, 'work');
  const repos = join(dir, 'repos');
  mkdirSync(work);
  mkdirSync(repos);
  writeFileSync(join(work, 'README'), readme);
  const git = (args: string[], cwd: string): void => {
    const r = spawnSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
    assert.equal(r.status, 0, `git ${args.join(' ')}: ${r.stderr}`);
  };
  git(['init', '-q', '-b', 'main'], work);
  git(['add', 'README'], work);
  git(['-c', 'user.name=t', '-c', 'user.email=t@localhost', 'commit', '-q', '-m', 'first'], work);
  git(['clone', '-q', '--bare', work, join(repos, 'repo.git')], dir);
  return repos;
}

/** in.tftpd serving `root` as a wait = yes datagram service on 127.0.0.1 (it exits after 1 s idle). */
export function tftpdService(port: number, root: string, extra: Attrs = {}): ServiceDef {
  return programService('tftp', port, TFTPD, {
    socket_type: 'dgram',
    protocol: 'udp',
    wait: 'yes',
    user: 'root',
    bind: '127.0.0.1',
    server_args: `-s ${root} -t 1`,
    ...extra,
  });
}
