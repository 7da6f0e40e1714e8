import type { IndexDefinition } from './definition.ts';

/**
 * Where index definitions live as system metadata. The node supplies a durable store once
 * one exists (and the cluster later shares it); the memory store serves tests and
 * single-process nodes.
 */
export interface IndexMetadataStore {
  load(): Promise<readonly IndexDefinition[]>;
  save(def: IndexDefinition): Promise<void>;
  remove(namespace: string, name: string): Promise<void>;
}

export class MemoryIndexMetadataStore implements IndexMetadataStore {
  private readonly defs = new Map<string, IndexDefinition>();

  constructor(initial: readonly IndexDefinition[] = []) {
    for (const d of initial) this.defs.set(`${d.namespace}\0${d.name}`, d);
  }

  async load(): Promise<readonly IndexDefinition[]> {
    return [...this.defs.values()];
  }

  async save(def: IndexDefinition): Promise<void> {
    this.defs.set(`${def.namespace}\0${def.name}`, def);
  }

  async remove(namespace: string, name: string): Promise<void> {
    this.defs.delete(`${namespace}\0${name}`);
  }
}
