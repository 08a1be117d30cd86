/**
 * The demo: the whole path on real input. Starts the local stack, signs and
 * posts the example events, waits for every result, prints what was pushed,
 * then reads each artifact back (through our client and, where installed,
 * through skopeo) and checks it against the event's data. `npm run demo`
 * and the local stack's end-to-end test both run it.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

import type { ActionResult } from '../shared/confighub/index.js';
import { parseWireEvent, type WireOperation } from '../shared/event/schema.js';
import {
  layoutDirectory,
  unitRepository,
  type ManifestInfo,
  type Repository,
} from '../shared/oci/index.js';
import { SIGNATURE_HEADER, signBody } from '../shared/signing/signature.js';
import { consoleLog, type LogLevel } from './log.js';
import { startLocalStack, withRegistryHost, type LocalStack } from './stack.js';

/** The example events in the order they are sent, and what each must give. */
const SCRIPT: readonly { file: string; expect: string; note: string }[] = [
  {
    file: 'apply-frontend-rev1.json',
    expect: 'ApplyCompleted',
    note: 'first revision, Tag latest',
  },
  {
    file: 'apply-frontend-rev2.json',
    expect: 'ApplyCompleted',
    note: 'replicas 1 → 3',
  },
  {
    file: 'sse-envelope-apply-frontend-rev3.json',
    expect: 'ApplyCompleted',
    note: 'stream envelope form, back to 1 replica',
  },
  {
    file: 'apply-boutique-rev7-trunk.json',
    expect: 'ApplyCompleted',
    note: 'a second unit, Tag trunk',
  },
  {
    file: 'apply-orphans-no-tag.json',
    expect: 'ApplyCompleted',
    note: 'no extra Tag, nested repository path',
  },
  {
    file: 'refresh-frontend.json',
    expect: 'RefreshAndNoDrift',
    note: 'compare latest with the unit',
  },
  {
    file: 'import-frontend.json',
    expect: 'ImportCompleted',
    note: 'read latest back',
  },
  {
    file: 'apply-frontend-rev1-late.json',
    expect: 'ApplyCompleted',
    note: 'rev1 again, late, as a DLQ replay would bring it: latest must stay on rev3',
  },
  {
    file: 'destroy-frontend-denied.json',
    expect: 'DestroyFailed',
    note: 'AllowDeletion is false: refused',
  },
  { file: 'heartbeat.json', expect: 'not queued', note: 'a worker event' },
];

const TIMEOUT_MS = 60_000;

interface Sent {
  file: string;
  note: string;
  expect: string;
  status: number;
  operation?: WireOperation;
}

export interface DemoOptions {
  /** Push to this registry (`host:port`) instead of starting one. */
  registry?: string;
  /** Write OCI layouts under this directory instead of a registry. */
  layoutDir?: string;
  /** The local stack's state directory; `.local/demo` by default. */
  stateDir?: string;
  /** The stack's own log level; `warn` keeps the demo's output readable. */
  logLevel?: LogLevel;
  /** Where the demo's lines go; stdout by default. */
  print?: (line: string) => void;
}

export interface DemoOutcome {
  /** The checks that failed, by their text; empty when all passed. */
  failures: string[];
  /** How many checks ran. */
  checks: number;
}

/** Runs the demo once and stops the stack it started. */
export async function runDemo(options: DemoOptions = {}): Promise<DemoOutcome> {
  const print = options.print ?? ((line: string) => console.log(line));
  const outcome: DemoOutcome = { failures: [], checks: 0 };
  const check: Check = (ok, text, detail = '') => {
    outcome.checks += 1;
    print(`  ${ok ? '✓' : '✗'} ${text}${detail === '' ? '' : `  ${detail}`}`);
    if (!ok) outcome.failures.push(text);
  };

  print('demo: starting the local stack');
  const stack = await startLocalStack({
    stateDir: options.stateDir ?? join('.local', 'demo'),
    log: consoleLog('stack', options.logLevel ?? 'warn'),
    ...(options.registry !== undefined && { registry: options.registry }),
    ...(options.layoutDir !== undefined && { layoutDir: options.layoutDir }),
  });
  try {
    const where =
      stack.target.kind === 'registry'
        ? `registry ${stack.target.host}`
        : `OCI layouts in ${stack.target.dir}`;
    print(`demo: webhook ${stack.webhookUrl}, artifacts to ${where}`);
    const sent = await sendExamples(stack, print);
    const queued = sent.filter((s) => s.operation !== undefined);
    print(`demo: waiting for ${queued.length} results`);
    const finals = await waitForResults(
      stack,
      queued.map((s) => s.operation!.Payload.QueuedOperationID),
      print,
    );
    print('demo: results');
    checkResults(sent, finals, check, print);
    print('demo: reading the artifacts back');
    await verifyArtifacts(stack, sent, finals, check);
  } finally {
    await stack.stop();
  }
  print(
    outcome.failures.length === 0
      ? `demo: all ${outcome.checks} checks passed`
      : `demo: ${outcome.failures.length} of ${outcome.checks} checks failed`,
  );
  return outcome;
}

