/**
 * Progress for long CLI work (migrations, backfills, exports, bulk imports): a redrawn bar on a
 * terminal, a line every 10% otherwise (CI logs), nothing with `quiet`.
 */

/** A progress reporter. */
export interface Progress {
  /** Sets the work done so far (and the total, when it becomes known). */
  update(done: number, total?: number): void;
  /** Ends the bar with a final line. */
  done(message?: string): void;
}

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  label: string;
  total?: number;
  /** Default process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  quiet?: boolean;
  now?: () => number;
}

/**
 * Creates a progress bar.
 * @example
 * const progress = createProgress({ label: 'backfill', total: 1000 });
 * progress.update(500); // backfill [██████████░░░░░░░░░░]  50%  500/1000  12.3k/s  ETA 0:04
 * progress.done();
 */
export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? Date.now;
  const started = now();
  const tty = stream.isTTY === true;
  let total = options.total ?? 0;
  let lastDecile = -1;
  let lastDraw = 0;
  let current = 0;

  const line = (done: number) => {
    const ratio = total > 0 ? Math.min(1, done / total) : 0;
    const width = 24;
    const filled = Math.round(ratio * width);
    const elapsed = Math.max(1, now() - started) / 1000;
    const rate = done / elapsed;
    const eta = rate > 0 && total > done ? (total - done) / rate : 0;
    const bar =
      total > 0
        ? `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}%  `
        : '';
    return `${options.label} ${bar}${compact(done)}${total > 0 ? `/${compact(total)}` : ''}  ${compact(rate)}/s${eta > 0 ? `  ETA ${clock(eta)}` : ''}`;
  };

  return {
    update(done, newTotal) {
      if (newTotal !== undefined) total = newTotal;
      current = done;
      if (options.quiet) return;
      if (tty) {
        if (now() - lastDraw < 100 && done < total) return;
        lastDraw = now();
        stream.write(`\r${line(done)}\x1b[K`);
        return;
      }
      const decile = total > 0 ? Math.floor((done / total) * 10) : -1;
      if (decile > lastDecile) {
        lastDecile = decile;
        stream.write(`${line(done)}\n`);
      }
    },
    done(message) {
      if (options.quiet) return;
      const text = message ?? `${line(current)}  done in ${clock((now() - started) / 1000)}`;
      stream.write(tty ? `\r${text}\x1b[K\n` : `${text}\n`);
    },
  };
}

function compact(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (value >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  return String(Math.round(value));
}

function clock(seconds: number): string {
  const whole = Math.round(seconds);
  const minutes = Math.floor(whole / 60);
  return `${minutes}:${String(whole % 60).padStart(2, '0')}`;
}
