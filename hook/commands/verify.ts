/**
 * `verify`: the helm test pod. The post-upgrade verdict, once, on demand: convergence to the target
 * version (default: the version the record says the last upgrade went to, else the image tag) and the
 * #6229 signature in the current logs. Read-only: it writes no record and emits no Event.
 */
import type { Report } from '../report.js';
import { usageError } from '../errors.js';
import { parseVersion } from '../policy/version.js';
import { versionOfImage, type ClusterDeps, type ClusterTarget } from './cluster.js';
import { lookAtCluster, readGuardRecord, scanPodLogs } from './observe-cluster.js';
import { finish } from './post-upgrade.js';

export interface VerifyOptions extends ClusterTarget {
  targetVersion?: string;
}

export async function runVerify(opts: VerifyOptions, deps: ClusterDeps): Promise<Report> {
  const started = deps.clock.now();
  const record = await readGuardRecord(deps, opts.release);
  const sts = await deps.kube.getStatefulSet(opts.statefulset);
  const raw = opts.targetVersion ?? versionOfImage(sts.qdrantImage) ?? record?.toVersion;
  if (!raw) {
    throw usageError(
      `no target version: the image ${sts.qdrantImage} has no version tag and there is no upgrade record`,
      'Pass --target-version (chart: upgradeGuard.targetVersion).',
    );
  }
  const target = parseVersion(raw, 'target version').version;
  // A record of an older upgrade still names the right peer ids: identities do not change between upgrades.
  const look = await lookAtCluster(deps, opts.statefulset, target, record, { sts });
  const logs = await scanPodLogs(deps, look.pods, record);
  return finish('verify', opts, deps, { target, record, checks: [...look.convergence, ...logs], started });
}