type Check = (ok: boolean, text: string, detail?: string) => void;

const EXAMPLES = join(import.meta.dirname, '..', 'examples');

async function sendExamples(
  stack: LocalStack,
  print: (line: string) => void,
): Promise<Sent[]> {
  print(`demo: signing and posting ${SCRIPT.length} example events`);
  const sent: Sent[] = [];
  for (const step of SCRIPT) {
    const body = retarget(
      await readFile(join(EXAMPLES, step.file), 'utf8'),
      stack,
    );
    const response = await fetch(stack.webhookUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signBody(stack.signingSecret, body),
      },
      body,
    });
    await response.text();
    const parsed = parseWireEvent(body);
    const entry: Sent = { ...step, status: response.status };
    if (parsed.kind === 'operation') entry.operation = parsed.event;
    sent.push(entry);
    const what =
      entry.operation === undefined
        ? 'worker event'
        : `${entry.operation.Action} ${entry.operation.Payload.UnitSlug} rev${entry.operation.Payload.RevisionNum}`;
    print(`  ${response.status} ${step.file.padEnd(40)} ${what}`);
  }
  return sent;
}

function checkResults(
  sent: Sent[],
  finals: Map<string, ActionResult>,
  check: Check,
  print: (line: string) => void,
): void {
  for (const s of sent) {
    if (s.operation === undefined) {
      check(s.status === 200, `${s.file}: ${s.status}, ${s.expect}`, s.note);
      continue;
    }
    const { Action, Payload } = s.operation;
    const label = `${Action.padEnd(8)} ${Payload.UnitSlug.padEnd(12)} rev${String(Payload.RevisionNum).padEnd(3)}`;
    const result = finals.get(Payload.QueuedOperationID);
    if (result === undefined) {
      check(false, `${label} no result within ${TIMEOUT_MS / 1000} s`);
      continue;
    }
    check(
      s.status === 202 && result.Result === s.expect,
      `${label} ${result.Result}`,
      `(${s.note})`,
    );
    print(`      ${result.Message}`);
    for (const output of outputs(result)) {
      print(`      ${output.URL}  ${output.Digest.split('@')[1]}`);
    }
  }
}

/**
 * Points the event's target at the local registry, so the references the
 * demo prints are ones you can pull. Layouts keep the target as written.
 */
function retarget(body: string, local: LocalStack): string {
  if (local.target.kind !== 'registry') return body;
  const host = local.target.host;
  const event = JSON.parse(body) as Record<string, unknown>;
  const payload = ((event.Data as Record<string, unknown> | undefined) ?? event)
    .Payload as Record<string, unknown> | undefined;
  if (payload === undefined || typeof payload.TargetParams !== 'string') {
    return body;
  }
  const params = JSON.parse(
    Buffer.from(payload.TargetParams, 'base64').toString('utf8'),
  ) as { Repository: string };
  params.Repository = withRegistryHost(params.Repository, host);
  payload.TargetParams = Buffer.from(JSON.stringify(params)).toString('base64');
  return JSON.stringify(event);
}

