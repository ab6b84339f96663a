/**
 * Qdrant emulator: a TEST DOUBLE standing in for Qdrant in integration and e2e tests (no Qdrant
 * binary can run here). It follows docs/qdrant-facts.md and the OpenAPI
 * specs in test/fixtures/qdrant-openapi/ (1.13.5, 1.19.0) for every field it serves.
 *
 * What it does emulate:
 * - storage (docs/qdrant-facts.md#storage-directory, docs/qdrant-facts.md#raft-state-file): `raft_state.json` parsed losslessly and rewritten atomically (`.atomicwriteXXXX/`
 *   temp dir, fsync, rename, dir fsync) with Qdrant's keys and key order, u64 ids as bare numbers;
 *   `collections_meta_wal/open-1`; `collections/<name>/config.json` and `<shard>/replica_state.json`;
 *   `aliases/data.json`; the legacy `raft_state` (CBOR) is read when it is all there is;
 * - start-up log lines (docs/qdrant-facts.md#log-lines): `Loading raft state from ...`, `Initializing new raft state at ...`,
 *   `Distributed mode disabled`, `Replaced metadata of peer ...`, `Replaced address of peer ...` (WARN),
 *   in tracing text format (optional ANSI colour) or JSON lines;
 * - consensus (docs/qdrant-facts.md#http-api): bootstrap peer leader at term 1, `--bootstrap` joins, log replication with
 *   majority commit, elections after a leader is lost, UpdatePeerMetadata on a version change
 *   (with the 1.13.3-1.14.x single-peer stale-metadata bug of docs/qdrant-facts.md#single-peer-stale-metadata), address changes;
 * - the #6229 failure (docs/incident-6229.md) as the real 1.13.5 and 1.16.3 showed it
 *   (test/real-qdrant/emulator-contract.test.ts): a used volume without its state file mints a new id,
 *   loads its collections and replays the old WAL with Qdrant's refusals; alone it elects itself over
 *   the old log (ready, the old id a phantom voter at the same URI); with --bootstrap it joins as a
 *   second id at its URI on 1.13 and is refused, then panics (exit 101), on 1.16;
 * - REST (docs/qdrant-facts.md#http-api): `/`, `/healthz`, `/livez`, `/readyz`, `/cluster`, `/collections`, `/collections/{c}`,
 *   `/collections/{c}/cluster`, `/telemetry?details_level=N` (`peer_metadata` at level 3 on 1.16+),
 *   `/metrics`, `PUT /collections/{c}`; API key and read-only key as Qdrant's middleware checks them
 *   (`/`, `/healthz`, `/readyz`, `/livez` need no key);
 * - faults (faults.ts), each EMULATED because the real server cannot be made to show it on demand:
 *   lagging, new-peer-id (#6348), metadata-loop (the original report's "Replaced metadata ... from X
 *   to X" every 20-50 ms, no leader, /readyz 503), unreachable, shards-dead, not-ready,
 *   consensus-stopped.
 *
 * What it does NOT emulate:
 * - gRPC (6334) and Qdrant's real p2p gRPC protocol: peers talk a small JSON-over-HTTP protocol of
 *   our own on the p2p port, without API key checks; the wire format is not Qdrant's;
 * - Raft details: no learners or joint consensus (a joining peer becomes a voter at once), no
 *   pre-vote, no log compaction other than "a state file without WAL is a snapshot";
 * - points, vectors, search, snapshots, shard transfers (a new replica is Active at once), resharding,
 *   JWT RBAC, TLS, the web UI; `POST /snapshots` and `POST /cluster/recover` are absent;
 * - the real WAL format (the crate's pre-allocated segments and CRCs); our segment is our framing;
 * - decoding every legacy CBOR state: an undecodable `raft_state` gets a freshly minted id;
 * - Qdrant's cached readiness: /readyz is evaluated on every request;
 * - message_send_failures are derived from followers that stopped polling, not from real sends.
 *
 * Usage from a test:
 *   const cluster = await startEmulatorCluster({ peers: 3, version: '1.13.4' });
 *   cluster.endpoints();                       // [{ pod: 'qdrant-0', ordinal: 0, url: 'http://127.2.x.1:6333' }, ...]
 *   cluster.peer(1).peerId;                    // decimal string
 *   await cluster.restartPeer(2, { version: '1.13.5' });             // an upgrade step
 *   await cluster.restartPeer(0, { version: '1.13.5', deleteStateFile: true });  // #6229
 *   await cluster.peer(1).setMode('lagging');  // or { mode: 'shards-dead', shardState: 'Partial' }, ...
 *   cluster.peer(0).logLines();                // what `kubectl logs` would show
 *   await cluster.waitForConvergence({ metadata: true });
 *   await cluster.destroy();
 * As a process: see main.ts (or bin.mjs, which works from any working directory).
 *
 * Time: in-process peers run on real timers unless started with `{ sim }` (sim.ts): then a seeded
 * virtual clock and an in-memory p2p network move only when the test steps them (sim.run(ms),
 * sim.until(...), and the handle and cluster waits), so the same seed replays the same elections,
 * log lines and timestamps. The emulator's own tests run that way; the process wrapper (main.ts),
 * which the e2e tier starts, keeps real timers and HTTP between peers.
 * Measured 2026-12-01: test/unit/qdrant-emulator.test.ts + test/integration/qdrant-emulator.test.ts
 * (89 tests) passed 20 runs in a row on the 2-core machine loaded by two `node -e 'for(;;){}'` busy
 * loops (bounded by `timeout`) on top of the other work there (1-minute load 5.2 to 14.9), 9 to 30 s
 * a run. The first 20-run series, before the process test waited for both children to listen,
 * failed once in 20: that test runs real processes on real timers.
 *
 * Files: peer.ts (one lifetime: state, start-up, state machine), consensus.ts (the Raft of our
 * own), peer-http.ts (sockets), p2p.ts (messages, HTTP and simulated transports), clock.ts and
 * sim.ts, peer-storage.ts (raft_state.json in and out), replay-loop.ts (#6229), peer-faults.ts and
 * faults.ts (fault modes), rest.ts (REST), log.ts (log lines), storage.ts, wal.ts, raft-state.ts.
 */
export {
  startPeer,
  startEmulatorCluster,
  allocateLoopback,
  waitUntil,
  EmulatedPeerHandle,
  EmulatorCluster,
  type StartPeerOptions,
  type StartClusterOptions,
  type RestartOptions,
  type WaitOptions,
  type EmulatorClusterEndpoint,
} from './cluster.js';
export { parseFault, type FaultMode, type FaultSpec } from './faults.js';
export { EmulatorLog, type LogRecord, type LogLevel } from './log.js';
export { createSimulation, Simulation } from './sim.js';
export { SimClock, realClock, type EmulatorClock } from './clock.js';
export { DEFAULT_TIMING, type Timing, type CollectionSpec, type PeerStatus } from './peer.js';
export { parseRaftState, serializeRaftState, mintPeerId, type RaftStateFile } from './raft-state.js';
export { normaliseVersion, peerMetadataDebug } from './version.js';
export { fileResolver, mapResolver, type Resolver } from './resolve.js';
