/** Runs AQL text through the node's AqlService and returns statuses and rows. */
import type { SlipstreamClient } from '../../core/client/index.ts';
import { executeAql, type AqlStatementStatus } from '../../core/client/aql.ts';
import { DEFAULT_SETTINGS } from '../../core/aql/language/settings.ts';

export async function aql(client: SlipstreamClient, text: string, settings: Partial<typeof DEFAULT_SETTINGS> = {}): Promise<{ statuses: AqlStatementStatus[]; rows: Map<string, unknown>[] }> {
  const rows: Map<string, unknown>[] = [];
  const statuses = await executeAql(client, { text, settings: { ...DEFAULT_SETTINGS, TIMEOUT: 20_000, ...settings } }, {
    begin: () => {}, end: () => {}, status: () => {},
    row: (cells) => { rows.push(new Map(cells)); },
  });
  return { statuses, rows };
}
