#!/usr/bin/env node
// Generates the config parsers from grammar/*.peggy into build/grammar/*.js (ES modules).
// The generated code is a build artifact: it is never committed.
import { readFileSync, writeFileSync, mkdirSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import peggy from 'peggy';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'build', 'grammar');
mkdirSync(outDir, { recursive: true });

const grammarDir = join(root, 'grammar');
const grammars = existsSync(grammarDir) ? readdirSync(grammarDir) : [];
for (const file of grammars.filter((f) => f.endsWith('.peggy')).sort()) {
  const grammarSource = join('grammar', file);
  const text = readFileSync(join(root, grammarSource), 'utf8');
  let code;
  try {
    code = peggy.generate(text, {
      output: 'source',
      format: 'es',
      grammarSource,
      allowedStartRules: ['*'],
    });
  } catch (err) {
    const msg = typeof err.format === 'function' ? err.format([{ source: grammarSource, text }]) : String(err);
    process.stderr.write(`codegen: ${msg}\n`);
    process.exit(1);
  }
  writeFileSync(join(outDir, basename(file, '.peggy') + '.js'), code);
}
