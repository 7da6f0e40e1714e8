/**
 * Regular expressions from clients (filter expressions, AQL REGEX) run on RE2JS, an automaton
 * engine whose matching time is linear in the subject: no pattern can backtrack a node into a
 * freeze. Patterns RE2 cannot run that way (backreferences, lookarounds) are refused with
 * PARAMETER and a hint; so are patterns and subjects over the caps below.
 */
import { RE2JS } from 're2js';
import { DbError } from '../../errors/index.ts';

export const REGEX_LIMITS = {
  /** Characters in a pattern. */
  maxPatternChars: 1024,
  /** Instructions of the compiled automaton. */
  maxProgramSize: 20_000,
  /** Characters of a subject (a string bin); at the default record size cap, any string fits. */
  maxSubjectChars: 1024 * 1024,
} as const;

export interface LinearRegex {
  readonly pattern: string;
  readonly flags: string;
  /** Whether the pattern matches anywhere in `subject`; PARAMETER for a subject over the cap. */
  test(subject: string): boolean;
}

const FLAG_BITS: Readonly<Record<string, number>> = { i: RE2JS.CASE_INSENSITIVE, m: RE2JS.MULTILINE, s: RE2JS.DOTALL, u: 0 };

const show = (p: string): string => (p.length > 60 ? `${p.slice(0, 60)}…` : p);

/** Compiles a client's pattern (JavaScript syntax, flags from "imsu"); PARAMETER when it cannot run in linear time. */
export function compileRegex(pattern: string, flags = ''): LinearRegex {
  if (pattern.length > REGEX_LIMITS.maxPatternChars) {
    throw new DbError('PARAMETER', `regular expression of ${pattern.length} characters exceeds ${REGEX_LIMITS.maxPatternChars}`, {
      hint: 'Use a shorter pattern',
    });
  }
  let bits = 0;
  for (const f of flags) {
    const b = FLAG_BITS[f];
    if (b === undefined) throw new DbError('PARAMETER', `regular expression flag ${JSON.stringify(f)} is not supported`, { hint: 'Flags may be i, m, s, u' });
    bits |= b;
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(RE2JS.translateRegExp(pattern), bits);
  } catch (err) {
    const why = (err as Error).message.replace(/^error parsing regexp: /, '');
    throw new DbError('PARAMETER', `bad regular expression /${show(pattern)}/${flags}: ${why}`, {
      hint: 'Patterns run in linear time on an automaton (RE2 syntax): backreferences (\\1) and lookarounds ((?=…), (?!…), (?<=…)) cannot; repeat counts go up to 1000',
    });
  }
  if (re.programSize() > REGEX_LIMITS.maxProgramSize) {
    throw new DbError('PARAMETER', `regular expression /${show(pattern)}/${flags} compiles to ${re.programSize()} instructions, over ${REGEX_LIMITS.maxProgramSize}`, {
      hint: 'Use a smaller pattern (fewer or smaller counted repeats)',
    });
  }
  return {
    pattern, flags,
    test(subject) {
      if (subject.length > REGEX_LIMITS.maxSubjectChars) {
        throw new DbError('PARAMETER', `regular expression subject of ${subject.length} characters exceeds ${REGEX_LIMITS.maxSubjectChars}`, {
          hint: 'Match shorter strings, or filter on another bin first',
        });
      }
      return re.test(subject);
    },
  };
}
