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
