/**
 * What a statement produces, as events: result sets of rows (cells by column name) and exactly
 * one status. The executor emits them, the shell's renderers and the gRPC stream consume them,
 * and the client turns the stream back into them.
 */
import type { BinValue } from '../../model/index.ts';

export type Cells = ReadonlyArray<readonly [string, BinValue]>;

/** One statement's output. Each statement ends with exactly one status. */
export interface Renderer {
  /** A result set starts; `columns` are pre-seeded (SELECT a, b), others appear as they arrive. */
  begin(columns: readonly string[]): void;
  /** A row; a renderer that streams elsewhere may return a promise to slow the producer down (await it). */
  row(cells: Cells): void | Promise<void>;
  /** A result set ends: its footer `[node] N rows in set (x.xxx secs)`. */
  end(elapsedMs: number, node?: string | null): void;
  /** The statement's status: code 0 prints `OK[, message]`, others `Error: (code) message`. */
  status(code: number, message: string): void;
}
