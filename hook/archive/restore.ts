/**
 * Puts an archived raft state back (DESIGN.md "Archives"), touching nothing until everything checks out:
 *   1. verify the whole archive (entry types, paths, every sha256, the state itself) without writing;
 *   2. refuse while a Qdrant process holds the storage dir, or when the volume belongs to another peer;
 *   3. extract into a staging dir inside the storage volume (same file system, so renames are atomic),
 *      checking every sha256 again, fsync;
 *   4. move the current files aside to `.upgrade-guard/replaced-<timestamp>/`, rename the staged ones in.
 *      raft_state.json is replaced by a single rename (it is never absent); the WAL dir by two.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { check, type Check } from '../report.js';
import { infraError, usageError } from '../errors.js';
import { GUARD_DIR, STATE_JSON, STATE_LEGACY, WAL_DIR, inspectStorage, type StorageInspection } from '../storage/inspect.js';
import { scanArchive, type ScanResult } from './read.js';
import { procDetector, type ProcessDetector } from './holders.js';
import { formatTimestamp } from './name.js';
import { fsyncDir } from './write.js';

export interface RestoreOptions {
  archive: string;
  storage: string;
  now: Date;
  detector?: ProcessDetector;
  /** Restore even though the volume holds a valid state of another peer (moving a peer to a new volume). */
  allowPeerChange?: boolean;
}

export interface RestoreOutcome {
  checks: Check[];
  restored: boolean;
  replacedDir?: string;
  replaced: string[];
  scan?: ScanResult;
  before?: StorageInspection;
  after?: StorageInspection;
}

async function exists(p: string): Promise<boolean> {
  return fs.lstat(p).then(
    () => true,
    () => false,
  );
}

async function fsyncTree(dir: string): Promise<void> {
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await fsyncTree(p);
    else if (e.isFile()) {
      const fh = await fs.open(p, 'r');
      await fh.sync().finally(() => fh.close());
    }
  }
  await fsyncDir(dir);
}

