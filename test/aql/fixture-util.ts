/** Helpers for the AQL fixture tests: folders of input.aql → expected files. */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GeoJson } from '../../core/model/index.ts';

export const FIXTURES = join(import.meta.dirname, 'fixtures');
/** Set UPDATE_FIXTURES=1 to (re)write missing expected files from the current output; then review the diff. */
export const UPDATING = process.env['UPDATE_FIXTURES'] === '1';

export function caseDirs(kind: string): string[] {
  const root = join(FIXTURES, kind);
  if (!existsSync(root)) return [];
  return readdirSync(root).sort().map((d) => join(root, d));
}

/** JSON for ASTs and values: bigint, Map, bytes, GeoJSON and odd doubles are tagged. */
export function toPlain(v: unknown): unknown {
  if (typeof v === 'bigint') return { int: v.toString() };
  if (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0))) return { double: Object.is(v, -0) ? '-0' : String(v) };
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('hex') };
  if (v instanceof GeoJson) return { geojson: v.text };
  if (v instanceof Map) return { map: [...v.entries()].map(([k, x]) => [toPlain(k), toPlain(x)]) };
  if (Array.isArray(v)) return v.map(toPlain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toPlain(x)]));
  return v;
}

export function stableJson(v: unknown): string {
  return `${JSON.stringify(toPlain(v), null, 2)}\n`;
}

/** Compares `actual` with the file's content; writes the file instead when updating and it is missing. */
export function expectFile(dir: string, name: string, actual: string): string {
  const path = join(dir, name);
  if (!existsSync(path)) {
    if (!UPDATING) throw new Error(`missing ${path}; run with UPDATE_FIXTURES=1 to create it, then review it`);
    writeFileSync(path, actual);
  }
  return readFileSync(path, 'utf8');
}

/** The inverse of toPlain, for fixture inputs. */
export function fromPlain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(fromPlain);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1) {
      if ('int' in o) return BigInt(o['int'] as string);
      if ('double' in o) return Number(o['double']);
      if ('bytes' in o) return new Uint8Array(Buffer.from(o['bytes'] as string, 'hex'));
      if ('geojson' in o) return new GeoJson(o['geojson'] as string);
      if ('map' in o) return new Map((o['map'] as Array<[unknown, unknown]>).map(([k, x]) => [fromPlain(k), fromPlain(x)]));
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, fromPlain(x)]));
  }
  return v;
}
