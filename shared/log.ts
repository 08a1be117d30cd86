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

/** The part of Powertools' Logger the Lambda entries adapt. */
interface PowertoolsLogger {
  debug(message: string, extra: Record<string, unknown>): void;
  info(message: string, extra: Record<string, unknown>): void;
  warn(message: string, extra: Record<string, unknown>): void;
  error(message: string, extra: Record<string, unknown>): void;
  setCorrelationId(value: string): void;
}

/**
 * Adapts Powertools' Logger to {@link Log}: its variadic signature does not
 * take `fields: undefined` under strict types, so each level passes an
 * object. Keeps `setCorrelationId` for the webhook.
 */
export function powertoolsLog(
  logger: PowertoolsLogger,
): Log & { setCorrelationId(value: string): void } {
  return {
    debug: (message, fields) => logger.debug(message, fields ?? {}),
    info: (message, fields) => logger.info(message, fields ?? {}),
    warn: (message, fields) => logger.warn(message, fields ?? {}),
    error: (message, fields) => logger.error(message, fields ?? {}),
    setCorrelationId: (value) => logger.setCorrelationId(value),
  };
}
