/**
 * Puts an archived raft state back (README.md "Archives and restore"), all or nothing:
 *   1. take the storage dir's lock (one restore or volume run at a time);
 *   2. verify the whole archive (entry types, paths, every sha256, the state itself) without writing;
 *   3. refuse while a Qdrant process holds the storage dir, or when the archive is another peer's (the volume's
 *      valid state, its own newest archive, the pod the archive was taken from, the address of its peer);
 *   4. extract into a staging dir inside the storage volume (same file system, so renames are atomic), every
 *      write and fsync checked, then re-read every staged file from disk against the manifest and parse the
 *      staged state with the same parser as `inspect`;
 *   5. move the current files aside to `.upgrade-guard/replaced-<timestamp>/` and rename the staged ones in,
 *      raft_state.json by a single rename (never absent). A failed step, or a volume that does not read back as
 *      the archived peer, undoes the steps done so far: the volume is what it was.
 * Whatever happens, the staging dir is removed and the lock released.
 */
import { createHash } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { check, type Check } from '../report.js';
import { infraError, usageError } from '../errors.js';
import { RUNBOOKS, UPSTREAM, runbook } from '../policy/remedies.js';
import { GUARD_DIR, STATE_JSON, STATE_LEGACY, WAL_DIR, inspectStorage, type StorageInspection } from '../storage/inspect.js';
import { judgeArchivedState, scanArchive, type ScanResult } from './read.js';
import { procDetector, type ProcessDetector } from './holders.js';
import { acquireStorageLock, describeHolder } from './lock.js';
import { listArchives } from './list.js';
import { formatTimestamp, podIdentity, type PodIdentity } from './name.js';
import { fsyncDir } from './write.js';
import type { Manifest } from './manifest.js';

