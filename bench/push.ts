/**
 * Push benchmark (`npm run bench`): the OCI engine against Debian's
 * docker-registry on loopback, with Flux artifacts built from the real units
 * in test/fixtures/units/. Three scenarios, each over N units with bounded
 * concurrency and a registry client per push (as the push function builds
 * one per message): new units (rev1 and a moving `latest`), the same
 * revisions again, the next revisions. Not part of `npm test`.
 */
import { readdir, readFile } from 'node:fs/promises';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';

import {
  buildFluxArtifact,
  confighubAnnotations,
  createRegistryClient,
  type CredentialProvider,
  type FluxArtifact,
  type ManifestInfo,
  type Repository,
} from '../shared/oci/index.js';
import { startRegistry, type TestRegistry } from '../test/support/registry.js';
import {
  kib,
  mib,
  percentile,
  pool,
  table,
  withMemory,
  type MemoryReport,
} from './stats.js';

const USAGE = `usage: npm run bench -- [options]

  --units N           units per scenario (default 200, at most 5000)
  --concurrency C     pushes in flight at once (default 8, at most 64)
  --auth MODE         none | basic | token (default none); token runs the
                      Bearer flow against the harness's token server
  --timeout-seconds S give up after S seconds (default 600)
  --json              print one JSON document instead of the table
  -h, --help          this text`;

const UNITS_DIR = new URL('../test/fixtures/units/', import.meta.url);
const CREATED = '2025-03-01T10:00:00Z';
/** Builds timed for the throughput figure: at least this long. */
const BUILD_BENCH_MS = 1000;

type AuthMode = 'none' | 'basic' | 'token';

interface Options {
  units: number;
  concurrency: number;
  auth: AuthMode;
  timeoutSeconds: number;
  json: boolean;
}

interface Unit {
  slug: string;
  file: string;
  content: Buffer;
}

interface ScenarioResult {
  name: string;
  description: string;
  pushes: number;
  failures: number;
  /** Left out after an interrupt or the deadline. */
  notStarted: number;
  /** The first few failure messages. */
  failureSamples: string[];
  wallMs: number;
  pushesPerSecond: number;
  latencyMs: { p50: number; p95: number; max: number };
  requestsPerPush: { min: number; max: number; mean: number };
  roundTripsPerPush: { min: number; max: number; mean: number };
  uploadedBytes: number;
  /** Token mode: requests the token server answered during the scenario. */
  tokenRequests?: number;
  memory: MemoryReport;
}

interface BuildResult {
  unit: string;
  contentBytes: number;
  layerBytes: number;
  builds: number;
  buildsPerSecond: number;
  meanMs: number;
}

function parseOptions(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      units: { type: 'string', default: '200' },
      concurrency: { type: 'string', default: '8' },
      auth: { type: 'string', default: 'none' },
      'timeout-seconds': { type: 'string', default: '600' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  if (!['none', 'basic', 'token'].includes(values.auth)) {
    throw new Error(
      `--auth ${JSON.stringify(values.auth)}: expected none, basic or token`,
    );
  }

  return {
    units: integer('--units', values.units, 1, 5000),
    concurrency: integer('--concurrency', values.concurrency, 1, 64),
    auth: values.auth as AuthMode,
    timeoutSeconds: integer(
      '--timeout-seconds',
      values['timeout-seconds'],
      1,
      3600,
    ),
    json: values.json,
  };
}

function integer(flag: string, value: string, min: number, max: number) {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw new Error(
      `${flag} ${JSON.stringify(value)}: expected a whole number from ${min} to ${max}`,
    );
  }
  return n;
}

async function loadUnits(count: number): Promise<Unit[]> {
  const files = (await readdir(UNITS_DIR))
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  const contents = await Promise.all(
    files.map((f) => readFile(new URL(f, UNITS_DIR))),
  );

  return Array.from({ length: count }, (_, i) => {
    const k = i % files.length;
    const file = files[k] ?? '';
    const slug = `${file.replace('.yaml', '')}-${String(i).padStart(4, '0')}`;
    return { slug, file, content: contents[k] ?? Buffer.alloc(0) };
  });
}

/** Revision 1 is the unit as is; later ones change one line, as edits do. */
function revisionContent(unit: Unit, revisionNum: number): Buffer {
  if (revisionNum === 1) return unit.content;
  return Buffer.concat([
    unit.content,
    Buffer.from(`# edited in revision ${revisionNum}\n`),
  ]);
}

