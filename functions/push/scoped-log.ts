/**
 * A logger that stamps the same keys on every line of one action (unit,
 * revision, operation, registry, digest, duration), over any {@link Log}:
 * Powertools' Logger merges the extra object into the JSON line.
 */
import type { Log } from '../../shared/log.js';

export interface ScopedLog extends Log {
  /** Adds or replaces keys for the following lines. */
  set(keys: Record<string, unknown>): void;
}

export function scopedLog(base: Log, keys: Record<string, unknown>): ScopedLog {
  const current: Record<string, unknown> = { ...keys };
  const fields = (extra?: Record<string, unknown>) => ({
    ...current,
    ...extra,
  });
  return {
    debug: (message, extra) => base.debug(message, fields(extra)),
    info: (message, extra) => base.info(message, fields(extra)),
    warn: (message, extra) => base.warn(message, fields(extra)),
    error: (message, extra) => base.error(message, fields(extra)),
    set(more) {
      Object.assign(current, more);
    },
  };
}
