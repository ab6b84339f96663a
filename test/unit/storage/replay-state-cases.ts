/**
 * Replays every case of state-json-cases.ts against a real Qdrant binary: a storage dir holding only the case's
 * raft_state.json, one peer started in cluster mode on loopback, and the verdict read from its log: "Loading raft
 * state" followed by consensus starting means it loaded; a logged "json (de)serialization error" means it did not.
 * Not part of the test run (it takes minutes); its findings are recorded in state-json.test.ts.
 *
 *   npx tsx test/unit/storage/replay-state-cases.ts /path/to/qdrant-v1.13.5 [name-filter]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { STATE_CASES } from './state-json-cases.js';

const [bin, filter] = process.argv.slice(2);
if (!bin) {
  console.error('usage: replay-state-cases.ts <qdrant binary> [name-filter]');
  process.exit(2);
}

function runOne(text: string | Buffer, port: number): Promise<{ loads: boolean; evidence: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qug-replay-'));
  const storage = path.join(dir, 'storage');
  mkdirSync(storage);
  writeFileSync(path.join(storage, 'raft_state.json'), text);
  return new Promise((resolve) => {
    const child = spawn(bin!, ['--uri', `http://127.0.0.1:${port + 2}`], {
      cwd: dir,
      env: {
        ...process.env,
        QDRANT__CLUSTER__ENABLED: 'true',
        QDRANT__SERVICE__HOST: '127.0.0.1',
        QDRANT__SERVICE__HTTP_PORT: String(port),
        QDRANT__SERVICE__GRPC_PORT: String(port + 1),
        QDRANT__CLUSTER__P2P__PORT: String(port + 2),
        QDRANT__STORAGE__STORAGE_PATH: storage,
        QDRANT__TELEMETRY_DISABLED: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    let done = false;
    const finish = (loads: boolean, evidence: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (child.exitCode === null) child.kill('SIGKILL');
      child.once('close', () => {
        rmSync(dir, { recursive: true, force: true });
        resolve({ loads, evidence });
      });
      if (child.exitCode !== null) child.emit('close');
    };
    const onData = (d: Buffer) => {
      log += d.toString();
      const err = /[^\n]*(serialization error|Failed to parse)[^\n]*/.exec(log);
      if (err) finish(false, err[0].replace(/^.*?ERROR /, '').slice(0, 200));
      // Past the state: consensus starts (and, with no other peer to reach, gives up later for its own reasons).
      else if (/qdrant::consensus|listening on/i.test(log)) finish(true, 'state loaded, consensus started');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => finish(false, `exited ${code}: ${log.split('\n').filter(Boolean).slice(-1)[0]?.slice(0, 160) ?? ''}`));
    const timer = setTimeout(() => finish(false, `no verdict in 60 s: ${log.slice(-200)}`), 60_000);
  });
}

let port = 29900;
let disagree = 0;
for (const c of STATE_CASES) {
  if (filter && !c.name.includes(filter)) continue;
  const r = await runOne(c.text, port);
  port = port >= 29990 ? 29900 : port + 3;
  const ok = r.loads === c.loads;
  if (!ok) disagree++;
  console.log(`${ok ? 'agree   ' : 'DISAGREE'} qdrant ${r.loads ? 'loads  ' : 'refuses'} | ${c.name} | ${r.evidence}`);
}
console.log(`${disagree} disagreement(s)`);
process.exitCode = disagree === 0 ? 0 : 1;
