// Every refusal names the way out when the guard itself is wrong, and what each switch costs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { EMERGENCY_EXIT, runCli } from '../../../hook/cli.js';

function ctx() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, c: { env: {}, stdout: (t: string) => void out.push(t), stderr: (t: string) => void err.push(t) } };
}

describe('CLI: the emergency exit after a refusal', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'guard-exit-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the startup check refusing a used volume without raft_state.json names all three switches and the runbook', async () => {
    fs.mkdirSync(path.join(dir, 'collections_meta_wal'));
    fs.writeFileSync(path.join(dir, 'collections_meta_wal', 'open-1'), Buffer.alloc(64, 1));
    const { err, c } = ctx();
    const code = await runCli(['volume', '--check-only', '--storage', dir, '--pod', 'qdrant-1'], c);
    expect(code).to.equal(1);
    const text = err.join('');
    expect(text).to.contain(EMERGENCY_EXIT);
    for (const s of ['upgradeGuard.startupCheck.enabled=false', '--no-hooks', 'upgradeGuard.enabled=false', 'docs/runbooks.md#turn-the-guard-off-in-an-emergency']) {
      expect(text).to.contain(s);
    }
  });

  it('says nothing of the kind on a pass', async () => {
    const { err, c } = ctx();
    expect(await runCli(['volume', '--check-only', '--storage', dir, '--pod', 'qdrant-0'], c)).to.equal(0);
    expect(err.join('')).to.not.contain('If the guard itself is in the way');
  });
});
