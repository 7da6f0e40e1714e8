import type { IndexDefinition } from './definition.ts';

/** A change to the definitions that another node made (system metadata replicated on a cluster). */
export type IndexDefinitionChange =
  | { readonly kind: 'created'; readonly def: IndexDefinition }
  | { readonly kind: 'dropped'; readonly namespace: string; readonly name: string };

/**
 * Where index definitions live as system metadata. The node supplies its durable store, which
 * on a cluster is replicated to every node; the memory store serves tests and single-process nodes.
 */
export interface IndexMetadataStore {
  load(): Promise<readonly IndexDefinition[]>;
  save(def: IndexDefinition): Promise<void>;
  remove(namespace: string, name: string): Promise<void>;
  /** Tells `listener` about definitions other nodes create or drop; returns the unsubscribe function. */
  watch?(listener: (change: IndexDefinitionChange) => void): () => void;
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
