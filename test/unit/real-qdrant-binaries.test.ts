import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  availableQdrantVersions,
  qdrantBinDir,
  resolveQdrantBinary,
  resolveQdrantBinarySync,
} from '../support/real-qdrant/binaries.js';
import { missingVersions, requireQdrantVersions } from '../support/real-qdrant/index.js';

/** Small shell scripts stand in for the 100 MB server: the resolver only moves, unpacks, hashes and runs files. */
function fakeServer(version: string): string {
  return `#!/bin/sh\necho "qdrant ${version}"\n`;
}
const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

describe('real Qdrant binaries from QDRANT_BIN_DIR', () => {
  let root: string;
  let binDir: string;
  let cache: string;
  const saved = { dir: process.env.QDRANT_BIN_DIR, cache: process.env.QDRANT_BIN_CACHE, ci: process.env.CI, required: process.env.QDRANT_BIN_REQUIRED };

  async function executable(rel: string, content: string): Promise<void> {
    const p = path.join(binDir, rel);
    await fs.mkdir(path.dirname(p), { recursive: true });
    await fs.writeFile(p, content, { mode: 0o755 });
  }
  async function xz(version: string, content: string): Promise<string> {
    const p = path.join(binDir, `qdrant-v${version}.xz`);
    await fs.writeFile(p, execFileSync('xz', ['-c'], { input: content }));
    return p;
  }
  async function sources(rows: Array<[string, string]>): Promise<void> {
    const table = rows.map(([file, digest]) => `| ${file} | v? | 0000000 | ${digest} |`).join('\n');
    await fs.writeFile(path.join(binDir, 'SOURCES.md'), `# Binaries\n\n| file | tag | commit | sha256 |\n|---|---|---|---|\n${table}\n`);
  }
  const run = (p: string) => execFileSync(p, { encoding: 'utf8' }).trim();

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'qug-bins-'));
    binDir = path.join(root, 'bins');
    cache = path.join(root, 'cache');
    await fs.mkdir(binDir);
    process.env.QDRANT_BIN_DIR = binDir;
    process.env.QDRANT_BIN_CACHE = cache;
  });
  afterEach(async () => {
    for (const [k, v] of [['QDRANT_BIN_DIR', saved.dir], ['QDRANT_BIN_CACHE', saved.cache], ['CI', saved.ci], ['QDRANT_BIN_REQUIRED', saved.required]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await fs.rm(root, { recursive: true, force: true });
  });

  it('reports no folder and no versions when QDRANT_BIN_DIR is unset or blank', async () => {
    delete process.env.QDRANT_BIN_DIR;
    expect(qdrantBinDir()).to.equal(undefined);
    expect(availableQdrantVersions()).to.deep.equal([]);
    expect(await resolveQdrantBinary('1.13.5')).to.equal(undefined);
    process.env.QDRANT_BIN_DIR = '  ';
    expect(qdrantBinDir()).to.equal(undefined);
    expect(resolveQdrantBinarySync('1.13.5')).to.equal(undefined);
  });

  it('resolves a relative QDRANT_BIN_DIR against the working directory', () => {
    process.env.QDRANT_BIN_DIR = 'some/bins';
    expect(qdrantBinDir()).to.equal(path.resolve('some/bins'));
  });

  it('lists versions of every layout once, in semver order, ignoring what is not a server', async () => {
    await executable('qdrant-v1.16.3', fakeServer('1.16.3'));
    await executable('v1.9.0/qdrant', fakeServer('1.9.0'));
    await xz('1.13.4', fakeServer('1.13.4'));
    await xz('1.16.3', fakeServer('1.16.3'));
    await fs.writeFile(path.join(binDir, 'qdrant-v1.13.5'), fakeServer('1.13.5'), { mode: 0o644 }); // not executable
    await executable('qdrant-vlatest', fakeServer('latest'));
    await executable('v1.10.0/README.md', 'not a server');
    await fs.writeFile(path.join(binDir, 'SOURCES.md'), '');
    expect(availableQdrantVersions()).to.deep.equal(['1.9.0', '1.13.4', '1.16.3']);
  });

  it('returns undefined for a version that is not there, and for one that is not a version', async () => {
    await executable('qdrant-v1.13.4', fakeServer('1.13.4'));
    expect(await resolveQdrantBinary('1.13.5')).to.equal(undefined);
    expect(await resolveQdrantBinary('../../etc/x')).to.equal(undefined);
  });

  it('uses an executable in place, with or without a leading v', async () => {
    await executable('qdrant-v1.13.4', fakeServer('1.13.4'));
    const b = await resolveQdrantBinary('v1.13.4');
    expect(b).to.deep.equal({ version: '1.13.4', path: path.join(binDir, 'qdrant-v1.13.4') });
    expect(resolveQdrantBinarySync('1.13.4')).to.deep.equal(b);
  });

  it('finds the folder-per-version layout of the release archives', async () => {
    await executable('v1.16.3/qdrant', fakeServer('1.16.3'));
    const b = resolveQdrantBinarySync('1.16.3');
    expect(b?.path).to.equal(path.join(binDir, 'v1.16.3', 'qdrant'));
    expect(run(b!.path)).to.equal('qdrant 1.16.3');
  });

  it('unpacks an .xz once into the cache, checked against SOURCES.md, and reuses it', async () => {
    await xz('1.13.5', fakeServer('1.13.5'));
    await sources([['qdrant-v1.13.4.xz', sha('other')], ['qdrant-v1.13.5.xz', sha(fakeServer('1.13.5'))]]);
    const b = await resolveQdrantBinary('1.13.5');
    expect(b?.path).to.equal(path.join(cache, '1.13.5', 'qdrant'));
    expect(run(b!.path)).to.equal('qdrant 1.13.5');
    const first = (await fs.stat(b!.path)).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    expect(resolveQdrantBinarySync('1.13.5')).to.deep.equal(b);
    expect((await fs.stat(b!.path)).mtimeMs).to.equal(first);
    expect((await fs.readdir(path.join(cache, '1.13.5'))).sort()).to.deep.equal(['qdrant', 'source.json']);
  });

  it('unpacks again when the .xz changed since it was cached', async () => {
    const p = await xz('1.13.4', fakeServer('1.13.4'));
    expect(run(resolveQdrantBinarySync('1.13.4')!.path)).to.equal('qdrant 1.13.4');
    await fs.writeFile(p, execFileSync('xz', ['-c'], { input: fakeServer('1.13.4 rebuilt') }));
    expect(run((await resolveQdrantBinary('1.13.4'))!.path)).to.equal('qdrant 1.13.4 rebuilt');
  });

  for (const mode of ['async', 'sync'] as const) {
    it(`refuses an .xz whose unpacked sha256 differs from SOURCES.md and caches nothing (${mode})`, async () => {
      await xz('1.13.4', fakeServer('1.13.4'));
      const listed = sha('the real build');
      await sources([['qdrant-v1.13.4.xz', listed]]);
      const call = mode === 'async' ? resolveQdrantBinary('1.13.4') : Promise.resolve().then(() => resolveQdrantBinarySync('1.13.4'));
      const err = await call.then(() => undefined, (e: Error) => e);
      expect(err?.message).to.include(`sha256 ${sha(fakeServer('1.13.4'))}`).and.include(`lists ${listed}`).and.include('SOURCES.md');
      expect(await fs.readdir(path.join(cache, '1.13.4'))).to.deep.equal([]);
    });
  }

  it('checks an executable in place against SOURCES.md as well', async () => {
    await executable('qdrant-v1.16.3', fakeServer('1.16.3'));
    await sources([['qdrant-v1.16.3.xz', sha('something else')]]);
    expect(() => resolveQdrantBinarySync('1.16.3')).to.throw(/sha256 .* but .*SOURCES\.md lists/);
    await sources([['qdrant-v1.16.3.xz', sha(fakeServer('1.16.3'))]]);
    expect((await resolveQdrantBinary('1.16.3'))?.path).to.equal(path.join(binDir, 'qdrant-v1.16.3'));
  });

  it('does not take the digest of 1.13.45 or 1.13.4-rc1 for 1.13.4', async () => {
    await xz('1.13.4', fakeServer('1.13.4'));
    await sources([['qdrant-v1.13.45.xz', sha('a')], ['qdrant-v1.13.4-rc1.xz', sha('b')]]);
    expect(run((await resolveQdrantBinary('1.13.4'))!.path)).to.equal('qdrant 1.13.4');
  });

  it('lets concurrent callers unpack the same version without a torn or leftover file', async () => {
    await xz('1.16.3', fakeServer('1.16.3') + '#'.repeat(200_000));
    await sources([['qdrant-v1.16.3.xz', sha(fakeServer('1.16.3') + '#'.repeat(200_000))]]);
    const all = await Promise.all([
      resolveQdrantBinary('1.16.3'),
      resolveQdrantBinary('1.16.3'),
      Promise.resolve().then(() => resolveQdrantBinarySync('1.16.3')),
      resolveQdrantBinary('1.16.3'),
    ]);
    expect(new Set(all.map((b) => b?.path)).size).to.equal(1);
    expect(sha(await fs.readFile(all[0]!.path))).to.equal(sha(fakeServer('1.16.3') + '#'.repeat(200_000)));
    expect((await fs.readdir(path.join(cache, '1.16.3'))).sort()).to.deep.equal(['qdrant', 'source.json']);
  });

  describe('a missing version in the real-Qdrant tier', () => {
    const ctx = () => {
      const c = { skipped: false, skip() { c.skipped = true; throw new Error('skip'); } };
      return c;
    };
    const call = (c: ReturnType<typeof ctx>) => {
      try {
        requireQdrantVersions(c as unknown as Mocha.Context, ['1.13.4', '1.16.3']);
        return 'ran';
      } catch (e) {
        return c.skipped ? 'skipped' : (e as Error).message;
      }
    };

    beforeEach(() => {
      delete process.env.CI;
      delete process.env.QDRANT_BIN_REQUIRED;
    });

    it('runs when every version is there', async () => {
      await executable('qdrant-v1.13.4', fakeServer('1.13.4'));
      await executable('v1.16.3/qdrant', fakeServer('1.16.3'));
      expect(missingVersions(['1.13.4', '1.16.3'])).to.deep.equal([]);
      expect(call(ctx())).to.equal('ran');
    });

    it('skips on a laptop, with or without QDRANT_BIN_DIR', async () => {
      await executable('qdrant-v1.13.4', fakeServer('1.13.4'));
      expect(call(ctx())).to.equal('skipped');
      delete process.env.QDRANT_BIN_DIR;
      process.env.CI = 'true';
      expect(call(ctx())).to.equal('skipped');
    });

    it('fails under CI or QDRANT_BIN_REQUIRED when QDRANT_BIN_DIR lacks a version', async () => {
      await executable('qdrant-v1.13.4', fakeServer('1.13.4'));
      process.env.CI = 'true';
      expect(call(ctx())).to.contain('lacks Qdrant 1.16.3').and.contain('CI must run the real-Qdrant tier');
      delete process.env.CI;
      process.env.QDRANT_BIN_REQUIRED = '1';
      expect(call(ctx())).to.contain('lacks Qdrant 1.16.3');
    });
  });
});
