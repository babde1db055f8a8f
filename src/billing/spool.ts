import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { UsageEvent } from '../store/index.js';
import { merged } from '../core/objects.js';

/**
 * The usage spool: a durable, local, append-only outbox for usage events the store could not
 * take (down, refusing, stalled). An event is spooled by appending one JSON line to this
 * process's open segment and fsyncing it before `append` resolves, so once the gateway moves
 * on, the event survives kill -9 and power loss. Replay reads sealed segments back and hands
 * them to billing, which is idempotent by request id: an event that was committed after all
 * (a commit that timed out but landed) comes back `duplicate` and posts nothing twice.
 *
 * Files in the spool directory (one directory per host; replicas on one host may share it):
 * - `<owner>-<seq>.open`: the segment a live process appends to (`owner` = `<pid>.<random>`).
 * - `<owner>-<seq>.jsonl`: a sealed segment, ready for replay by any process.
 * - `<claimant>~<segment>.replaying`: a segment one process is replaying (claimed by rename, so
 *   two replicas never replay the same file at once).
 * - `rejected.jsonl`: events the store refused for their data (a conflicting replay of a request
 *   id), kept for an operator; never dropped.
 * Segments of a process that died (`.open`, `.replaying`) are taken over by the next replay.
 */

/** Counters and the backlog of a spool, for metrics and readiness. */
export interface SpoolStats {
  /** Events spooled by this process since start. */
  spooled: number;
  /** Events replayed into the store by this process since start. */
  replayed: number;
  /** Events set aside in rejected.jsonl since start. */
  rejected: number;
  /** Events waiting in segments this process knows of. */
  waiting: number;
  /** When the oldest waiting event was spooled (epoch ms), or null when none waits. */
  oldestAt: number | null;
}

/** What replay does with one event: committed (or already was), or refused for its data. */
export type ReplayResult = 'committed' | 'rejected';

/** A local usage spool. */
export interface UsageSpool {
  readonly dir: string;
  /** Appends `event` durably (written and fsynced) before resolving. */
  append(event: UsageEvent): Promise<void>;
  /**
   * Seals this process's segment and replays every sealed or orphaned segment through `post`.
   * Stops at the first segment `post` throws on (the store is still away) and leaves it for the
   * next call. Resolves with how many events were replayed.
   */
  replay(post: (events: UsageEvent[]) => Promise<ReplayResult[]>): Promise<number>;
  stats(): SpoolStats;
  /** Closes the open segment (it stays on disk; the next replay seals it). */
  close(): Promise<void>;
}

/** Options of {@link createSpool}. */
export interface SpoolOptions {
  dir: string;
  /** Epoch ms. Default Date.now. */
  clock?: () => number;
  /** Events per `post` call during replay. Default 500. */
  batch?: number;
}

interface Line {
  spooledAt: number;
  event: UsageEvent;
}

interface Segment {
  count: number;
  oldestAt: number;
}

interface Pending {
  line: string;
  at: number;
  resolve(): void;
  reject(error: unknown): void;
}

const OPEN = '.open';
const SEALED = '.jsonl';
const REPLAYING = '.replaying';
const REJECTED = 'rejected.jsonl';

/**
 * Creates a spool over `dir` (created on first use).
 * @example
 * const spool = createSpool({ dir: './data/spool' });
 * await spool.append(event); // on disk, fsynced
 * await spool.replay((events) => postEach(events));
 */
