import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Small measuring helpers for the push benchmark: percentiles, a process
 * memory sampler, a bounded worker pool, and a fixed-width table.
 */

/** Nearest-rank percentile of `values` (0 < p ≤ 100); 0 when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);

  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? 0;
}

export interface MemoryPoint {
  rssBytes: number;
  heapUsedBytes: number;
}

export interface MemoryReport {
  /** After a full garbage collection. */
  before: MemoryPoint;
  /** After a full garbage collection. */
  after: MemoryPoint;
  /** Highest values seen by sampling while the work ran. */
  peak: MemoryPoint;
}

// `npm run bench` starts Node without --expose-gc; setting the flag at run
// time makes a fresh context see `gc`, so before and after are measured
// after a full collection: what the work retained, not its garbage.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

/** Memory after a full garbage collection. */
function retainedNow(): MemoryPoint {
  collect();
  return memoryNow();
}

function memoryNow(): MemoryPoint {
  const usage = process.memoryUsage();
  return { rssBytes: usage.rss, heapUsedBytes: usage.heapUsed };
}

/**
 * Runs `work` while sampling RSS and heapUsed every `intervalMs`; samples
 * only run when the event loop is free, so a peak between two samples can be
 * missed (the before and after points are exact).
 */
export async function withMemory<T>(
  work: () => Promise<T>,
  intervalMs = 10,
): Promise<{ value: T; memory: MemoryReport }> {
  const before = retainedNow();
  const peak = { ...before };
  const sample = () => {
    const now = memoryNow();
    peak.rssBytes = Math.max(peak.rssBytes, now.rssBytes);
    peak.heapUsedBytes = Math.max(peak.heapUsedBytes, now.heapUsedBytes);
  };
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  try {
    const value = await work();
    sample();
    return { value, memory: { before, after: retainedNow(), peak } };
  } finally {
    clearInterval(timer);
  }
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at once. */
export async function pool(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      await task(index);
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, worker),
  );
}

export const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

export const kib = (bytes: number) => (bytes / 1024).toFixed(1);

/** Left-aligned first column, right-aligned others, two spaces apart. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }

  return rows
    .map((row) =>
      row
        .map((cell, i) =>
          i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0),
        )
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
