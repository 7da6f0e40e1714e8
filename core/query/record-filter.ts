import type { RecordPredicate } from '../transaction/policy.ts';
import { exprFromJsonText } from './expr/json.ts';
import { compileFilter, evaluate } from './expr/eval.ts';
import type { ExpressionCompiler } from '../transaction/expression-ops.ts';
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

/**
 * The kernel's compiler for expression operations: an expression's JSON text as a function of
 * a record (its value, or undefined when unknown), evaluated at `now()`.
 */
export function recordExpressionCompiler(now: () => number): ExpressionCompiler {
  return (jsonText) => {
    const expr = exprFromJsonText(jsonText);
    return (rec) => evaluate(expr, recordContext(rec, now()));
  };
}
