/**
 * `volume`: the per-volume pre-upgrade step (docs/storage-classification.md): classify, refuse, archive.
 * With --check-only (the init container at every Qdrant start) it classifies and refuses, and writes nothing.
 * The pre-upgrade coordinator runs it in worker pods and reads the compact summary from the termination
 * message (Kubernetes keeps at most 4096 bytes of it).
 */
import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { check, verdictOf, type Check, type Report } from '../report.js';
import { infraError, usageError } from '../errors.js';
import { decideVersionChange } from '../policy/version.js';
import { decideVolume } from '../policy/volume-verdict.js';
import { inspectStorage, inspectionDetails } from '../storage/inspect.js';
import { applyRetention, defaultArchiveDir, listArchives } from '../archive/list.js';
import { podIdentity, type PodIdentity } from '../archive/name.js';
import { acquireStorageLock, describeHolder, liveLock } from '../archive/lock.js';
import { ManifestTooLarge, writeArchive, type ArchiveIo, type WrittenArchive } from '../archive/write.js';
import { RUNBOOKS, runbook } from '../policy/remedies.js';
import { runbookOf } from '../policy/check-ids.js';
import { GUARD_DIR } from '../storage/inspect.js';
import { summarizeInspection } from './inspect.js';

export const DEFAULT_KEEP = 5;
/** Kubernetes truncates termination messages at 4096 bytes; we stay under with a margin. */
export const TERMINATION_MESSAGE_LIMIT = 4000;

export interface VolumeCommandOptions {
  storage: string;
  from?: string;
  to?: string;
  archiveDir?: string;
  keep?: number;
  /** `<statefulset>-<ordinal>`; the CLI defaults it from POD_NAME or HOSTNAME. */
  pod?: string;
  checkOnly?: boolean;
  allowVersionSkip?: boolean;
  maxStateBytes?: number;
  /** Tests only: a smaller manifest limit than the shared MAX_MANIFEST_BYTES. */
  maxManifestBytes?: number;
  now?: () => Date;
  io?: ArchiveIo;
}

/** The real path of `p`, or of its nearest existing ancestor joined with the rest (the archive dir may not exist yet). */
async function realish(p: string): Promise<string> {
  const abs = path.resolve(p);
  const rest: string[] = [];
  let cur = abs;
  for (;;) {
    try {
      return path.join(await fs.realpath(cur), ...rest.reverse());
    } catch {
      const parent = path.dirname(cur);
      if (parent === cur) return abs;
      rest.push(path.basename(cur));
      cur = parent;
    }
  }
}

/**
 * An archive dir inside the storage dir may only be `.upgrade-guard/`: anywhere else the archive would land among
 * Qdrant's own files (inside collections_meta_wal/ it would even archive its own temp file).
 */
export async function archiveDirProblem(storage: string, archiveDir: string): Promise<string | undefined> {
  const s = await realish(storage);
  const a = await realish(archiveDir);
  const inside = a === s || a.startsWith(s.endsWith(path.sep) ? s : s + path.sep);
  if (!inside || a === path.join(s, GUARD_DIR)) return undefined;
  return `--archive-dir ${archiveDir} is inside the storage dir ${storage} but is not its ${GUARD_DIR}/ dir`;
}

