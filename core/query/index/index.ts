export * from './definition.ts';
export * from './sorted-list.ts';
export * from './secondary-index.ts';
export * from './store.ts';
export * from './record-source.ts';
export * from './manager.ts';
export * from './memory-source.ts';
