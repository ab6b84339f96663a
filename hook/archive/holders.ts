/**
 * Who holds a storage dir open. Qdrant takes no lock on its storage, so restore looks for a running
 * `qdrant` process whose working directory or any open file lies inside the dir (/proc/<pid>/cwd and
 * /proc/<pid>/fd/*). This sees processes in the same PID namespace only: in Kubernetes the restore Job
 * must run while the StatefulSet is scaled down (README "Restore"). Injectable for tests.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

export interface StorageHolder {
  pid: number;
  name: string;
  /** The path inside the storage dir that proves it (cwd or an open file). */
  via: string;
}

export interface HolderScan {
  /** False when there is no /proc to look at (not Linux): the caller says the check could not run. */
  supported: boolean;
  holders: StorageHolder[];
}

export interface ProcessDetector {
  scan(dir: string): Promise<HolderScan>;
}

export interface ProcDetectorOptions {
  procRoot?: string;
  /** Process names (comm or argv[0] basename) that count as Qdrant. */
  names?: string[];
}

function inside(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith('/') ? dir : dir + '/');
}

export function procDetector(options: ProcDetectorOptions = {}): ProcessDetector {
  const procRoot = options.procRoot ?? '/proc';
  const names = new Set(options.names ?? ['qdrant']);
  return {
    async scan(dir) {
      const target = await fs.realpath(dir).catch(() => path.resolve(dir));
      let pids: string[];
      try {
        pids = (await fs.readdir(procRoot)).filter((n) => /^\d+$/.test(n));
      } catch {
        return { supported: false, holders: [] };
      }
      const holders: StorageHolder[] = [];
      for (const pid of pids) {
        if (Number(pid) === process.pid) continue;
        const base = path.join(procRoot, pid);
        const comm = (await fs.readFile(path.join(base, 'comm'), 'utf8').catch(() => '')).trim();
        const argv0 = (await fs.readFile(path.join(base, 'cmdline'), 'utf8').catch(() => '')).split('\0')[0] ?? '';
        const name = names.has(comm) ? comm : names.has(path.basename(argv0)) ? path.basename(argv0) : undefined;
        if (!name) continue;
        const links = [path.join(base, 'cwd')];
        const fds = await fs.readdir(path.join(base, 'fd')).catch(() => [] as string[]);
        for (const fd of fds) links.push(path.join(base, 'fd', fd));
        for (const link of links) {
          const to = await fs.readlink(link).catch(() => undefined);
          if (to && inside(to, target)) {
            holders.push({ pid: Number(pid), name, via: to });
            break;
          }
        }
      }
      return { supported: true, holders };
    },
  };
}
