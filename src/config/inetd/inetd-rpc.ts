// The service field of an inetd.conf RPC entry (pure apart from the /etc/rpc lookup):
// `NAME/VERSION` or `NAME/LOW-HIGH`, the program found in /etc/rpc by name or alias
// (getrpcbyname, as both inetds do). A number is not looked up as a program: openbsd-inetd
// 0.20221205 registers nothing for `100002/3`.

import type { SysDb } from '../../sys/sysdb.js';

export interface RpcServiceField {
  name: string;
  prog: number;
  versions: [number, number];
}

/** What is wrong, where in the field (offset, length). */
export interface RpcFieldProblem {
  problem: string;
  offset: number;
  length: number;
}

export function readRpcServiceField(text: string, db: Pick<SysDb, 'rpcByName'>): RpcServiceField | RpcFieldProblem {
  const slash = text.indexOf('/');
  if (slash < 0) {
    // openbsd-inetd's words: "%s: no rpc version".
    return { problem: `${text}: no rpc version (an RPC entry names \`NAME/VERSION\` or \`NAME/LOW-HIGH\`)`, offset: 0, length: text.length };
  }
  const name = text.slice(0, slash);
  const vers = text.slice(slash + 1);
  const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(vers);
  const lo = m === null ? Number.NaN : Number(m[1]);
  const hi = m === null ? Number.NaN : Number(m[2] ?? m[1]);
  if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || lo > hi || hi > 0xffffffff) {
    return { problem: `bad RPC version \`${vers}\` (a number, or LOW-HIGH with LOW <= HIGH)`, offset: slash + 1, length: Math.max(1, vers.length) };
  }
  const entry = db.rpcByName(name);
  if (entry === undefined)
    return { problem: `unknown RPC service \`${name}\`: not in /etc/rpc (by name or alias)`, offset: 0, length: Math.max(1, name.length) };
  return { name, prog: entry.number, versions: [lo, hi] };
}
