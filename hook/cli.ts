/**
 * qdrant-upgrade-guard CLI (README.md "CLI reference"). Parses, calls one command function
 * with a typed options object, renders its Report, and is the only place that maps results to exit codes:
 * 0 pass, 1 a check refused or failed, 2 usage, 3 infrastructure (or an internal error, said to be a bug).
 *
 * Each command is one small `defineCommand` block in COMMANDS. Command modules are imported lazily inside
 * `run`, so `inspect` does not pay for what `pre-upgrade` needs (e.g. @kubernetes/client-node).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import pkg from '../package.json' with { type: 'json' };
import { GuardError, exitCodeOfError, usageError, wrapError } from './errors.js';
import { exitCodeOf, render, type Report } from './report.js';

export type OutputFormat = 'text' | 'json';

export interface CliContext {
  env: NodeJS.ProcessEnv;
  stdout(text: string): void;
  stderr(text: string): void;
}

export interface GlobalArgs {
  output: OutputFormat;
  maxStateBytes?: string;
}

/** What a command block receives: its own flags (camelCase) plus the global ones. */
export type Args = GlobalArgs & Record<string, unknown>;

export interface CommandSpec {
  command: string;
  describe: string;
  builder(y: Argv<GlobalArgs>): Argv<GlobalArgs>;
  run(args: Args, ctx: CliContext): Promise<Report>;
  /** Runs after `run`, with its report or its error (e.g. the termination message). */
  after?(args: Args, ctx: CliContext, outcome: { report?: Report; error?: GuardError }): Promise<void>;
  /** Overrides the verdict's exit code (post-upgrade --on-failure report exits 0 on a failure). */
  exitCode?(args: Args, report: Report): number;
}

export function defineCommand(spec: CommandSpec): CommandSpec {
  return spec;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * A whole-number flag, read from its text (declared `type: 'string'`, so yargs does not turn `abc` into NaN or
 * `1e400` into Infinity): digits only, within [min, max], else a usage error naming the accepted range.
 */
function wholeNumber(v: unknown, flag: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const text = String(v);
  const n = /^(0|[1-9][0-9]{0,15})$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) {
    throw usageError(`${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`, 'Run qdrant-upgrade-guard <command> --help.');
  }
  return n;
}

/** A Qdrant version flag: semver as Qdrant tags it (`1.13.5`, `v1.13.5`, `1.14.0-rc1`), nothing around it. */
function versionFlag(v: unknown, flag: string): string | undefined {
  if (v === undefined) return undefined;
  const text = String(v);
  if (text.length > 64 || !/^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/.test(text)) {
    throw usageError(`${flag} must be a Qdrant version such as 1.13.5 (semver, at most 64 characters, nothing before or after it), got ${JSON.stringify(text.slice(0, 80))}`);
  }
  return text;
}

/** The largest --max-state-bytes: the reader holds the file in memory (README "Restore and its limits"). */
const MAX_STATE_BYTES_CEILING = 1024 * 1024 * 1024;

export const inspectCommand = defineCommand({
  command: 'inspect',
  describe: 'Describe a Qdrant storage dir: classification, peer id, term, commit, evidence (always exits 0)',
  builder: (y) =>
    y
      .option('storage', { type: 'string', demandOption: true, describe: 'Qdrant storage dir (storage_path)' })
      .option('archive-dir', { type: 'string', describe: 'Where archives live (default <storage>/.upgrade-guard)' }),
  run: async (a) => {
    const { runInspect } = await import('./commands/inspect.js');
    const maxStateBytes = wholeNumber(a.maxStateBytes, '--max-state-bytes', 4096, MAX_STATE_BYTES_CEILING);
    return runInspect({
      storage: a.storage as string,
      ...(str(a.archiveDir) ? { archiveDir: a.archiveDir as string } : {}),
      ...(maxStateBytes !== undefined ? { maxStateBytes } : {}),
    });
  },
});

