/**
 * The deployable stack: the bridge construct plus the outputs an operator
 * needs after `cdk deploy` (where to point ConfigHub, which secrets to fill).
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import {
  ConfigHubFluxOciBridge,
  type ConfigHubFluxOciBridgeProps,
} from './confighub-flux-oci-bridge.js';

export interface ConfigHubFluxOciBridgeStackProps extends StackProps {
  /** Settings of the bridge construct. */
  readonly bridge?: ConfigHubFluxOciBridgeProps;
}

/** One stack holding one bridge, with its outputs. */
export class ConfigHubFluxOciBridgeStack extends Stack {
  readonly bridge: ConfigHubFluxOciBridge;

  constructor(
    scope: Construct,
    id: string,
    props: ConfigHubFluxOciBridgeStackProps = {},
  ) {
    super(scope, id, {
      description:
        'ConfigHub Flux OCI bridge: publishes ConfigHub units as Flux OCI artifacts',
      ...props,
    });
    const bridge = new ConfigHubFluxOciBridge(this, 'Bridge', props.bridge);
    this.bridge = bridge;

    const outputs: Record<string, { value: string; description: string }> = {
      WebhookUrl: {
        value: bridge.webhookUrl,
        description: 'Where ConfigHub posts signed events (POST)',
      },
      QueueUrl: {
        value: bridge.queue.queueUrl,
        description: 'FIFO queue of accepted events',
      },
      DeadLetterQueueUrl: {
        value: bridge.deadLetterQueue.queueUrl,
        description: 'Failed events; inspect and replay with npm run dlq',
      },
      SigningSecretArn: {
        value: bridge.signingSecret.secretArn,
        description: 'Webhook HMAC key (generated)',
      },
      WorkerSecretArn: {
        value: bridge.workerSecret.secretArn,
        description: 'ConfigHub worker secret: fill in',
      },
      DefaultRegistrySecretArn: {
        value: bridge.defaultRegistrySecret.secretArn,
        description: 'Default registry credentials: fill in',
      },
      AlarmTopicArn: {
        value: bridge.alarmTopic.topicArn,
        description: 'Subscribe to receive alarms',
      },
    };
    for (const [name, output] of Object.entries(outputs)) {
      new CfnOutput(this, name, output);
    }
  }
}
