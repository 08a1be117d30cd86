/**
 * Fault injection on the local stack (issue 8): a few hundred events across
 * many units while the registry fails at random, then recovery and DLQ
 * replays. Every accepted event must end as its rev<N> artifact with the
 * digest computed independently from the event, every unit's `latest` on
 * its newest revision, nothing lost and nothing pushed twice.
 *
 * FAULT_SEED=<n> reruns a printed seed.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { queueDepth } from '../../cli/dlq/queues.js';

import { replayMessages, type ReplayReport } from '../../cli/dlq/replay.js';
import { startLocalStack, type LocalStack } from '../../local/stack.js';
import type { ActionResult } from '../../shared/confighub/index.js';
import { silentLog } from '../../shared/log.js';
import { buildFluxArtifact } from '../../shared/oci/index.js';
import { SIGNATURE_HEADER, signBody } from '../../shared/signing/signature.js';
import { startRegistry } from '../support/registry.js';
import type { TestRegistry } from '../support/registry.js';
import { inspectRaw } from '../support/skopeo.js';
import {
  seededRandom,
  startFaultProxy,
  type FaultProxy,
} from './fault-proxy.js';

const FIXTURES = new URL('../fixtures/units/', import.meta.url);
const UNIT_FILES = [
  'boutique.yaml',
  'frontend-deployment.yaml',
  'helm-hooks.yaml',
  'realistic-orphans.yaml',
];
const SPACE_ID = '7d3f0c1e-5b2a-4e8f-9c61-0a1b2c3d4e5f';
const REPOSITORY_PATH = 'faults';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** One event as sent, and what the webhook said. */
interface SentEvent {
  slug: string;
  unitId: string;
  revision: number;
  operationId: string;
  data: Buffer;
  /** The POST's time window: the webhook's acceptedAt lies inside it. */
  sentAfter: number;
  answeredBefore: number;
  status: number;
}

interface Unit {
  slug: string;
  unitId: string;
  base: Buffer;
  /** Revisions in the order they are sent. */
  order: number[];
}

/** The seed of this run: FAULT_SEED, or a fresh one printed for reruns. */
function runSeed(): number {
  const fromEnv = process.env.FAULT_SEED;
  if (fromEnv !== undefined && /^\d+$/.test(fromEnv)) return Number(fromEnv);
  return Math.floor(Math.random() * 2 ** 31);
}

/**
 * `count` units over the fixture YAMLs with 10–12 revisions each; every
 * `outOfOrderEvery`-th unit swaps neighbouring revisions, the last two
 * included, so its newest revision arrives before the one below it.
 */
async function makeUnits(
  count: number,
  random: () => number,
  outOfOrderEvery: number,
): Promise<Unit[]> {
  const bases = await Promise.all(
    UNIT_FILES.map((file) => readFile(new URL(file, FIXTURES))),
  );
  const units: Unit[] = [];
  for (let i = 0; i < count; i++) {
    const revisions = 10 + Math.floor(random() * 3);
    const order = Array.from({ length: revisions }, (_, r) => r + 1);
    if (i % outOfOrderEvery === 0) {
      for (let r = order.length - 1; r > 0; r -= 3) {
        [order[r - 1], order[r]] = [order[r] as number, order[r - 1] as number];
      }
    }
    units.push({
      slug: `fault-unit-${String(i).padStart(2, '0')}`,
      unitId: randomUUID(),
      base: bases[i % bases.length] as Buffer,
      order,
    });
  }
  return units;
}

/** The unit's YAML plus a ConfigMap naming the revision: a digest per revision. */
function revisionData(unit: Unit, revision: number): Buffer {
  return Buffer.concat([
    unit.base,
    Buffer.from(
      `\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${unit.slug}-revision\ndata:\n  revision: "${revision}"\n`,
    ),
  ]);
}

