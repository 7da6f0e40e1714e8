export * from './shapes.ts';
export * from './predicates.ts';
