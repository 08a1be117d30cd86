/**
 * `npm run demo`: runs the demo (see demo-run.ts) and exits non-zero when
 * any check fails.
 */
import { parseArgs } from 'node:util';

import { runDemo } from './demo-run.js';

const { values } = parseArgs({
  options: {
    registry: { type: 'string' },
    layout: { type: 'string' },
    verbose: { type: 'boolean', short: 'v' },
  },
  strict: true,
});

const outcome = await runDemo({
  ...(values.registry !== undefined && { registry: values.registry }),
  ...(values.layout !== undefined && { layoutDir: values.layout }),
  logLevel: values.verbose === true ? 'info' : 'warn',
});
process.exit(outcome.failures.length === 0 ? 0 : 1);
