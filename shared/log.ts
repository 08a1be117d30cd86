/**
 * The narrow logger modules below the handlers take. Only the Lambda entry
 * points (and the local stack) wire a real logger; modules are silent by
 * default. Powertools' Logger satisfies this interface as it is.
 */
export interface Log {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const ignore = (): void => {};

/** A logger that drops everything: the default for library code. */
export const silentLog: Log = {
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
};
