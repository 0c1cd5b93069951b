// The command line: xinetd(8)'s flags, spelled as xinetd spells them (single dash),
// plus tsinetd's own long options. Wires the modules together; no logic of its own.
//
// Exit status: 0 success; 1 configuration error (--check/--dump/--convert) or fatal
// start-up error; 2 usage error.

import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { loadConfig } from '../config/config.js';
import { convertInetdFile, renderConversion } from '../convert/convert.js';
import { limitationDiagnostics } from './check-limitations.js';
import { describeSpawner, expectedSpawner } from '../spawn/spawner.js';
import { isSyslogFacility, runDaemon } from './daemon.js';
import { formatDiagnostic, hasErrors, type Diagnostic, type FormatOptions } from '../diagnostics.js';
import type { InetdDialect } from '../config/inetd/inetd.js';
import { readingSummary } from '../config/inetd/inetd-dialect.js';
import { parseListenAddress, type ListenAddress } from '../ops/metrics-http.js';
import { defaultOptions, loadRequestOf, type DaemonOptions, type LogFormat } from './options.js';
import { VERSION } from './version.js';
import { explain, formatExplanation } from './explain.js';
import { lintRuleFiles, systemWrappers, wrapsService } from '../admission/wrappers/wrappers.js';

/** xinetd's multi-letter options, written with one dash; we accept them with one or two. */
export const XINETD_LONG_FLAGS = new Set([
  'dontfork',
  'stayalive',
  'pidfile',
  'filelog',
  'syslog',
  'limit',
  'logprocs',
  'shutdownprocs',
  'version',
  'inetd_compat',
  'inetd_ipv6',
  'reuse',
  'cc',
]);

/** Rewrites `-dontfork` into `--dontfork` (commander reads single-dash words as bundled short flags). */
export function normalizeArgv(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const [i, a] of args.entries()) {
    if (a === '--') {
      out.push(...args.slice(i));
      break;
    }
    const flag = /^-([a-z_][a-z_0-9]*)(=.*)?$/.exec(a)?.[1];
    if (flag !== undefined && XINETD_LONG_FLAGS.has(flag)) out.push('-' + a);
    else out.push(a);
  }
  return out;
}

function intArg(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new CommanderError(2, 'tsinetd.usage', `${name} expects a non-negative integer, got '${value}'`);
    return Number(value);
  };
}

function metricsArg(value: string): ListenAddress {
  const r = parseListenAddress(value);
  if (!r.ok) throw new CommanderError(2, 'tsinetd.usage', `--metrics: ${r.error}`);
  return r.address;
}

export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** Whether stderr is a terminal (carets and colours in diagnostics). */
  stderrIsTty: boolean;
}

const defaultIo: CliIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  // Typed boolean, but undefined at run time when stderr is not a terminal.
  stderrIsTty: (process.stderr.isTTY as boolean | undefined) === true,
};

export type Action =
  | { kind: 'check' }
  | { kind: 'dump' }
  | { kind: 'explain'; service: string; address: string; json: boolean }
  | { kind: 'serve' }
  | { kind: 'convert'; file: string; outputDir: string | null; dialect: InetdDialect };

/** `tsinetd convert FILE ...` is `tsinetd --convert FILE ...`. */
export function convertCommand(args: readonly string[]): string[] {
  if (args[0] !== 'convert') return [...args];
  const file = args[1];
  if (file === undefined || file.startsWith('-')) throw new CommanderError(2, 'tsinetd.usage', "'convert' needs the inetd.conf file to convert");
  return ['--convert', ...args.slice(1)];
}

/** `--explain SERVICE ADDRESS`: exactly those two words. */
function explainTarget(args: readonly string[] | undefined): { service: string; address: string } | undefined {
  if (args === undefined) return undefined;
  const [service, address, ...more] = args;
  if (service === undefined || address === undefined || more.length > 0) {
    throw new CommanderError(2, 'tsinetd.usage', '--explain needs a service and a client address: --explain SERVICE ADDRESS');
  }
  return { service, address };
}

export interface ParsedCommandLine {
  action: Action;
  options: DaemonOptions;
}

