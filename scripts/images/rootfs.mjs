// Helpers to stage a container root file system from this machine's files: a program and the shared libraries
// `ldd` says it loads, plain files, symlinks, directories, with the owner and mode the image should have.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export class Rootfs {
  constructor(dir) {
    this.dir = dir;
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    fs.chmodSync(dir, 0o755);
  }

  abs(p) {
    return path.join(this.dir, p);
  }

  mkdir(p, mode = 0o755, uid = 0, gid = 0) {
    const parts = p.split('/').filter(Boolean);
    let cur = '';
    for (const part of parts) {
      cur += `/${part}`;
      if (!fs.existsSync(this.abs(cur))) {
        fs.mkdirSync(this.abs(cur), { mode: 0o755 });
        fs.chmodSync(this.abs(cur), 0o755);
        fs.chownSync(this.abs(cur), 0, 0);
      }
    }
    fs.chmodSync(this.abs(p), mode);
    fs.chownSync(this.abs(p), uid, gid);
  }

  write(p, content, mode = 0o644, uid = 0, gid = 0) {
    this.mkdir(path.posix.dirname(p));
    fs.writeFileSync(this.abs(p), content);
    fs.chmodSync(this.abs(p), mode);
    fs.chownSync(this.abs(p), uid, gid);
  }

  copy(from, to, mode, uid = 0, gid = 0) {
    this.mkdir(path.posix.dirname(to));
    fs.copyFileSync(from, this.abs(to));
    fs.chmodSync(this.abs(to), mode ?? fs.statSync(from).mode & 0o7777);
    fs.chownSync(this.abs(to), uid, gid);
  }

  symlink(target, p) {
    this.mkdir(path.posix.dirname(p));
    fs.rmSync(this.abs(p), { force: true });
    fs.symlinkSync(target, this.abs(p));
    fs.lchownSync(this.abs(p), 0, 0);
  }

  /**
   * Copies an ELF program to `to` and every shared library it loads to the same path as on this machine
   * (the loader's own path is fixed in the program, and glibc's search path is the system one).
   */
  program(from, to = from) {
    this.copy(fs.realpathSync(from), to, 0o755);
    for (const lib of sharedLibraries(from)) {
      if (!fs.existsSync(this.abs(lib))) this.copy(fs.realpathSync(lib), lib, 0o755);
    }
  }

  /** Recursively sets owner (and keeps modes) below p, as `chown -R` in a Dockerfile would. */
  chownTree(p, uid, gid) {
    const walk = (abs) => {
      fs.lchownSync(abs, uid, gid);
      if (fs.lstatSync(abs).isDirectory()) for (const e of fs.readdirSync(abs)) walk(path.join(abs, e));
    };
    walk(this.abs(p));
  }
}

/** Absolute paths of the shared libraries (and the loader) a dynamically linked program loads, per ldd. */
export function sharedLibraries(program) {
  const r = spawnSync('ldd', [program], { encoding: 'utf8' });
  if (r.status !== 0) {
    if (/not a dynamic executable/.test(`${r.stdout}${r.stderr}`)) return [];
    throw new Error(`ldd ${program}: ${r.stderr.trim()}`);
  }
  const libs = [];
  for (const line of r.stdout.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]);
    else if (/not found/.test(line)) throw new Error(`ldd ${program}: ${line.trim()}`);
  }
  return libs;
}
