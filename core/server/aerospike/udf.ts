/**
 * Record UDF apply over the Aerospike protocol (fields 30 module, 31 function, 32 msgpack
 * argument list): the value comes back as a bin named SUCCESS; a UDF failure as result 100
 * with a bin named FAILURE holding `<file>:<line>: <message>` (a UDF's own result code goes in
 * front of the message, `<file>:<line>: <code>:<message>`, as Lua's `error('<code>:…')` gives).
 */
import { DbError, toDbError } from '../../errors/index.ts';
import type { BinValue, RecordKey } from '../../model/index.ts';
import { UDF_RUNNER_KEY } from '../../services/keys.ts';
import { UdfError } from '../../udf/errors.ts';
import type { FrontEndContext } from './context.ts';
import { fieldString, type Msg, type OutMsg } from './message.ts';
import { MsgpackReader, toBinValue } from './msgpack.ts';
import { Field, wireVoidTime } from './protocol.ts';
import { commandPolicyOf, filterOf } from './records.ts';

/** The UDF argument list (field 32). */
export function udfArgs(f: Buffer | undefined): BinValue[] {
  if (f === undefined || f.length === 0) return [];
  const v = toBinValue(new MsgpackReader(f).read());
  if (!Array.isArray(v)) throw new DbError('PARAMETER', 'the UDF argument list must be a msgpack array');
  return [...(v as readonly BinValue[])];
}

/** The answer to a UDF failure: result 100 and the FAILURE bin, or the error's own code. */
export function udfFailure(err: unknown): OutMsg {
  if (err instanceof UdfError) {
    const loc = err.location;
    const where = loc.file === undefined ? loc.module ?? 'udf' : `${loc.file}:${loc.line ?? 0}`;
    const text = err.udfCode === 100 ? err.message : `${err.udfCode}:${err.message}`;
    return { resultCode: 100, bins: [{ name: 'FAILURE', value: `${where}: ${text}` }] };
  }
  const e = toDbError(err);
  if (e.resultCode === 100) return { resultCode: 100, bins: [{ name: 'FAILURE', value: `UDF: Execution Error 1: ${e.message}` }] };
  return { resultCode: e.resultCode >= 0 && e.resultCode <= 255 ? e.resultCode : 100 };
}

export async function runRecordUdf(ctx: FrontEndContext, msg: Msg, key: RecordKey): Promise<OutMsg> {
  const runner = ctx.services.get(UDF_RUNNER_KEY);
  if (runner === undefined) throw new DbError('UNSUPPORTED_FEATURE', 'this node runs without UDFs');
  const module = fieldString(msg, Field.UDF_PACKAGE_NAME) ?? '';
  const fn = fieldString(msg, Field.UDF_FUNCTION) ?? '';
  if (module === '' || fn === '') throw new DbError('PARAMETER', 'a UDF call needs a module and a function');
  const policy = commandPolicyOf(ctx.kernel, msg, msg.fields.has(Field.KEY), filterOf(ctx.kernel, msg.fields));
  try {
    const r = await runner.apply(key, { module, fn, args: udfArgs(msg.fields.get(Field.UDF_ARGLIST)) }, policy);
    return {
      resultCode: 0, generation: r.meta?.generation ?? 0, voidTime: r.meta === undefined ? 0 : wireVoidTime(r.meta.voidTime),
      bins: [{ name: 'SUCCESS', value: r.value }],
    };
  } catch (err) {
    if (err instanceof DbError && !(err instanceof UdfError) && /module|function/i.test(err.message) && (err.code === 'NOT_FOUND' || err.code === 'PARAMETER')) {
      // a missing module or function, as Aerospike reports it
      return { resultCode: 100, bins: [{ name: 'FAILURE', value: `UDF: Execution Error 1: ${err.message}` }] };
    }
    return udfFailure(err);
  }
}
