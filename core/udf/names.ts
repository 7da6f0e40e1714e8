/**
 * Module file names. Strict on purpose (Aerospike's path-traversal bulletin AS-2026-001): a name
 * is a package name plus `.js`, `.mjs` or `.ts`; the package name (what calls use:
 * `EXECUTE bank.transfer(…)`) starts with a letter, `_` or `$` and continues with letters, digits,
 * `_`, `$` or `-`. At most 127 characters, no dots in the package name, no paths.
 */
import { DbError } from '../errors/index.ts';

export const MAX_MODULE_NAME = 127;
export const MAX_MODULE_BYTES = 1024 * 1024;
export type ModuleType = 'js' | 'ts';

const NAME_RE = /^([A-Za-z_$][A-Za-z0-9_$-]*)\.(js|mjs|ts)$/;

export interface ParsedModuleName {
  readonly fileName: string;
  readonly packageName: string;
  readonly type: ModuleType;
}

export function parseModuleName(fileName: string): ParsedModuleName {
  const hint = "name modules like 'bank.js' or 'wordcount.ts': letters, digits, '_', '$', '-', then .js, .mjs or .ts";
  if (typeof fileName !== 'string' || fileName.length === 0) throw new DbError('PARAMETER', 'module file name is empty', { hint });
  if (fileName.length > MAX_MODULE_NAME) {
    throw new DbError('PARAMETER', `module file name is ${fileName.length} characters; the limit is ${MAX_MODULE_NAME}`, { hint });
  }
  const m = NAME_RE.exec(fileName);
  if (m === null) throw new DbError('PARAMETER', `invalid module file name '${fileName.slice(0, 140)}'`, { hint });
  return { fileName, packageName: m[1] as string, type: m[2] === 'ts' ? 'ts' : 'js' };
}

/** The package a call names: `bank` or `bank.js` both name bank.js. */
export function packageOf(moduleOrFile: string): string {
  const m = NAME_RE.exec(moduleOrFile);
  return m === null ? moduleOrFile : (m[1] as string);
}
