/**
 * Running AQL on a node through the AqlService: send text and session settings, receive result
 * events and feed them to a renderer (the aql shell renders client-side with the same
 * renderers the server-side tests use).
 *
 *   const outcome = await executeAql(client, { text: 'SELECT * FROM test.demo' }, renderer);
 */
import { DbError } from '../errors/index.ts';
import type { Renderer } from '../aql/language/results.ts';
import { DEFAULT_SETTINGS, type Settings } from '../aql/language/settings.ts';
import { AqlServiceService, type AqlSettings, type Status } from '../wire/generated/slipstream/v1/aql.ts';
import { fromPbValue } from '../wire/convert.ts';
import type { SlipstreamClient } from './client.ts';

export interface AqlRequest {
  readonly text: string;
  readonly settings?: Settings;
  /** Files the statements name (REGISTER MODULE 'path'), by the path as written. */
  readonly files?: ReadonlyMap<string, Uint8Array>;
}

export interface AqlCallbacks {
  /** A statement of the text begins. */
  readonly onStatement?: (index: number, text: string) => void;
  /** A line of text a statement prints (SET/GET lines, HELP). */
  readonly onMessage?: (text: string) => void;
  /** Each row as it arrives (progress). */
  readonly onRow?: (rowsSoFar: number) => void;
}

export interface AqlStatementStatus {
  readonly code: number;
  readonly name: string;
  readonly message: string;
  readonly hint: string;
}

export function toPbAqlSettings(s: Settings): AqlSettings {
  return {
    timeoutMs: s.TIMEOUT, recordTtl: BigInt(s.RECORD_TTL), keySend: s.KEY_SEND, durableDelete: s.DURABLE_DELETE,
    recordPrintMetadata: s.RECORD_PRINT_METADATA, noBins: s.NO_BINS, scanRecordsPerSecond: s.SCAN_RECORDS_PER_SECOND,
    outputTypes: s.OUTPUT_TYPES, output: s.OUTPUT,
  };
}

/** Margin over the TIMEOUT setting before the client gives up on the server, ms. */
const DEADLINE_MARGIN_MS = 2000;

/**
 * Runs AQL text on the node; renders each statement's events into `renderer` and returns the
 * statuses, one per statement. Aborting `signal` cancels the call (and the running statement).
 */
export async function executeAql(client: SlipstreamClient, req: AqlRequest, renderer: Renderer, callbacks: AqlCallbacks = {}, signal?: AbortSignal): Promise<AqlStatementStatus[]> {
  const settings = req.settings ?? DEFAULT_SETTINGS;
  const statuses: AqlStatementStatus[] = [];
  const files = [...(req.files ?? new Map<string, Uint8Array>())].map(([path, content]) => ({ path, content }));
  let rows = 0;
  const stream = client.stream(AqlServiceService.execute, { text: req.text, settings: toPbAqlSettings(settings), files }, {
    timeoutMs: settings.TIMEOUT > 0 ? settings.TIMEOUT + DEADLINE_MARGIN_MS : 0,
    ...(signal === undefined ? {} : { signal }),
  });
  for await (const res of stream) {
    const e = res.event;
    if (e === undefined) continue;
    switch (e.$case) {
      case 'statement': callbacks.onStatement?.(e.value.index, e.value.text); break;
      case 'header': rows = 0; renderer.begin(e.value.columns); break;
      case 'row': {
        await renderer.row(e.value.cells.map((c) => [c.name, fromPbValue(c.value)] as const));
        callbacks.onRow?.(++rows);
        break;
      }
      case 'end': renderer.end(e.value.elapsedMs, e.value.node === '' ? null : e.value.node); break;
      case 'message': callbacks.onMessage?.(e.value.text); break;
      case 'status': {
        const s: Status = e.value;
        statuses.push({ code: s.code, name: s.name, message: s.message, hint: s.hint });
        renderer.status(s.code, s.message);
        break;
      }
    }
  }
  if (signal?.aborted === true) throw new DbError('CLIENT_ABORT', 'the statement was cancelled');
  return statuses;
}