export interface RestoreOptions {
  archive: string;
  storage: string;
  now: Date;
  detector?: ProcessDetector;
  /** Restore even though the archive is another peer's (moving a peer to a new volume). */
  allowPeerChange?: boolean;
  /** `<statefulset>-<ordinal>` of the volume's pod; the CLI defaults it from POD_NAME. */
  pod?: string;
  /** Another place this volume's own archives live (the snapshots volume); `<storage>/.upgrade-guard` always counts. */
  archiveDir?: string;
  /** `--max-state-bytes`: the largest state file an archive may hold. */
  maxStateBytes?: number;
  /**
   * `--with-wal`: also put back the archive's consensus WAL. By default the volume's own WAL is kept when it holds a
   * segment (see walDecision).
   */
  withWal?: boolean;
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

const SEE = runbook(RUNBOOKS.restore);

const scanLimits = (opts: RestoreOptions) => (opts.maxStateBytes ? { maxStateBytes: opts.maxStateBytes } : {});

async function exists(p: string): Promise<boolean> {
  return fs.lstat(p).then(
    () => true,
    () => false,
  );
}

/** A dir name not used yet: `base`, then `base-2`, `base-3`... (two restores within one second stay apart). */
async function freshDir(parent: string, base: string): Promise<string> {
  for (let i = 1; ; i++) {
    const dir = path.join(parent, i === 1 ? base : `${base}-${i}`);
    try {
      await fs.mkdir(dir, { mode: 0o750 });
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

async function sha256OfFile(file: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  const fh = await fs.open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1024 * 1024);
    let size = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      size += bytesRead;
    }
    return { size, sha256: hash.digest('hex') };
  } finally {
    await fh.close();
  }
}

/**
 * What landed in the staging dir, read back from disk: every manifest file a regular file with its size and
 * sha256, every directory a directory, nothing else; then the staged state parsed and compared with the manifest.
 * Returns the problem, or undefined when the staged copy is exactly the archive.
 */
async function verifyStaged(staging: string, m: Manifest): Promise<string | undefined> {
  const expected = new Map(m.files.map((f) => [f.path, f]));
  const dirs = new Set(m.directories);
  const found: string[] = [];
  const walk = async (rel: string): Promise<string | undefined> => {
    for (const e of await fs.readdir(path.join(staging, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!dirs.has(r) && ![...expected.keys()].some((p) => p.startsWith(r + '/'))) return `${r}/ is in the staged copy but not in manifest.json`;
        const problem = await walk(r);
        if (problem) return problem;
      } else if (e.isFile()) {
        if (!expected.has(r)) return `${r} is in the staged copy but not in manifest.json`;
        found.push(r);
      } else {
        return `${r} in the staged copy is not a regular file`;
      }
    }
    return undefined;
  };
  const extra = await walk('');
  if (extra) return extra;
  for (const d of dirs) {
    const st = await fs.lstat(path.join(staging, d)).catch(() => undefined);
    if (!st?.isDirectory()) return `directory ${d}/ did not land in the staged copy`;
  }
  for (const f of m.files) {
    const file = path.join(staging, f.path);
    const st = await fs.lstat(file).catch(() => undefined);
    if (!st?.isFile()) return `${f.path} did not land in the staged copy`;
    const got = await sha256OfFile(file);
    if (got.size !== f.size || got.sha256 !== f.sha256) {
      return `${f.path} reads back from disk as ${got.size} bytes, sha256 ${got.sha256}; manifest.json says ${f.size} bytes, sha256 ${f.sha256}`;
    }
  }
  const read = async (name: string) => (expected.has(name) ? fs.readFile(path.join(staging, name)) : undefined);
  const state = judgeArchivedState(await read(STATE_JSON), await read(STATE_LEGACY), m);
  return state.ok ? undefined : `staged copy: ${state.reason}`;
}

/** The first DNS label of a peer URI's host (`http://qdrant-1.qdrant-headless:6335/` -> `qdrant-1`), if it is a name. */
export function podOfAddress(uri: string): string | undefined {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^@/]*@)?([^:/?#\[\]]+)/.exec(uri);
  const host = m?.[1];
  if (!host || /^[0-9.]+$/.test(host)) return undefined;
  return host.split('.')[0]!.toLowerCase();
}

interface IdentityEvidence {
  /** Why the archive is another peer's, one clause each; empty when nothing says so. */
  against: string[];
  /** What was compared and agreed. */
  agreed: string[];
}

/** Everything that tells whose volume this is, compared with the archive's peer. */
async function identityEvidence(opts: RestoreOptions, storage: string, before: StorageInspection, m: Manifest, scan: ScanResult & { ok: true }): Promise<IdentityEvidence> {
  const against: string[] = [];
  const agreed: string[] = [];
  if (before.state) {
    if (before.state.thisPeerId !== m.peerId) against.push(`the volume holds a valid state of peer ${before.state.thisPeerId}; the archive is peer ${m.peerId}`);
    else agreed.push(`the volume's state is peer ${m.peerId}`);
  }
  let pod: PodIdentity | undefined;
  if (opts.pod) {
    try {
      pod = podIdentity(opts.pod);
    } catch {
      pod = undefined;
    }
  }
  // The volume's own archives (written by `volume` on this volume) name its real peer even when its state is gone.
  const archivePath = path.resolve(opts.archive);
  // Another archive dir may hold every pod's archives (the snapshots volume): only with a known pod does it count.
  const dirs = [path.join(storage, GUARD_DIR), ...(opts.archiveDir && pod ? [path.resolve(opts.archiveDir)] : [])];
  const own = (await Promise.all(dirs.map((d) => listArchives(d, pod).catch(() => [])))).flat()
    .filter((a) => path.resolve(a.path) !== archivePath)
    .sort((a, b) => (a.timestamp < b.timestamp ? 1 : a.timestamp > b.timestamp ? -1 : 0));
  for (const a of own) {
    const s = await scanArchive(a.path, scanLimits(opts)).catch(() => undefined);
    if (!s?.ok) continue;
    if (s.manifest.peerId !== m.peerId) against.push(`the newest own archive of this volume, ${a.name}, is peer ${s.manifest.peerId}; the archive to restore is peer ${m.peerId}`);
    else agreed.push(`this volume's newest own archive ${a.name} is peer ${m.peerId}`);
    break;
  }
  if (opts.pod) {
    if (m.pod !== opts.pod) against.push(`the archive was recorded for pod ${m.pod}; this volume is ${opts.pod}'s`);
    else agreed.push(`recorded for pod ${m.pod}`);
    const address = scan.raftState.peerAddressById[m.peerId];
    const addressPod = address ? podOfAddress(address) : undefined;
    if (address && addressPod && pod && addressPod !== opts.pod.toLowerCase()) {
      against.push(`the archived state gives its own peer ${m.peerId} the address ${address}, which is not ${opts.pod}`);
    } else if (address && addressPod) {
      agreed.push(`peer address ${address}`);
    }
  }
  return { against, agreed };
}

export async function restoreArchive(opts: RestoreOptions): Promise<RestoreOutcome> {
  const storage = path.resolve(opts.storage);
  const st = await fs.stat(storage).catch(() => undefined);
  if (!st?.isDirectory()) throw usageError(`storage directory ${opts.storage} does not exist or is not a directory`);
  const checks: Check[] = [];
  const outcome: RestoreOutcome = { checks, restored: false, replaced: [] };
  const guardDir = path.join(storage, GUARD_DIR);

  // 1. One restore or volume run per storage dir.
  let lock;
  try {
    lock = await acquireStorageLock(storage, 'restore');
  } catch (err) {
    throw infraError(`cannot create the lock in ${guardDir} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, {
      cause: err,
      remedy: `The storage volume must be writable by this user (Qdrant uid 1000); nothing was changed. See ${SEE}.`,
    });
  }
  if (!lock.ok) {
    checks.push(check('restore.lock', 'fail', storage, lock.reason, 'no other restore or volume run on this storage dir',
      `Nothing was changed. Wait for ${describeHolder(lock.holder)} to finish and run the restore again. If that process is gone ` +
        `(its pod deleted, its node lost), delete ${lock.path} and retry. See ${SEE}.`));
    return outcome;
  }
  try {
    checks.push(check('restore.lock', 'pass', storage,
      lock.tookOverStale ? `took over the stale lock of pid ${lock.tookOverStale.pid} (no longer running on ${lock.tookOverStale.host})` : 'storage dir locked for this restore',
      'no other restore or volume run on this storage dir'));
    await restoreLocked(opts, storage, outcome);
  } finally {
    await lock.release();
  }
  return outcome;
}

async function restoreLocked(opts: RestoreOptions, storage: string, outcome: RestoreOutcome): Promise<void> {
  const { checks } = outcome;
  const guardDir = path.join(storage, GUARD_DIR);

  // 2. The archive, completely, before anything else.
  const scan = await scanArchive(opts.archive, scanLimits(opts));
  outcome.scan = scan;
  if (!scan.ok) {
    checks.push(
      check('restore.archive', 'fail', path.basename(opts.archive), scan.reason, 'an intact archive: allowed entries only, every sha256 matching manifest.json',
        `Nothing was changed. Use another archive (qdrant-upgrade-guard archives --storage <dir> lists them, newest first). See ${SEE}.`),
    );
    return;
  }
  const m = scan.manifest;
  checks.push(
    check('restore.archive', 'pass', path.basename(opts.archive),
      `${scan.files.length} file(s), ${scan.totalBytes} bytes, checksums match; peer ${m.peerId}, term ${m.term}, commit ${m.commit} (${m.pod}, ${m.fromVersion} -> ${m.toVersion}, ${m.createdAt})`,
      'an intact archive'),
  );

  // 3a. Nobody may be running on the volume.
  const holders = await (opts.detector ?? procDetector()).scan(storage);
  if (!holders.supported) {
    checks.push(check('restore.not-running', 'warn', storage, 'cannot list processes here (no /proc)', 'no Qdrant process using the storage dir',
      `Make sure Qdrant is stopped on this volume before restoring. See ${SEE}.`));
  } else if (holders.holders.length > 0) {
    const list = holders.holders.map((h) => `${h.name} pid ${h.pid} (${h.via})`).join(', ');
    checks.push(check('restore.not-running', 'fail', storage, `in use by ${list}`, 'no Qdrant process using the storage dir',
      `Nothing was changed. Stop Qdrant first (kubectl scale statefulset <name> --replicas=0, or stop the process), then restore. See ${SEE}.`));
  } else {
    checks.push(check('restore.not-running', 'pass', storage, 'no Qdrant process holds the storage dir', 'no Qdrant process using the storage dir'));
  }

  // 3b. The archive must be this volume's peer: two pods with one identity is qdrant/qdrant#6348.
  const before = await inspectStorage(storage);
  outcome.before = before;
  const evidence = await identityEvidence(opts, storage, before, m, scan);
  const expectedIdentity = "the archive's peer is this volume's peer (its state, its own newest archive, its pod)";
  if (evidence.against.length > 0) {
    checks.push(check('restore.identity', opts.allowPeerChange ? 'warn' : 'fail', storage, evidence.against.join('; '), expectedIdentity,
      opts.allowPeerChange
        ? `Restoring peer ${m.peerId} here anyway, as asked with --allow-peer-change: make sure no other pod runs as peer ${m.peerId}. See ${SEE}.`
        : `Nothing was changed. This archive belongs to ${m.pod} (peer ${m.peerId}). Pick the archive of this volume's own peer ` +
          `(qdrant-upgrade-guard archives --storage ${opts.storage}), or pass --allow-peer-change if you are moving peer ${m.peerId} here on purpose ` +
          `(or restoring this volume's original identity over one Qdrant minted after losing its state, ${UPSTREAM.lostRaftState}). See ${SEE}.`));
  } else if (before.state && BigInt(before.state.commit) > BigInt(m.commit)) {
    checks.push(check('restore.identity', 'warn', storage,
      `same peer ${m.peerId}; the volume is at commit ${before.state.commit}, the archive at ${m.commit} (older)`,
      'an archive at least as recent as the volume', `The volume's newer WAL is kept (unless --with-wal), so Qdrant replays it from the older commit. See ${SEE}.`));
  } else {
    const said = evidence.agreed.length > 0 ? evidence.agreed.join('; ') : `volume is ${before.classification}, nothing names another peer`;
    const unchecked = opts.pod ? '' : ' (no --pod or POD_NAME: the archive\'s pod and address were not compared)';
    checks.push(check('restore.identity', 'pass', storage, `archive restores peer ${m.peerId}: ${said}${unchecked}`, expectedIdentity));
  }
  if (checks.some((c) => c.status === 'fail')) return;

  // Space for the staged copy, on the storage file system itself, each file rounded up to whole blocks.
  const fsStat = await fs.statfs(storage).catch(() => undefined);
  if (fsStat) {
    const bsize = fsStat.bsize || 4096;
    const need = m.files.reduce((n, f) => n + Math.ceil(f.size / bsize) * bsize + bsize, 0) + 1024 * 1024;
    if (fsStat.bavail * bsize < need) {
      checks.push(check('restore.space', 'fail', storage, `${fsStat.bavail * bsize} bytes free`, `at least ${need} bytes free`,
        `Nothing was changed. Free space on the storage volume (old archives in ${guardDir}, replaced-* dirs of earlier restores), then retry. See ${SEE}.`));
      return;
    }
  }

  // 4. Stage, then prove what is on disk is the archive. Staging dirs of earlier runs are leftovers of a crash:
  // only the lock holder stages, and the lock is ours.
  for (const name of await fs.readdir(guardDir).catch(() => [] as string[])) {
    if (/^restore-.*\.staging$/.test(name)) await fs.rm(path.join(guardDir, name), { recursive: true, force: true }).catch(() => undefined);
  }
  const stamp = formatTimestamp(opts.now);
  let staging: string;
  try {
    staging = path.join(guardDir, `restore-${stamp}-${process.pid}-${randomBytes(4).toString('hex')}.staging`);
    await fs.mkdir(staging, { mode: 0o750 });
  } catch (err) {
    throw infraError(`cannot create a staging dir in ${guardDir} (${(err as NodeJS.ErrnoException).code})`, { cause: err,
      remedy: `The storage volume must be writable by this user (Qdrant uid 1000); nothing was changed. See ${SEE}.` });
  }
  try {
    const stagingFailed = (observed: string) =>
      checks.push(check('restore.staging', 'fail', storage, observed, 'every file of the archive written, fsynced and read back matching manifest.json',
        `nothing was changed: the live volume is as it was and the staged copy was removed. Free space or fix the file system of ${storage} ` +
          `(df -h, df -i), then retry. See ${SEE}.`));
    let staged: ScanResult;
    try {
      staged = await scanArchive(opts.archive, { ...scanLimits(opts), extractTo: staging });
    } catch (err) {
      stagingFailed(`extracting into ${staging} failed: ${(err as Error).message}`);
      return;
    }
    if (!staged.ok) {
      if (staged.stagingError) stagingFailed(staged.reason);
      else checks.push(check('restore.archive', 'fail', path.basename(opts.archive), `changed between checks: ${staged.reason}`, 'an intact archive', `Nothing was changed; retry. See ${SEE}.`));
      return;
    }
    let problem: string | undefined;
    try {
      await fsyncDirTree(staging);
      problem = await verifyStaged(staging, m);
    } catch (err) {
      problem = `reading the staged copy back failed: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    }
    if (problem) {
      stagingFailed(problem);
      return;
    }
    checks.push(check('restore.staging', 'pass', storage, `${m.files.length} file(s) staged, fsynced and read back from disk matching manifest.json`,
      'every file of the archive written, fsynced and read back matching manifest.json'));

    // 5. Swap, undoing every step on failure.
    const wal = await walDecision(opts, storage, staging);
    checks.push(check('restore.wal', 'pass', storage, wal.observed, 'a consensus WAL at least as recent as the restored state'));
    if (!wal.restore) await fs.rm(path.join(staging, WAL_DIR), { recursive: true, force: true });
    await swap(opts, storage, staging, m, outcome);
  } finally {
    await fs.rm(staging, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function walSegments(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.isFile()) out.set(e.name, (await fs.stat(path.join(dir, e.name))).size);
  }
  return out;
}

/**
 * Whether the archive's consensus WAL replaces the volume's. The archive is of this same volume (restore.identity),
 * taken before the upgrade, and Qdrant only appends to its WAL: a WAL that still holds every archived segment, none
 * shorter, is at least as recent as the archived one. Putting back an older log than the commit the leader already
 * recorded for the peer makes raft-rs panic on the next heartbeat (`to_commit N is out of range [last_index M]`, seen
 * with real Qdrant 1.13), while an older raft state in front of a newer log is what Qdrant itself leaves between two
 * state saves (docs/qdrant-facts.md#storage-directory). So the volume's WAL is kept when it is complete; the archived
 * one comes back when a segment is missing or shorter (a damaged or replaced WAL), or on `--with-wal`.
 */
async function walDecision(opts: RestoreOptions, storage: string, staging: string): Promise<{ restore: boolean; observed: string }> {
  const archived = await walSegments(path.join(staging, WAL_DIR));
  if (archived.size === 0) return { restore: false, observed: "the archive holds no WAL segment; the volume's WAL is left as it is" };
  const live = await walSegments(path.join(storage, WAL_DIR));
  if (opts.withWal) {
    return { restore: true, observed: `the archive's WAL (${archived.size} segment(s)) replaces the volume's (${live.size}), as asked with --with-wal` };
  }
  const gone = [...archived].filter(([name, size]) => (live.get(name) ?? -1) < size).map(([name]) => name);
  if (gone.length > 0) {
    return {
      restore: true,
      observed: `the volume's WAL lacks or holds shorter ${gone.slice(0, 5).join(', ')}${gone.length > 5 ? ` and ${gone.length - 5} more` : ''}: ` +
        `the archive's WAL (${archived.size} segment(s)) is restored with the state`,
    };
  }
  return {
    restore: false,
    observed: `the volume's own WAL (${live.size} segment(s), every archived segment present and no shorter) is kept: it is at least as recent ` +
      `as the archive's (--with-wal restores the archive's instead)`,
  };
}

