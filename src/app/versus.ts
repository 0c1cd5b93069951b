// Which way a difference from the daemon tsinetd replaces (xinetd, or the inetd of an
// inetd.conf dialect) goes, in the words `--check` ends each such warning with. The rule these
// words are checked against: tsinetd may not start a service, or admit a client, that the
// daemon it replaces would not, unless the administrator asks for it. The man pages'
// COMPATIBILITY sections use the same words.

export type Versus =
  /** The same clients get in (and the same services start); only how it is done differs. */
  | 'same'
  /** A service the other daemon starts is not started. */
  | 'starts less'
  /** Services the other daemon would not start may start (or the other way round). */
  | 'may start more'
  /** Clients the other daemon admits are refused. */
  | 'admits less'
  /** The same clients, but fewer served at a time. */
  | 'fewer at a time'
  /** The same clients, but more served at a time. */
  | 'more at a time'
  /** The server runs with fewer of the restrictions the configuration asks for. */
  | 'restricts the server less';

const WORDS: Record<Versus, string> = {
  same: 'the same clients are admitted',
  'starts less': 'tsinetd starts less',
  'may start more': 'tsinetd may start more',
  'admits less': 'tsinetd admits less',
  'fewer at a time': 'the same clients, fewer at a time',
  'more at a time': 'the same clients, more at a time',
  'restricts the server less': 'tsinetd restricts the server less',
};

/** The suffix of a warning about a difference: " [versus xinetd: tsinetd admits less]". */
export function versus(v: Versus, other = 'xinetd'): string {
  return ` [versus ${other}: ${WORDS[v]}]`;
}
