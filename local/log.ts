/**
 * The local stack's logger: one readable line per event for a person at a
 * terminal (Lambda writes JSON lines through Powertools instead).
 */
import type { Log } from '../shared/log.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A {@link Log} that prints `HH:MM:SS level [scope] message key=value …`. */
export function consoleLog(
  scope: string,
  level: LogLevel = 'info',
  write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Log {
  const emit =
    (at: LogLevel) =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (RANK[at] < RANK[level]) return;
      const time = new Date().toISOString().slice(11, 19);
      write(
        `${time} ${at.padEnd(5)} [${scope}] ${message}${formatFields(fields)}`,
      );
    };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
  };
}

function formatFields(fields: Record<string, unknown> | undefined): string {
  if (fields === undefined) return '';
  const parts: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const text =
      typeof value === 'string'
        ? value
        : (JSON.stringify(value) ?? 'undefined');
    parts.push(`${key}=${/\s/.test(text) ? JSON.stringify(text) : text}`);
  }
  return parts.length === 0 ? '' : ` ${parts.join(' ')}`;
}
