import { strict as assert } from 'node:assert';
import { Deadline, waitingDeadlines } from '../../core/server/aerospike/deadline.ts';
import { SENT, type Reply } from '../../core/server/aerospike/connection.ts';
import { seededRandom } from '../../core/cluster/clock.ts';

const SEED = Number(process.env['FUZZ_SEED'] ?? Date.now() % 100000);

/** A reply that records what it is sent. */
function recorder(): Reply & { sent: Buffer[] } {
  const sent: Buffer[] = [];
  return { closed: false, sent, send(frame: Buffer) { sent.push(frame); return SENT; } };
}

/** The result code of an answer (byte 5 of the message header, after the 8-byte proto header). */
const resultOf = (frame: Buffer): number => frame[13] as number;
const answer = (code: number): Buffer => { const b = Buffer.alloc(30); b[13] = code; return b; };
const same = (b: Buffer): Buffer => b;

describe('Aerospike protocol: requests answered within their deadline', () => {
  it(`answers each request once — its answer, its failure or TIMEOUT — and leaves no request waiting (seed ${SEED})`, async () => {
    const rnd = seededRandom(SEED);
    const runs: Array<{ reply: Reply & { sent: Buffer[] }; done: Promise<void>; kind: string }> = [];
    const failures: unknown[] = [];
    for (let i = 0; i < 300; i++) {
      const kind = (['answer now', 'answer later', 'fail later', 'never'] as const)[Math.floor(rnd() * 4)] as string;
      const reply = recorder();
      const work = kind === 'answer now' ? Promise.resolve(answer(0))
        : kind === 'answer later' ? new Promise<Buffer>((resolve) => setTimeout(() => resolve(answer(0)), Math.floor(rnd() * 30)))
          : kind === 'fail later' ? new Promise<Buffer>((_, reject) => setTimeout(() => reject(new Error('broken')), Math.floor(rnd() * 30)))
            : new Promise<Buffer>(() => { /* never settles */ });
      const failed = (err: unknown): Promise<void> => { failures.push(err); return reply.send(answer(1)); };
      // "answer now" gets a long deadline: its answer must win; the others race a short one
      const ms = kind === 'answer now' ? 60_000 : 1 + Math.floor(rnd() * 25);
      runs.push({ reply, done: new Deadline(work, ms, reply, same, failed).done, kind });
    }
    assert.ok(waitingDeadlines() >= runs.filter((r) => r.kind !== 'answer now').length, 'every request waits until it is answered');
    await Promise.all(runs.map((r) => r.done));
    // late answers and failures after a TIMEOUT are dropped, never sent
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(waitingDeadlines(), 0);
    for (const r of runs) {
      assert.equal(r.reply.sent.length, 1, r.kind);
      const code = resultOf(r.reply.sent[0] as Buffer);
      if (r.kind === 'answer now') assert.equal(code, 0);
      if (r.kind === 'never') assert.equal(code, 9);
      if (r.kind === 'answer later') assert.ok(code === 0 || code === 9, `${code}`);
      if (r.kind === 'fail later') assert.ok(code === 1 || code === 9, `${code}`);
    }
    assert.ok(failures.every((e) => e instanceof Error && e.message === 'broken'));
  });
});
