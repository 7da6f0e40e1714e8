/**
 * Waits for a condition with a deadline instead of sleeping a fixed time: asks `probe` every
 * `everyMs` until it answers something other than `undefined` or `false`, and returns that
 * answer. A probe that throws is asked again (a node still starting refuses connections); the
 * last error is in the failure message when the deadline passes.
 *
 *   const rows = await until('the index is ready', async () => (await ready()) ? rows : undefined, 10_000);
 *   await until('the child exited', () => !alive(pid));
 */
export async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 5000,
  everyMs = 50,
): Promise<T> {
  const start = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() - start >= ms) {
      throw new Error(`${what} did not happen within ${ms} ms${last === undefined ? '' : ` (last error: ${String(last)})`}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
