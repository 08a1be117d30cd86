/**
 * Synthesises the bridge stack once for a test file (bundling both
 * functions takes seconds) into a temporary directory the caller removes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Aspects } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigHubFluxOciBridgeStack } from '../../infra/lib/bridge-stack.js';
import type { ConfigHubFluxOciBridgeProps } from '../../infra/lib/props.js';

/**
 * Reads a value at a path inside a template fragment (resources come back
 * untyped): `at(resource, 'Properties', 'Timeout')`.
 */
export function at(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') {
      return undefined;
    }
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** The resources of one type, by logical id, typed as unknown values. */
export function resourcesOf(
  template: Template,
  type: string,
  props?: object,
): Record<string, unknown> {
  return template.findResources(type, props);
}

export interface Synthesised {
  stack: ConfigHubFluxOciBridgeStack;
  template: Template;
  /** The cloud assembly directory (bundled assets live here). */
  outdir: string;
  /** cdk-nag errors and warnings left unsuppressed, as `id: message`. */
  nagFindings: string[];
  cleanup(): void;
}

/** Builds the stack with cdk-nag's AwsSolutions pack applied, and synthesises it. */
export function synthesiseBridge(
  bridge: ConfigHubFluxOciBridgeProps,
  env?: { account: string; region: string },
): Synthesised {
  const outdir = mkdtempSync(path.join(tmpdir(), 'bridge-infra-test-'));
  const app = new App({ outdir });
  const stack = new ConfigHubFluxOciBridgeStack(app, 'BridgeUnderTest', {
    bridge,
    env,
  });
  Aspects.of(stack).add(new AwsSolutionsChecks({ verbose: true }));
  const template = Template.fromStack(stack);
  app.synth();

  const annotations = Annotations.fromStack(stack);
  const nagFindings = [
    ...annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
    ...annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
  ].map((finding) => `${finding.id}: ${JSON.stringify(finding.entry.data)}`);

  return {
    stack,
    template,
    outdir,
    nagFindings,
    cleanup: () => rmSync(outdir, { recursive: true, force: true }),
  };
}
