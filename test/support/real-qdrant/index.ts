/**
 * The real-Qdrant tier's entry points: the binary resolver, the loopback cluster harness, and the rule for a
 * missing binary. Without QDRANT_BIN_DIR (a laptop) the tests skip and the tier's summary says so; with it set
 * under CI or QDRANT_BIN_REQUIRED (.ci/run sets both variables) a missing version is a failure, so CI can never pass
 * without having run them.
 */
import { availableQdrantVersions, qdrantBinDir } from './binaries.js';

export * from './binaries.js';
export * from './cluster.js';

export const HOW_TO_ENABLE =
  'set QDRANT_BIN_DIR to a folder holding qdrant-v<version> executables, v<version>/qdrant folders or qdrant-v<version>.xz (see README, "Real Qdrant binaries")';

/** The versions from `needed` that QDRANT_BIN_DIR lacks. */
export function missingVersions(needed: readonly string[]): string[] {
  const have = new Set(availableQdrantVersions());
  return needed.filter((v) => !have.has(v));
}

/**
 * Call in a `before` hook: skips the suite when a version is missing, or fails it when QDRANT_BIN_DIR is set under
 * CI or with QDRANT_BIN_REQUIRED (.ci/run sets it): the binaries were promised, so their absence is a broken setup.
 */
export function requireQdrantVersions(ctx: Mocha.Context, needed: readonly string[]): void {
  const missing = missingVersions(needed);
  if (missing.length === 0) return;
  const dir = qdrantBinDir();
  const what = dir ? `QDRANT_BIN_DIR=${dir} lacks Qdrant ${missing.join(', ')}` : 'QDRANT_BIN_DIR is not set';
  if ((process.env.CI || process.env.QDRANT_BIN_REQUIRED) && dir) {
    throw new Error(`${what}, and CI must run the real-Qdrant tier: ${HOW_TO_ENABLE}`);
  }
  console.log(`    real-Qdrant tests skipped: ${what}; ${HOW_TO_ENABLE}`);
  ctx.skip();
}

/**
 * For an `after` hook: stops every peer by pid; removes the cluster's folder when every test of the suite passed,
 * keeps it (and says where) otherwise, so the real logs of a failure can be read.
 */
export async function stopCluster(ctx: Mocha.Context, c: { stopAll(remove?: boolean): Promise<void>; root: string } | undefined): Promise<void> {
  if (!c) return;
  const suite = ctx.test?.parent;
  const allPassed = suite ? suite.tests.every((t) => t.state === 'passed') : false;
  await c.stopAll(allPassed);
  if (!allPassed) console.log(`    real Qdrant logs and storage kept in ${c.root}`);
}