/**
 * The commander definition of the command line: the one list of options, which --help prints
 * and tsinetd(8)'s OPTIONS follow (test/unit/cli-man-options.test.ts checks both ways).
 */
export function commandLineProgram(io: CliIo = defaultIo): Command {
  const d = defaultOptions();
  return new Command('tsinetd')
    .description('xinetd-compatible inet super-server')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .helpOption('-h, --help', 'show this help')
    .option('-f <config_file>', 'configuration file', d.configFile)
    .option('-d', 'debug mode: stay in the foreground, debug messages to stderr')
    .option('--dontfork', 'stay in the foreground (implies -stayalive)')
    .option('--stayalive', 'keep running when no service is left')
    .option('--pidfile <file>', 'write the process id to this file')
    .option('--filelog <file>', 'daemon messages to this file')
    .option('--syslog <facility>', 'daemon messages to syslog with this facility')
    .option('--limit <proc_limit>', 'limit on concurrently running servers (process_limit)', intArg('-limit'))
    .option('--logprocs <limit>', 'limit on concurrent USERID lookups for refused clients (default 15)', intArg('-logprocs'))
    .option('--shutdownprocs <n>', 'accepted for compatibility; ignored', intArg('-shutdownprocs'))
    .option('--cc <interval>', 'consistency check of the internal state every N seconds (0: none)', intArg('-cc'))
    .option('--reuse', 'accepted for compatibility (SO_REUSEADDR is always set)')
    .option('--inetd_compat', 'also read /etc/inetd.conf')
    .option('--inetd_ipv6', 'accepted for compatibility; inetd services listen dual-stack anyway')
    .option('--version', 'print the version and exit')
    .option('--check', 'load and check the configuration, print diagnostics, exit 0 if no error')
    .option('--dump', 'print the service table and diagnostics as JSON on stdout')
    .option('--inetd <file>', 'load a classic inetd.conf (any dialect); repeatable', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .addOption(new Option('--log-format <format>', 'daemon and service log format').choices(['text', 'json']).default('text'))
    .option('--dump-file <file>', 'where SIGUSR1 writes the text dump', d.dumpFile)
    .option(
      '--metrics <address>',
      'serve Prometheus /metrics, /healthz and /ready on HOST:PORT, [IPV6]:PORT, :PORT (all interfaces), PORT (127.0.0.1) or /unix/socket',
      metricsArg,
    )
    .option('--ready-fd <n>', 'once every listener is bound, write READY to descriptor N and close it', intArg('--ready-fd'))
    .option('--explain <service address...>', 'explain the admission of a client: --explain SERVICE ADDRESS')
    .option('--json', 'with --explain: the explanation as JSON')
    .option('--hosts-allow <file>', 'TCP wrappers: the hosts.allow file', d.hostsAllow)
    .option('--hosts-deny <file>', 'TCP wrappers: the hosts.deny file', d.hostsDeny)
    .option('--convert <inetd.conf>', 'convert a classic inetd.conf into xinetd.d service files (printed, or written with -o)')
    .option('-o, --output-dir <dir>', 'with --convert: write one file per service into this directory')
    .addOption(
      new Option('--dialect <dialect>', 'how to read inetd.conf files (--inetd, --inetd_compat, --convert); auto: decided per file').choices([
        'auto',
        'openbsd',
        'freebsd',
        'gnu',
      ]),
    )
    .allowExcessArguments(false);
}

/** Parses argv (without node and script) into options; throws CommanderError on usage errors. */
export function parseCommandLine(argv: readonly string[], io: CliIo = defaultIo): ParsedCommandLine {
  const d = defaultOptions();
  const program = commandLineProgram(io);
  program.parse(normalizeArgv(convertCommand(argv)), { from: 'user' });
  const o = program.opts<Record<string, unknown>>();

  if (o['version'] === true) {
    io.stdout(`tsinetd ${VERSION} (xinetd-compatible)\n${describeSpawner(expectedSpawner())}\n`);
    throw new CommanderError(0, 'tsinetd.version', 'version');
  }
  if (o['check'] === true && o['dump'] === true) {
    throw new CommanderError(2, 'tsinetd.usage', '--check and --dump cannot be used together');
  }
  const convert = o['convert'] as string | undefined;
  if (convert !== undefined && (o['check'] === true || o['dump'] === true)) {
    throw new CommanderError(2, 'tsinetd.usage', `--convert cannot be used with ${o['check'] === true ? '--check' : '--dump'}`);
  }
  if (convert === undefined && o['outputDir'] !== undefined) {
    throw new CommanderError(2, 'tsinetd.usage', '--output-dir is only used with --convert');
  }
  if (convert === undefined && o['dialect'] !== undefined && (o['inetd'] as string[]).length === 0 && o['inetd_compat'] !== true) {
    throw new CommanderError(2, 'tsinetd.usage', '--dialect is only used with --inetd, --inetd_compat or --convert');
  }

  const options: DaemonOptions = {
    ...d,
    configFile: o['f'] as string,
    configFileGiven: program.getOptionValueSource('f') === 'cli',
    inetdFiles: o['inetd'] as string[],
    inetdCompat: o['inetd_compat'] === true,
    inetdDialect: (o['dialect'] as InetdDialect | undefined) ?? 'auto',
    debug: o['d'] === true,
    dontfork: o['dontfork'] === true || o['d'] === true,
    stayalive: o['stayalive'] === true || o['dontfork'] === true,
    pidfile: (o['pidfile'] as string | undefined) ?? null,
    filelog: (o['filelog'] as string | undefined) ?? null,
    syslog: (o['syslog'] as string | undefined) ?? null,
    limit: (o['limit'] as number | undefined) ?? null,
    logprocs: (o['logprocs'] as number | undefined) ?? null,
    cc: (o['cc'] as number | undefined) ?? null,
    reuse: o['reuse'] === true,
    logFormat: o['logFormat'] as LogFormat,
    dumpFile: o['dumpFile'] as string,
    metrics: (o['metrics'] as ListenAddress | undefined) ?? null,
    readyFd: (o['readyFd'] as number | undefined) ?? null,
    hostsAllow: o['hostsAllow'] as string,
    hostsDeny: o['hostsDeny'] as string,
  };
  const explain = explainTarget(o['explain'] as string[] | undefined);
  if (explain !== undefined && (o['check'] === true || o['dump'] === true || convert !== undefined)) {
    throw new CommanderError(2, 'tsinetd.usage', '--explain cannot be used with --check, --dump or --convert');
  }
  if (explain === undefined && o['json'] === true) throw new CommanderError(2, 'tsinetd.usage', '--json is only used with --explain');
  const action: Action =
    explain !== undefined
      ? { kind: 'explain', ...explain, json: o['json'] === true }
      : convert !== undefined
        ? {
            kind: 'convert',
            file: convert,
            outputDir: (o['outputDir'] as string | undefined) ?? null,
            dialect: (o['dialect'] as InetdDialect | undefined) ?? 'auto',
          }
        : o['check'] === true
          ? { kind: 'check' }
          : o['dump'] === true
            ? { kind: 'dump' }
            : { kind: 'serve' };
  return { action, options };
}

function readSources(files: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const f of files) {
    try {
      m.set(f, readFileSync(f, 'utf8'));
    } catch {
      // unreadable files are already reported as diagnostics
    }
  }
  return m;
}