async function artifactFor(
  unit: Unit,
  revisionNum: number,
): Promise<FluxArtifact> {
  return buildFluxArtifact({
    content: revisionContent(unit, revisionNum),
    created: CREATED,
    source: `https://hub.confighub.com/space/bench/unit/${unit.slug}`,
    revision: String(revisionNum),
    annotations: confighubAnnotations({
      spaceId: 'space-bench',
      unitId: `unit-${unit.slug}`,
      unitSlug: unit.slug,
      revisionNum,
      queuedOperationId: `op-${unit.slug}-${revisionNum}`,
    }),
  });
}

/** Builds of the largest unit, sequential, for at least BUILD_BENCH_MS. */
async function benchBuild(units: Unit[]): Promise<BuildResult> {
  const largest = [...units].sort(
    (a, b) => b.content.byteLength - a.content.byteLength,
  )[0];
  if (!largest) throw new Error('no units in test/fixtures/units/');
  const first = await artifactFor(largest, 1);
  let builds = 0;
  const started = performance.now();
  while (performance.now() - started < BUILD_BENCH_MS) {
    await artifactFor(largest, 1);
    builds++;
  }
  const elapsed = performance.now() - started;

  return {
    unit: largest.file,
    contentBytes: largest.content.byteLength,
    layerBytes: first.layer.size,
    builds,
    buildsPerSecond: (builds / elapsed) * 1000,
    meanMs: elapsed / builds,
  };
}

const forwardOnly = (revisionNum: number) => ({
  tag: 'latest',
  shouldMove: (current: ManifestInfo | undefined) =>
    Number(current?.annotations['com.confighub.revision'] ?? 0) < revisionNum,
});

function spread(values: number[]) {
  if (values.length === 0) return { min: 0, max: 0, mean: 0 };
  return {
    min: Math.min(...values),
    max: Math.max(...values),
    mean: values.reduce((a, b) => a + b, 0) / Math.max(1, values.length),
  };
}

async function runScenario(
  name: string,
  description: string,
  registry: TestRegistry,
  credentials: CredentialProvider,
  units: Unit[],
  artifacts: FluxArtifact[],
  revisionNum: number,
  options: Options,
  signal: AbortSignal,
): Promise<ScenarioResult> {
  const latencies: number[] = [];
  const requests: number[] = [];
  const roundTrips: number[] = [];
  const failureSamples: string[] = [];
  let attempted = 0;
  let failures = 0;
  let uploadedBytes = 0;
  registry.tokenServer?.resetCount();

  const started = performance.now();
  const { memory } = await withMemory(() =>
    pool(units.length, options.concurrency, async (i) => {
      const unit = units[i];
      const artifact = artifacts[i];
      // After an interrupt or the deadline, start nothing new.
      if (!unit || !artifact || signal.aborted) return;
      attempted++;
      const repo: Repository = {
        registry: registry.host,
        apiHost: registry.host,
        name: `bench/${unit.slug}`,
      };
      const client = createRegistryClient({ credentials });
      const t0 = performance.now();
      try {
        const result = await client.push(repo, artifact, {
          tags: [`rev${revisionNum}`],
          movingTag: forwardOnly(revisionNum),
          signal,
        });
        latencies.push(performance.now() - t0);
        if (result.digest !== artifact.manifest.digest) {
          throw new Error(
            `${unit.slug}: pushed ${result.digest}, built ${artifact.manifest.digest}`,
          );
        }
        requests.push(result.requests);
        roundTrips.push(result.roundTrips ?? 0);
        uploadedBytes += result.uploadedBytes;
      } catch (error) {
        failures++;
        if (failureSamples.length < 3) {
          failureSamples.push(
            error instanceof Error ? error.message : String(error),
          );
        }
      }
    }),
  );
  const wallMs = performance.now() - started;
  const pushes = attempted - failures;

  return {
    name,
    description,
    pushes,
    failures,
    notStarted: units.length - attempted,
    failureSamples,
    wallMs,
    pushesPerSecond: (pushes / wallMs) * 1000,
    latencyMs: {
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      max: Math.max(0, ...latencies),
    },
    requestsPerPush: spread(requests),
    roundTripsPerPush: spread(roundTrips),
    uploadedBytes,
    tokenRequests: registry.tokenServer?.requests,
    memory,
  };
}

function machine() {
  return {
    node: process.version,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Number((totalmem() / 1024 ** 3).toFixed(1)),
    platform: `${process.platform}-${process.arch}`,
  };
}

function range(r: { min: number; max: number }): string {
  return r.min === r.max ? String(r.min) : `${r.min}–${r.max}`;
}