export const volumeCommand = defineCommand({
  command: 'volume',
  describe: 'Per-volume pre-upgrade step: classify, refuse a lost or corrupt raft state, archive it',
  builder: (y) =>
    y
      .option('storage', { type: 'string', demandOption: true, describe: 'Qdrant storage dir (storage_path)' })
      .option('from', { type: 'string', describe: 'Qdrant version running now (required unless --check-only)' })
      .option('to', { type: 'string', describe: 'Qdrant version after the upgrade (required unless --check-only)' })
      .option('archive-dir', { type: 'string', describe: 'Where to write archives (default <storage>/.upgrade-guard)' })
      .option('keep', { type: 'string', default: '5', describe: 'Archives of this volume to keep, 0 to 1000 (0 keeps all)' })
      .option('pod', { type: 'string', describe: 'Pod name <statefulset>-<ordinal> (default $POD_NAME, then $HOSTNAME)' })
      .option('check-only', { type: 'boolean', default: false, describe: 'Classify and refuse only; write nothing (init container)' })
      .option('allow-version-skip', { type: 'boolean', default: false, describe: 'Let a skipped minor or major change pass with a warning' })
      .option('termination-message-path', { type: 'string', describe: 'Also write a compact JSON summary (< 4 KiB) here' }),
  run: async (a, ctx) => {
    const { runVolume } = await import('./commands/volume.js');
    const keep = wholeNumber(a.keep, '--keep', 0, 1000)!;
    const from = versionFlag(a.from, '--from');
    const to = versionFlag(a.to, '--to');
    const maxStateBytes = wholeNumber(a.maxStateBytes, '--max-state-bytes', 4096, MAX_STATE_BYTES_CEILING);
    const pod = str(a.pod) ?? str(ctx.env.POD_NAME) ?? str(ctx.env.HOSTNAME);
    return runVolume({
      storage: a.storage as string,
      ...(from ? { from } : {}),
      ...(to ? { to } : {}),
      ...(str(a.archiveDir) ? { archiveDir: a.archiveDir as string } : {}),
      keep,
      ...(pod ? { pod } : {}),
      checkOnly: a.checkOnly === true,
      allowVersionSkip: a.allowVersionSkip === true,
      ...(maxStateBytes !== undefined ? { maxStateBytes } : {}),
    });
  },
  after: async (a, ctx, outcome) => {
    const file = str(a.terminationMessagePath);
    if (!file) return;
    const { terminationSummary, writeTerminationMessage } = await import('./commands/volume.js');
    const text = terminationSummary(outcome.report, outcome.error && { kind: outcome.error.kind, message: outcome.error.message });
    await writeTerminationMessage(file, text).catch((err: Error) => ctx.stderr(`warning: cannot write termination message ${file}: ${err.message}\n`));
  },
});

export const restoreCommand = defineCommand({
  command: 'restore',
  describe: 'Verify an archive and put its raft state back (Qdrant must be stopped on the volume)',
  builder: (y) =>
    y
      .option('archive', { type: 'string', demandOption: true, describe: 'Archive file (.tar.gz)' })
      .option('storage', { type: 'string', demandOption: true, describe: 'Qdrant storage dir to restore into' })
      .option('allow-peer-change', { type: 'boolean', default: false, describe: "Restore another peer's archive here (moving a peer on purpose)" })
      .option('pod', { type: 'string', describe: "The volume's pod <statefulset>-<ordinal> (default $POD_NAME): compared with the archive's pod and peer address" })
      .option('archive-dir', { type: 'string', describe: "Where else this volume's own archives live (default only <storage>/.upgrade-guard)" })
      .option('with-wal', { type: 'boolean', default: false, describe: "Also put back the archive's consensus WAL (default: keep the volume's own when it has one)" }),
  run: async (a, ctx) => {
    const { runRestore } = await import('./commands/restore.js');
    const pod = str(a.pod) ?? str(ctx.env.POD_NAME);
    const maxStateBytes = wholeNumber(a.maxStateBytes, '--max-state-bytes', 4096, MAX_STATE_BYTES_CEILING);
    return runRestore({
      archive: a.archive as string,
      storage: a.storage as string,
      allowPeerChange: a.allowPeerChange === true,
      ...(pod ? { pod } : {}),
      ...(str(a.archiveDir) ? { archiveDir: a.archiveDir as string } : {}),
      ...(maxStateBytes !== undefined ? { maxStateBytes } : {}),
      ...(a.withWal === true ? { withWal: true } : {}),
    });
  },
});

