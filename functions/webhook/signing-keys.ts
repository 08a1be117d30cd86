/**
 * The webhook's signing secrets: the current and the previous version of one
 * Secrets Manager secret, so a rotation needs no downtime. The current
 * version is cached by the {@link SecretSource}; the previous one is cached
 * here, because the Secrets Manager source never caches a non-current stage
 * and one call per request would cost money and invite throttling. A
 * refresh that bypasses both caches happens at most once a minute, so
 * requests with bad signatures cannot drive calls to Secrets Manager.
 */
import type { Log } from '../../shared/log.js';
import {
  SecretSourceError,
  type SecretSource,
  type SecretStage,
} from '../../shared/secrets/source.js';
import type { SigningSecret } from '../../shared/signing/signature.js';

/** How long the previous version is kept before it is read again. */
const PREVIOUS_MAX_AGE_MS = 300_000;
/** Least time between two refreshes that bypass the caches. */
const MIN_REFRESH_INTERVAL_MS = 60_000;

export interface SigningKeys {
  /** Secrets to try, current first; empty when none could be read. */
  secrets: SigningSecret[];
  /** True when a version could not be read for a reason other than absence. */
  unavailable: boolean;
}

export interface SigningKeyring {
  /** The keys, from the caches unless `refresh` is set. */
  get(options?: { refresh?: boolean }): Promise<SigningKeys>;
  /** Whether a refresh is allowed now; claims it when it is. */
  claimRefresh(): boolean;
}

export function createSigningKeyring(options: {
  source: SecretSource;
  secretId: string;
  log: Log;
  now: () => Date;
}): SigningKeyring {
  const { source, secretId, log, now } = options;
  let previous: { value: SigningSecret | undefined; at: number } | undefined;
  let lastRefresh = Number.NEGATIVE_INFINITY;

  async function read(
    stage: SecretStage,
    forceFetch: boolean,
  ): Promise<{ value?: SigningSecret; unavailable: boolean }> {
    try {
      const secret = await source.get(secretId, { stage, forceFetch });
      const value = secret.text ?? secret.binary;
      if (value === undefined || value.length === 0) {
        log.error('webhook: signing secret is empty', { secretId, stage });
        return { unavailable: true };
      }
      return { value, unavailable: false };
    } catch (error) {
      if (error instanceof SecretSourceError && error.code === 'NOT_FOUND') {
        // Normal for AWSPREVIOUS before the first rotation.
        log.debug('webhook: signing secret version absent', {
          secretId,
          stage,
        });
        return { unavailable: stage === 'AWSCURRENT' };
      }
      log.error('webhook: cannot read signing secret', {
        secretId,
        stage,
        error: error instanceof Error ? error.name : 'unknown',
        code: error instanceof SecretSourceError ? error.code : undefined,
      });
      return { unavailable: true };
    }
  }

  return {
    async get({ refresh = false } = {}) {
      const at = now().getTime();
      const previousStale =
        refresh ||
        previous === undefined ||
        at - previous.at > PREVIOUS_MAX_AGE_MS;
      const [current, previousRead] = await Promise.all([
        read('AWSCURRENT', refresh),
        previousStale ? read('AWSPREVIOUS', true) : undefined,
      ]);
      if (previousRead !== undefined && !previousRead.unavailable) {
        previous = { value: previousRead.value, at };
      }

      const secrets: SigningSecret[] = [];
      if (current.value !== undefined) secrets.push(current.value);
      if (previous?.value !== undefined) secrets.push(previous.value);
      return {
        secrets,
        unavailable: current.unavailable || previousRead?.unavailable === true,
      };
    },

    claimRefresh() {
      const at = now().getTime();
      if (at - lastRefresh < MIN_REFRESH_INTERVAL_MS) return false;
      lastRefresh = at;
      return true;
    },
  };
}