function render(
  options: Options,
  build: BuildResult,
  scenarios: ScenarioResult[],
): string {
  const m = machine();
  const rows = [
    [
      'scenario',
      'pushes',
      'fail',
      'not run',
      'push/s',
      'p50 ms',
      'p95 ms',
      'req/push',
      'rt/push',
      'uploaded KiB',
      'tokens',
      'RSS MiB before→after (peak)',
      'heap MiB before→after (peak)',
    ],
    ...scenarios.map((s) => [
      s.name,
      String(s.pushes),
      String(s.failures),
      String(s.notStarted),
      s.pushesPerSecond.toFixed(1),
      s.latencyMs.p50.toFixed(1),
      s.latencyMs.p95.toFixed(1),
      range(s.requestsPerPush),
      range(s.roundTripsPerPush),
      kib(s.uploadedBytes),
      s.tokenRequests === undefined ? '-' : String(s.tokenRequests),
      `${mib(s.memory.before.rssBytes)}→${mib(s.memory.after.rssBytes)} (${mib(s.memory.peak.rssBytes)})`,
      `${mib(s.memory.before.heapUsedBytes)}→${mib(s.memory.after.heapUsedBytes)} (${mib(s.memory.peak.heapUsedBytes)})`,
    ]),
  ];
  const lines = [
    `push benchmark: ${options.units} units, concurrency ${options.concurrency}, auth ${options.auth}; ` +
      `Node ${m.node}, ${m.cpus} CPUs (${m.cpuModel}), docker-registry 2.8 on loopback`,
    '',
    table(rows),
    '',
    ...scenarios.map((s) => `  ${s.name}: ${s.description}`),
    '',
    `artifact build (${build.unit}, ${build.contentBytes} B → layer ${build.layerBytes} B): ` +
      `${build.buildsPerSecond.toFixed(0)} builds/s, ${build.meanMs.toFixed(2)} ms each (${build.builds} builds)`,
  ];
  for (const s of scenarios) {
    for (const sample of s.failureSamples) {
      lines.push(`  ${s.name} failure: ${sample}`);
    }
  }

  return `${lines.join('\n')}\n`;
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const progress = (line: string) => {
    if (!options.json) process.stderr.write(`bench: ${line}\n`);
  };

  // A first Ctrl-C stops the pushes and cleans up; a second one exits
  // (the harness's exit hook still kills the registry).
  const controller = new AbortController();
  const stop = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort(new Error('interrupted'));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const deadline = setTimeout(
    () => controller.abort(new Error('timed out')),
    options.timeoutSeconds * 1000,
  );
  deadline.unref();

  const units = await loadUnits(options.units);
  progress('timing artifact builds');
  const build = await benchBuild(units);
  const rev1 = await Promise.all(units.map((u) => artifactFor(u, 1)));
  const rev2 = await Promise.all(units.map((u) => artifactFor(u, 2)));

  progress(`starting docker-registry (auth ${options.auth})`);
  const registry = await startRegistry({ auth: options.auth });
  const scenarios: ScenarioResult[] = [];
  try {
    const user = registry.users[0];
    const credentials: CredentialProvider = () =>
      Promise.resolve(
        user
          ? { kind: 'basic', username: user.username, password: user.password }
          : { kind: 'anonymous' },
      );
    const plan = [
      {
        name: 'new',
        description:
          'new units: rev1 and the moving tag latest (cold: first push to each repository)',
        artifacts: rev1,
        revisionNum: 1,
      },
      {
        name: 'same',
        description:
          'the same revisions again: idempotent re-push, no blob data, latest stays',
        artifacts: rev1,
        revisionNum: 1,
      },
      {
        name: 'next',
        description:
          'next revisions: rev2 with a changed layer, latest moves forward',
        artifacts: rev2,
        revisionNum: 2,
      },
    ];
    for (const step of plan) {
      if (controller.signal.aborted) break;
      progress(`${step.name}: ${units.length} pushes`);
      scenarios.push(
        await runScenario(
          step.name,
          step.description,
          registry,
          credentials,
          units,
          step.artifacts,
          step.revisionNum,
          options,
          controller.signal,
        ),
      );
    }
  } finally {
    await registry.stop();
    clearTimeout(deadline);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }

  if (options.json) {
    process.stdout.write(
      `${JSON.stringify({ machine: machine(), options, build, scenarios }, null, 2)}\n`,
    );
  } else {
    process.stdout.write(render(options, build, scenarios));
  }
  const failed =
    controller.signal.aborted ||
    scenarios.length < 3 ||
    scenarios.some((s) => s.failures > 0);
  if (controller.signal.aborted) {
    process.stderr.write(
      `bench: stopped early (${String((controller.signal.reason as Error).message)})\n`,
    );
  }

  return failed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `bench: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 2;
  },
);