/** Signs and posts one Apply as ConfigHub would. */
async function sendApply(
  stack: LocalStack,
  repository: string,
  unit: Unit,
  revision: number,
): Promise<SentEvent> {
  const operationId = randomUUID();
  const data = revisionData(unit, revision);
  const body = JSON.stringify({
    Action: 'Apply',
    Payload: {
      QueuedOperationID: operationId,
      ToolchainType: 'Kubernetes/YAML',
      ProviderType: 'FluxOCIWriter',
      UnitSlug: unit.slug,
      UnitID: unit.unitId,
      SpaceID: SPACE_ID,
      Data: data.toString('base64'),
      LiveState: null,
      TargetParams: Buffer.from(
        JSON.stringify({
          Repository: repository,
          Tag: 'latest',
          Provider: 'None',
          AllowDeletion: 'false',
        }),
      ).toString('base64'),
      ExtraParams: null,
      RevisionNum: revision,
    },
  });
  const sentAfter = Date.now();
  const response = await fetch(stack.webhookUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      [SIGNATURE_HEADER]: signBody(stack.signingSecret, body),
    },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  await response.arrayBuffer();
  return {
    slug: unit.slug,
    unitId: unit.unitId,
    revision,
    operationId,
    data,
    sentAfter,
    answeredBefore: Date.now(),
    status: response.status,
  };
}

/**
 * Sends every unit's events in rounds: round k holds each unit's k-th
 * event, all at once, so units interleave while each keeps its own order.
 */
async function sendAll(
  stack: LocalStack,
  repository: string,
  units: Unit[],
): Promise<SentEvent[]> {
  const sent: SentEvent[] = [];
  const rounds = Math.max(...units.map((u) => u.order.length));
  for (let k = 0; k < rounds; k++) {
    const round = units.flatMap((unit) => {
      const revision = unit.order[k];
      return revision === undefined
        ? []
        : [sendApply(stack, repository, unit, revision)];
    });
    sent.push(...(await Promise.all(round)));
  }
  return sent;
}

/** The manifest's exact bytes and digest, read straight from the registry. */
async function registryManifest(
  registry: TestRegistry,
  name: string,
  tag: string,
): Promise<
  { digest: string; annotations: Record<string, string> } | undefined
> {
  const response = await fetch(`${registry.url}/v2/${name}/manifests/${tag}`, {
    headers: { accept: OCI_MANIFEST },
    signal: AbortSignal.timeout(10_000),
  });
  if (response.status === 404) return undefined;
  assert.equal(response.status, 200, `GET ${name}:${tag}`);
  const raw = Buffer.from(await response.arrayBuffer());
  const json = JSON.parse(raw.toString('utf8')) as {
    annotations?: Record<string, string>;
  };
  return {
    digest: `sha256:${createHash('sha256').update(raw).digest('hex')}`,
    annotations: json.annotations ?? {},
  };
}