export const archivesCommand = defineCommand({
  command: 'archives',
  describe: 'List raft-state archives, newest first, verifying each (--no-verify: names only)',
  builder: (y) =>
    y
      .option('storage', { type: 'string', describe: 'Qdrant storage dir (archives in <storage>/.upgrade-guard)' })
      .option('archive-dir', { type: 'string', describe: 'Archive dir (e.g. the snapshots volume)' })
      .option('verify', { type: 'boolean', default: true, describe: 'Read each archive and check its checksums' }),
  run: async (a) => {
    const { runArchives } = await import('./commands/archives.js');
    const maxStateBytes = wholeNumber(a.maxStateBytes, '--max-state-bytes', 4096, MAX_STATE_BYTES_CEILING);
    return runArchives({
      ...(maxStateBytes !== undefined ? { maxStateBytes } : {}),
      ...(str(a.storage) ? { storage: a.storage as string } : {}),
      ...(str(a.archiveDir) ? { archiveDir: a.archiveDir as string } : {}),
      verify: a.verify !== false,
    });
  },
});

/** The flags every cluster-aware command shares (README.md "CLI reference": pre-upgrade, post-upgrade, verify). */
function clusterOptions(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y
    .option('namespace', { type: 'string', describe: 'Namespace (default: the service account\'s, then the kubeconfig\'s)' })
    .option('release', { type: 'string', demandOption: true, describe: 'Helm release: names the record ConfigMap <release>-upgrade-guard' })
    .option('statefulset', { type: 'string', demandOption: true, describe: 'The Qdrant StatefulSet' })
    .option('kubeconfig', { type: 'string', describe: 'Kubeconfig file (default: $KUBECONFIG, then in-cluster)' })
    .option('qdrant-timeout-ms', { type: 'number', default: 5000, describe: 'Per-request timeout for Qdrant\'s API' })
    .option('qdrant-scheme', { choices: ['http', 'https'] as const, default: 'http' as const, describe: 'Scheme of Qdrant\'s REST port (https: config.service.enable_tls)' })
    .option('qdrant-port', { type: 'number', default: 6333, describe: 'Qdrant\'s REST port on each pod IP (config.service.http_port)' })
    .option('qdrant-ca-file', { type: 'string', describe: 'CA (PEM) to verify Qdrant\'s certificate against (config.tls.ca_cert); default: the system store' })
    .option('qdrant-insecure-skip-verify', { type: 'boolean', default: false, describe: 'Do not verify Qdrant\'s TLS certificate (every report says so)' });
}

/** How the cluster commands reach Qdrant, from the flags above (hook/qdrant/tls.ts). */
async function qdrantReach(a: Args) {
  const { reachFromFlags } = await import('./qdrant/tls.js');
  return reachFromFlags({
    ...(str(a.qdrantScheme) ? { scheme: a.qdrantScheme as string } : {}),
    ...(num(a.qdrantPort) !== undefined ? { port: num(a.qdrantPort)! } : {}),
    ...(str(a.qdrantCaFile) ? { caFile: a.qdrantCaFile as string } : {}),
    insecureSkipVerify: a.qdrantInsecureSkipVerify === true,
  });
}

