import type { RecordPredicate } from '../transaction/policy.ts';
import { exprFromJsonText } from './expr/json.ts';
import { compileFilter } from './expr/eval.ts';
import { recordContext } from './query-engine.ts';

/**
 * A filter expression in its JSON form as a record predicate for the kernel's single-record,
 * batch and scan paths; undefined for an empty text (no filter). Bad JSON or a bad
 * expression throws PARAMETER with the path of what is wrong.
 */
export function recordFilter(jsonText: string, now: () => number): RecordPredicate | undefined {
  if (jsonText === '') return undefined;
  const keep = compileFilter(exprFromJsonText(jsonText));
  return Object.assign((rec: Parameters<RecordPredicate>[0]) => keep(recordContext(rec, now())), { source: jsonText });
}