async function fsyncDirTree(dir: string): Promise<void> {
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) await fsyncDirTree(path.join(dir, e.name));
  }
  await fsyncDir(dir);
}

async function swap(opts: RestoreOptions, storage: string, staging: string, m: Manifest, outcome: RestoreOutcome): Promise<void> {
  const { checks } = outcome;
  const guardDir = path.join(storage, GUARD_DIR);
  const live = (name: string) => path.join(storage, name);
  let replacedDir: string;
  try {
    replacedDir = await freshDir(guardDir, `replaced-${formatTimestamp(opts.now)}`);
  } catch (err) {
    throw infraError(`cannot create a dir for the replaced files in ${guardDir} (${(err as NodeJS.ErrnoException).code})`, { cause: err,
      remedy: `Nothing was changed. The storage volume must be writable by this user. See ${SEE}.` });
  }
  /** Inverse operations of what was done, newest first. */
  const undo: (() => Promise<void>)[] = [];
  const rollback = async (): Promise<string[]> => {
    const failures: string[] = [];
    for (const step of undo.reverse()) {
      await step().catch((e: NodeJS.ErrnoException) => failures.push(e.message));
    }
    await fsyncDir(storage).catch(() => undefined);
    return failures;
  };
  const staged = async (name: string) => exists(path.join(staging, name));
  try {
    if (await staged(WAL_DIR)) {
      if (await exists(live(WAL_DIR))) {
        await fs.rename(live(WAL_DIR), path.join(replacedDir, WAL_DIR));
        undo.push(() => fs.rename(path.join(replacedDir, WAL_DIR), live(WAL_DIR)));
        outcome.replaced.push(WAL_DIR);
      }
      await fs.rename(path.join(staging, WAL_DIR), live(WAL_DIR));
      undo.push(() => fs.rename(live(WAL_DIR), path.join(staging, WAL_DIR)));
    }
    for (const name of [STATE_LEGACY, STATE_JSON]) {
      if (!(await staged(name))) continue;
      const cur = await fs.lstat(live(name)).catch(() => undefined);
      const aside = path.join(replacedDir, name);
      if (cur?.isFile()) {
        // Keep a copy aside by hard link, then replace in one rename: the state file is never missing.
        await fs.link(live(name), aside);
        outcome.replaced.push(name);
        await fs.rename(path.join(staging, name), live(name));
        undo.push(() => fs.rename(aside, live(name)));
      } else {
        if (cur) {
          await fs.rename(live(name), aside);
          outcome.replaced.push(name);
          undo.push(() => fs.rename(aside, live(name)));
        }
        await fs.rename(path.join(staging, name), live(name));
        undo.push(() => fs.rm(live(name), { force: true }));
      }
    }
    await fsyncDir(storage);
  } catch (err) {
    const failures = await rollback();
    await fs.rm(replacedDir, { recursive: true, force: true }).catch(() => undefined);
    if (failures.length > 0) {
      throw infraError(`restore of ${opts.archive} into ${storage} stopped part way (${(err as Error).message}) and could not be undone (${failures.join('; ')})`, {
        cause: err,
        remedy: `Do not start Qdrant on this volume. The files replaced so far are in ${replacedDir}; move them back by hand. See ${SEE}.`,
      });
    }
    checks.push(check('restore.applied', 'fail', storage, `swapping the staged files in failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); every step was undone`,
      `initialized as peer ${m.peerId}`, `nothing was changed: the volume is as it was. Check the storage volume (writable, healthy) and retry. See ${SEE}.`));
    return;
  }

  // Read it back as Qdrant would; a volume that does not read back right is put back as it was.
  const after = await inspectStorage(storage);
  const ok = after.classification === 'initialized' && after.state?.thisPeerId === m.peerId;
  if (!ok) {
    const failures = await rollback();
    await fs.rm(replacedDir, { recursive: true, force: true }).catch(() => undefined);
    outcome.after = await inspectStorage(storage);
    checks.push(check('restore.applied', 'fail', storage,
      `after the swap the volume read back as ${after.classification}${after.state ? `, peer ${after.state.thisPeerId}` : ''}; ` +
        (failures.length === 0 ? 'every step was undone' : `undoing failed: ${failures.join('; ')}`),
      `initialized as peer ${m.peerId}`, `The volume was put back as it was. Report this with the archive. See ${SEE}.`));
    return;
  }
  await fs.writeFile(
    path.join(replacedDir, 'RESTORE.json'),
    JSON.stringify({ restoredAt: opts.now.toISOString(), archive: path.resolve(opts.archive), peerId: m.peerId, replaced: outcome.replaced }, null, 2) + '\n',
  ).catch(() => undefined);
  await fsyncDir(replacedDir).catch(() => undefined);
  outcome.restored = true;
  outcome.replacedDir = replacedDir;
  outcome.after = after;
  checks.push(check('restore.applied', 'pass', storage,
    `now ${after.classification}, peer ${after.state!.thisPeerId}, term ${after.state!.term}, commit ${after.state!.commit}; replaced files kept in ${replacedDir}`,
    `initialized as peer ${m.peerId}`));
}