/** With verification off, every cluster report carries a warning that says so. */
async function withTlsNotice(a: Args, report: Report): Promise<Report> {
  const { insecureNotice } = await import('./qdrant/tls.js');
  const notice = insecureNotice(await qdrantReach(a));
  if (!notice) return report;
  const { check } = await import('./report.js');
  return {
    ...report,
    summary: `${report.summary} (WARNING: ${notice})`,
    checks: [
      ...report.checks,
      check('qdrant.tls', 'warn', 'qdrant', notice, "every peer's certificate verified against config.tls.ca_cert",
        'Set upgradeGuard.qdrantTls.insecureSkipVerify=false and mount the CA (docs/operations.md#tls-and-custom-ports).'),
    ],
  };
}

function clusterTarget(a: Args) {
  return {
    ...(str(a.namespace) ? { namespace: a.namespace as string } : {}),
    release: a.release as string,
    statefulset: a.statefulset as string,
    ...(str(a.kubeconfig) ? { kubeconfig: a.kubeconfig as string } : {}),
  };
}

async function clusterDeps(a: Args, ctx: CliContext) {
  const { realDeps } = await import('./commands/cluster.js');
  const { systemClock } = await import('./runtime/clock.js');
  const { stderrProgress } = await import('./runtime/progress.js');
  return realDeps(clusterTarget(a), {
    env: ctx.env,
    clock: systemClock,
    progress: stderrProgress(),
    qdrantTimeoutMs: num(a.qdrantTimeoutMs) ?? 5000,
    reach: await qdrantReach(a),
  });
}

function positiveSeconds(v: unknown, flag: string): number {
  const n = num(v);
  if (n === undefined || n <= 0) throw usageError(`${flag} must be a number of seconds > 0, got ${String(v)}`);
  return n;
}

export const preUpgradeCommand = defineCommand({
  command: 'pre-upgrade',
  describe: 'Hook Job: refuse unsupported versions, degraded clusters and lost raft state; archive every volume',
  builder: (y) =>
    clusterOptions(y)
      .option('target-version', { type: 'string', demandOption: true, describe: 'Qdrant version after the upgrade (semver)' })
      .option('worker-image', { type: 'string', demandOption: true, describe: 'Image of the worker pods (this guard\'s image)' })
      .option('worker-image-pull-policy', { choices: ['Always', 'IfNotPresent', 'Never'] as const, describe: 'Pull policy of the worker pods' })
      .option('allow-version-skip', { type: 'boolean', default: false, describe: 'Let a skipped minor or major change pass with a warning' })
      .option('allow-degraded', { type: 'boolean', default: false, describe: 'Let a degraded cluster pass with a warning' })
      .option('timeout-seconds', { type: 'number', default: 240, describe: 'Budget of the whole check' })
      .option('archive-location', { choices: ['storage', 'snapshots'] as const, default: 'storage' as const, describe: 'Where workers write archives' })
      .option('keep', { type: 'number', default: 5, describe: 'Archives to keep per volume' })
      .option('volume-snapshot-class', { type: 'string', describe: 'Also take a CSI VolumeSnapshot of every PVC with this class' })
      .option('revision', { type: 'number', describe: 'Helm release revision being installed' }),
  run: async (a, ctx) => {
    const { runPreUpgrade } = await import('./commands/pre-upgrade.js');
    const keep = num(a.keep);
    if (keep === undefined || keep < 0 || !Number.isInteger(keep)) throw usageError(`--keep must be a whole number >= 0, got ${String(a.keep)}`);
    return withTlsNotice(a, await runPreUpgrade(
      {
        ...clusterTarget(a),
        targetVersion: a.targetVersion as string,
        workerImage: a.workerImage as string,
        ...(str(a.workerImagePullPolicy) ? { workerImagePullPolicy: a.workerImagePullPolicy as 'Always' } : {}),
        allowVersionSkip: a.allowVersionSkip === true,
        allowDegraded: a.allowDegraded === true,
        timeoutSeconds: positiveSeconds(a.timeoutSeconds, '--timeout-seconds'),
        archiveLocation: a.archiveLocation as 'storage' | 'snapshots',
        keep,
        ...(str(a.volumeSnapshotClass) ? { volumeSnapshotClass: a.volumeSnapshotClass as string } : {}),
        ...(num(a.revision) !== undefined ? { revision: num(a.revision)! } : {}),
      },
      await clusterDeps(a, ctx),
    ));
  },
});