export async function restoreArchive(opts: RestoreOptions): Promise<RestoreOutcome> {
  const storage = path.resolve(opts.storage);
  const st = await fs.stat(storage).catch(() => undefined);
  if (!st?.isDirectory()) throw usageError(`storage directory ${opts.storage} does not exist or is not a directory`);
  const checks: Check[] = [];
  const outcome: RestoreOutcome = { checks, restored: false, replaced: [] };

  // 1. The archive, completely, before anything else.
  const scan = await scanArchive(opts.archive);
  outcome.scan = scan;
  if (!scan.ok) {
    checks.push(
      check('restore.archive', 'fail', path.basename(opts.archive), scan.reason, 'an intact archive: allowed entries only, every sha256 matching manifest.json',
        'Nothing was changed. Use another archive (qdrant-upgrade-guard archives --storage <dir> lists them, newest first).'),
    );
    return outcome;
  }
  const m = scan.manifest;
  checks.push(
    check('restore.archive', 'pass', path.basename(opts.archive),
      `${scan.files.length} file(s), ${scan.totalBytes} bytes, checksums match; peer ${m.peerId}, term ${m.term}, commit ${m.commit} (${m.pod}, ${m.fromVersion} -> ${m.toVersion}, ${m.createdAt})`,
      'an intact archive'),
  );

  // 2. Nobody may be running on the volume.
  const holders = await (opts.detector ?? procDetector()).scan(storage);
  if (!holders.supported) {
    checks.push(check('restore.not-running', 'warn', storage, 'cannot list processes here (no /proc)', 'no Qdrant process using the storage dir',
      'Make sure Qdrant is stopped on this volume before restoring.'));
  } else if (holders.holders.length > 0) {
    const list = holders.holders.map((h) => `${h.name} pid ${h.pid} (${h.via})`).join(', ');
    checks.push(check('restore.not-running', 'fail', storage, `in use by ${list}`, 'no Qdrant process using the storage dir',
      'Stop Qdrant first (kubectl scale statefulset <name> --replicas=0, or stop the process), then restore.'));
  } else {
    checks.push(check('restore.not-running', 'pass', storage, 'no Qdrant process holds the storage dir', 'no Qdrant process using the storage dir'));
  }

  // 3. The volume must not belong to another peer (that would clone an identity, cf. qdrant/qdrant#6348).
  const before = await inspectStorage(storage);
  outcome.before = before;
  if (before.state && before.state.thisPeerId !== m.peerId) {
    checks.push(check('restore.identity', opts.allowPeerChange ? 'warn' : 'fail', storage,
      `the volume holds a valid state of peer ${before.state.thisPeerId}; the archive is peer ${m.peerId}`,
      'the same peer id, or a volume without a valid state',
      opts.allowPeerChange ? 'Restoring over another peer as asked (--allow-peer-change).'
        : `This archive belongs to ${m.pod}. Pick the archive of this volume's peer, or pass --allow-peer-change if you are moving peer ${m.peerId} here on purpose.`));
  } else if (before.state && BigInt(before.state.commit) > BigInt(m.commit)) {
    checks.push(check('restore.identity', 'warn', storage,
      `same peer ${m.peerId}; the volume is at commit ${before.state.commit}, the archive at ${m.commit} (older)`,
      'an archive at least as recent as the volume', 'The WAL is restored with it, so the pair is consistent; the peer catches up from the leader.'));
  } else {
    checks.push(check('restore.identity', 'pass', storage,
      before.state ? `same peer ${m.peerId}` : `volume is ${before.classification}; archive restores peer ${m.peerId}`, 'the same peer id, or a volume without a valid state'));
  }
  if (checks.some((c) => c.status === 'fail')) return outcome;

  // Space for the staged copy, on the storage file system itself.
  const fsStat = await fs.statfs(storage).catch(() => undefined);
  if (fsStat && fsStat.bavail * fsStat.bsize < scan.totalBytes + 1024 * 1024) {
    checks.push(check('restore.space', 'fail', storage, `${fsStat.bavail * fsStat.bsize} bytes free`, `at least ${scan.totalBytes + 1024 * 1024} bytes free`,
      'Free space on the storage volume; nothing was changed.'));
    return outcome;
  }

  const stamp = formatTimestamp(opts.now);
  const guardDir = path.join(storage, GUARD_DIR);
  const staging = path.join(guardDir, `restore-${stamp}.staging`);
  const replacedDir = path.join(guardDir, `replaced-${stamp}`);
  try {
    await fs.mkdir(guardDir, { recursive: true, mode: 0o750 });
    await fs.rm(staging, { recursive: true, force: true });
    await fs.mkdir(staging, { mode: 0o750 });
  } catch (err) {
    throw infraError(`cannot create staging dir ${staging} (${(err as NodeJS.ErrnoException).code})`, { cause: err,
      remedy: 'The storage volume must be writable by this user (Qdrant uid 1000); nothing was changed.' });
  }

  // 4. Extract and check again: the file could have changed since the first pass.
  const staged = await scanArchive(opts.archive, { extractTo: staging }).catch(async (err) => {
    await fs.rm(staging, { recursive: true, force: true });
    throw err;
  });
  if (!staged.ok) {
    await fs.rm(staging, { recursive: true, force: true });
    checks.push(check('restore.archive', 'fail', path.basename(opts.archive), `changed between checks: ${staged.reason}`, 'an intact archive', 'Nothing was changed; retry.'));
    return outcome;
  }
  await fsyncTree(staging);

  // 5. Swap. Each step is one rename; the originals stay in replacedDir.
  try {
    await fs.mkdir(replacedDir, { recursive: true, mode: 0o750 });
    const stagedHas = async (name: string) => exists(path.join(staging, name));
    const live = (name: string) => path.join(storage, name);
    if (await stagedHas(WAL_DIR)) {
      if (await exists(live(WAL_DIR))) {
        await fs.rename(live(WAL_DIR), path.join(replacedDir, WAL_DIR));
        outcome.replaced.push(WAL_DIR);
      }
      await fs.rename(path.join(staging, WAL_DIR), live(WAL_DIR));
    }
    for (const name of [STATE_LEGACY, STATE_JSON]) {
      if (!(await stagedHas(name))) continue;
      const cur = await fs.lstat(live(name)).catch(() => undefined);
      if (cur?.isFile()) {
        // Keep a copy aside by hard link, then replace in one rename: the state file is never missing.
        await fs.link(live(name), path.join(replacedDir, name));
        outcome.replaced.push(name);
      } else if (cur) {
        await fs.rename(live(name), path.join(replacedDir, name));
        outcome.replaced.push(name);
      }
      await fs.rename(path.join(staging, name), live(name));
    }
    await fs.writeFile(
      path.join(replacedDir, 'RESTORE.json'),
      JSON.stringify({ restoredAt: opts.now.toISOString(), archive: path.resolve(opts.archive), peerId: m.peerId, replaced: outcome.replaced }, null, 2) + '\n',
    );
    await fsyncDir(replacedDir);
    await fsyncDir(storage);
    await fs.rm(staging, { recursive: true, force: true });
  } catch (err) {
    throw infraError(`restore of ${opts.archive} into ${storage} stopped part way (${(err as Error).message})`, {
      cause: err,
      remedy: `The files replaced so far are in ${replacedDir}; the staged copy is in ${staging}. Run the restore again, or move the files from ${replacedDir} back by hand.`,
    });
  }
  outcome.restored = true;
  outcome.replacedDir = replacedDir;

  // 6. Read it back as Qdrant would.
  const after = await inspectStorage(storage);
  outcome.after = after;
  const ok = after.classification === 'initialized' && (!after.state || after.state.thisPeerId === m.peerId);
  checks.push(check('restore.applied', ok ? 'pass' : 'fail', storage,
    `now ${after.classification}${after.state ? `, peer ${after.state.thisPeerId}, term ${after.state.term}, commit ${after.state.commit}` : ''}; replaced files kept in ${replacedDir}`,
    `initialized as peer ${m.peerId}`,
    ok ? '' : `The restored state does not read back as expected; the previous files are in ${replacedDir}.`));
  return outcome;
}
