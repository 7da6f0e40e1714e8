/** The node's service locator and every service key (see keys.ts). */
export { serviceKey, ServiceLocator, type ServiceKey } from './locator.ts';
export * from './keys.ts';