export const postUpgradeCommand = defineCommand({
  command: 'post-upgrade',
  describe: 'Hook Job: wait for the rollout (failing fast on the #6229 loop), then verify every peer converged',
  builder: (y) =>
    clusterOptions(y)
      .option('target-version', { type: 'string', demandOption: true, describe: 'Qdrant version the upgrade went to (semver)' })
      .option('timeout-seconds', { type: 'number', default: 600, describe: 'Deadline for rollout and convergence' })
      .option('on-failure', { choices: ['fail', 'report'] as const, default: 'fail' as const, describe: 'report: exit 0 with a loud warning (for --atomic users)' })
      .option('staged', { type: 'boolean', default: false, describe: 'Drive a partitioned rollout one peer at a time, verifying each' })
      .option('per-peer-seconds', { type: 'number', default: 180, describe: 'Staged: budget for one peer to update, become ready and pass' })
      .option('resume', { type: 'boolean', default: false, describe: 'Staged: continue a rollout that stopped, after a fix' })
      .option('revision', { type: 'number', describe: 'Helm release revision (informational)' }),
  run: async (a, ctx) => {
    const { runPostUpgrade } = await import('./commands/post-upgrade.js');
    return withTlsNotice(a, await runPostUpgrade(
      {
        ...clusterTarget(a),
        targetVersion: a.targetVersion as string,
        timeoutSeconds: positiveSeconds(a.timeoutSeconds, '--timeout-seconds'),
        onFailure: a.onFailure as 'fail' | 'report',
        staged: a.staged === true,
        perPeerSeconds: positiveSeconds(a.perPeerSeconds, '--per-peer-seconds'),
        resume: a.resume === true,
      },
      await clusterDeps(a, ctx),
    ));
  },
  exitCode: (a, report) => (report.verdict === 'pass' || a.onFailure === 'report' ? 0 : 1),
});

export const verifyCommand = defineCommand({
  command: 'verify',
  describe: 'helm test: the post-upgrade verdict once, now (read-only)',
  builder: (y) =>
    clusterOptions(y).option('target-version', { type: 'string', describe: 'Expected Qdrant version (default: the image tag, then the record)' }),
  run: async (a, ctx) => {
    const { runVerify } = await import('./commands/verify.js');
    return withTlsNotice(a, await runVerify(
      { ...clusterTarget(a), ...(str(a.targetVersion) ? { targetVersion: a.targetVersion as string } : {}) },
      await clusterDeps(a, ctx),
    ));
  },
});

export const restoreVolumeCommand = defineCommand({
  command: 'restore-volume',
  describe: 'From a laptop: restore one PVC\'s raft state in the cluster (worker pod), restart the held peer, check its identity',
  builder: (y) =>
    clusterOptions(y)
      .option('ordinal', { type: 'number', demandOption: true, describe: 'Ordinal of the peer whose volume to restore' })
      .option('archive', { type: 'string', describe: 'Archive file name (raft-<sts>-<ordinal>-...tar.gz) on the volume' })
      .option('latest', { type: 'boolean', default: false, describe: 'The newest archive of this ordinal on the volume whose checksums hold' })
      .option('archive-location', { choices: ['storage', 'snapshots'] as const, default: 'storage' as const, describe: 'Where the archives are (upgradeGuard.archive.location)' })
      .option('worker-image', { type: 'string', describe: 'Image of the worker pod (default: the startup check\'s image)' })
      .option('allow-peer-change', { type: 'boolean', default: false, describe: 'Restore over a valid state of another peer' })
      .option('delete-running-pod', { type: 'boolean', default: false, describe: 'Qdrant still runs on the volume: delete that pod so its startup check holds it' })
      .option('timeout-seconds', { type: 'number', default: 300, describe: 'Budget for the restore and the peer coming back' }),
  run: async (a, ctx) => {
    const { runRestoreVolume } = await import('./commands/restore-volume.js');
    const ordinal = num(a.ordinal);
    if (ordinal === undefined) throw usageError(`--ordinal must be a number, got ${String(a.ordinal)}`);
    return withTlsNotice(a, await runRestoreVolume(
      {
        ...clusterTarget(a),
        ordinal,
        ...(str(a.archive) ? { archive: a.archive as string } : {}),
        latest: a.latest === true,
        archiveLocation: a.archiveLocation as 'storage' | 'snapshots',
        ...(str(a.workerImage) ? { workerImage: a.workerImage as string } : {}),
        allowPeerChange: a.allowPeerChange === true,
        deleteRunningPod: a.deleteRunningPod === true,
        timeoutSeconds: positiveSeconds(a.timeoutSeconds, '--timeout-seconds'),
      },
      await clusterDeps(a, ctx),
    ));
  },
});

