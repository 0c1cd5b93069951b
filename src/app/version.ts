// The version, from the package's package.json (package-root.ts finds it).
import { thisPackage } from '../sys/package-root.js';

export const VERSION: string = thisPackage()?.version ?? '0.0.0';
