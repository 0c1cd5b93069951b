// The entries of only_from / no_access: which words xinetd accepts as addresses.
//
// Entries are kept as written (e.g. "127.0.0.{1,3}", "10.0.0.0", ".example.com"): src/admission/acl.ts
// compiles and matches them at connection time. Here we only check their syntax, the way
// xinetd's addr.c does when it reads the configuration:
//   - a word with a comma outside braces, or a malformed factorized address, is an error that
//     makes xinetd disable the service; it stops there, keeping the addresses read before it
//     (they matter if a later `disable = no` re-enables the service);
//   - any other word xinetd cannot parse is logged ("failed to parse") and left out of the list;
//     tsinetd does the same (an error diagnostic, the service keeps running without that entry);
//   - '#' starts a comment only at the start of a line: after values, '#' and the words after
//     it are more values, each tried as an address like the others (a warning says so).
// Host names, `.domain` suffixes and /etc/networks names are accepted as written; they are
// resolved later (xinetd resolves them when it reads the file and drops names that do not
// resolve; we cannot tell without the network).

import { isIPv6 } from 'node:net';
import { diag, type Diagnostic } from '../diagnostics.js';
import { parseWord } from '../config/xinetd/parse.js';
import type { Word } from '../config/xinetd/syntax.js';

export interface AclWords {
  /** The entries to keep, as written (on a fatal word, those before it). */
  entries: string[];
  /** Words left out, and advice. */
  diagnostics: Diagnostic[];
  /** A word that makes xinetd disable the whole service; reading stops there. */
  fatal: Diagnostic | null;
}

function at(w: Word): { file: string; line: number; column: number } {
  return { file: w.loc.file, line: w.loc.line, column: w.loc.column };
}

/** Checks the address words of one only_from / no_access line. */
export function checkAclWords(words: readonly Word[], attribute: string): AclWords {
  const out: AclWords = { entries: [], diagnostics: [], fatal: null };
  for (const [i, w] of words.entries()) {
    const text = w.text;
    const commentLike = text.startsWith('#') && !words.slice(0, i).some((x) => x.text.startsWith('#'));
    if (commentLike) {
      const rest = words
        .slice(i)
        .map((x) => x.text)
        .join(' ');
      out.diagnostics.push(
        diag(
          'comment-inside-value',
          'warning',
          at(w),
          `'#' starts a comment only at the beginning of a line: '${rest}' are more values of ${attribute}; ` +
            'xinetd tries each as an address and keeps those it can read, and so does tsinetd',
          rest.length,
        ),
      );
    }
    if (text === '#') continue; // xinetd: "failed to parse #"; the warning above says it
    if (text.includes(',') && !text.includes('{')) {
      out.fatal = diag('bad-address', 'error', at(w), `address '${text}' has a comma in it: separate the addresses of ${attribute} with blanks`, text.length);
      break;
    }
    const r = parseWord('AclAddress', w);
    if (!r.ok) {
      if (text.includes('{')) {
        out.fatal = { ...r.diagnostic, code: 'bad-address', message: `bad factorized address '${text}' in ${attribute}: ${r.diagnostic.message}` };
        break;
      } else {
        out.diagnostics.push({
          ...r.diagnostic,
          code: 'bad-address',
          message: `cannot read '${text}' as an address of ${attribute}: ${r.diagnostic.message}; xinetd ignores it ("failed to parse") and so does tsinetd`,
        });
      }
      continue;
    }
    const v = r.value;
    if ((v.kind === 'cidr4' && v.bits > 32) || (v.kind === 'cidr6' && v.bits > 128)) {
      const max = v.kind === 'cidr4' ? 32 : 128;
      out.diagnostics.push(
        diag('value-note', 'warning', at(w), `'${text}': a prefix longer than ${max} bits is read as /${max}, one address (as xinetd reads it)`, text.length),
      );
    }
    if ((v.kind === 'ipv6' && !isIPv6(v.text)) || (v.kind === 'cidr6' && !isIPv6(v.address))) {
      out.diagnostics.push(
        diag('bad-address', 'error', at(w), `'${text}' is not a valid IPv6 address; xinetd ignores it ("failed to parse") and so does tsinetd`, text.length),
      );
      continue;
    }
    if (v.kind === 'ipv4' && v.octets.length > 1 && v.octets.length < 4) {
      const full = [...v.octets.slice(0, -1), ...Array<number>(4 - v.octets.length).fill(0), ...v.octets.slice(-1)].join('.');
      out.diagnostics.push(
        diag(
          'value-note',
          'warning',
          at(w),
          `'${text}' is a short IPv4 form that xinetd reads as the single address ${full}; write the network with all four parts ` +
            `(e.g. ${[...v.octets, ...Array<number>(4 - v.octets.length).fill(0)].join('.')}) or as a CIDR if that is what you mean`,
          text.length,
        ),
      );
    }
    out.entries.push(text);
  }
  return out;
}