export function createSpool(options: SpoolOptions): UsageSpool {
  const { dir } = options;
  const clock = options.clock ?? Date.now;
  const batchSize = options.batch ?? 500;
  const owner = `${process.pid}.${randomBytes(4).toString('hex')}`;
  const segments = new Map<string, Segment>();
  const totals = { spooled: 0, replayed: 0, rejected: 0 };
  let seq = 0;
  let current: { name: string; handle: FileHandle } | undefined;
  let ready: Promise<void> | undefined;
  let queue: Pending[] = [];
  let scheduled = false;
  // Appends, sealing and closing run one at a time, in order.
  let chain: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const next = chain.then(work, work);
    chain = next.catch(() => undefined);
    return next;
  };

  const ensureDir = () => {
    ready ??= mkdir(dir, { recursive: true }).then(() => undefined);
    return ready;
  };

  const syncDir = async () => {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  };

  const writeQueued = async () => {
    scheduled = false;
    const batch = queue;
    queue = [];
    if (batch.length === 0) return;
    try {
      await ensureDir();
      if (!current) {
        const name = `${owner}-${String(seq++).padStart(6, '0')}${OPEN}`;
        current = { name, handle: await open(join(dir, name), 'a') };
        // The new file's directory entry must be durable too, or a crash could lose the file.
        await syncDir();
      }
      await current.handle.write(batch.map((item) => item.line).join(''));
      await current.handle.sync();
      const segment = segments.get(current.name) ?? { count: 0, oldestAt: batch[0]!.at };
      segment.count += batch.length;
      segments.set(current.name, segment);
      totals.spooled += batch.length;
      for (const item of batch) item.resolve();
    } catch (error) {
      for (const item of batch) item.reject(error);
    }
  };

  const seal = () =>
    exclusive(async () => {
      if (!current) return;
      const { name, handle } = current;
      current = undefined;
      await handle.close();
      const sealed = name.slice(0, -OPEN.length) + SEALED;
      await rename(join(dir, name), join(dir, sealed));
      move(name, sealed);
    });

  const move = (from: string, to: string) => {
    const segment = segments.get(from);
    segments.delete(from);
    if (segment) segments.set(to, segment);
  };

  /** Renames segments left by dead processes so they can be replayed, and returns what is ready. */
  const collect = async (): Promise<string[]> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const present = new Set(names);
    for (const name of [...segments.keys()]) if (!present.has(name)) segments.delete(name);
    const sealed: string[] = [];
    for (const name of names) {
      if (name.endsWith(SEALED) && name !== REJECTED) sealed.push(name);
      else if (name.endsWith(OPEN) && orphaned(name.split('-')[0]!)) {
        const to = name.slice(0, -OPEN.length) + SEALED;
        if (await renamed(name, to)) sealed.push(to);
      } else if (name.endsWith(REPLAYING)) {
        const [claimant, segment] = name.slice(0, -REPLAYING.length).split('~');
        if (segment && orphaned(claimant!) && (await renamed(name, segment))) sealed.push(segment);
      }
    }
    return sealed.sort();
  };

  // A segment of our own pid but another start (pid reused after a restart) is an orphan too.
  const orphaned = (who: string) =>
    who !== owner && (who.split('.')[0] === String(process.pid) || !alive(who));

  const renamed = async (from: string, to: string) => {
    try {
      await rename(join(dir, from), join(dir, to));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false; // another replica took it
      throw error;
    }
  };

  const readLines = async (name: string): Promise<Line[]> => {
    const text = await readFile(join(dir, name), 'utf8');
    const lines: Line[] = [];
    for (const raw of text.split('\n')) {
      if (raw === '') continue;
      try {
        lines.push(JSON.parse(raw) as Line);
      } catch {
        // A torn last line: the process died inside the write, before the fsync returned, so
        // that request's answer never completed. Every acknowledged line is whole.
      }
    }
    return lines;
  };

  const replayOne = async (
    name: string,
    post: (events: UsageEvent[]) => Promise<ReplayResult[]>,
  ): Promise<number> => {
    const claimed = `${owner}~${name}${REPLAYING}`;
    if (!(await renamed(name, claimed))) return 0;
    move(name, claimed);
    const lines = await readLines(claimed);
    if (!segments.has(claimed) && lines.length > 0)
      segments.set(claimed, { count: lines.length, oldestAt: lines[0]!.spooledAt });
    let replayed = 0;
    try {
      for (let start = 0; start < lines.length; start += batchSize) {
        const slice = lines.slice(start, start + batchSize);
        const results = await post(slice.map((line) => line.event));
        const refused = slice.filter((_, index) => results[index] === 'rejected');
        if (refused.length > 0) await setAside(refused);
        replayed += slice.length - refused.length;
      }
    } catch (error) {
      // The store is still away: give the segment back for the next attempt (events already
      // committed from it come back as duplicates then).
      await rename(join(dir, claimed), join(dir, name));
      move(claimed, name);
      throw error;
    }
    await unlink(join(dir, claimed));
    segments.delete(claimed);
    totals.replayed += replayed;
    return replayed;
  };

  const setAside = async (lines: Line[]) => {
    const handle = await open(join(dir, REJECTED), 'a');
    try {
      await handle.write(lines.map((line) => `${JSON.stringify(line)}\n`).join(''));
      await handle.sync();
    } finally {
      await handle.close();
    }
    totals.rejected += lines.length;
  };

  return {
    dir,
    append(event) {
      const at = clock();
      const line = `${JSON.stringify({ spooledAt: at, event } satisfies Line)}\n`;
      return new Promise<void>((resolve, reject) => {
        queue.push({ line, at, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          void exclusive(writeQueued);
        }
      });
    },
    async replay(post) {
      await seal();
      let total = 0;
      for (const name of await collect()) total += await replayOne(name, post);
      return total;
    },
    stats() {
      let waiting = 0;
      let oldestAt: number | null = null;
      for (const segment of segments.values()) {
        waiting += segment.count;
        if (oldestAt === null || segment.oldestAt < oldestAt) oldestAt = segment.oldestAt;
      }
      return merged(totals, { waiting, oldestAt });
    },
    close: () =>
      exclusive(async () => {
        const open = current;
        current = undefined;
        await open?.handle.close();
      }),
  };
}

/** Whether the process that owns a segment (`<pid>.<random>`) is still running on this host. */
function alive(who: string): boolean {
  const pid = Number(who.split('.')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
