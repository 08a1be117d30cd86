/** How DLQ entries read on a terminal and in `--json` output. */
import { describeFailureClass, type DlqEntry } from './entry.js';

/** The fields `--json` prints per message (no receipt handle, no body). */
export function entryJson(entry: DlqEntry): Record<string, unknown> {
  return {
    messageId: entry.messageId,
    unitSlug: entry.unitSlug ?? null,
    unitId: entry.unitId ?? null,
    revision: entry.revision ?? null,
    action: entry.action ?? null,
    operationId: entry.operationId ?? null,
    failureClass: entry.failureClass,
    failureReason: entry.failureReason,
    redriven: entry.redriven,
    failedAt: entry.failedAt ?? null,
    receiveCount: entry.receiveCount ?? null,
    dlqReceiveCount: entry.dlqReceiveCount,
  };
}

const COLUMNS: readonly [string, (entry: DlqEntry) => string][] = [
  ['UNIT', (e) => e.unitSlug ?? e.unitId ?? '?'],
  ['REV', (e) => (e.revision === undefined ? '?' : String(e.revision))],
  ['ACTION', (e) => e.action ?? '?'],
  ['OPERATION', (e) => e.operationId ?? '?'],
  ['FAILED AT', (e) => e.failedAt ?? '?'],
  [
    'RECEIVES',
    (e) => (e.receiveCount === undefined ? '?' : String(e.receiveCount)),
  ],
  ['CLASS', describeFailureClass],
  ['REASON', (e) => oneLine(e.failureReason)],
];

/** Padded columns, one line per message; the reason column is last. */
export function entriesTable(entries: readonly DlqEntry[]): string {
  const rows = [
    COLUMNS.map(([title]) => title),
    ...entries.map((entry) => COLUMNS.map(([, cell]) => cell(entry))),
  ];
  const widths = COLUMNS.map((_, column) =>
    Math.max(...rows.map((row) => row[column]?.length ?? 0)),
  );

  return rows
    .map((row) =>
      row
        .map((cell, column) =>
          column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0),
        )
        .join('  '),
    )
    .join('\n');
}

/** "unit frontend rev 3 (Apply, operation …)" for progress and summaries. */
export function entryLabel(entry: DlqEntry): string {
  const unit = entry.unitSlug ?? entry.unitId ?? entry.messageId;
  const revision = entry.revision === undefined ? '' : ` rev ${entry.revision}`;

  return `${unit}${revision} (${entry.action ?? '?'}, operation ${entry.operationId ?? '?'})`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