async function registryTags(
  registry: TestRegistry,
  name: string,
): Promise<string[]> {
  const response = await fetch(`${registry.url}/v2/${name}/tags/list`, {
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(response.status, 200, `GET ${name} tags`);
  return ((await response.json()) as { tags: string[] | null }).tags ?? [];
}

/**
 * The digest this event's artifact must have, built from the event alone
 * with the annotation values spelled out here, not taken from the push
 * function. Only `created` comes from the registry, and only after it was
 * checked to lie inside the POST's time window.
 */
async function expectedDigest(
  event: SentEvent,
  created: string,
): Promise<string> {
  const dataHex = createHash('sha256').update(event.data).digest('hex');
  const artifact = await buildFluxArtifact({
    content: event.data,
    created,
    source: `confighub://space/${SPACE_ID}/unit/${event.unitId}`,
    revision: `rev${event.revision}@sha256:${dataHex}`,
    annotations: {
      'com.confighub.space.id': SPACE_ID,
      'com.confighub.unit.id': event.unitId,
      'com.confighub.unit.slug': event.slug,
      'com.confighub.revision': String(event.revision),
      'com.confighub.operation.id': event.operationId,
    },
  });
  return artifact.manifest.digest;
}

/** Replays the whole DLQ and waits, until it is empty; at most `rounds` times. */
async function replayUntilEmpty(
  stack: LocalStack,
  rounds: number,
): Promise<ReplayReport[]> {
  const reports: ReplayReport[] = [];
  for (let round = 0; round < rounds; round++) {
    const depth = await queueDepth(stack.queue.sqs, stack.queue.dlqUrl);
    if (depth === 0) return reports;
    reports.push(
      await replayMessages(stack.queue.sqs, {
        queueUrl: stack.queue.queueUrl,
        dlqUrl: stack.queue.dlqUrl,
        visibilityTimeoutSeconds: 60,
      }),
    );
    await stack.idle({ timeoutMs: 30_000 });
  }
  const left = await queueDepth(stack.queue.sqs, stack.queue.dlqUrl);
  assert.equal(
    left,
    0,
    `the DLQ still holds ${left} message(s) after ${rounds} replays`,
  );
  return reports;
}

function outputsDigest(result: ActionResult): string | undefined {
  if (result.Outputs === undefined) return undefined;
  const outputs = JSON.parse(
    Buffer.from(result.Outputs, 'base64').toString('utf8'),
  ) as { Digest: string; URL: string }[];
  const digests = new Set(outputs.map((o) => o.Digest.split('@')[1]));
  assert.equal(digests.size, 1, 'every output names the same digest');
  return [...digests][0];
}

/** A retry ahead: an attempt failed and SQS will deliver the message again. */
function isRetriedAttempt(result: ActionResult): boolean {
  return (
    result.Status === 'Progressing' &&
    /^attempt \d+ of \d+ failed/.test(result.Message)
  );
}

/** What a failure message says went wrong, in a few words. */
function failureKind(message: string): string {
  const network = /network error \((\w+)\)/.exec(message);
  if (network) return network[1] as string;
  const status = /got (\d{3})(?: ([A-Z_]+))?/.exec(message);
  if (status) return [status[1], status[2]].filter(Boolean).join(' ');
  return message.slice(0, 60);
}

function tally(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

/** Registry, fault proxy and local stack, started and stopped together. */
interface Rig {
  registry: TestRegistry;
  proxy: FaultProxy;
  stack: LocalStack;
  stop(): Promise<void>;
}

async function startRig(
  seed: number,
  queue: { maxReceiveCount: number },
): Promise<Rig> {
  const registry = await startRegistry({ auth: 'none' });
  const proxy = await startFaultProxy({
    target: registry.host,
    seed,
    outageMs: [500, 1500],
  });
  const stateDir = await mkdtemp(join(tmpdir(), 'fault-injection-'));
  const stop = async (stack?: LocalStack): Promise<void> => {
    await stack?.stop();
    await proxy.close();
    await registry.stop();
    await rm(stateDir, { recursive: true, force: true });
  };
  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      registry: proxy.host,
      stateDir,
      visibilityTimeoutSeconds: 1,
      maxReceiveCount: queue.maxReceiveCount,
      // Short waits between a request's tries, and Lambda-like
      // concurrency across units, keep the run well under a minute.
      registryRetry: { retries: 3, minDelayMs: 20, maxDelayMs: 1_000 },
      batchSize: 2,
      concurrency: 10,
      log: silentLog,
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { registry, proxy, stack, stop: () => stop(stack) };
}

describe('local stack', () => {
  describe('when a few hundred events meet a registry failing at random, then recovery and DLQ replays', () => {
    const seed = runSeed();
    let rig: Rig;

    before(async () => {
      rig = await startRig(seed, { maxReceiveCount: 3 });
    });
    after(() => rig?.stop());

    it(
      'pushes every accepted event exactly once with its digest, loses none, and leaves latest on each newest revision',
      { timeout: 240_000 },
      async (t) => {
        t.diagnostic(
          `fault injection seed: ${seed} (rerun with FAULT_SEED=${seed})`,
        );
        const { registry, proxy, stack } = rig;
        const random = seededRandom(seed ^ 0x5eed);
        const units = await makeUnits(20, random, 4);
        const repository = `${proxy.host}/${REPOSITORY_PATH}`;
        const phases: Record<string, number> = {};
        let mark = performance.now();
        const phase = (name: string): void => {
          const now = performance.now();
          phases[name] = Math.round(now - mark);
          mark = now;
        };

        // Faults on while the events arrive and until the queue is done.
        proxy.startFaults();
        const sent = await sendAll(stack, repository, units);
        const accepted = sent.filter((e) => e.status === 202);
        phase('sendMs');
        await stack.idle({ timeoutMs: 120_000 });
        phase('faultsMs');
        await proxy.recover();
        const parked = await queueDepth(stack.queue.sqs, stack.queue.dlqUrl);
        const reports = await replayUntilEmpty(stack, 5);
        const replayed = reports.reduce((n, r) => n + r.moved.length, 0);
        phase('replayMs');

        const completed = new Map<string, ActionResult[]>();
        for (const result of stack.results) {
          if (result.Result !== 'ApplyCompleted') continue;
          const list = completed.get(result.QueuedOperationID) ?? [];
          list.push(result);
          completed.set(result.QueuedOperationID, list);
        }

        // Each accepted event: one final ApplyCompleted, and its rev<N>
        // holding the artifact built independently from the event.
        for (const event of accepted) {
          const name = `${REPOSITORY_PATH}/${event.slug}`;
          const where = `${name}:rev${event.revision} (${event.operationId})`;
          const finals = completed.get(event.operationId) ?? [];
          assert.equal(finals.length, 1, `${where}: ApplyCompleted results`);
          const manifest = await registryManifest(
            registry,
            name,
            `rev${event.revision}`,
          );
          assert.ok(manifest, `${where} is missing from the registry`);
          const created =
            manifest.annotations['org.opencontainers.image.created'] ?? '';
          const createdAt = Date.parse(created);
          assert.ok(
            createdAt >= event.sentAfter - 1 &&
              createdAt <= event.answeredBefore + 1,
            `${where}: created ${created} lies outside its POST`,
          );
          assert.equal(
            manifest.digest,
            await expectedDigest(event, created),
            `${where}: digest`,
          );
          assert.equal(
            outputsDigest(finals[0] as ActionResult),
            manifest.digest,
            `${where}: the digest reported to ConfigHub`,
          );
        }

        // Each unit: exactly its accepted revisions, and latest on the newest.
        let revTags = 0;
        for (const unit of units) {
          const name = `${REPOSITORY_PATH}/${unit.slug}`;
          const mine = accepted.filter((e) => e.slug === unit.slug);
          const revs = (await registryTags(registry, name)).filter((t) =>
            /^rev\d+$/.test(t),
          );
          revTags += revs.length;
          assert.deepEqual(
            revs.sort(),
            mine.map((e) => `rev${e.revision}`).sort(),
            `${name}: rev tags`,
          );
          const newest = Math.max(...mine.map((e) => e.revision));
          const latest = await registryManifest(registry, name, 'latest');
          const top = await registryManifest(registry, name, `rev${newest}`);
          assert.equal(
            latest?.annotations['com.confighub.revision'],
            String(newest),
            `${name}:latest must be on revision ${newest} (sent as ${unit.order.join(',')})`,
          );
          assert.equal(latest?.digest, top?.digest, `${name}:latest digest`);
        }

        // An independent client agrees on a sample of digests.
        for (const event of accepted.filter((_, i) => i % 40 === 0)) {
          const ref = `${registry.host}/${REPOSITORY_PATH}/${event.slug}:rev${event.revision}`;
          const finals = completed.get(event.operationId) ?? [];
          assert.equal(
            (await inspectRaw(ref)).digest,
            outputsDigest(finals[0] as ActionResult),
            `skopeo inspect --raw ${ref}`,
          );
        }
        phase('verifyMs');

        const retried = stack.results.filter(isRetriedAttempt);
        const failed = stack.results.filter((r) => r.Status === 'Failed');
        const keptLatest = [...completed.values()]
          .flat()
          .filter((r) => r.Message.includes('never moves backwards')).length;
        t.diagnostic(
          JSON.stringify(
            {
              seed,
              sent: sent.length,
              accepted: accepted.length,
              transientFailuresSeen: retried.length + failed.length,
              retriedAttempts: tally(
                retried.map((r) => failureKind(r.Message)),
              ),
              failedAndParked: tally(failed.map((r) => failureKind(r.Message))),
              parkedInDlq: parked,
              replayRounds: reports.length,
              replayed,
              pushed: completed.size,
              distinctRevTags: revTags,
              keptLatest,
              faults: proxy.counts,
              ...phases,
            },
            null,
            1,
          ),
        );
        assert.equal(accepted.length, sent.length, 'the webhook accepts all');
        assert.equal(revTags, accepted.length, 'one rev tag per event');
        assert.equal(completed.size, accepted.length, 'one push per event');
        assert.ok(retried.length > 0, 'the faults made attempts fail');
        assert.ok(parked > 0, 'the faults parked events in the DLQ');
        assert.ok(keptLatest > 0, 'out-of-order revisions kept latest');
      },
    );
  });

  describe('when the DLQ holds several units and one unit is replayed', () => {
    let rig: Rig;

    before(async () => {
      // One receive: a failure is parked in the DLQ at once.
      rig = await startRig(runSeed(), { maxReceiveCount: 1 });
    });
    after(() => rig?.stop());

    it(
      'moves exactly that unit back, in order, and pushes it; the others stay parked',
      { timeout: 60_000 },
      async () => {
        const { registry, proxy, stack } = rig;
        const units = (await makeUnits(3, seededRandom(1), 100)).map((u) => ({
          ...u,
          order: [1, 2, 3],
        }));
        const [chosen, ...others] = units as [Unit, ...Unit[]];
        await proxy.goDown();
        const sent = await sendAll(
          stack,
          `${proxy.host}/${REPOSITORY_PATH}`,
          units,
        );
        assert.ok(sent.every((e) => e.status === 202));
        await stack.idle({ timeoutMs: 30_000 });
        assert.equal(await queueDepth(stack.queue.sqs, stack.queue.dlqUrl), 9);
        await proxy.recover();

        const report = await replayMessages(stack.queue.sqs, {
          queueUrl: stack.queue.queueUrl,
          dlqUrl: stack.queue.dlqUrl,
          selection: { unit: chosen.slug },
          visibilityTimeoutSeconds: 60,
        });
        await stack.idle({ timeoutMs: 30_000 });

        assert.deepEqual(
          report.moved.map((e) => `${e.unitSlug}:${e.revision}`),
          [1, 2, 3].map((r) => `${chosen.slug}:${r}`),
        );
        assert.equal(report.failed.length + report.heldBack.length, 0);
        const name = `${REPOSITORY_PATH}/${chosen.slug}`;
        assert.deepEqual((await registryTags(registry, name)).sort(), [
          'latest',
          'rev1',
          'rev2',
          'rev3',
        ]);
        const latest = await registryManifest(registry, name, 'latest');
        assert.equal(latest?.annotations['com.confighub.revision'], '3');
        for (const event of sent.filter((e) => e.slug === chosen.slug)) {
          const completed = stack.results.filter(
            (r) =>
              r.QueuedOperationID === event.operationId &&
              r.Result === 'ApplyCompleted',
          );
          assert.equal(completed.length, 1, `rev${event.revision} pushed once`);
        }
        for (const other of others) {
          const response = await fetch(
            `${registry.url}/v2/${REPOSITORY_PATH}/${other.slug}/tags/list`,
          );
          await response.arrayBuffer();
          assert.equal(response.status, 404, `${other.slug} was not pushed`);
        }
        assert.equal(await queueDepth(stack.queue.sqs, stack.queue.dlqUrl), 6);
      },
    );
  });
});