export async function runVolume(opts: VolumeCommandOptions): Promise<Report> {
  const checkOnly = opts.checkOnly ?? false;
  if (!checkOnly && opts.archiveDir) {
    const problem = await archiveDirProblem(opts.storage, opts.archiveDir);
    if (problem) {
      throw usageError(problem, `Leave --archive-dir out (archives go to <storage>/${GUARD_DIR}), or pass a dir outside the storage dir (the snapshots volume).`);
    }
  }
  // One restore or volume run per storage dir; check-only writes nothing, so it only looks at the lock.
  let release: (() => Promise<void>) | undefined;
  let lockCheck: Check | undefined;
  const lockSubject = opts.pod ? `${opts.pod} (${opts.storage})` : opts.storage;
  const lockRemedy = (holder: string, file: string) =>
    `Wait for ${holder} to finish. If that process is gone (its pod deleted, its node lost), delete ${file} and retry. See ${runbook(RUNBOOKS.restore)}.`;
  if (checkOnly) {
    // Only a restore blocks Qdrant's start: archiving reads the volume and never changes Qdrant's files, and a
    // worker pod killed mid-archive must not leave a lock that holds the pod.
    const held = await liveLock(opts.storage).catch(() => undefined);
    if (held && held.holder?.command === 'restore') {
      lockCheck = check('volume.lock', 'fail', lockSubject, `a restore or volume run holds the storage dir (${describeHolder(held.holder)})`,
        'no restore or volume run on this storage dir', lockRemedy(describeHolder(held.holder), held.path));
    }
  } else {
    const st = await fs.stat(opts.storage).catch(() => undefined);
    if (!st?.isDirectory()) {
      throw usageError(`storage directory ${opts.storage} does not exist or is not a directory`, 'Pass the path Qdrant uses as storage_path (/qdrant/storage in the image).');
    }
    let lock;
    try {
      lock = await acquireStorageLock(opts.storage, 'volume');
    } catch (err) {
      throw infraError(`cannot create the lock in ${path.join(opts.storage, GUARD_DIR)} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, {
        cause: err,
        remedy: `The storage volume must be writable by this user (Qdrant uid 1000). See ${runbook(RUNBOOKS.archives)}.`,
      });
    }
    if (lock.ok) release = lock.release;
    else {
      lockCheck = check('volume.lock', 'fail', lockSubject, lock.reason, 'no restore or volume run on this storage dir',
        `Nothing was archived. ${lockRemedy(describeHolder(lock.holder), lock.path)}`);
    }
  }
  try {
    return await runVolumeLocked(opts, checkOnly, lockCheck);
  } finally {
    await release?.();
  }
}

async function runVolumeLocked(opts: VolumeCommandOptions, checkOnly: boolean, lockCheck: Check | undefined): Promise<Report> {
  if (!checkOnly && (!opts.from || !opts.to)) {
    throw usageError('volume needs --from and --to (they name the archive), unless --check-only is given', 'Example: volume --storage /qdrant/storage --from 1.13.4 --to 1.13.5');
  }
  let pod: PodIdentity | undefined;
  if (!checkOnly) {
    if (!opts.pod) throw usageError('volume needs a pod name for the archive name', 'Pass --pod <statefulset>-<ordinal> or set POD_NAME.');
    pod = podIdentity(opts.pod);
  } else if (opts.pod) {
    // Check-only names nothing after the pod; a host name that is not <sts>-<ordinal> only labels messages.
    try {
      pod = podIdentity(opts.pod);
    } catch {
      pod = undefined;
    }
  }

  const checks: Check[] = lockCheck ? [lockCheck] : [];
  const subject = opts.pod ? `${opts.pod} (${opts.storage})` : opts.storage;
  if (opts.from && opts.to) {
    checks.push(decideVersionChange({ from: opts.from, to: opts.to, allowVersionSkip: opts.allowVersionSkip ?? false, subject }).check);
  }

  const inspection = await inspectStorage(opts.storage, { subject, ...(opts.maxStateBytes ? { maxStateBytes: opts.maxStateBytes } : {}) });
  const archiveDir = opts.archiveDir ?? defaultArchiveDir(opts.storage);
  const needArchiveHint = inspection.classification === 'missing-state' || inspection.classification === 'corrupt-state';
  const newest = needArchiveHint ? (await listArchives(archiveDir, pod).catch(() => []))[0] : undefined;
  checks.push(
    ...decideVolume({
      volume: inspection,
      storagePath: opts.storage,
      ...(newest ? { newestArchive: { name: newest.name, path: newest.path } } : {}),
      ...(opts.from ? { runningVersion: opts.from } : {}),
      ...(checkOnly ? { startupCheck: true } : {}),
    }),
  );

  let archive: WrittenArchive | undefined;
  let deleted: string[] = [];
  const refused = checks.some((c) => c.status === 'fail');
  if (!checkOnly && !refused) {
    if (inspection.classification === 'fresh') {
      checks.push(check('volume.archive', 'skip', subject, 'fresh volume: nothing to archive', 'an archive of raft_state.json and collections_meta_wal/'));
    } else if (!inspection.state) {
      checks.push(check('volume.archive', 'warn', subject, 'legacy raft_state could not be validated; not archived', 'an archive',
        'Back up the storage dir by other means (VolumeSnapshot) before upgrading.'));
    } else {
      try {
        archive = await writeArchive({
          inspection,
          archiveDir,
          pod: pod!,
          podName: opts.pod!,
          from: opts.from!,
          to: opts.to!,
          now: (opts.now ?? (() => new Date()))(),
          ...(opts.io ? { io: opts.io } : {}),
          ...(opts.maxManifestBytes ? { maxManifestBytes: opts.maxManifestBytes } : {}),
        });
      } catch (err) {
        if (!(err instanceof ManifestTooLarge)) throw err;
        checks.push(check('volume.archive', 'fail', subject, err.message, 'an archive that restore can read back',
          `Nothing was written. A consensus WAL of that many files is unusual: check ${inspection.storagePath}/collections_meta_wal, ` +
            `and back the volume up by other means (a VolumeSnapshot) before upgrading. See ${runbook(RUNBOOKS.archives)}.`));
      }
    }
  }
  if (archive) {
    deleted = await applyRetention(archiveDir, pod!, opts.keep ?? DEFAULT_KEEP, archive.name);
    const files = archive.manifest.files;
    checks.push(
      check('volume.archive', 'pass', subject,
        `${archive.path} (${archive.bytes} bytes, ${files.length} file(s), sha256 ${archive.sha256.slice(0, 16)}...)` +
          (deleted.length > 0 ? `; removed ${deleted.length} older archive(s), keeping ${opts.keep ?? DEFAULT_KEEP}` : ''),
        'an archive of raft_state.json and collections_meta_wal/'),
    );
  }

  const verdict = verdictOf(checks, 'refuse');
  const failed = checks.find((c) => c.status === 'fail');
  // A warning that lets Qdrant start (a phantom voter at the startup check) must still be the first thing read.
  const warned = checks.filter((c) => c.status === 'warn' && c.id === 'volume.phantom-voter');
  const warning = warned.length > 0 ? `; WARNING ${warned.map((c) => `${c.id}: ${c.observed}. ${c.remedy}`).join('; ')}` : '';
  const summary =
    verdict === 'pass'
      ? `${summarizeInspection(inspection)}${archive ? `; archived to ${archive.name}` : checkOnly ? ' (check only, nothing written)' : ''}${warning}`
      : `${[...new Set(checks.filter((c) => c.status === 'fail').map((c) => c.id))].join(', ')} refused on ${subject}; see ${runbookOf(failed!.id)}`;
  return {
    schemaVersion: 1,
    command: 'volume',
    verdict,
    summary,
    checks,
    details: {
      ...inspectionDetails(inspection),
      classification: inspection.classification,
      peerId: inspection.state?.thisPeerId ?? null,
      term: inspection.state?.term ?? null,
      commit: inspection.state?.commit ?? null,
      checkOnly,
      archiveDir,
      archive: archive
        ? { name: archive.name, path: archive.path, sha256: archive.sha256, bytes: archive.bytes, files: archive.manifest.files }
        : null,
      deletedArchives: deleted,
      ...(opts.pod ? { pod: opts.pod } : {}),
      ...(opts.from ? { from: opts.from } : {}),
      ...(opts.to ? { to: opts.to } : {}),
    },
  };
}

export interface TerminationSummary {
  verdict: Report['verdict'] | 'error';
  classification: string | null;
  peerId: string | null;
  term: string | null;
  commit: string | null;
  archive: string | null;
  sha256: string | null;
  /** What was seen (the failed check's observation), or the error. */
  reason: string;
  /** The steps, when a check failed; absent on a pass (and from workers older than this field). */
  remedy?: string;
}

/** The compact summary the pre-upgrade coordinator reads back; the reason is cut to keep it under the limit. */
export function terminationSummary(report: Report | undefined, error?: { kind: string; message: string }): string {
  const d = (report?.details ?? {}) as Record<string, unknown>;
  const archive = d.archive as { name: string; sha256: string } | null | undefined;
  const failed = report?.checks.find((c) => c.status === 'fail');
  const summary: TerminationSummary = {
    verdict: report ? report.verdict : 'error',
    classification: (d.classification as string | undefined) ?? null,
    peerId: (d.peerId as string | null | undefined) ?? null,
    term: (d.term as string | null | undefined) ?? null,
    commit: (d.commit as string | null | undefined) ?? null,
    archive: archive?.name ?? null,
    sha256: archive?.sha256 ?? null,
    reason: error ? `${error.kind}: ${error.message}` : failed ? `${failed.id}: ${failed.observed}` : (report?.summary ?? ''),
    ...(failed?.remedy ? { remedy: failed.remedy } : {}),
  };
  let text = JSON.stringify(summary);
  while (Buffer.byteLength(text) > TERMINATION_MESSAGE_LIMIT) {
    const over = Buffer.byteLength(text) - TERMINATION_MESSAGE_LIMIT;
    // Cut the longer of the two texts, so the facts and the steps both survive in part.
    const key = (summary.remedy?.length ?? 0) > summary.reason.length ? 'remedy' : 'reason';
    const value = summary[key]!;
    summary[key] = value.slice(0, Math.max(0, value.length - over - 4)) + '...';
    text = JSON.stringify(summary);
  }
  return text;
}

/**
 * Writes the summary where Kubernetes reads it. No mkdir: the kubelet provides the file's dir, and a recursive
 * mkdir under /proc never returns on Node 20. Opened non-blocking, so a FIFO nobody reads is an error (ENXIO),
 * not a hang. The caller turns a failure into a warning.
 */
export async function writeTerminationMessage(file: string, text: string): Promise<void> {
  const fh = await fs.open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | fsConstants.O_NONBLOCK, 0o644);
  try {
    await fh.writeFile(text);
  } finally {
    await fh.close();
  }
}
