/** Progress of a long-running tool: what is done of an (estimated) total, and when it may end. */
export interface Progress {
  readonly done: number;
  /** Estimated total; 0 when unknown. */
  readonly total: number;
  readonly bytes: number;
  readonly elapsedMs: number;
}

/** Seconds left at the rate so far; undefined while it cannot be told. */
export function etaSeconds(p: Progress): number | undefined {
  if (p.total <= 0 || p.done <= 0 || p.done >= p.total) return p.done >= p.total && p.total > 0 ? 0 : undefined;
  return Math.round(((p.total - p.done) * p.elapsedMs) / p.done / 1000);
}

function clock(s: number): string {
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return `${h > 0 ? `${h}:` : ''}${String(m).padStart(h > 0 ? 2 : 1, '0')}:${String(sec).padStart(2, '0')}`;
}

/** One line: a bar, records, rate, bytes and the ETA, e.g. `[#####.....] 52% 520000/1000000 records 98000/s 41.2 MiB ETA 0:05`. */
export function progressLine(what: string, p: Progress): string {
  const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
  const width = 24;
  const filled = Math.round(frac * width);
  const rate = p.elapsedMs > 0 ? Math.round((p.done * 1000) / p.elapsedMs) : 0;
  const eta = etaSeconds(p);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.total > 0 ? `${Math.floor(frac * 100)}% ` : ''}`
    + `${p.done}${p.total > 0 ? `/${p.total}` : ''} ${what} ${rate}/s ${(p.bytes / 1048576).toFixed(1)} MiB`
    + `${eta === undefined ? '' : ` ETA ${clock(eta)}`}`;
}

/** Renders progress to a stream: redrawn in place on a terminal, a line every few seconds otherwise. */
export function progressPrinter(what: string, out: NodeJS.WriteStream = process.stderr): (p: Progress, final?: boolean) => void {
  let lastMs = 0;
  return (p, final = false) => {
    const now = Date.now();
    if (out.isTTY) {
      if (!final && now - lastMs < 200) return;
      lastMs = now;
      out.write(`\r${progressLine(what, p)}\x1b[K${final ? '\n' : ''}`);
    } else {
      if (!final && now - lastMs < 5000) return;
      lastMs = now;
      out.write(`${progressLine(what, p)}\n`);
    }
  };
}
