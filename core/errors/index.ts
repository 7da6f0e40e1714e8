export { ResultCode, resultCodeName, clientErrorName } from './result-code.ts';
export type { ResultCodeName, ResultCodeNumber } from './result-code.ts';
export { DbError, toDbError, isDbError, clipText, MAX_ERROR_TEXT } from './db-error.ts';
export type { DbErrorExtra } from './db-error.ts';