export const diagnoseLogsCommand = defineCommand({
  command: 'diagnose-logs [log]',
  describe: 'Read a Qdrant log (a file, or - for stdin) and say whether the #6229 lost-state signature is in it (exit 1 if so)',
  builder: (y) =>
    y
      .positional('log', { type: 'string', describe: 'Log file, or - to read standard input (kubectl logs qdrant-0 | ... -)' })
      .option('log', { type: 'string', describe: 'Log file (the same as the positional argument)' })
      .option('pod', { type: 'string', describe: 'Pod the log is from, named in the verdict' })
      // A string: a u64 id must never pass through a JS number.
      .option('recorded-peer-id', { type: 'string', describe: "The pod's peer id from the record ConfigMap, named in the diagnosis" })
      .option('storage', { type: 'string', describe: "Qdrant's storage path in the pod, for the restore command (default /qdrant/storage)" })
      .option('namespace', { type: 'string', describe: 'With --pod and no log file: the pod\'s namespace (default: the kubeconfig\'s)' })
      .option('kubeconfig', { type: 'string', describe: 'With --pod and no log file: kubeconfig (default $KUBECONFIG, then in-cluster)' })
      .option('container', { type: 'string', default: 'qdrant', describe: 'With --pod and no log file: the container whose log to read' })
      .option('previous', { type: 'boolean', default: false, describe: 'With --pod and no log file: the previous (crashed) container\'s log' }) as unknown as Argv<GlobalArgs>,
  run: async (a) => {
    const { runDiagnoseLogs } = await import('./commands/diagnose-logs.js');
    // yargs hands a lone `-` over as an empty string.
    const log = a.log === '' ? '-' : str(a.log);
    const pod = str(a.pod);
    if (!log && !pod) throw usageError('diagnose-logs needs a log: a file, - for standard input, or --pod NAME to read it from the cluster', 'Example: kubectl logs qdrant-0 | qdrant-upgrade-guard diagnose-logs - --pod qdrant-0');
    let readPodLog: (() => Promise<string>) | undefined;
    if (!log) {
      readPodLog = async () => {
        const [{ createKubeApi }, { systemClock }, { stderrProgress }] = await Promise.all([
          import('./kube/client.js'),
          import('./runtime/clock.js'),
          import('./runtime/progress.js'),
        ]);
        const kube = createKubeApi({
          ...(str(a.namespace) ? { namespace: a.namespace as string } : {}),
          ...(str(a.kubeconfig) ? { kubeconfig: a.kubeconfig as string } : {}),
          clock: systemClock,
          progress: stderrProgress(),
        });
        // The whole log of a pod that looped for hours: well past the 4 MiB the hooks read per poll.
        return kube.podLogs(pod!, { container: str(a.container) ?? 'qdrant', previous: a.previous === true, limitBytes: 64 * 1024 * 1024 });
      };
    }
    return runDiagnoseLogs({
      ...(log ? { log } : {}),
      ...(readPodLog ? { readPodLog } : {}),
      ...(str(a.pod) ? { pod: a.pod as string } : {}),
      ...(a.recordedPeerId !== undefined ? { recordedPeerId: String(a.recordedPeerId) } : {}),
      ...(str(a.storage) ? { storagePath: a.storage as string } : {}),
    });
  },
});

