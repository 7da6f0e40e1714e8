/** AQL: lexer, parser, AST, printer, renderers and the executor's contracts. */
export type * from './ast.ts';
export { AqlError, isAqlError, caretLines } from './errors.ts';
export type { SourcePos } from './errors.ts';
export { parseStatement, parseScript, isIncomplete, expectedAfter, COMMANDS } from './parse.ts';
export type { ScriptPart } from './parse.ts';
export { printStatement, printExpr, printValue, printName } from './printer.ts';
export { tokenize, isKeyword, SOFT_KEYWORDS, RESERVED_WORDS } from './lexer.ts';
export { DEFAULT_SETTINGS, SETTING_NAMES, settingName, parseSettingValue, settingLine, withSetting } from './settings.ts';
export type { Settings, SettingName, OutputMode } from './settings.ts';
export { jsonToValue, castValue } from './literals.ts';
export { OPERATIONS } from './operations.ts';
