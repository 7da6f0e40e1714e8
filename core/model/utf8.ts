/**
 * Writes `s` as UTF-8 into `buf` at `at` and returns where it ended: ASCII byte by byte (no
 * call into C++ for the short names and keys of the hot paths), anything else through
 * Buffer.write. The caller makes room for 3 bytes per UTF-16 unit (`s.length * 3`).
 */
export function writeUtf8(buf: Buffer, at: number, s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128) return at - i + buf.write(s, at - i, 'utf8');
    buf[at++] = c;
  }
  return at;
}

/** UTF-8 bytes of the set and namespace names seen (a node has few; bounded all the same). */
const nameBytes = new Map<string, Buffer>();
const MAX_NAMES = 4096;

/** A set or namespace name's UTF-8 bytes, made once per name (the hot paths write them per record). */
export function utf8Name(name: string): Buffer {
  let b = nameBytes.get(name);
  if (b === undefined) {
    b = Buffer.from(name, 'utf8');
    if (nameBytes.size >= MAX_NAMES) nameBytes.clear();
    nameBytes.set(name, b);
  }
  return b;
}
