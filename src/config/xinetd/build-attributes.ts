// One attribute line applied to a service or to the defaults, as xinetd's parsers.c does:
// a scalar keeps its first value, `+=`/`-=` work only on lists, a wrong number of values
// makes the line ignored (a warning), a value that cannot be parsed disables the service (an
// error). The draft is what build.ts completes into a Service.

import { at, len, type Draft } from './attribute-apply.js';
import { attributeSpec, handled, suggestAttribute } from './attributes.js';
import { diag, type Diagnostic } from '../../diagnostics.js';
import type { AttributeNode } from './syntax.js';
import type { SysDb } from '../../sys/sysdb.js';
import * as V from './values.js';

export type Report = (d: Diagnostic) => void;

// ---- Attributes --------------------------------------------------------------------------------

export function applyAttribute(d: Draft, a: AttributeNode, db: SysDb, report: Report): void {
  const name = a.name.text;
  const spec = attributeSpec(name);
  const where = at(a.name);
  if (spec === undefined) {
    const hint = suggestAttribute(name);
    report(
      diag(
        'unknown-attribute',
        'warning',
        where,
        `unknown attribute '${name}'${hint === undefined ? '' : ` (did you mean '${hint}'?)`}: ignored, as xinetd does ("bad service attribute")`,
        len(a.name),
      ),
    );
    return;
  }
  const arity = d.isDefaults ? spec.defaults : spec.service;
  if (arity === null) {
    report(
      diag(
        'misplaced-attribute',
        'warning',
        where,
        d.isDefaults
          ? `'${spec.name}' cannot be set in defaults (set it in each service): ignored, as xinetd does ("should not be in default section")`
          : `'${spec.name}' can only be set in defaults: ignored here, as xinetd does`,
        len(a.name),
      ),
    );
    return;
  }
  if (!handled(spec.apply)) {
    const xinetd = spec.undocumentedInXinetd === true ? '; xinetd 2.3.15 ignores it too' : '';
    report(diag('unsupported-attribute', 'warning', where, `not supported by tsinetd: '${spec.name}' (${spec.apply.none}) is ignored${xinetd}`, len(a.name)));
    return;
  }
  let op = a.op.text;
  if (arity !== 'list') {
    const earlier = d.set.get(spec.key);
    if (earlier !== undefined) {
      report(
        diag(
          'duplicate-attribute',
          'warning',
          where,
          `'${spec.key}' is already set on line ${earlier.loc.line}: this line is ignored (xinetd keeps the first value)`,
          len(a.name),
        ),
      );
      return;
    }
    if (op !== '=') {
      report(
        diag(
          'operator-on-scalar',
          'warning',
          at(a.op),
          `'${op}' works only on the list attributes (only_from, no_access, log_on_success, log_on_failure, passenv, env): this line is ignored, as xinetd does; use '='`,
          op.length,
        ),
      );
      return;
    }
  } else if (d.isDefaults && op === '=') {
    op = '+='; // xinetd: in defaults '=' adds to a list
  }
  if (typeof arity === 'number' && a.values.length !== arity) {
    const expects = `${arity} value${arity === 1 ? '' : 's'}`;
    report(
      diag(
        'value-count',
        'warning',
        where,
        `'${spec.name}' expects ${expects}, found ${a.values.length}${V.commentHint(a.values)}: this line is ignored, as xinetd does`,
        len(a.name),
      ),
    );
    return;
  }
  if (arity === 'any' && a.values.length === 0) {
    fail(d, a, diag('missing-value', 'error', where, `'${spec.name}' needs at least one value`, len(a.name)), report);
    return;
  }
  if (op === '-=' && spec.noMinus === true) {
    fail(d, a, diag('bad-operator', 'error', at(a.op), `'-=' cannot be used with '${spec.name}'`, 2), report);
    return;
  }
  const scalar = (n: string): boolean => typeof attributeSpec(n)?.service === 'number';
  const result = spec.apply({ d, a, name: spec.name, key: spec.key, op, db, scalar });
  for (const w of result.warnings) report(w);
  if (result.error !== undefined) {
    fail(d, a, result.error, report);
    return;
  }
  if (!d.set.has(spec.key)) d.set.set(spec.key, a);
}

/**
 * A value error: xinetd disables the service. In defaults it exits ("A fatal error was
 * encountered while parsing the default section"), so no service of the file starts: the
 * defaults draft is marked failed and buildServices turns every service off.
 */
function fail(d: Draft, a: AttributeNode, error: Diagnostic, report: Report): void {
  const consequence = d.isDefaults
    ? `xinetd exits at an error in defaults ("A fatal error was encountered while parsing the default section"): tsinetd starts none of the services`
    : `service '${d.svc.name}' is disabled, as xinetd does`;
  report({ ...error, message: `${error.message}; ${consequence}` });
  d.failed = a;
}
