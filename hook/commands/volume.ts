/**
 * `volume`: the per-volume pre-upgrade step (DESIGN.md): classify, refuse, archive.
 * With --check-only (the init container at every Qdrant start) it classifies and refuses, and writes nothing.
 * The pre-upgrade coordinator runs it in worker pods and reads the compact summary from the termination
 * message (Kubernetes keeps at most 4096 bytes of it).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { check, verdictOf, type Check, type Report } from '../report.js';
import { usageError } from '../errors.js';
import { decideVersionChange } from '../policy/version.js';
import { decideVolume } from '../policy/volume-verdict.js';
import { inspectStorage, inspectionDetails } from '../storage/inspect.js';
import { applyRetention, defaultArchiveDir, listArchives } from '../archive/list.js';
import { podIdentity, type PodIdentity } from '../archive/name.js';
import { writeArchive, type ArchiveIo, type WrittenArchive } from '../archive/write.js';
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
  now?: () => Date;
  io?: ArchiveIo;
}

export async function runVolume(opts: VolumeCommandOptions): Promise<Report> {
  const checkOnly = opts.checkOnly ?? false;
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

  const checks: Check[] = [];
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
      archive = await writeArchive({
        inspection,
        archiveDir,
        pod: pod!,
        podName: opts.pod!,
        from: opts.from!,
        to: opts.to!,
        now: (opts.now ?? (() => new Date()))(),
        ...(opts.io ? { io: opts.io } : {}),
      });
      deleted = await applyRetention(archiveDir, pod!, opts.keep ?? DEFAULT_KEEP, archive.name);
      const files = archive.manifest.files;
      checks.push(
        check('volume.archive', 'pass', subject,
          `${archive.path} (${archive.bytes} bytes, ${files.length} file(s), sha256 ${archive.sha256.slice(0, 16)}...)` +
            (deleted.length > 0 ? `; removed ${deleted.length} older archive(s), keeping ${opts.keep ?? DEFAULT_KEEP}` : ''),
          'an archive of raft_state.json and collections_meta_wal/'),
      );
    }
  }

  const verdict = verdictOf(checks, 'refuse');
  const failed = checks.find((c) => c.status === 'fail');
  const summary =
    verdict === 'pass'
      ? `${summarizeInspection(inspection)}${archive ? `; archived to ${archive.name}` : checkOnly ? ' (check only, nothing written)' : ''}`
      : `${failed!.id} refused on ${subject}: ${failed!.observed}`;
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
  reason: string;
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
    reason: error ? `${error.kind}: ${error.message}` : failed ? `${failed.id}: ${failed.observed}. ${failed.remedy}` : (report?.summary ?? ''),
  };
  let text = JSON.stringify(summary);
  while (Buffer.byteLength(text) > TERMINATION_MESSAGE_LIMIT) {
    const over = Buffer.byteLength(text) - TERMINATION_MESSAGE_LIMIT;
    summary.reason = summary.reason.slice(0, Math.max(0, summary.reason.length - over - 4)) + '...';
    text = JSON.stringify(summary);
  }
  return text;
}

export async function writeTerminationMessage(file: string, text: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true }).catch(() => undefined);
  await fs.writeFile(file, text);
}
