export * from './ast.ts';
export * from './eval.ts';
export * from './json.ts';
export * from './print.ts';
