import { DbError } from '../../errors/index.ts';
import { checkBinName, checkNamespaceName, checkSetName } from '../../model/index.ts';

export type IndexType = 'NUMERIC' | 'STRING' | 'BLOB' | 'GEO2DSPHERE';
export type CollectionType = 'DEFAULT' | 'LIST' | 'MAPKEYS' | 'MAPVALUES';
export const INDEX_TYPES: readonly IndexType[] = ['NUMERIC', 'STRING', 'BLOB', 'GEO2DSPHERE'];
export const COLLECTION_TYPES: readonly CollectionType[] = ['DEFAULT', 'LIST', 'MAPKEYS', 'MAPVALUES'];

/** A secondary index definition: what is persisted as system metadata. */
export interface IndexDefinition {
  readonly namespace: string;
  readonly name: string;
  /** Only records of this set; every record of the namespace when absent. */
  readonly set?: string;
  readonly bin: string;
  readonly type: IndexType;
  readonly collection: CollectionType;
}

export const MAX_INDEX_NAME_BYTES = 63;
export const MAX_INDEXES_PER_NAMESPACE = 256;

/** Checks a definition and returns it normalised (collection defaults to DEFAULT). */
export function checkIndexDefinition(def: IndexDefinition): IndexDefinition {
  checkNamespaceName(def.namespace);
  if (def.set !== undefined) checkSetName(def.set);
  checkBinName(def.bin);
  const bytes = Buffer.byteLength(def.name ?? '', 'utf8');
  if (bytes === 0 || bytes > MAX_INDEX_NAME_BYTES) {
    throw new DbError('INDEX_NAME_MAXLEN', `index name '${def.name}' is ${bytes} bytes; it must be 1 to ${MAX_INDEX_NAME_BYTES}`, {
      hint: `use an index name of at most ${MAX_INDEX_NAME_BYTES} bytes`,
    });
  }
  if (/[:;\s\0]/.test(def.name)) {
    throw new DbError('PARAMETER', `index name '${def.name}' contains ':', ';', NUL or whitespace`, {
      hint: 'use letters, digits, "_" and "-" in index names',
    });
  }
  if (!INDEX_TYPES.includes(def.type)) {
    throw new DbError('PARAMETER', `unknown index type ${JSON.stringify(def.type)}`, { hint: `use one of ${INDEX_TYPES.join(', ')}` });
  }
  const collection = def.collection ?? 'DEFAULT';
  if (!COLLECTION_TYPES.includes(collection)) {
    throw new DbError('PARAMETER', `unknown index collection type ${JSON.stringify(collection)}`, {
      hint: `use one of ${COLLECTION_TYPES.join(', ')}`,
    });
  }
  const out: IndexDefinition = { namespace: def.namespace, name: def.name, bin: def.bin, type: def.type, collection };
  return def.set === undefined ? out : { ...out, set: def.set };
}

/** Two definitions index the same thing (Aerospike refuses a second index on the same bin/type/collection). */
export function sameTarget(a: IndexDefinition, b: IndexDefinition): boolean {
  return a.namespace === b.namespace && a.set === b.set && a.bin === b.bin && a.type === b.type && a.collection === b.collection;
}
