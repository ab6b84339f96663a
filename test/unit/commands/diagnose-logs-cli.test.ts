import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { runCli, type CliContext } from '../../../hook/cli.js';
import { runDiagnoseLogs } from '../../../hook/commands/diagnose-logs.js';
import { parseLossless } from '../../../hook/storage/raft-state.js';
import { repoRoot } from '../helpers/storage.js';

const log = (f: string) => path.join(repoRoot, 'test/fixtures/qdrant-logs', f);
const LOST = log('v1.13.4-to-v1.13.5_3peer_state-lost_qdrant-1.text.log');
const CLEAN = log('v1.13.4-to-v1.13.5_3peer_clean-rolling-upgrade_qdrant-1_start2_v1.13.5.text.log');

async function cli(args: string[]) {
  let stdout = '';
  let stderr = '';
  const ctx: CliContext = { env: {}, stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) };
  const code = await runCli(args, ctx);
  return { code, stdout, stderr };
}

describe('diagnose-logs command', () => {
  it('exits 1 on a log with the signature and 0 on a clean one', async () => {
    expect((await cli(['diagnose-logs', LOST])).code).to.equal(1);
    expect((await cli(['diagnose-logs', '--log', CLEAN])).code).to.equal(0);
  });

  it('prints the usual JSON report with details.signature and the evidence, ids as strings', async () => {
    const r = await cli(['diagnose-logs', LOST, '--pod', 'qdrant-1', '--recorded-peer-id', '18446744073709551615', '--output', 'json']);
    expect(r.code).to.equal(1);
    const doc = JSON.parse(r.stdout);
    expect(doc).to.include({ schemaVersion: 1, command: 'diagnose-logs', verdict: 'fail' });
    expect(doc.details).to.include({ signature: true, role: 'lost-state', pod: 'qdrant-1', previousPeerId: '18446744073709551615' });
    expect(doc.details.findings.map((f: { kind: string }) => f.kind)).to.deep.equal(['new-state-on-used-volume', 'replayed-operations']);
    expect(r.stdout).to.contain('"previousPeerId": "18446744073709551615"');
    expect(parseLossless(r.stdout)).to.be.an('object');
    const clean = JSON.parse((await cli(['diagnose-logs', CLEAN, '--output', 'json'])).stdout);
    expect(clean.details.signature).to.equal(false);
    expect(clean.verdict).to.equal('pass');
  });

  it('exits 2 without a log, on a missing file and on a recorded id that is not a u64', async () => {
    expect((await cli(['diagnose-logs'])).code).to.equal(2);
    const missing = await cli(['diagnose-logs', '/nonexistent/qdrant.log']);
    expect(missing.code).to.equal(2);
    expect(missing.stderr).to.contain('ENOENT');
    expect((await cli(['diagnose-logs', CLEAN, '--recorded-peer-id', '-1'])).code).to.equal(2);
    expect((await cli(['diagnose-logs', CLEAN, '--recorded-peer-id', '18446744073709551616'])).code).to.equal(2);
  });

  it('reads standard input for -, and calls an empty input a usage error, not a clean log', async () => {
    const text = '2026-12-01T06:04:51.042138Z ERROR qdrant::startup: Panic occurred in file src/main.rs at line 455: Can\'t initialize consensus: Failed to initialize Consensus for new Raft state: Failed to add peer to known\n';
    const r = await runDiagnoseLogs({ log: '-', stdin: Readable.from([text]), pod: 'qdrant-1' });
    expect(r.verdict).to.equal('fail');
    expect(r.details).to.include({ signature: true, source: 'standard input', linesRead: 1 });
    const empty = await runDiagnoseLogs({ log: '-', stdin: Readable.from([]) }).then(() => undefined, (e: Error & { kind?: string }) => e);
    expect(empty?.kind).to.equal('usage');
    expect(empty?.message).to.contain('nothing to diagnose');
  });

  it('reads a piped log with `-` through the real CLI process (kubectl logs qdrant-0 | ... diagnose-logs -)', () => {
    const input = readFileSync(log('v1.16.3_3peer_witness-rejects-join_qdrant-0.json.log'));
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'hook/cli.ts'), 'diagnose-logs', '-', '--pod', 'qdrant-0', '--output', 'json'], { input, encoding: 'utf8', cwd: repoRoot });
    expect(r.status, r.stderr).to.equal(1);
    expect(JSON.parse(r.stdout).details).to.include({ signature: true, role: 'witness', source: 'standard input' });
  });
});