/** Inside restore-volume's worker pod (not for operators): pick the archive, restore it, report in the termination message. */
export const restoreVolumeWorkerCommand = defineCommand({
  command: 'restore-volume-worker',
  describe: false as unknown as string,
  builder: (y) =>
    y
      .option('storage', { type: 'string', demandOption: true })
      .option('archive-dir', { type: 'string', demandOption: true })
      .option('pod', { type: 'string', demandOption: true })
      .option('archive', { type: 'string' })
      .option('allow-peer-change', { type: 'boolean', default: false })
      .option('termination-message-path', { type: 'string' }),
  run: async (a) => {
    const { runRestoreVolumeWorker } = await import('./commands/restore-volume.js');
    return runRestoreVolumeWorker({
      storage: a.storage as string,
      archiveDir: a.archiveDir as string,
      pod: a.pod as string,
      ...(str(a.archive) ? { archive: a.archive as string } : {}),
      allowPeerChange: a.allowPeerChange === true,
    });
  },
  after: async (a, ctx, outcome) => {
    const file = str(a.terminationMessagePath);
    if (!file) return;
    const { workerSummary } = await import('./commands/restore-volume.js');
    const { writeTerminationMessage } = await import('./commands/volume.js');
    await writeTerminationMessage(file, workerSummary(outcome.report, outcome.error)).catch((err: Error) =>
      ctx.stderr(`warning: cannot write termination message ${file}: ${err.message}\n`),
    );
  },
});

/** The commands whose refusal can stand between an operator and an urgent change. */
const GUARDING = new Set(['volume', 'pre-upgrade', 'post-upgrade', 'verify', 'restore-volume', 'restore-volume-worker']);

/** Printed (stderr) after every refusal or failure of those: the way out when the guard itself is wrong, and its cost. */
export const EMERGENCY_EXIT =
  'If the guard itself is in the way: --set upgradeGuard.startupCheck.enabled=false (a pod that lost its raft state then starts ' +
  'under a new peer id), helm upgrade --no-hooks with --set upgradeGuard.stagedRollout.enabled=false (no archive, refusal or ' +
  'verification for that upgrade), or --set upgradeGuard.enabled=false (no guard at all); see ' +
  'docs/runbooks.md#turn-the-guard-off-in-an-emergency for what each loses.';

/** Every command, in help order. Add a command by appending its block here. */
export const COMMANDS: CommandSpec[] = [
  inspectCommand,
  volumeCommand,
  restoreCommand,
  archivesCommand,
  preUpgradeCommand,
  postUpgradeCommand,
  verifyCommand,
  restoreVolumeCommand,
  diagnoseLogsCommand,
  restoreVolumeWorkerCommand,
];

function renderError(err: GuardError, output: OutputFormat, command: string, ctx: CliContext): void {
  const label = err.kind === 'internal' ? 'internal error (a bug)' : `${err.kind} error`;
  ctx.stderr(`ERROR (${label}): ${err.message}\n${err.remedy ? `  remedy: ${err.remedy}\n` : ''}`);
  if (output === 'json') {
    const doc = { schemaVersion: 1, command, error: { kind: err.kind, message: err.message, remedy: err.remedy, transient: err.transient } };
    ctx.stdout(JSON.stringify(doc, null, 2) + '\n');
  }
}

/**
 * Duck-typed on purpose: a lazily imported command module can end up with its own copy of errors.ts
 * (test runners' loaders do this), and then `instanceof GuardError` is false for a real GuardError.
 */
