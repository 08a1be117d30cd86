/**
 * The CDK app: one bridge stack, configured from context
 * (`npx cdk deploy -c ecrRepositoryPrefixes=confighub -c alarmEmail=…`).
 * Synthesises offline: no lookups, environment-agnostic unless `account`
 * and `region` are given.
 */
import { App } from 'aws-cdk-lib';
import { ConfigHubFluxOciBridgeStack } from '../lib/bridge-stack.js';
import {
  bridgePropsFromContext,
  stackSettingsFromContext,
} from '../lib/context.js';

const app = new App();
const read = (key: string): unknown => app.node.tryGetContext(key);
const { stackName, env } = stackSettingsFromContext(read);

new ConfigHubFluxOciBridgeStack(app, stackName, {
  env,
  bridge: bridgePropsFromContext(read),
});
app.synth();
