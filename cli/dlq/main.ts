/**
 * `npm run dlq -- <command>`: inspect the dead-letter queue and replay all or
 * part of it, against AWS or the running local stack.
 */
import type { Writable } from 'node:stream';
import { SQSServiceException, type SQSClient } from '@aws-sdk/client-sqs';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { SingleBar } from 'cli-progress';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import {
  createSqsClient,
  resolveQueueTarget,
  StackConfigError,
  type QueueTarget,
} from '../stack-config.js';
import { DlqError } from './errors.js';
import { entriesTable, entryJson, entryLabel } from './format.js';
import { listDlq } from './list.js';
import {
  cancelMoveTask,
  isMoveTaskUnsupported,
  listMoveTasks,
  runningMoveTask,
  startMoveTask,
  waitForMoveTask,
  type MoveTask,
} from './move-task.js';
import { completeQueuePair, queueArn, queueDepth } from './queues.js';
import {
  replayMessages,
  replaySucceeded,
  type ReplayEvent,
  type ReplayReport,
} from './replay.js';

export interface CliIo {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Aborted on Ctrl-C: stop after the current message, release the rest. */
  signal?: AbortSignal;
}

/** Seams for tests; the defaults talk to the real services. */
export interface CliDeps {
  createSqs?: (target: QueueTarget) => SQSClient;
  cloudFormation?: CloudFormationClient;
  localStackFile?: string;
  /** Between move task polls (2 s). */
  pollIntervalMs?: number;
  /** Long-poll wait of each receive (1 s). */
  waitTimeSeconds?: number;
}