function printDiagnostics(diags: readonly Diagnostic[], files: readonly string[], io: CliIo): void {
  // on a terminal: colours, and each offending line with a caret under it
  const opts: FormatOptions = io.stderrIsTty ? { sources: readSources(files), color: true, codes: true } : { color: false, codes: true };
  for (const d of diags) io.stderr(formatDiagnostic(d, opts) + '\n');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** --convert: the blocks on stdout (or files in the output directory), diagnostics on stderr. */
function runConvert(action: Extract<Action, { kind: 'convert' }>, io: CliIo): number {
  const r = convertInetdFile(action.file, action.outputDir, { dialect: action.dialect });
  if (action.outputDir === null && r.files.length > 0) io.stdout(renderConversion(action.file, r));
  printDiagnostics(r.diagnostics, [action.file], io);
  const errors = r.diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = r.diagnostics.filter((d) => d.severity === 'warning').length;
  const into = action.outputDir === null ? '' : ` (${plural(r.written.length, 'file')} in ${action.outputDir})`;
  io.stderr(`tsinetd: ${plural(r.files.length, 'service')} converted${into}, ${plural(errors, 'error')}, ${plural(warnings, 'warning')}\n`);
  return errors > 0 ? 1 : 0;
}

/** --explain SERVICE ADDRESS: the admission chain for that client, as text or JSON. */
async function runExplain(
  action: Extract<Action, { kind: 'explain' }>,
  options: DaemonOptions,
  table: Awaited<ReturnType<typeof loadConfig>>,
  io: CliIo,
): Promise<number> {
  const wrappers = systemWrappers(
    options.hostsAllow,
    options.hostsDeny,
    () => {},
    (text) => io.stderr(`tsinetd: ${text}\n`),
  );
  const e = await explain(table, action.service, action.address, { resolver: wrappers.lookups.resolver, wallClock: () => new Date(), wrappers });
  if ('error' in e) {
    io.stderr(`tsinetd: --explain: ${e.error}\n`);
    return 2;
  }
  io.stdout(action.json ? JSON.stringify(e, null, 2) + '\n' : formatExplanation(e));
  return e.verdict.admitted ? 0 : 1;
}

/** Runs tsinetd; resolves to the exit status. */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  let parsed: ParsedCommandLine;
  try {
    parsed = parseCommandLine(argv, io);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0; // --help, --version
      if (err.code === 'tsinetd.usage') io.stderr(`tsinetd: ${err.message}\n`);
      io.stderr("Try 'tsinetd --help' for more information.\n");
      return 2;
    }
    throw err;
  }
  const { action, options } = parsed;

  if (action.kind === 'serve') return runDaemon(options);
  if (action.kind === 'convert') return runConvert(action, io);

  // Checking is often done by an ordinary user for a daemon run as root: the services that
  // this user could not serve are warnings here, not errors (privileges.ts).
  const table = await loadConfig(loadRequestOf(options), { privileges: 'warn' });
  if (action.kind === 'explain') return runExplain(action, options, table, io);
  if (action.kind === 'dump') {
    const json = {
      services: table.services,
      diagnostics: table.diagnostics.map((d) => ({
        severity: d.severity,
        code: d.code,
        file: d.file,
        line: d.line,
        column: d.column,
        message: d.message,
        ...(d.services !== undefined ? { services: d.services } : {}),
      })),
    };
    io.stdout(JSON.stringify(json, null, 2) + '\n');
    return hasErrors(table.diagnostics) ? 1 : 0;
  }

  // Also what this run could not do as configured (spawner attributes, serving limitations),
  // and TCP wrappers' rule files when a service is wrapped.
  const wrapped = table.services.some((s) => s.enabled && wrapsService(s));
  const rules = wrapped ? lintRuleFiles(options.hostsAllow, options.hostsDeny) : [];
  const diagnostics = [...table.diagnostics, ...limitationDiagnostics(table, expectedSpawner()), ...rules];
  printDiagnostics(diagnostics, [...table.files, ...(wrapped ? [options.hostsAllow, options.hostsDeny] : [])], io);
  for (const r of table.inetdDialects ?? []) io.stderr(`tsinetd: ${r.file}: ${readingSummary(r.dialect)}\n`);
  if (options.syslog !== null && !isSyslogFacility(options.syslog)) {
    io.stderr(`tsinetd: warning: -syslog ${options.syslog}: not a syslog facility; daemon messages would use facility daemon (as in xinetd)\n`);
  }
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.filter((d) => d.severity === 'warning').length;
  const enabled = table.services.filter((s) => s.enabled).length;
  io.stderr(
    `tsinetd: ${table.services.length} service${table.services.length === 1 ? '' : 's'} (${enabled} enabled), ` +
      `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}\n`,
  );
  return errors > 0 ? 1 : 0;
}
