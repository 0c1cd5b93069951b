// Where the installed package is: the nearest directory above this module that holds tsinetd's
// package.json. The code runs from build/bin/tsinetd.mjs (the bundle) or from build/src/**
// (the modules, at any folder depth), so no fixed number of `..` is right for both; looking up
// is. Read once.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PackageInfo {
  root: string;
  version: string;
}

/** The first directory from `start` upwards whose package.json is named `name`, or null. */
export function findPackage(start: string, name = 'tsinetd'): PackageInfo | null {
  for (let dir = start; ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === name) return { root: dir, version: typeof pkg.version === 'string' ? pkg.version : '0.0.0' };
    } catch {
      // none here, or unreadable: look further up
    }
    if (dirname(dir) === dir) return null;
  }
}

let found: PackageInfo | null | undefined;

/** This package (null only if its package.json cannot be found, which an install never lacks). */
export function thisPackage(): PackageInfo | null {
  if (found === undefined) found = findPackage(dirname(fileURLToPath(import.meta.url)));
  return found;
}