/** Exit codes: 0 done, 1 failed, 2 wrong usage, 130 interrupted. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

interface TargetFlags {
  queueUrl?: string;
  dlqUrl?: string;
  stack?: string;
  region?: string;
}

interface ListFlags extends TargetFlags {
  max: number;
  json?: boolean;
}

interface ReplayFlags extends TargetFlags {
  unit?: string;
  operation?: string;
  max?: number;
  dryRun?: boolean;
  status?: boolean;
  cancel?: boolean;
  json?: boolean;
}

/** Runs one command line and returns the process exit code. */
export async function runDlqCli(
  argv: readonly string[],
  io: CliIo,
  deps: CliDeps = {},
): Promise<number> {
  const out = (text: string): void => {
    io.stdout.write(`${text}\n`);
  };
  const err = (text: string): void => {
    io.stderr.write(`${text}\n`);
  };
  let exitCode: number = EXIT.ok;
  let target: QueueTarget | undefined;
  let sqs: SQSClient | undefined;

  const connect = async (flags: TargetFlags): Promise<SQSClient> => {
    target = await resolveQueueTarget({
      ...flags,
      env: io.env,
      localStackFile: deps.localStackFile,
      cloudFormation: deps.cloudFormation,
    });
    sqs = (deps.createSqs ?? createSqsClient)(target);
    return sqs;
  };

  const program = new Command('dlq')
    .description(
      'Inspect the dead-letter queue and replay its messages. Targets the running local stack unless --queue-url/--dlq-url or --stack is given.',
    )
    .option('--queue-url <url>', 'source queue URL (AWS)')
    .option('--dlq-url <url>', 'dead-letter queue URL (AWS)')
    .option('--stack <name>', 'deployed stack whose outputs name the queues')
    .option('--region <region>', 'AWS region (default: AWS_REGION)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });

  program
    .command('list', { isDefault: true })
    .description(
      'show the DLQ messages (unit, revision, action, failure) without removing them',
    )
    .option('--max <n>', 'list at most N messages', positiveInt, 100)
    .option('--json', 'machine-readable output')
    .action(async (_options: unknown, command: Command) => {
      const flags = command.optsWithGlobals<ListFlags>();
      const client = await connect(flags);
      const pair = await dlqOnly(client, flags, target);
      const listing = await listDlq(client, {
        dlqUrl: pair.dlqUrl,
        queueUrl: pair.queueUrl,
        max: flags.max,
        waitTimeSeconds: deps.waitTimeSeconds,
        signal: io.signal,
      });

      if (flags.json === true) {
        out(
          JSON.stringify(
            {
              dlqUrl: pair.dlqUrl,
              approximateTotal: listing.approximateTotal,
              messages: listing.entries.map(entryJson),
            },
            null,
            2,
          ),
        );
      } else if (listing.entries.length === 0) {
        out(
          listing.approximateTotal === 0
            ? `the DLQ is empty (${pair.dlqUrl})`
            : `no message of the DLQ could be read now: about ${listing.approximateTotal} are hidden (being read or replayed by someone else) or delayed; try again in a few minutes (${pair.dlqUrl})`,
        );
      } else {
        out(entriesTable(listing.entries));
        out('');
        out(
          `${listing.entries.length} message(s) listed of about ${listing.approximateTotal} in ${pair.dlqUrl}`,
        );
        if (listing.entries.length < listing.approximateTotal) {
          err(
            'not all messages are listed: a FIFO queue shows only the first messages of each unit until those leave the DLQ (or raise --max)',
          );
        }
      }
      if (listing.notReleased > 0) {
        err(
          `${listing.notReleased} listed message(s) stay hidden for up to 30 s (the queue service refused to make them visible again)`,
        );
      }
    });

  program
    .command('replay')
    .description(
      'move DLQ messages back to the source queue: all of them with SQS redrive, or the ones chosen by --unit/--operation/--max',
    )
    .option('--unit <slug>', 'only messages of this unit (slug or id)')
    .option('--operation <id>', 'only the message of this QueuedOperationID')
    .option('--max <n>', 'move at most N messages', positiveInt)
    .option('--dry-run', 'show what would move, change nothing')
    .option('--status', 'show the running (or last) redrive task')
    .option('--cancel', 'cancel the running redrive task')
    .option('--json', 'machine-readable summary')
    .action(async (_options: unknown, command: Command) => {
      const flags = command.optsWithGlobals<ReplayFlags>();
      const selective =
        flags.unit !== undefined ||
        flags.operation !== undefined ||
        flags.max !== undefined ||
        flags.dryRun === true;
      if ((flags.status === true || flags.cancel === true) && selective) {
        throw new DlqError(
          'invalid-option',
          '--status and --cancel concern the redrive task of a full replay: use them without --unit, --operation, --max or --dry-run',
        );
      }
      if (flags.status === true && flags.cancel === true) {
        throw new DlqError(
          'invalid-option',
          'use either --status or --cancel, not both',
        );
      }

      const client = await connect(flags);
      if (flags.status === true || flags.cancel === true) {
        const pair = await dlqOnly(client, flags, target);
        const dlqArn = await queueArn(client, pair.dlqUrl);
        await moveTaskCommand(client, dlqArn, flags.cancel === true, target);
        return;
      }

      const pair = await completeQueuePair(client, target ?? {});
      const report = selective
        ? await replayWithProgress(client, pair, flags)
        : await replayAll(client, pair);
      if (report !== undefined) {
        exitCode = printReport(report, pair.queueUrl, flags);
      }
    });

  /** Replay of everything: a move task, or receive-and-send without one. */
  async function replayAll(
    client: SQSClient,
    pair: { queueUrl: string; dlqUrl: string },
  ): Promise<ReplayReport | undefined> {
    const dlqArn = await queueArn(client, pair.dlqUrl);
    try {
      const running = await runningMoveTask(client, dlqArn);
      if (running !== undefined) {
        throw new DlqError(
          'move-task-running',
          `a redrive task is already running (started ${running.startedAt ?? '?'}, ${running.moved} moved): watch it with replay --status, stop it with replay --cancel`,
        );
      }
      await startMoveTask(client, {
        dlqArn,
        destinationArn: await queueArn(client, pair.queueUrl),
      });
    } catch (error) {
      if (!isMoveTaskUnsupported(error)) {
        throw error;
      }
      err(
        `the queue service does not run redrive tasks (${errorName(error)}); moving the messages by receive-and-send instead`,
      );
      return replayWithProgress(client, pair, {});
    }

    err(`redrive task started: ${pair.dlqUrl} → ${pair.queueUrl}`);
    const bar = progressBar(io, 'moved');
    try {
      const task = await waitForMoveTask(client, dlqArn, {
        intervalMs: deps.pollIntervalMs,
        signal: io.signal,
        onProgress: (progress) => {
          if (bar === undefined) {
            err(describeTask(progress));
            return;
          }
          bar.setTotal(Math.max(progress.toMove ?? 0, progress.moved));
          bar.update(progress.moved, { label: progress.status });
        },
      });
      bar?.stop();
      out(
        `redrive task COMPLETED: ${task.moved} message(s) moved back to ${pair.queueUrl}`,
      );
    } finally {
      bar?.stop();
    }

    return undefined;
  }

  async function replayWithProgress(
    client: SQSClient,
    pair: { queueUrl: string; dlqUrl: string },
    flags: ReplayFlags,
  ): Promise<ReplayReport> {
    const dryRun = flags.dryRun === true;
    const selecting =
      flags.unit !== undefined ||
      flags.operation !== undefined ||
      flags.max !== undefined;
    const bar = dryRun ? undefined : progressBar(io, 'moved');
    // Replaying everything: the DLQ's depth is the total; otherwise the
    // total grows as matching messages are found.
    const fixedTotal = selecting
      ? undefined
      : await queueDepth(client, pair.dlqUrl);
    bar?.setTotal(fixedTotal ?? 0);
    let done = 0;
    const onEvent = (event: ReplayEvent): void => {
      if (event.type === 'selected') {
        if (fixedTotal === undefined || event.selected > fixedTotal) {
          bar?.setTotal(event.selected);
        }
        return;
      }
      done += 1;
      if (bar !== undefined) {
        bar.update(done, { label: entryLabel(event.entry) });
      } else if (!dryRun) {
        err(`${event.type}: ${entryLabel(event.entry)}`);
      }
    };

    try {
      return await replayMessages(client, {
        queueUrl: pair.queueUrl,
        dlqUrl: pair.dlqUrl,
        selection: {
          unit: flags.unit,
          operation: flags.operation,
          max: flags.max,
        },
        dryRun,
        waitTimeSeconds: deps.waitTimeSeconds,
        signal: io.signal,
        onEvent,
      });
    } finally {
      bar?.stop();
    }
  }

  function printReport(
    report: ReplayReport,
    queueUrl: string,
    flags: ReplayFlags,
  ): number {
    const failed = !replaySucceeded(report);
    if (flags.json === true) {
      out(
        JSON.stringify(
          {
            dryRun: flags.dryRun === true,
            scanned: report.scanned,
            moved: report.moved.map(entryJson),
            wouldMove: report.wouldMove.map(entryJson),
            failed: report.failed.map(({ entry, error }) => ({
              ...entryJson(entry),
              error: errorText(error),
            })),
            heldBack: report.heldBack.map(entryJson),
            arrivedDuringReplay: report.arrivedDuringReplay,
            notDeleted: report.notDeleted.map(({ entry, error }) => ({
              ...entryJson(entry),
              error: errorText(error),
            })),
          },
          null,
          2,
        ),
      );
      return failed ? EXIT.failed : EXIT.ok;
    }

    if (flags.dryRun === true) {
      if (report.wouldMove.length === 0) {
        out(`dry run: no DLQ message matches (${report.scanned} looked at)`);
      } else {
        out(entriesTable(report.wouldMove));
        out('');
        out(
          `dry run: would move ${report.wouldMove.length} message(s) back to ${queueUrl}; nothing was changed`,
        );
      }
      if (report.scanned < report.approximateTotal) {
        err(
          `${report.approximateTotal - report.scanned} more message(s) in the DLQ could not be looked at: a FIFO queue shows only the first messages of each unit until those leave the DLQ; a real replay reaches the rest as it moves the first ones`,
        );
      }
      return EXIT.ok;
    }

    out(
      `moved ${report.moved.length} message(s) back to ${queueUrl} (${report.scanned} looked at)`,
    );
    for (const { entry, error } of report.failed) {
      err(
        `send failed, still in the DLQ: ${entryLabel(entry)}: ${errorText(error)}`,
      );
    }
    if (report.heldBack.length > 0) {
      err(
        `${report.heldBack.length} message(s) not sent, still in the DLQ: an earlier message of their unit failed, and order within a unit is kept`,
      );
    }
    if (report.arrivedDuringReplay > 0) {
      err(
        `${report.arrivedDuringReplay} message(s) reached the DLQ while this replay ran (failed again?): left there; see npm run dlq -- list`,
      );
    }
    for (const { entry, error } of report.notDeleted) {
      err(
        `sent but not deleted from the DLQ (a later replay sends it again; the push is idempotent): ${entryLabel(entry)}: ${errorText(error)}`,
      );
    }
    if (failed) {
      err('fix the cause and run the same replay again');
    }

    return failed ? EXIT.failed : EXIT.ok;
  }

  async function moveTaskCommand(
    client: SQSClient,
    dlqArn: string,
    cancel: boolean,
    resolved: QueueTarget | undefined,
  ): Promise<void> {
    try {
      if (cancel) {
        const { task, moved } = await cancelMoveTask(client, dlqArn);
        out(
          `cancelling the redrive task started ${task.startedAt ?? '?'}: ${moved} message(s) were moved, the rest stays in the DLQ`,
        );
        return;
      }
      const [latest] = await listMoveTasks(client, dlqArn);
      out(
        latest === undefined
          ? `no redrive task for ${dlqArn}`
          : describeTask(latest),
      );
    } catch (error) {
      if (isMoveTaskUnsupported(error)) {
        throw new DlqError(
          'move-task-unsupported',
          `${resolved?.description ?? 'the queue service'} runs no redrive tasks (${errorName(error)}): replay there moves messages by receive-and-send while the command runs, so there is no task to show or cancel`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (io.signal?.aborted === true) {
      err(
        'interrupted: messages not yet moved stay in the DLQ (a redrive task already started keeps running: see replay --status)',
      );
      return EXIT.interrupted;
    }
    err(`dlq: ${explain(error, target)}`);
    return error instanceof DlqError && error.code === 'invalid-option'
      ? EXIT.usage
      : EXIT.failed;
  } finally {
    sqs?.destroy();
  }

  return exitCode;
}

/** The DLQ URL is enough for listing and for task status. */
async function dlqOnly(
  client: SQSClient,
  flags: TargetFlags,
  target: QueueTarget | undefined,
): Promise<{ dlqUrl: string; queueUrl?: string }> {
  if (target?.dlqUrl !== undefined) {
    return { dlqUrl: target.dlqUrl, queueUrl: target.queueUrl };
  }

  return completeQueuePair(client, {
    queueUrl: target?.queueUrl ?? flags.queueUrl,
  });
}

function positiveInt(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) {
    throw new InvalidArgumentError(`expected a whole number ≥ 1, got ${value}`);
  }

  return number;
}

function progressBar(io: CliIo, unit: string): SingleBar | undefined {
  if (io.stderr.isTTY !== true) {
    return undefined;
  }
  const bar = new SingleBar({
    stream: io.stderr,
    format: `{bar} {value}/{total} ${unit} | {label}`,
    hideCursor: true,
    clearOnComplete: false,
  });
  bar.start(0, 0, { label: '' });

  return bar;
}

function describeTask(task: MoveTask): string {
  const total = task.toMove === undefined ? '' : ` of ${task.toMove}`;
  const reason =
    task.failureReason === undefined ? '' : `: ${task.failureReason}`;

  return `redrive task ${task.status} (started ${task.startedAt ?? '?'}): ${task.moved}${total} message(s) moved${reason}`;
}

/** One sentence a platform engineer can act on. */
function explain(error: unknown, target: QueueTarget | undefined): string {
  if (error instanceof StackConfigError || error instanceof DlqError) {
    return error.message;
  }
  if (target?.origin === 'local' && isConnectionRefused(error)) {
    return `no local stack running at ${target.endpoint ?? '?'} (connection refused): start it with npm start, or pass --queue-url/--dlq-url`;
  }
  const name = errorName(error);
  if (
    name === 'QueueDoesNotExist' ||
    name === 'AWS.SimpleQueueService.NonExistentQueue'
  ) {
    return `a queue of ${target?.description ?? 'the target'} does not exist: check --queue-url/--dlq-url (or --stack) and --region`;
  }
  if (name === 'AccessDenied' || name === 'AccessDeniedException') {
    return `SQS refused access (${errorText(error)}): the caller needs sqs:ReceiveMessage, sqs:ChangeMessageVisibility, sqs:DeleteMessage and sqs:GetQueueAttributes on the DLQ, sqs:SendMessage on the queue, and sqs:StartMessageMoveTask/ListMessageMoveTasks/CancelMessageMoveTask for a full replay`;
  }
  if (name === 'CredentialsProviderError') {
    return `no AWS credentials (${errorText(error)}): set AWS_PROFILE or the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY pair, or target the local stack`;
  }
  if (error instanceof SQSServiceException) {
    return `SQS answered ${name}: ${error.message}`;
  }

  return errorText(error);
}

function isConnectionRefused(error: unknown): boolean {
  for (let current = error; current instanceof Error; current = current.cause) {
    if ((current as NodeJS.ErrnoException).code === 'ECONNREFUSED') {
      return true;
    }
    if (current instanceof AggregateError) {
      return current.errors.some(isConnectionRefused);
    }
  }

  return false;
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'Error';
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