function isGuardError(err: unknown): err is GuardError {
  return err instanceof GuardError || (err instanceof Error && err.name === 'GuardError' && typeof (err as GuardError).kind === 'string');
}

function toGuardError(err: unknown): GuardError {
  return isGuardError(err) ? err : wrapError(err, 'unexpected error');
}

/** Runs the CLI on `argv` (without node and script) and returns the exit code; never calls process.exit. */
export async function runCli(argv: string[], ctx: CliContext, commands: CommandSpec[] = COMMANDS): Promise<number> {
  let selected: { spec: CommandSpec; args: Args } | undefined;
  // Parse errors happen before yargs hands us --output, so look for it by hand.
  const outputOf = (): OutputFormat =>
    argv.some((x, i) => x === '--output=json' || (x === '--output' && argv[i + 1] === 'json')) ? 'json' : 'text';

  let y = yargs(argv)
    .scriptName('qdrant-upgrade-guard')
    .option('output', { choices: ['text', 'json'] as const, default: 'text' as OutputFormat, describe: 'Output format' })
    .option('max-state-bytes', { type: 'string', describe: 'Refuse state files larger than this many bytes, 4096 to 1 GiB (default 64 MiB)' })
    .strict()
    .demandCommand(1, 'Name a command.')
    .recommendCommands()
    .exitProcess(false)
    .version(pkg.version)
    .help()
    .wrap(Math.min(120, process.stdout.columns || 100))
    .fail((msg, err) => {
      throw err ?? usageError(msg, 'Run qdrant-upgrade-guard --help.');
    }) as unknown as Argv<GlobalArgs>;
  for (const spec of commands) {
    y = y.command(spec.command, spec.describe, (b: Argv<GlobalArgs>) => spec.builder(b), (args) => {
      selected = { spec, args: args as unknown as Args };
    }) as unknown as Argv<GlobalArgs>;
  }

  try {
    await y.parseAsync();
  } catch (err) {
    const e = isGuardError(err) ? err : usageError(err instanceof Error ? err.message : String(err), 'Run qdrant-upgrade-guard --help.');
    renderError(e, outputOf(), argv[0] ?? '', ctx);
    return exitCodeOfError(e);
  }
  if (!selected) return 0; // --help or --version was printed

  const { spec, args } = selected;
  // yargs turns a repeated flag into an array; every flag here takes one value, so a repeat is a usage error.
  const repeated = Object.keys(args).find((k) => k !== '_' && /^[a-z]/.test(k) && !k.includes('-') && Array.isArray(args[k]));
  if (repeated) {
    const flag = `--${repeated.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    const e = usageError(`${flag} was given more than once (${(args[repeated] as unknown[]).map((x) => JSON.stringify(String(x))).join(', ')}); it takes one value`, 'Pass it once.');
    renderError(e, outputOf(), spec.command, ctx);
    return exitCodeOfError(e);
  }
  let report: Report | undefined;
  let error: GuardError | undefined;
  try {
    report = await spec.run(args, ctx);
  } catch (err) {
    error = toGuardError(err);
  }
  if (spec.after) await spec.after(args, ctx, { ...(report ? { report } : {}), ...(error ? { error } : {}) });
  if (error) {
    renderError(error, args.output, spec.command, ctx);
    return exitCodeOfError(error);
  }
  ctx.stdout(render(report!, args.output));
  if (report!.verdict !== 'pass' && GUARDING.has(spec.command)) ctx.stderr(`${EMERGENCY_EXIT}\n`);
  return spec.exitCode ? spec.exitCode(args, report!) : exitCodeOf(report!);
}

export function processContext(): CliContext {
  return {
    env: process.env,
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
  };
}

function isMain(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    // Through npm's bin link or the image's /usr/local/bin symlink, argv[1] is the link: compare real paths.
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  runCli(hideBin(process.argv), processContext()).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`ERROR (internal error, a bug): ${String(err)}\n`);
      process.exitCode = 3;
    },
  );
}
