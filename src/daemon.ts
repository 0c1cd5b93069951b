// The daemon: composition root (load → listen → serve; signals; pid file). (Stub.)
import type { DaemonOptions } from './options.js';

export async function runDaemon(opts: DaemonOptions): Promise<number> {
  void opts;
  process.stderr.write('tsinetd: serving is not implemented yet\n');
  return 1;
}
