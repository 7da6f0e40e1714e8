import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DbError } from '../../errors/index.ts';
import { FORMAT_VERSION, MANIFEST, type Compression } from './format.ts';
import type { Encryption } from './encryption.ts';

/** A secondary-index definition as backed up. */
export interface IndexDefinition {
  readonly name: string;
  readonly set?: string;
  readonly bin: string;
  readonly type: string;
  readonly collection: string;
}

/** A UDF module as backed up. */
export interface ModuleDefinition {
  readonly fileName: string;
  /** The module's source; in an encrypted backup `enc:` + base64 of the sealed source. */
  readonly source: string;
  readonly hash: string;
}

/** One data file of a backup. */
export interface BackupFileInfo {
  readonly name: string;
  readonly records: number;
  readonly bytes: number;
  /** SHA-256 of the whole file, lowercase hex. */
  readonly sha256: string;
}

/** backup.json: what a backup holds; written last, so a backup without it is unfinished. */
export interface BackupManifest {
  readonly format: 'slipstream-backup';
  readonly version: number;
  readonly namespace: string;
  readonly createdAt: string;
  readonly source: string;
  readonly sets: readonly string[] | null;
  /** The bins backed up (asbackup's --bin-list); absent: every bin. */
  readonly bins?: readonly string[];
  readonly partitions: string;
  readonly modifiedAfterMs: number | null;
  readonly modifiedBeforeMs: number | null;
  readonly filterJson: string | null;
  readonly compression: Compression;
  /** Absent in backups written before encryption existed: none. */
  readonly encryption?: Encryption;
  /** Shows whether a key is the backup's (docs/backup.md); absent when not encrypted. */
  readonly keyCheck?: string;
  readonly records: number;
  readonly bytes: number;
  readonly files: readonly BackupFileInfo[];
  readonly indexes: readonly IndexDefinition[];
  readonly modules: readonly ModuleDefinition[];
}

/** Writes JSON so that a crash leaves the old file or the new one, never half of one. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(tmp, path);
}

export async function readManifest(directory: string): Promise<BackupManifest> {
  const path = join(directory, MANIFEST);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new DbError('PARAMETER', `no backup manifest at ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, {
      hint: 'give the directory a backup wrote (-d); an unfinished backup has a state file instead: finish it with slipstream-backup --continue',
    });
  }
  let m: BackupManifest;
  try {
    m = JSON.parse(text) as BackupManifest;
  } catch (err) {
    throw new DbError('PARAMETER', `backup manifest ${path} is not valid JSON (${(err as Error).message})`, { hint: 'the manifest is damaged; take the backup again' });
  }
  if (m.format !== 'slipstream-backup') throw new DbError('PARAMETER', `${path} is not a Slipstream backup manifest`, { hint: 'give the directory a backup wrote' });
  if (!(m.version >= 1 && m.version <= FORMAT_VERSION)) {
    throw new DbError('PARAMETER', `backup ${path} has format version ${m.version}; this tool reads versions 1 to ${FORMAT_VERSION}`, { hint: 'restore it with the Slipstream version that wrote it' });
  }
  return m;
}
