/**
 * In-memory stand-ins for the push handler's tests: an ArtifactStore with
 * registry semantics (deleting a manifest removes every tag on it), a
 * reporter that records, a Lambda context with a chosen deadline, and
 * builders for queue records.
 */
import { randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';

import type { Context, SQSRecord } from 'aws-lambda';

import type {
  ActionResult,
  ActionResultReporter,
} from '../../shared/confighub/index.js';
import type { Action, QueuedEvent } from '../../shared/event/types.js';
import type {
  ArtifactStore,
  FluxArtifact,
  ManifestInfo,
  PulledArtifact,
  PushOptions,
  PushResult,
} from '../../shared/oci/index.js';
import type { Repository } from '../../shared/oci/reference.js';

interface StoredManifest {
  annotations: Record<string, string>;
  content: Uint8Array;
}

type Method = 'push' | 'pull' | 'inspect' | 'delete';

/** An ArtifactStore in memory, with failures to inject per method. */
export class MemoryStore implements ArtifactStore {
  readonly blobs = new Set<string>();
  /** `name` → tag → digest. */
  readonly tags = new Map<string, Map<string, string>>();
  readonly manifests = new Map<string, StoredManifest>();
  readonly calls: { method: Method; repo: string; tag?: string }[] = [];
  private readonly failures: { method: Method; error: Error }[] = [];
  /** When set, push waits for the abort signal and rejects with its reason. */
  hangOnPush = false;

  /** The next call of `method` rejects with `error`. */
  failNext(method: Method, error: Error): void {
    this.failures.push({ method, error });
  }

  tagsOf(name: string): Record<string, string> {
    return Object.fromEntries(this.tags.get(name) ?? new Map<string, string>());
  }

  async push(
    repo: Repository,
    artifact: FluxArtifact,
    options: PushOptions,
  ): Promise<PushResult> {
    this.record('push', repo);
    if (this.hangOnPush) {
      await new Promise((_, reject) => {
        const signal = options.signal;
        if (!signal) return;
        signal.addEventListener('abort', () => reject(signal.reason as Error), {
          once: true,
        });
      });
    }
    let uploadedBlobs = 0;
    let uploadedBytes = 0;
    for (const blob of [artifact.config, artifact.layer]) {
      if (!this.blobs.has(blob.digest)) {
        this.blobs.add(blob.digest);
        uploadedBlobs++;
        uploadedBytes += blob.size;
      }
    }
    const digest = artifact.manifest.digest;
    this.manifests.set(digest, {
      annotations: artifact.annotations,
      content: manifestYaml(artifact.layer.bytes),
    });
    const tags = this.tagMap(repo);
    for (const tag of options.tags) tags.set(tag, digest);
    const tagged = [...options.tags];
    let keptTag: PushResult['keptTag'];
    if (options.movingTag) {
      const current = this.info(repo, options.movingTag.tag);
      if (options.movingTag.shouldMove(current)) {
        tags.set(options.movingTag.tag, digest);
        tagged.push(options.movingTag.tag);
      } else if (current) {
        keptTag = { tag: options.movingTag.tag, current };
      }
    }
    return {
      digest,
      tagged,
      ...(keptTag && { keptTag }),
      uploadedBlobs,
      uploadedBytes,
      requests: 0,
    };
  }

  pull(repo: Repository, tag: string): Promise<PulledArtifact | undefined> {
    this.record('pull', repo, tag);
    const info = this.info(repo, tag);
    if (!info) return Promise.resolve(undefined);
    const stored = this.manifests.get(info.digest);
    return Promise.resolve(stored && { ...info, content: stored.content });
  }

  inspect(repo: Repository, tag: string): Promise<ManifestInfo | undefined> {
    this.record('inspect', repo, tag);
    return Promise.resolve(this.info(repo, tag));
  }

  delete(
    repo: Repository,
    tag: string,
  ): Promise<{ digest: string } | undefined> {
    this.record('delete', repo, tag);
    const tags = this.tagMap(repo);
    const digest = tags.get(tag);
    if (digest === undefined) return Promise.resolve(undefined);
    // Registry semantics: the manifest goes, and every tag on it.
    for (const [name, target] of [...tags]) {
      if (target === digest) tags.delete(name);
    }
    this.manifests.delete(digest);
    return Promise.resolve({ digest });
  }

  private info(repo: Repository, tag: string): ManifestInfo | undefined {
    const digest = this.tagMap(repo).get(tag);
    const stored =
      digest === undefined ? undefined : this.manifests.get(digest);
    return digest === undefined || stored === undefined
      ? undefined
      : { digest, annotations: stored.annotations };
  }

  private tagMap(repo: Repository): Map<string, string> {
    let tags = this.tags.get(repo.name);
    if (!tags) {
      tags = new Map();
      this.tags.set(repo.name, tags);
    }
    return tags;
  }

  private record(method: Method, repo: Repository, tag?: string): void {
    this.calls.push({ method, repo: repo.name, ...(tag && { tag }) });
    const index = this.failures.findIndex((f) => f.method === method);
    if (index !== -1) {
      const [failure] = this.failures.splice(index, 1);
      throw failure!.error;
    }
  }
}

/** Reads `manifest.yaml` out of a one-file tar.gz layer. */
function manifestYaml(layer: Uint8Array): Uint8Array {
  const tar = gunzipSync(layer);
  const size = Number.parseInt(
    tar.subarray(124, 136).toString('ascii').replace(/\0.*$/, '').trim(),
    8,
  );
  return new Uint8Array(tar.subarray(512, 512 + size));
}

/** A reporter that records every result, optionally failing each delivery. */
export class RecordingReporter implements ActionResultReporter {
  readonly results: ActionResult[] = [];
  failWith: Error | undefined;

  report(result: ActionResult): Promise<void> {
    this.results.push(result);
    return this.failWith ? Promise.reject(this.failWith) : Promise.resolve();
  }

  /** `Status/Result` per report, the shape most assertions need. */
  get sequence(): string[] {
    return this.results.map((r) => `${r.Status}/${r.Result}`);
  }
}

/** A Lambda context whose deadline is `remainingMs` from now. */
export function lambdaContext(remainingMs = 60_000): Context {
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'push',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:push',
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/push',
    logStreamName: 'test',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export const SPACE_ID = '6f1c2a3e-0d4b-4c55-9a71-2b8e5d7c9f10';
/** Two units with stable ids. */
export const UNITS = {
  frontend: '0b7a1c52-4a8e-4d0f-8f4e-1c2d3e4f5a61',
  backend: '1c8b2d63-5b9f-4e10-9a5f-2d3e4f5a6b72',
} as const;

export interface EventOptions {
  action?: Action;
  unit?: keyof typeof UNITS;
  revision?: number;
  data?: string;
  repository?: string;
  tag?: string | null;
  allowDeletion?: boolean;
  acceptedAt?: string;
}

export const YAML_REV = (n: number): string =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: frontend\ndata:\n  revision: "${n}"\n`;

/** A queued event as the webhook writes it. */
export function queuedEvent(options: EventOptions = {}): QueuedEvent {
  const unit = options.unit ?? 'frontend';
  const revision = options.revision ?? 1;
  const data = options.data ?? YAML_REV(revision);
  const tag = options.tag === undefined ? 'latest' : options.tag;
  return {
    schemaVersion: 1,
    acceptedAt: options.acceptedAt ?? '2026-12-03T10:00:00Z',
    Action: options.action ?? 'Apply',
    Payload: {
      QueuedOperationID: operationId(unit, revision, options.action ?? 'Apply'),
      UnitID: UNITS[unit],
      SpaceID: SPACE_ID,
      UnitSlug: unit,
      ToolchainType: 'Kubernetes/YAML',
      ProviderType: 'FluxOCIWriter',
      RevisionNum: revision,
      Data: Buffer.from(data).toString('base64'),
      LiveState: null,
      TargetParams: {
        Repository: options.repository ?? 'registry.test/confighub',
        ...(tag !== null && { Tag: tag }),
        Provider: 'Generic',
        AllowDeletion: options.allowDeletion ?? false,
      },
      ExtraParams: null,
    },
  };
}

/** A stable operation id per unit, revision and action. */
function operationId(unit: string, revision: number, action: string): string {
  const a = ['Apply', 'Destroy', 'Refresh', 'Import', 'Finalize'].indexOf(
    action,
  );
  const u = unit === 'frontend' ? 1 : 2;
  return `00000000-0000-4000-8000-${String(u * 1e8 + a * 1e6 + revision).padStart(12, '0')}`;
}

/** An SQS record carrying `body` (an event or any text). */
export function sqsRecord(
  body: QueuedEvent | string,
  options: { receiveCount?: number; messageId?: string } = {},
): SQSRecord {
  const event = typeof body === 'string' ? undefined : body;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const attributes: SQSRecord['messageAttributes'] = {};
  if (event) {
    const add = (name: string, value: string, dataType = 'String') => {
      attributes[name] = {
        dataType,
        stringValue: value,
        stringListValues: [],
        binaryListValues: [],
      };
    };
    add('Action', event.Action);
    add('UnitSlug', event.Payload.UnitSlug);
    add('RevisionNum', String(event.Payload.RevisionNum), 'Number');
    add('QueuedOperationID', event.Payload.QueuedOperationID);
  }
  return {
    messageId: options.messageId ?? randomUUID(),
    receiptHandle: randomUUID(),
    body: text,
    attributes: {
      ApproximateReceiveCount: String(options.receiveCount ?? 1),
      SentTimestamp: '1764756000000',
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: '1764756000000',
      MessageGroupId: event?.Payload.UnitID ?? UNITS.frontend,
      MessageDeduplicationId: event?.Payload.QueuedOperationID ?? randomUUID(),
      SequenceNumber: '1',
    },
    messageAttributes: attributes,
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:push.fifo',
    awsRegion: 'us-east-1',
  };
}
