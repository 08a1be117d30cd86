/**
 * `npm start`: runs the local stack until interrupted. Prints where every
 * part listens, then `ready: webhook <url>`.
 */
import { parseArgs } from 'node:util';

import { consoleLog, type LogLevel } from './log.js';
import { startLocalStack } from './stack.js';

const USAGE = `usage: npm start -- [options]

  --port N                 webhook port on 127.0.0.1 (default: a free port)
  --registry HOST:PORT     push every artifact to this registry
  --layout DIR             write OCI image layouts under DIR instead
  --confighub-url URL      send ActionResults to ConfigHub at URL
  --worker-id ID           worker id for ConfigHub's result endpoint
  --visibility-timeout S   seconds before a failed message is retried (2)
  --max-receive-count N    receives before a message goes to the DLQ (5)
  --state-dir DIR          where stack.json and secrets.json live (.local)
  --log-level LEVEL        debug, info, warn or error (info)
  -h, --help               this text

Without --registry or --layout, docker-registry is started on a free
loopback port when installed, else layouts are written to .local/layout.`;

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    registry: { type: 'string' },
    layout: { type: 'string' },
    'confighub-url': { type: 'string' },
    'worker-id': { type: 'string' },
    'visibility-timeout': { type: 'string' },
    'max-receive-count': { type: 'string' },
    'state-dir': { type: 'string' },
    'log-level': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});

if (values.help === true) {
  console.log(USAGE);
  process.exit(0);
}

function integer(
  flag: string,
  text: string | undefined,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    console.error(
      `--${flag} ${JSON.stringify(text)}: expected a whole number from ${min} to ${max}`,
    );
    process.exit(2);
  }
  return value;
}

const levels = ['debug', 'info', 'warn', 'error'];
const level = values['log-level'] ?? 'info';
if (!levels.includes(level)) {
  console.error(
    `--log-level ${JSON.stringify(level)}: expected one of ${levels.join(', ')}`,
  );
  process.exit(2);
}
if (values.registry !== undefined && values.layout !== undefined) {
  console.error('--registry and --layout exclude each other: pick one');
  process.exit(2);
}
if (
  values.registry !== undefined &&
  !/^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:]+\](:\d+)?$/.test(values.registry)
) {
  console.error(
    `--registry ${JSON.stringify(values.registry)}: expected HOST:PORT, e.g. 127.0.0.1:5000`,
  );
  process.exit(2);
}

const port = integer('port', values.port, 0, 65535);
const visibility = integer(
  'visibility-timeout',
  values['visibility-timeout'],
  0,
);
const maxReceive = integer('max-receive-count', values['max-receive-count'], 1);
const stack = await startLocalStack({
  log: consoleLog('local', level as LogLevel),
  ...(port !== undefined && { port }),
  ...(values.registry !== undefined && { registry: values.registry }),
  ...(values.layout !== undefined && { layoutDir: values.layout }),
  ...(values['confighub-url'] !== undefined && {
    confighubUrl: values['confighub-url'],
  }),
  ...(values['worker-id'] !== undefined && { workerId: values['worker-id'] }),
  ...(visibility !== undefined && { visibilityTimeoutSeconds: visibility }),
  ...(maxReceive !== undefined && { maxReceiveCount: maxReceive }),
  ...(values['state-dir'] !== undefined && { stateDir: values['state-dir'] }),
}).catch((error: unknown) => {
  const code = (error as NodeJS.ErrnoException).code;
  console.error(
    code === 'EADDRINUSE'
      ? `--port ${port}: the port is in use; pick another or leave --port out for a free one`
      : `the local stack could not start: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(1);
});

const target =
  stack.target.kind === 'registry'
    ? `registry ${stack.target.host}${stack.target.managed ? ' (docker-registry, started here)' : ''}`
    : `OCI layouts under ${stack.target.dir}`;
console.log(
  `queue: ${stack.queue.queueUrl} (endpoint ${stack.queue.endpoint})`,
);
console.log(`dlq: ${stack.queue.dlqUrl}`);
console.log(`artifacts: ${target}`);
console.log(
  `results: ${values['confighub-url'] ?? 'logged here (no --confighub-url)'}`,
);
console.log(
  `state: ${stack.stateDir}/stack.json, ${stack.stateDir}/secrets.json`,
);
console.log(`ready: webhook ${stack.webhookUrl}`);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  console.log('stopping…');
  void stack.stop().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
