/**
 * `archives --storage DIR | --archive-dir D`: list raft-state archives, newest first. By default each one is
 * read through and verified (manifest, every sha256), which decompresses it; `--no-verify` lists names only.
 */
import { check, type Check, type Report } from '../report.js';
import { usageError } from '../errors.js';
import { defaultArchiveDir, listArchives } from '../archive/list.js';
import { scanArchive } from '../archive/read.js';
import { formatBytes } from '../policy/volume-verdict.js';

export interface ArchivesCommandOptions {
  storage?: string;
  archiveDir?: string;
  verify?: boolean;
  maxStateBytes?: number;
}

export async function runArchives(opts: ArchivesCommandOptions): Promise<Report> {
  const dir = opts.archiveDir ?? (opts.storage ? defaultArchiveDir(opts.storage) : undefined);
  if (!dir) throw usageError('archives needs --storage DIR or --archive-dir DIR');
  const verify = opts.verify ?? true;
  const archives = await listArchives(dir);
  const checks: Check[] = [];
  const rows: Record<string, unknown>[] = [];
  for (const a of archives) {
    const row: Record<string, unknown> = {
      name: a.name,
      path: a.path,
      bytes: a.bytes,
      statefulSet: a.statefulSet,
      ordinal: a.ordinal,
      from: a.from,
      to: a.to,
      createdAt: a.createdAt.toISOString(),
    };
    const head = `${a.createdAt.toISOString()}  ${a.statefulSet}-${a.ordinal}  ${a.from} -> ${a.to}  ${formatBytes(a.bytes)}`;
    if (!verify) {
      checks.push(check('archive.entry', 'pass', a.name, head, ''));
    } else {
      const scan = await scanArchive(a.path, opts.maxStateBytes ? { maxStateBytes: opts.maxStateBytes } : {});
      if (scan.ok) {
        Object.assign(row, { verified: true, peerId: scan.manifest.peerId, term: scan.manifest.term, commit: scan.manifest.commit });
        checks.push(check('archive.entry', 'pass', a.name, `${head}  peer ${scan.manifest.peerId} term ${scan.manifest.term} commit ${scan.manifest.commit}, checksums ok`, ''));
      } else {
        Object.assign(row, { verified: false, problem: scan.reason });
        checks.push(check('archive.entry', 'warn', a.name, `${head}: ${scan.reason}`, 'an intact archive', 'Do not restore from this archive; use an older one.'));
      }
    }
    rows.push(row);
  }
  return {
    schemaVersion: 1,
    command: 'archives',
    verdict: 'pass',
    summary: archives.length === 0 ? `no raft-state archives in ${dir}` : `${archives.length} archive(s) in ${dir}, newest first`,
    checks,
    details: { archiveDir: dir, verified: verify, archives: rows },
  };
}
