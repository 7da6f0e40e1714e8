import { DbError } from '../errors/index.ts';

export const MAX_NAMESPACE_BYTES = 31;
export const MAX_SET_BYTES = 63;
export const MAX_BIN_BYTES = 15;

function check(kind: string, name: string, max: number, code: 'NAMESPACE' | 'PARAMETER' | 'BIN_NAME', allowEmpty: boolean): string {
  if (typeof name !== 'string') throw new DbError('PARAMETER', `${kind} name must be a string`);
  // a name of at most max/3 characters is at most max bytes: no need to measure it
  const bytes = name.length * 3 <= max && name.length > 0 ? name.length : Buffer.byteLength(name, 'utf8');
  if (!allowEmpty && bytes === 0) {
    throw new DbError(code, `${kind} name is empty`, { hint: `give a ${kind} name of 1 to ${max} bytes` });
  }
  if (bytes > max) {
    throw new DbError(code, `${kind} name '${name}' is ${bytes} bytes; the limit is ${max}`, {
      hint: `use a ${kind} name of at most ${max} bytes`,
    });
  }
  if (name.includes('\0')) throw new DbError(code, `${kind} name contains a NUL character`);
  if (name.includes('\ufffd') || !name.isWellFormed()) {
    throw new DbError(code, `${kind} name is not valid UTF-8 (it has a replacement character or a lone surrogate)`, {
      hint: `send the ${kind} name as valid UTF-8`,
    });
  }
  return name;
}

export function checkNamespaceName(name: string): string {
  return check('namespace', name, MAX_NAMESPACE_BYTES, 'NAMESPACE', false);
}

/** An empty set name is the null set, as in Aerospike. */
export function checkSetName(name: string): string {
  return check('set', name, MAX_SET_BYTES, 'PARAMETER', true);
}

export function checkBinName(name: string): string {
  check('bin', name, MAX_BIN_BYTES, 'BIN_NAME', false);
  if (name === '__proto__') {
    throw new DbError('BIN_NAME', "bin name '__proto__' is reserved", { hint: 'choose another bin name' });
  }
  return name;
}
