/**
 * Where a node keeps its system metadata (index definitions, UDF modules, truncate markers)
 * durably: a storage plugin may offer a backend with `openSystemMetadata`; the node uses the one
 * of the first persistent namespace's plugin (in-memory otherwise). The node owns the format
 * (JSON text, generations) and hands the backend opaque entries under string ids.
 */
export interface SystemMetadataEntry {
  readonly json: string;
  readonly generation: number;
  readonly updatedMs: number;
  /** A versioned deletion (tombstone): `json` is 'null'; kept so that a cluster agrees the key is gone. */
  readonly deleted?: boolean;
}

export interface SystemMetadataTransaction {
  read(id: string): SystemMetadataEntry | undefined;
  put(id: string, entry: SystemMetadataEntry): void;
  remove(id: string): void;
}

/** A sorted map from id (`module\0key`) to entry. */
export interface SystemMetadataBackend {
  read(id: string): SystemMetadataEntry | undefined;
  /** Entries whose id starts with `prefix`, in ascending id order. */
  range(prefix: string): [string, SystemMetadataEntry][];
  /** The distinct module names (the part before the first \0 of every id), ascending. */
  moduleNames(): string[];
  /** Runs `fn` atomically; resolves once its writes are durable. */
  atomically<R>(fn: (tx: SystemMetadataTransaction) => R): Promise<R>;
  /** A second call does nothing. */
  close(): Promise<void>;
}
