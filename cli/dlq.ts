/**
 * `npm run dlq -- <command>`: list the dead-letter queue, replay all or part
 * of it. See `npm run dlq -- --help`.
 */
import { runDlqCli } from './dlq/main.js';

const interrupted = new AbortController();
process.once('SIGINT', () => {
  interrupted.abort();
});

process.exitCode = await runDlqCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: interrupted.signal,
});
