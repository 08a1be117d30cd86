/**
 * `npm run demo`: runs the demo (see demo-run.ts) and exits non-zero when
 * any check fails.
 */
import { parseArgs } from 'node:util';

import { runDemo } from './demo-run.js';

const USAGE = `usage: npm run demo -- [options]

  --registry HOST:PORT   push to this registry instead of starting one
  --layout DIR           write OCI image layouts under DIR instead
  -v, --verbose          show the local stack's own log
  -h, --help             this text`;

let values: {
  registry?: string;
  layout?: string;
  verbose?: boolean;
  help?: boolean;
};
try {
  ({ values } = parseArgs({
    options: {
      registry: { type: 'string' },
      layout: { type: 'string' },
      verbose: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }));
} catch (error) {
  console.error(
    `demo: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`,
  );
  process.exit(2);
}
if (values.help === true) {
  console.log(USAGE);
  process.exit(0);
}

const outcome = await runDemo({
  ...(values.registry !== undefined && { registry: values.registry }),
  ...(values.layout !== undefined && { layoutDir: values.layout }),
  logLevel: values.verbose === true ? 'info' : 'warn',
});
process.exit(outcome.failures.length === 0 ? 0 : 1);
