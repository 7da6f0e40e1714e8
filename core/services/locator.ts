/**
 * Objects one subsystem provides to others on the same node (the UDF engine, the index
 * manager, the cluster service), found by typed keys. One locator per node.
 */
/** A typed key for an object one subsystem provides to others (the UDF engine, the index manager…). */
export interface ServiceKey<T> {
  readonly name: string;
  /** Phantom field carrying T; never set. */
  readonly __type?: T;
}

export function serviceKey<T>(name: string): ServiceKey<T> {
  return { name };
}

/** Objects shared between subsystems of one node. */
export class ServiceLocator {
  private readonly services = new Map<string, unknown>();
  provide<T>(key: ServiceKey<T>, value: T): void {
    if (this.services.has(key.name)) throw new Error(`service ${key.name} is provided twice`);
    this.services.set(key.name, value);
  }
  get<T>(key: ServiceKey<T>): T | undefined {
    return this.services.get(key.name) as T | undefined;
  }
  require<T>(key: ServiceKey<T>): T {
    const v = this.get(key);
    if (v === undefined) throw new Error(`service ${key.name} is not available on this node`);
    return v;
  }
}

