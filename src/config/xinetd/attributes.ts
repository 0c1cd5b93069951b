// The attributes of the xinetd configuration language: where each may appear, how many values
// it takes and which assignment operators it accepts. Mirrors xinetd 2.3.15's attribute tables
// (parse.c), plus tsinetd's own extension `per_source_cps`.

/**
 * Value count: a number = exactly that many values; 'any' = zero or more values, `=` only;
 * 'list' = zero or more values, `=`, `+=` and `-=`, may repeat (a set that accumulates).
 */
export type Arity = number | 'any' | 'list';

export interface AttributeSpec {
  /** The attribute as written in the configuration (lower case). */
  name: string;
  /** The attribute whose value it sets (`interface` sets `bind`). */
  key: string;
  /** Arity in a service entry; null = not allowed in services. */
  service: Arity | null;
  /** Arity in `defaults`; null = not allowed there. In defaults, `=` on a list adds (like `+=`). */
  defaults: Arity | null;
  /** `-=` is refused (xinetd: env). */
  noMinus?: boolean;
  /** A tsinetd extension (xinetd warns "bad service attribute" and ignores it). */
  extension?: boolean;
  /** Known to xinetd's documentation but not to xinetd 2.3.15 itself (it warns and ignores it). */
  undocumentedInXinetd?: boolean;
}

const A = (name: string, service: Arity | null, defaults: Arity | null, extra: Partial<AttributeSpec> = {}): AttributeSpec => ({
  name,
  key: name,
  service,
  defaults,
  ...extra,
});

export const ATTRIBUTES: readonly AttributeSpec[] = [
  A('id', 1, null),
  A('type', 'any', null),
  A('flags', 'any', null),
  A('disable', 1, null),
  A('socket_type', 1, null),
  A('protocol', 1, null),
  A('wait', 1, null),
  A('user', 1, null),
  A('group', 1, null),
  A('groups', 1, 1),
  A('instances', 1, 1),
  A('nice', 1, null),
  A('server', 1, null),
  A('server_args', 'any', null),
  A('libwrap', 1, null),
  A('only_from', 'list', 'list'),
  A('no_access', 'list', 'list'),
  A('access_times', 'any', null),
  A('log_type', 'any', 'list'),
  A('log_on_success', 'list', 'list'),
  A('log_on_failure', 'list', 'list'),
  A('rpc_version', 1, null),
  A('rpc_number', 1, null),
  A('env', 'list', null, { noMinus: true }),
  A('passenv', 'list', 'list'),
  A('port', 1, null),
  A('redirect', 2, null),
  A('bind', 1, 1),
  A('interface', 1, 1, { key: 'bind' }),
  A('banner', 1, 1),
  A('banner_success', 1, 1),
  A('banner_fail', 1, 1),
  A('per_source', 1, 1),
  A('cps', 2, 2),
  A('max_load', 1, 1),
  A('umask', 1, 1),
  A('v6only', 1, 1),
  A('deny_time', 1, null),
  A('rlimit_as', 1, null),
  A('rlimit_cpu', 1, null),
  A('rlimit_data', 1, null),
  A('rlimit_files', 1, null),
  A('rlimit_rss', 1, null),
  A('rlimit_stack', 1, null),
  A('enabled', null, 'list'),
  A('disabled', null, 'list'),
  A('mdns', 1, null, { undocumentedInXinetd: true }),
  A('per_source_cps', 2, 2, { extension: true }),
];

const BY_NAME = new Map(ATTRIBUTES.map((a) => [a.name, a]));

/** The attribute spelled `name` (compared without regard to case, as xinetd does). */
export function attributeSpec(name: string): AttributeSpec | undefined {
  return BY_NAME.get(name.toLowerCase());
}

/** The known attribute names closest to a misspelt one (edit distance <= 2), best first. */
export function suggestAttribute(name: string): string | undefined {
  const lower = name.toLowerCase();
  let best: { name: string; d: number } | undefined;
  for (const a of ATTRIBUTES) {
    const d = editDistance(lower, a.name);
    if (d <= 2 && (best === undefined || d < best.d)) best = { name: a.name, d };
  }
  return best?.name;
}

/** Levenshtein distance (small strings only). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = prev[j]!;
      prev[j] = Math.min(above + 1, prev[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return prev[b.length]!;
}

// ---- Enumerated values (canonical spelling) -------------------------------------------------

export const SERVICE_TYPES = ['RPC', 'INTERNAL', 'UNLISTED', 'SPECIAL', 'TCPMUX', 'TCPMUXPLUS'] as const;

export const SERVICE_FLAGS = [
  'REUSE',
  'INTERCEPT',
  'NORETRY',
  'IDONLY',
  'NAMEINARGS',
  'NODELAY',
  'KEEPALIVE',
  'NOLIBWRAP',
  'SENSOR',
  'IPv4',
  'IPv6',
  'LABELED',
] as const;

export const SOCKET_TYPES = ['stream', 'dgram', 'raw', 'seqpacket'] as const;

export const LOG_ON_SUCCESS = ['PID', 'HOST', 'USERID', 'EXIT', 'DURATION', 'TRAFFIC'] as const;

export const LOG_ON_FAILURE = ['HOST', 'USERID', 'ATTEMPT'] as const;

/** Internal services xinetd implements, by name (and the socket types it has them for). */
export const XINETD_BUILTINS: Readonly<Record<string, readonly string[]>> = {
  echo: ['stream', 'dgram'],
  discard: ['stream', 'dgram'],
  daytime: ['stream', 'dgram'],
  chargen: ['stream', 'dgram'],
  time: ['stream', 'dgram'],
  servers: ['stream', 'dgram'],
  services: ['stream', 'dgram'],
  xadmin: ['stream'],
  tcpmux: ['stream'],
};

/** The internal services tsinetd answers itself (src/serve/builtins.ts). */
export const TSINETD_BUILTINS: ReadonlySet<string> = new Set(['echo', 'discard', 'daytime', 'chargen', 'time', 'tcpmux']);
