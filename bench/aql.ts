/**
 * AQL parse time, in-process: every statement of the parser fixtures (test/aql/fixtures/parse,
 * errors included) and a fixed set of typical statements, parsed again and again. The peer in
 * the same run is the lexer alone (`tokenize`), the floor under any parse: the difference is
 * the grammar and the CST → AST step.
 *
 *   npm run bench -- aql          (BENCH_SECONDS=3 per row by default)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScript, parseStatement, tokenize } from '../core/aql/language/index.ts';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);
const fixtures = fileURLToPath(new URL('../test/aql/fixtures/parse/', import.meta.url));
const scripts = readdirSync(fixtures).sort().map((d) => readFileSync(join(fixtures, d, 'input.aql'), 'utf8'));
const statements = [
  "SELECT * FROM test.demo WHERE PK = 'user-1'",
  'SELECT name, age FROM test.demo WHERE age BETWEEN 20 AND 30 ORDER BY age DESC LIMIT 10',
  "INSERT INTO test.demo (PK, name, age, tags) VALUES ('k1', 'Ann', 42, LIST('[1, 2, 3]'))",
  'UPDATE test.demo SET age = 43, score = 1.5 WHERE PK = 7',
  "DELETE FROM test.demo WHERE DIGEST = '139FE89822B63DFC173AEA51CCF2EF091AB3129F'",
  "OPERATE LIST_APPEND(tags, 'x'), INCR(n, 1) ON test.demo WHERE PK = 1",
  'SELECT * FROM test.demo WHERE a > 1 AND (b = 2 OR NOT c < 3) AND d + 1 * 2 >= 5',
  'CREATE INDEX idx_age ON test.demo (age) NUMERIC',
  "EXECUTE m.f(1, 'a') ON test.demo WHERE PK = 1",
  'SHOW NAMESPACES',
];

/**
 * Runs `f` over and over for SECONDS; statements per second of this process's CPU time (not
 * wall time, so other work on a shared machine disturbs it less).
 */
function rate(f: () => number): number {
  for (let i = 0; i < 200; i++) f(); // warm up
  let n = 0;
  const cpu0 = process.cpuUsage();
  const until = performance.now() + SECONDS * 1000;
  while (performance.now() < until) n += f();
  const cpu = process.cpuUsage(cpu0);
  return n / ((cpu.user + cpu.system) / 1e6);
}

/** The lexer alone; a script with a character it refuses stops there, as parseScript does. */
function lex(text: string): void {
  try { tokenize(text); } catch { /* the error is the answer */ }
}

const fixtureStatements = scripts.reduce((n, s) => n + parseScript(s).length, 0);
const rows: [string, number][] = [
  ['lexer only (tokenize), fixture scripts', rate(() => { for (const s of scripts) lex(s); return fixtureStatements; })],
  ['parseScript, fixture scripts', rate(() => { for (const s of scripts) parseScript(s); return fixtureStatements; })],
  ['lexer only (tokenize), typical statements', rate(() => { for (const s of statements) lex(s); return statements.length; })],
  ['parseStatement, typical statements', rate(() => { for (const s of statements) parseStatement(s); return statements.length; })],
];
console.log(`### AQL parse (${fixtureStatements} fixture statements in ${scripts.length} scripts; ${statements.length} typical statements)\n`);
console.log('| what | statements per CPU second | CPU µs per statement |');
console.log('|---|---:|---:|');
for (const [what, perSec] of rows) console.log(`| ${what} | ${Math.round(perSec).toLocaleString('en-US')} | ${(1e6 / perSec).toFixed(1)} |`);