async function waitForResults(
  local: LocalStack,
  operationIds: string[],
  print: (line: string) => void,
): Promise<Map<string, ActionResult>> {
  const finals = new Map<string, ActionResult>();
  const take = (result: ActionResult): void => {
    if (result.Status !== 'Progressing') {
      finals.set(result.QueuedOperationID, result);
      print(
        `  … ${finals.size}/${operationIds.length} ${result.Action} rev${result.RevisionNum} ${result.Result}`,
      );
    }
  };
  local.results.forEach(take);
  local.events.on('result', take);
  const deadline = Date.now() + TIMEOUT_MS;
  while (operationIds.some((id) => !finals.has(id)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  local.events.off('result', take);
  return finals;
}

function outputs(
  result: ActionResult | undefined,
): { Digest: string; URL: string }[] {
  if (result?.Outputs === undefined) return [];
  return JSON.parse(Buffer.from(result.Outputs, 'base64').toString('utf8')) as {
    Digest: string;
    URL: string;
  }[];
}

async function verifyArtifacts(
  local: LocalStack,
  sent: Sent[],
  finals: Map<string, ActionResult>,
  check: Check,
): Promise<void> {
  const newest = new Map<
    string,
    { repo: Repository; tag?: string; revision: number }
  >();
  // The last Apply of each revision decides what its tag holds: a later
  // operation on the same revision is a new event with its own digest.
  const lastApply = new Map<string, WireOperation>();
  for (const s of sent) {
    if (s.operation?.Action !== 'Apply') continue;
    const { Payload: p } = s.operation;
    lastApply.set(
      `${p.TargetParams.Repository}/${p.UnitSlug}:${p.RevisionNum}`,
      s.operation,
    );
  }
  for (const operation of lastApply.values()) {
    const { Payload: p } = operation;
    const repo = unitRepository(p.TargetParams.Repository, p.UnitSlug);
    const ref = `${repo.registry}/${repo.name}:rev${p.RevisionNum}`;
    try {
      await verifyRevision(local, repo, operation, finals, check);
    } catch (error) {
      check(false, `${ref} could not be read back`, errorText(error));
    }
    const key = `${repo.registry}/${repo.name}`;
    const known = newest.get(key);
    if (known === undefined || known.revision < p.RevisionNum) {
      newest.set(key, {
        repo,
        revision: p.RevisionNum,
        ...(p.TargetParams.Tag !== undefined && { tag: p.TargetParams.Tag }),
      });
    }
  }
  for (const [key, unit] of newest) {
    if (unit.tag === undefined) continue;
    let info: ManifestInfo | undefined;
    try {
      info = await local.storeFor(unit.repo).inspect(unit.repo, unit.tag);
    } catch (error) {
      check(false, `${key}:${unit.tag} could not be read`, errorText(error));
      continue;
    }
    check(
      info?.annotations['com.confighub.revision'] === String(unit.revision),
      `${key}:${unit.tag} points at the newest revision, rev${unit.revision}`,
    );
  }
}

/** Reads one revision back and checks it against its event and result. */
async function verifyRevision(
  local: LocalStack,
  repo: Repository,
  operation: WireOperation,
  finals: Map<string, ActionResult>,
  check: Check,
): Promise<void> {
  const { Payload: p } = operation;
  const data = Buffer.from(p.Data, 'base64');
  const ref = `${repo.registry}/${repo.name}:rev${p.RevisionNum}`;
  const pulled = await local.storeFor(repo).pull(repo, `rev${p.RevisionNum}`);
  check(
    pulled !== undefined && Buffer.from(pulled.content).equals(data),
    `${ref} holds the unit's manifest.yaml byte for byte`,
    `(${data.length} bytes)`,
  );
  const reported = outputs(finals.get(p.QueuedOperationID)).find((o) =>
    o.URL.endsWith(`:rev${p.RevisionNum}`),
  );
  check(
    pulled !== undefined && reported?.Digest.endsWith(pulled.digest) === true,
    `${ref} digest matches the reported output`,
  );
  const independent = await skopeoDigest(local, repo, `rev${p.RevisionNum}`);
  if (independent !== undefined) {
    check(
      independent === pulled?.digest,
      `skopeo reads ${ref} with the same digest`,
      independent.slice(0, 19),
    );
  }
}

function errorText(error: unknown): string {
  return error instanceof Error
    ? `${error.name}: ${error.message}`
    : String(error);
}

/**
 * The manifest digest skopeo (an independent client) reads for a tag, or
 * undefined when skopeo is not installed.
 */
async function skopeoDigest(
  local: LocalStack,
  repo: Repository,
  tag: string,
): Promise<string | undefined> {
  const source =
    local.target.kind === 'registry'
      ? ['--tls-verify=false', `docker://${repo.registry}/${repo.name}:${tag}`]
      : [`oci:${layoutDirectory(local.target.dir, repo)}:${tag}`];
  try {
    const { stdout } = await promisify(execFile)(
      'skopeo',
      ['inspect', '--raw', ...source],
      { encoding: 'buffer' },
    );
    return `sha256:${createHash('sha256').update(stdout).digest('hex')}`;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
