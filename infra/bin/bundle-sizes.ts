/**
 * Prints the bundled size of both functions as `cdk synth` builds them
 * (same construct, same esbuild options), compressed as Lambda receives
 * them, plus the packages that weigh most in each bundle.
 *
 *   npx tsx infra/bin/bundle-sizes.ts
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { App } from 'aws-cdk-lib';
import { build } from 'esbuild';
import { ConfigHubFluxOciBridgeStack } from '../lib/bridge-stack.js';
import { FUNCTION_ENTRIES } from '../lib/confighub-flux-oci-bridge.js';

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/** Bytes of the bundle per npm package (or "(project)"), largest first. */
async function heaviestPackages(entry: string): Promise<[string, number][]> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    mainFields: ['module', 'main'],
    minify: true,
    write: false,
    metafile: true,
    outfile: 'index.mjs',
    logLevel: 'silent',
  });
  const byPackage = new Map<string, number>();
  for (const output of Object.values(result.metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      const name = match?.[1] ?? '(project)';
      byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
    }
  }
  return [...byPackage.entries()].sort((a, b) => b[1] - a[1]);
}

const outdir = mkdtempSync(path.join(tmpdir(), 'bridge-bundle-sizes-'));
try {
  const app = new App({ outdir });
  const stack = new ConfigHubFluxOciBridgeStack(app, 'BundleSizes');
  app.synth();

  const functions = {
    webhook: stack.bridge.webhookFunction,
    push: stack.bridge.pushFunction,
  };
  for (const [name, fn] of Object.entries(functions)) {
    const code = (
      stack.resolve(
        (fn.node.defaultChild as { code?: { s3Key?: string } }).code,
      ) as { s3Key: string }
    ).s3Key;
    const asset = path.join(outdir, `asset.${code.replace(/\.zip$/, '')}`);
    const js = path.join(asset, 'index.mjs');
    const map = path.join(asset, 'index.mjs.map');
    const zipped =
      deflateRawSync(readFileSync(js), { level: 9 }).length +
      deflateRawSync(readFileSync(map), { level: 9 }).length;
    console.log(
      `${name}: index.mjs ${kib(statSync(js).size)}, index.mjs.map ${kib(statSync(map).size)}, deployed zip ≈ ${kib(zipped)}`,
    );
    const entry = FUNCTION_ENTRIES[name as keyof typeof FUNCTION_ENTRIES];
    const heaviest = (await heaviestPackages(entry)).slice(0, 8);
    for (const [pkg, bytes] of heaviest) {
      console.log(`  ${kib(bytes).padStart(10)}  ${pkg}`);
    }
  }
} finally {
  rmSync(outdir, { recursive: true, force: true });
}
