export * from './values.ts';
export * from './value-order.ts';
export * from './partition.ts';
export * from './key.ts';
export { writeUtf8 } from './utf8.ts';
export * from './names.ts';
export * from './record-codec.ts';
export * from './record.ts';
export * from './namespace-config.ts';
