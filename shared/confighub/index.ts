/** Reporting ActionResults to ConfigHub: the facade. */
export * from './types.js';
export { ReportError, type ReportErrorCode } from './errors.js';
export {
  createConfigHubReporter,
  createLogReporter,
  fitForConfigHub,
  truncateUtf8,
  type ConfigHubReporterOptions,
} from './reporter.js';
