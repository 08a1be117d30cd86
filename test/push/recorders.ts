/** Recording stand-ins for the handler's logger and metrics. */
import type { PushMetrics } from '../../functions/push/handler.js';
import type { Log } from '../../shared/log.js';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: Record<string, unknown>;
}

export class RecordingLog implements Log {
  readonly lines: LogLine[] = [];
  debug(message: string, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level: 'debug', message, fields });
  }
  info(message: string, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level: 'info', message, fields });
  }
  warn(message: string, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level: 'warn', message, fields });
  }
  error(message: string, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level: 'error', message, fields });
  }
}

export interface RecordedMetric {
  name: string;
  unit: string;
  value: number;
  dimensions: Record<string, string>;
}

export class RecordingMetrics implements PushMetrics {
  readonly metrics: RecordedMetric[] = [];
  addMetric(name: string, unit: string, value: number): void {
    this.metrics.push({ name, unit, value, dimensions: {} });
  }
  singleMetric() {
    const dimensions: Record<string, string> = {};
    return {
      addDimension: (name: string, value: string) => {
        dimensions[name] = value;
      },
      addMetric: (name: string, unit: string, value: number) => {
        this.metrics.push({ name, unit, value, dimensions: { ...dimensions } });
      },
    };
  }
  named(name: string): RecordedMetric[] {
    return this.metrics.filter((m) => m.name === name);
  }
}
