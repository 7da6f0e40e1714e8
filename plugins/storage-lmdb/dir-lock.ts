import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync, accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { DbError } from 'slipstream/plugin-api';

const LOCK_FILE = 'slipstream.lock';

export interface DirLock {
  release(): void;
}

/**
 * Creates the data directory when missing and claims it for this process, so that two
 * namespaces or two nodes never share one set of LMDB files. A lock left by a process
 * that no longer runs (a crash) is taken over.
 */
export function acquireDirLock(dataDir: string, namespace: string): DirLock {
  try {
    mkdirSync(dataDir, { recursive: true });
    accessSync(dataDir, constants.W_OK | constants.R_OK);
  } catch (err) {
    throw new DbError('PARAMETER', `storage-lmdb cannot use ${dataDir} as the data directory of namespace ${namespace}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      { hint: 'Point storageOptions.dataDir at a directory this process may create and write', plugin: 'storage-lmdb', cause: err });
  }
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          rmSync(path, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new DbError('PARAMETER', `storage-lmdb cannot write in ${dataDir} (namespace ${namespace}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
          { hint: 'Point storageOptions.dataDir at a directory this process may write', plugin: 'storage-lmdb', cause: err });
      }
      const holder = Number.parseInt(readLock(path), 10);
      if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
        throw new DbError('PARAMETER', `data directory ${dataDir} of namespace ${namespace} is in use by process ${holder}${holder === process.pid ? ' (this process)' : ''}`,
          { hint: 'Give every namespace and every node its own storageOptions.dataDir, or stop the other process', plugin: 'storage-lmdb' });
      }
      rmSync(path, { force: true }); // stale: its process is gone
    }
  }
  throw new DbError('PARAMETER', `storage-lmdb could not lock ${dataDir}`, { hint: 'Another process keeps claiming it; stop it', plugin: 'storage-lmdb' });
}

function readLock(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
