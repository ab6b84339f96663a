/** `restore --archive FILE --storage DIR`: verify an archive and put its raft state back (archive/restore.ts). */
import type { Report } from '../report.js';
import { restoreArchive } from '../archive/restore.js';
import type { ProcessDetector } from '../archive/holders.js';

export interface RestoreCommandOptions {
  archive: string;
  storage: string;
  allowPeerChange?: boolean;
  /** `<statefulset>-<ordinal>` of the volume's pod (the CLI defaults it from POD_NAME). */
  pod?: string;
  /** Another place this volume's own archives live (e.g. the snapshots volume). */
  archiveDir?: string;
  maxStateBytes?: number;
  /** `--with-wal`: put back the archive's WAL even when the volume has its own. */
  withWal?: boolean;
  detector?: ProcessDetector;
  now?: () => Date;
}

export async function runRestore(opts: RestoreCommandOptions): Promise<Report> {
  const outcome = await restoreArchive({
    archive: opts.archive,
    storage: opts.storage,
    now: (opts.now ?? (() => new Date()))(),
    ...(opts.detector ? { detector: opts.detector } : {}),
    ...(opts.allowPeerChange ? { allowPeerChange: true } : {}),
    ...(opts.pod ? { pod: opts.pod } : {}),
    ...(opts.archiveDir ? { archiveDir: opts.archiveDir } : {}),
    ...(opts.maxStateBytes ? { maxStateBytes: opts.maxStateBytes } : {}),
    ...(opts.withWal ? { withWal: true } : {}),
  });
  const failed = outcome.checks.find((c) => c.status === 'fail');
  // Refused = nothing was touched; failed = files were swapped but do not read back right.
  const verdict = !failed ? 'pass' : outcome.restored ? 'fail' : 'refuse';
  const m = outcome.scan?.ok ? outcome.scan.manifest : undefined;
  const summary = !failed
    ? `restored peer ${m?.peerId} (term ${m?.term}, commit ${m?.commit}) into ${opts.storage}; previous files kept in ${outcome.replacedDir}`
    : `${failed.id}: ${failed.observed}${outcome.restored ? '' : ' (nothing was changed)'}`;
  return {
    schemaVersion: 1,
    command: 'restore',
    verdict,
    summary,
    checks: outcome.checks,
    details: {
      archive: opts.archive,
      storage: opts.storage,
      ...(opts.pod ? { pod: opts.pod } : {}),
      restored: outcome.restored,
      replacedDir: outcome.replacedDir ?? null,
      replaced: outcome.replaced,
      manifest: m ?? null,
      classificationBefore: outcome.before?.classification ?? null,
      classificationAfter: outcome.after?.classification ?? null,
    },
  };
}
