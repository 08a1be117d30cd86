/**
 * Starts a registry, prints `{ pid, storageDir }` as one JSON line and waits
 * to be killed: the harness test SIGKILLs this process to check that the
 * registry does not outlive it.
 */
import { startRegistry } from '../support/registry.js';

const registry = await startRegistry();
process.stdout.write(
  `${JSON.stringify({ pid: registry.pid, storageDir: registry.storageDir })}\n`,
);
setInterval(() => undefined, 60_000);
