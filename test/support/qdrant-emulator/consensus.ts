/**
 * The consensus core of an emulated peer: a small pull-based Raft of our own (Qdrant runs raft-rs
 * over gRPC on the p2p port). Followers long-poll the leader with their last log index; the leader
 * answers at once with the entries they lack and its commit index (or holds the request until
 * something changes), and commits an entry once a majority of voters hold it. Peers without a
 * leader retry every `pollMs`. Elections use randomised timeouts, votes with the usual up-to-date
 * check, and leader stickiness. Phantom voters (a lost identity, #6229; a duplicate peer, #6348)
 * therefore block quorum the way they do in Qdrant.
 *
 * Every function takes the peer whose state it reads and changes (peer.ts). Time, jitter and
 * messages go through peer.clock and peer.transport only, so under a simulation (sim.ts) the same
 * seed replays the same elections and the same log.
 */
import { TARGET } from './log.js';
import type { EmulatedPeer } from './peer.js';
import type { Role } from './peer-config.js';
import { toCollectionState } from './peer-storage.js';
import type { AppendRequest, AppendResponse, JoinRequest, P2pAnswer, SnapshotPayload, StatusResponse, VoteRequest, VoteResponse } from './p2p.js';
import { normaliseUri, resolveUrl } from './resolve.js';
import { writeCollection, type CollectionState } from './storage.js';
import { hasStaleSelfMetadataBug, peerMetadataDebug, versionAtLeast } from './version.js';
import type { ConsensusOp, LogEntry } from './wal.js';

export function applyCommitted(peer: EmulatedPeer): void {
  let changed = false;
  while (peer.applied < peer.commit) {
    const e = peer.entries[peer.applied + 1 - peer.snapshot.index - 1];
    if (!e || e.index !== peer.applied + 1) break;
    peer.apply(e.op);
    peer.applied++;
    changed = true;
  }
  if (changed) peer.consensusLastUpdate = new Date(peer.clock.now());
  peer.persist();
}

export function appendLocal(peer: EmulatedPeer, op: ConsensusOp): number {
  const entry: LogEntry = { index: peer.lastIndex() + 1, term: peer.term, op };
  peer.entries.push(entry);
  peer.wal.append([entry]);
  peer.notifyFollowers();
  advanceCommit(peer);
  return entry.index;
}

export function advanceCommit(peer: EmulatedPeer): void {
  if (peer.role !== 'Leader') return;
  if (!peer.voters.includes(peer.id)) return;
  const matches = peer.voters
    .map((v) => (v === peer.id ? peer.lastIndex() : (peer.matchIndex.get(v) ?? 0)))
    .sort((a, b) => b - a);
  const majority = matches[Math.floor(peer.voters.length / 2)] ?? 0;
  if (majority > peer.commit && peer.termAt(majority) === peer.term) {
    peer.commit = majority;
    peer.leaderCommit = peer.commit;
    peer.notifyFollowers();
  }
  applyCommitted(peer);
  if (peer.outbox.length > 0) {
    const ops = peer.outbox.splice(0);
    for (const op of ops) appendLocal(peer, op);
  }
}

export function becomeLeader(peer: EmulatedPeer, appendEmpty = true): void {
  peer.role = 'Leader';
  peer.leaderId = peer.id;
  peer.leaderUri = peer.selfUri;
  peer.leaderSince = peer.clock.now();
  peer.matchIndex.clear();
  peer.lastContact.clear();
  peer.lastPullError = undefined;
  peer.log.info(TARGET.raft, `became leader at term ${peer.term}, raft_id: ${peer.id}`);
  if (appendEmpty) appendLocal(peer, { type: 'Empty' });
  peer.persist();
}

export function stepDown(peer: EmulatedPeer, term: number, leaderId?: string): void {
  if (term > peer.term) {
    peer.term = term;
    peer.vote = '0';
  }
  if (peer.role !== 'Follower') peer.log.info(TARGET.raft, `became follower at term ${peer.term}, raft_id: ${peer.id}`);
  peer.role = 'Follower';
  peer.leaderId = leaderId;
  peer.leaderUri = leaderId ? peer.addresses.get(leaderId) : undefined;
  peer.notifyFollowers();
  peer.persist();
}

export function resetElectionTimer(peer: EmulatedPeer, contact = false): void {
  const base = peer.cfg.timing.electionTimeoutMs;
  if (contact) peer.lastLeaderContact = peer.clock.now();
  peer.electionDeadline = peer.clock.now() + base + peer.clock.random() * (base / 2);
}

export async function campaign(peer: EmulatedPeer): Promise<void> {
  peer.term += 1;
  peer.vote = peer.id;
  peer.role = 'Candidate';
  peer.leaderId = undefined;
  peer.leaderUri = undefined;
  const term = peer.term;
  peer.persist();
  peer.log.info(TARGET.raft, `became candidate at term ${term}, raft_id: ${peer.id}`);
  const others = peer.voters.filter((v) => v !== peer.id);
  const body = { term, candidateId: peer.id, lastIndex: peer.lastIndex(), lastTerm: peer.termAt(peer.lastIndex()) ?? 0 };
  const answers = await Promise.all(
    others.map(async (v) => {
      const uri = peer.addresses.get(v);
      if (!uri) return undefined;
      return p2p<{ granted: boolean; term: number; peerId?: string }>(peer, uri, '/p2p/vote', { ...body, voter: v });
    }),
  );
  if (peer.stopped || peer.term !== term || peer.role !== 'Candidate') return;
  let votes = 1;
  for (const a of answers) {
    if (!a) continue;
    if (a.term > peer.term) {
      stepDown(peer, a.term);
      resetElectionTimer(peer);
      return;
    }
    if (a.granted) votes++;
  }
  if (votes * 2 > peer.voters.length) {
    becomeLeader(peer);
  } else {
    peer.role = 'Follower';
    resetElectionTimer(peer);
  }
}

/** One consensus step; returns the delay before the next one. */
export async function tick(peer: EmulatedPeer): Promise<number> {
  const { pollMs } = peer.cfg.timing;
  if (peer.stopped || peer.looping || peer.consensusStopped) return pollMs;
  if (peer.role === 'Leader') {
    advanceCommit(peer);
    if (peer.selfUpdatesPending) queueSelfUpdates(peer);
    return pollMs;
  }
  if (peer.joining) {
    await tryJoin(peer);
    return peer.joining ? pollMs : 0;
  }
  if (!peer.leaderId) await discoverLeader(peer);
  let next = pollMs;
  if (peer.leaderId && peer.leaderId !== peer.id) {
    const got = await pullFromLeader(peer);
    // A successful (long-)poll goes straight into the next one, like a stream from the leader.
    if (got >= 0) next = 0;
    if (peer.leaderId && peer.selfUpdatesPending) queueSelfUpdates(peer);
    if (peer.leaderId && peer.outbox.length > 0) await flushOutbox(peer);
  }
  const soleVoter = peer.voters.length === 1 && peer.voters[0] === peer.id;
  if ((peer.role as Role) !== 'Leader' && peer.voters.includes(peer.id) && (soleVoter || peer.clock.now() > peer.electionDeadline)) {
    const leaderFresh = peer.leaderId !== undefined && peer.clock.now() - peer.lastLeaderContact < peer.cfg.timing.electionTimeoutMs;
    if (!leaderFresh) {
      await campaign(peer);
      next = pollMs;
    } else resetElectionTimer(peer);
  }
  return next;
}

/** After a restart: announce a changed address and a new version (docs/qdrant-facts.md#http-api, docs/qdrant-facts.md#converged). */
export function queueSelfUpdates(peer: EmulatedPeer): void {
  peer.selfUpdatesPending = false;
  const { cfg } = peer;
  const stored = peer.addresses.get(peer.id);
  if (cfg.uri && stored !== undefined && stored !== peer.selfUri) {
    peer.propose({ type: 'AddPeer', peerId: peer.id, uri: peer.selfUri });
  }
  if (!versionAtLeast(cfg.version, '1.8.0')) return;
  const mine = peer.metadata.get(peer.id)?.version;
  if (mine === cfg.version) return;
  const single = peer.voters.length <= 1;
  if (mine !== undefined && single && hasStaleSelfMetadataBug(cfg.version)) {
    // docs/qdrant-facts.md#single-peer-stale-metadata: 1.13.3-1.14.x single peers never refresh their own metadata.
    return;
  }
  peer.propose({ type: 'UpdatePeerMetadata', peerId: peer.id, version: cfg.version });
}

export async function tryJoin(peer: EmulatedPeer): Promise<void> {
  const target = peer.joinTarget;
  if (!target) {
    peer.joining = false;
    bootstrapNewCluster(peer);
    return;
  }
  const res = await p2p<{ ok?: boolean; redirect?: string; leaderId?: string; term?: number; error?: string; refused?: string }>(peer, target,
    '/p2p/join',
    { peerId: peer.id, uri: peer.selfUri, version: peer.cfg.version },
  );
  if (res?.ok && res.leaderId) {
    peer.joining = false;
    peer.leaderId = res.leaderId;
    peer.leaderUri = target;
    peer.term = Math.max(peer.term, res.term ?? 0);
    resetElectionTimer(peer, true);
    peer.log.info(TARGET.consensus, `Joined the cluster through ${target} as peer ${peer.id}`);
    reproposeCollections(peer);
    return;
  }
  if (res?.refused && peer.joinRefusedAt === undefined) {
    // Qdrant waits 10 s for its AddPeer to commit, which never happens, then panics (exit 101).
    peer.joinRefusedAt = peer.clock.now();
    peer.after(10_000, () => {
      if (!peer.joining) return;
      peer.panic(
        'Can\'t initialize consensus: Failed to initialize Consensus for new Raft state: Failed to add peer to known: status: Internal, ' +
          'message: "Failed to add peer: Service internal error: Waiting for consensus operation commit failed. Timeout set at: 10 seconds"',
      );
    });
    return;
  }
  if (res?.redirect) {
    peer.joinTarget = res.redirect;
    return;
  }
  if (peer.clock.now() - peer.lastJoinLog > 5000) {
    peer.lastJoinLog = peer.clock.now();
    peer.log.warn(TARGET.consensus, `Failed to join the cluster through ${target}: ${res?.error ?? 'no answer'}; retrying`);
  }
}

/** A peer that replayed a lost state proposes its collections again once it is in (the witnesses log the refusal). */
function reproposeCollections(peer: EmulatedPeer): void {
  for (const name of peer.reproposeOnJoin) {
    const c = peer.collections.get(name);
    if (!c) continue;
    const hex = () => Math.floor(peer.clock.random() * 0x10000).toString(16).padStart(4, '0');
    const uuid = `${hex()}${hex()}-${hex()}-4${hex().slice(1)}-8${hex().slice(1)}-${hex()}${hex()}${hex()}`;
    peer.log.warn(TARGET.dispatcher, `Collection UUID ${uuid} explicitly specified, when proposing create collection ${name} operation, new random UUID will be generated instead`);
    peer.propose({ type: 'CreateCollection', name, shardNumber: c.shardNumber, replicationFactor: c.replicationFactor, vectors: c.vectors });
  }
  peer.reproposeOnJoin = [];
}

export async function discoverLeader(peer: EmulatedPeer): Promise<void> {
  const candidates = [...peer.addresses].filter(([pid, uri]) => pid !== peer.id && uri !== peer.selfUri);
  const answers = await Promise.all(
    candidates.map(async ([, uri]) => ({ uri, s: await p2p<{ peerId: string; role: Role; term: number; leaderId?: string }>(peer, uri, '/p2p/status') })),
  );
  let best: { id: string; uri: string; term: number } | undefined;
  for (const { uri, s } of answers) {
    if (!s || s.term < peer.term) continue;
    if (s.role === 'Leader' && (!best || s.term > best.term)) best = { id: s.peerId, uri, term: s.term };
  }
  if (best && !peer.stopped) {
    if (best.term > peer.term) {
      peer.term = best.term;
      peer.vote = '0';
    }
    peer.leaderId = best.id;
    peer.leaderUri = best.uri;
    peer.leaderPullFailures = 0;
  }
}

/** Returns the number of entries received, or -1 when the leader could not be used. */
export async function pullFromLeader(peer: EmulatedPeer): Promise<number> {
  const uri = peer.leaderUri ?? (peer.leaderId ? peer.addresses.get(peer.leaderId) : undefined);
  if (!uri) {
    peer.leaderId = undefined;
    return -1;
  }
  const req: AppendRequest = {
    peerId: peer.id,
    term: peer.term,
    lastIndex: peer.lastIndex(),
    lastTerm: peer.termAt(peer.lastIndex()) ?? 0,
    commit: peer.leaderCommit,
  };
  const res = await p2p<AppendResponse>(peer, uri, '/p2p/append', req);
  if (peer.stopped) return -1;
  if (!res) {
    peer.leaderPullFailures++;
    peer.lastPullError = {
      uri,
      count: peer.leaderPullFailures,
      error: `Failed to send message to ${uri}: transport error: connection refused or timed out`,
      at: new Date(peer.clock.now()),
    };
    if (peer.leaderPullFailures >= 3) {
      peer.synced = false;
      peer.leaderId = undefined;
      peer.leaderUri = undefined;
    }
    return -1;
  }
  peer.leaderPullFailures = 0;
  peer.lastPullError = undefined;
  if (res.notLeader) {
    peer.synced = false;
    if (res.term > peer.term) stepDown(peer, res.term);
    peer.leaderId = res.leaderId && res.leaderId !== peer.leaderId ? res.leaderId : undefined;
    peer.leaderUri = res.leaderUri;
    return -1;
  }
  if (res.conflict) {
    truncateTo(peer, res.hint ?? 0);
    return 1;
  }
  if (res.term > peer.term) {
    peer.term = res.term;
    peer.vote = '0';
  }
  if (peer.role !== 'Follower') peer.role = 'Follower';
  peer.synced = true;
  // The id of whoever answers at the leader's address (a lost seed comes back under a new one).
  if (res.leaderId && res.leaderId !== peer.leaderId) peer.leaderId = res.leaderId;
  resetElectionTimer(peer, true);
  peer.consensusLastUpdate = new Date(peer.clock.now());
  if (res.snapshot) installSnapshot(peer, res.snapshot);
  const fresh = (res.entries ?? []).filter((e) => e.index === peer.lastIndex() + 1 || e.index > peer.lastIndex());
  const toAppend: LogEntry[] = [];
  for (const e of fresh) {
    if (e.index !== peer.lastIndex() + 1 + toAppend.length) break;
    toAppend.push(e);
  }
  if (toAppend.length > 0) {
    peer.entries.push(...toAppend);
    peer.wal.append(toAppend);
  }
  peer.leaderCommit = res.commit ?? peer.leaderCommit;
  peer.commit = Math.max(peer.commit, Math.min(peer.leaderCommit, peer.lastIndex()));
  applyCommitted(peer);
  return toAppend.length + (res.snapshot ? 1 : 0);
}

export function truncateTo(peer: EmulatedPeer, index: number): void {
  if (index < peer.snapshot.index) {
    peer.snapshot = { index: 0, term: 0 };
    peer.entries = [];
    peer.commit = 0;
    peer.applied = 0;
  } else {
    peer.entries = peer.entries.filter((e) => e.index <= index);
    peer.commit = Math.min(peer.commit, index);
    peer.applied = Math.min(peer.applied, peer.commit);
  }
  peer.wal.rewrite(peer.entries);
}

export function installSnapshot(peer: EmulatedPeer, s: SnapshotPayload): void {
  peer.snapshot = { index: s.index, term: s.term };
  peer.entries = [];
  peer.wal.rewrite([]);
  peer.voters = [...s.voters];
  peer.firstVoter = s.firstVoter ?? peer.firstVoter;
  for (const [id, uri] of s.peers) {
    const prev = peer.addresses.get(id);
    if (prev !== undefined && prev !== uri) peer.log.warn(TARGET.persistent, `Replaced address of peer ${id} from ${prev} to ${uri}`);
  }
  peer.addresses = new Map(s.peers);
  for (const [id, version] of s.metadata) {
    const prev = peer.metadata.get(id);
    // A snapshot carries states, not the entries that made them: a line only where a version changed.
    if (prev && prev.version !== version && versionAtLeast(peer.cfg.version, '1.8.0')) {
      peer.log.info(TARGET.persistent, `Replaced metadata of peer ${id} from ${peerMetadataDebug(prev.version)} to ${peerMetadataDebug(version)}`);
    }
  }
  peer.metadata = new Map(s.metadata.map(([id, version]) => [id, { version }]));
  const before = peer.collections;
  peer.collections = new Map();
  for (const c of s.collections) {
    // Replicas written under an id this peer no longer has stay local (replay-loop.ts).
    const localAs = before.get(c.name)?.localAs;
    const state: CollectionState = {
      ...(localAs ? { localAs } : {}),
      name: c.name,
      shardNumber: c.shardNumber,
      replicationFactor: c.replicationFactor,
      vectors: c.vectors,
      shards: new Map(c.shards.map(([sid, reps]) => [sid, new Map(reps)])),
    };
    peer.collections.set(c.name, state);
    writeCollection(peer.cfg.storageDir, state, peer.id, peer.voters.length);
  }
  peer.commit = Math.max(peer.commit, s.index);
  peer.applied = s.index;
  peer.log.info(TARGET.raft, `Installed snapshot at index ${s.index}, term ${s.term}`);
  peer.persist();
}

export function snapshotPayload(peer: EmulatedPeer): SnapshotPayload {
  return {
    index: peer.applied,
    term: peer.termAt(peer.applied) ?? peer.term,
    voters: [...peer.voters],
    ...(peer.firstVoter ? { firstVoter: peer.firstVoter } : {}),
    peers: [...peer.addresses],
    metadata: [...peer.metadata].map(([id, m]) => [id, m.version]),
    collections: [...peer.collections.values()].map((c) => ({
      name: c.name,
      shardNumber: c.shardNumber,
      replicationFactor: c.replicationFactor,
      vectors: c.vectors,
      shards: [...c.shards].map(([sid, reps]) => [sid, [...reps]] as [number, Array<[string, string]>]),
    })),
  };
}

export async function flushOutbox(peer: EmulatedPeer): Promise<void> {
  if (!peer.leaderUri || peer.outbox.length === 0) return;
  const ops = peer.outbox.slice();
  const res = await p2p<{ ok?: boolean }>(peer, peer.leaderUri, '/p2p/propose', { ops });
  if (res?.ok) peer.outbox.splice(0, ops.length);
}

/** One p2p request to the peer at `uri`; undefined when there is no usable answer. */
export async function p2p<T>(peer: EmulatedPeer, uri: string, route: string, body?: unknown): Promise<T | undefined> {
  if (peer.stopped) return undefined;
  let base: string;
  try {
    base = resolveUrl(peer.cfg.resolver, uri);
  } catch {
    return undefined;
  }
  return peer.transport.request<T>({ base, route, body, timeoutMs: peer.cfg.timing.requestTimeoutMs, signal: peer.abort.signal });
}

/** What this peer's p2p port answers (over HTTP in peer-http.ts, or on the simulated network). */
export async function dispatchP2p(peer: EmulatedPeer, method: 'GET' | 'POST', pathname: string, body: Record<string, unknown>): Promise<P2pAnswer> {
  const send = (status: number, answer: unknown): P2pAnswer => ({ status, body: answer });
  if (peer.stopped || !peer.initialized) return send(503, { error: 'not running' });
  if (pathname === '/p2p/status') {
    const status: StatusResponse = { peerId: peer.id, role: peer.role, term: peer.term, leaderId: peer.leaderId, commit: peer.commit, uri: peer.selfUri };
    return send(200, status);
  }
  if (peer.consensusStopped || peer.looping) return send(503, { error: 'consensus is not running on this peer' });
  if (method !== 'POST') return send(405, { error: `${pathname} takes POST` });
  switch (pathname) {
    case '/p2p/append':
      return send(200, await onAppend(peer, body as unknown as AppendRequest));
    case '/p2p/vote':
      return send(200, onVote(peer, body as unknown as VoteRequest));
    case '/p2p/join':
      return onJoin(peer, body as unknown as JoinRequest);
    case '/p2p/propose': {
      if (peer.role !== 'Leader') return send(409, { ok: false, leaderId: peer.leaderId });
      for (const op of (body.ops as ConsensusOp[] | undefined) ?? []) appendLocal(peer, op);
      return send(200, { ok: true });
    }
    default:
      return send(404, { error: `no route ${pathname}` });
  }
}

/**
 * A follower's poll. When it already holds everything and knows the commit, the answer waits
 * (up to half the election timeout) for the next change, so entries and commits reach followers
 * at once, as Qdrant's leader pushes them.
 */
export async function onAppend(peer: EmulatedPeer, req: AppendRequest): Promise<AppendResponse> {
  const first = answerAppend(peer, req);
  const caughtUp = first.ok && !first.snapshot && (first.entries?.length ?? 0) === 0 && (req.commit ?? -1) >= peer.commit;
  if (!caughtUp) return first;
  const hold = Math.min(peer.cfg.timing.electionTimeoutMs / 2, peer.cfg.timing.requestTimeoutMs / 2);
  await peer.waitForChange(hold);
  if (peer.stopped) return { notLeader: true, term: peer.term };
  return answerAppend(peer, req);
}

export function answerAppend(peer: EmulatedPeer, req: AppendRequest): AppendResponse {
  if (req.term > peer.term) stepDown(peer, req.term);
  if (peer.role !== 'Leader') {
    return { notLeader: true, term: peer.term, leaderId: peer.leaderId, leaderUri: peer.leaderUri };
  }
  peer.lastContact.set(req.peerId, peer.clock.now());
  const base = { ok: true, term: peer.term, leaderId: peer.id, commit: peer.commit };
  if (req.lastIndex < peer.snapshot.index) {
    const snapshot = snapshotPayload(peer);
    peer.matchIndex.set(req.peerId, snapshot.index);
    return { ...base, snapshot, entries: peer.entries.filter((e) => e.index > snapshot.index).slice(0, 200) };
  }
  if (req.lastIndex > peer.lastIndex() || peer.termAt(req.lastIndex) !== req.lastTerm) {
    return { conflict: true, term: peer.term, hint: Math.max(0, Math.min(req.lastIndex - 1, peer.lastIndex(), peer.commit)) };
  }
  peer.matchIndex.set(req.peerId, req.lastIndex);
  queueMicrotask(() => advanceCommit(peer));
  return { ...base, entries: peer.entries.filter((e) => e.index > req.lastIndex).slice(0, 200) };
}

export function onVote(peer: EmulatedPeer, req: VoteRequest): VoteResponse & { peerId: string } {
  const no = { granted: false, term: peer.term, peerId: peer.id };
  if (req.candidateId === peer.id || (req.voter !== undefined && req.voter !== peer.id)) return no; // asked the wrong peer
  if (req.term < peer.term) return no;
  const now = peer.clock.now();
  if (peer.role === 'Leader') {
    const recent = peer.voters.filter(
      (v) => v === peer.id || now - (peer.lastContact.get(v) ?? 0) < peer.cfg.timing.electionTimeoutMs,
    ).length;
    if (recent * 2 > peer.voters.length) return no; // check-quorum: we still lead a majority
  } else if (peer.leaderId && now - peer.lastLeaderContact < peer.cfg.timing.electionTimeoutMs) {
    return no; // leader stickiness
  }
  if (req.term > peer.term) stepDown(peer, req.term);
  const myLastTerm = peer.termAt(peer.lastIndex()) ?? 0;
  const upToDate = req.lastTerm > myLastTerm || (req.lastTerm === myLastTerm && req.lastIndex >= peer.lastIndex());
  if ((peer.vote === '0' || peer.vote === req.candidateId) && upToDate) {
    peer.vote = req.candidateId;
    peer.persist();
    resetElectionTimer(peer, true);
    return { granted: true, term: peer.term, peerId: peer.id };
  }
  return { ...no, term: peer.term };
}

export function onJoin(peer: EmulatedPeer, req: JoinRequest): P2pAnswer {
  const send = (status: number, answer: unknown): P2pAnswer => ({ status, body: answer });
  if (peer.role !== 'Leader') {
    const leaderUri = peer.leaderId ? peer.addresses.get(peer.leaderId) : undefined;
    if (leaderUri) return send(200, { redirect: leaderUri });
    return send(503, { error: 'no leader known yet' });
  }
  const uri = normaliseUri(req.uri);
  const holder = [...peer.addresses].find(([id, u]) => id !== req.peerId && u === uri && peer.voters.includes(id));
  if (holder && versionAtLeast(peer.cfg.version, '1.16.0')) {
    // 1.16 refuses a second id at a registered URI (the panic on the joiner follows, in tryJoin).
    peer.log.warn(TARGET.consensus, `Rejected peer ${req.peerId} to join consensus, URI is already registered by peer ${holder[0]} (${uri})`);
    peer.log.warn(TARGET.consensus, `peer URI ${uri} already used by peer ${holder[0]}, remove it first or use a different URI`);
    return send(200, { refused: `URI ${uri} is already registered by peer ${holder[0]}` });
  }
  if (peer.addresses.get(req.peerId) !== uri || !peer.voters.includes(req.peerId)) {
    appendLocal(peer, { type: 'AddPeer', peerId: req.peerId, uri });
  }
  if (req.version && versionAtLeast(peer.cfg.version, '1.8.0') && peer.metadata.get(req.peerId)?.version !== req.version) {
    appendLocal(peer, { type: 'UpdatePeerMetadata', peerId: req.peerId, version: req.version });
  }
  peer.lastContact.set(req.peerId, peer.clock.now());
  peer.log.info(TARGET.consensus, `Peer ${req.peerId} (${uri}) joined the cluster`);
  return send(200, { ok: true, leaderId: peer.id, term: peer.term });
}

export function bootstrapNewCluster(peer: EmulatedPeer): void {
  const { cfg } = peer;
  peer.term = 1;
  peer.vote = peer.id;
  peer.voters = [peer.id];
  peer.firstVoter = peer.id;
  becomeLeader(peer, false);
  appendLocal(peer, { type: 'AddPeer', peerId: peer.id, uri: peer.selfUri });
  if (versionAtLeast(cfg.version, '1.8.0')) {
    appendLocal(peer, { type: 'UpdatePeerMetadata', peerId: peer.id, version: cfg.version });
  }
  if (cfg.defaultCollection) {
    const c = toCollectionState(cfg.defaultCollection);
    appendLocal(peer, {
      type: 'CreateCollection',
      name: c.name,
      shardNumber: c.shardNumber,
      replicationFactor: c.replicationFactor,
      vectors: c.vectors,
    });
    for (let s = 0; s < c.shardNumber; s++) {
      appendLocal(peer, { type: 'SetReplica', collection: c.name, shardId: s, peerId: peer.id, state: 'Active' });
    }
  }
}

export function startConsensus(peer: EmulatedPeer): void {
  const { cfg } = peer;
  const fresh = peer.voters.length === 0 && peer.lastIndex() === 0;
  if (fresh && peer.joinTarget === undefined && !cfg.bootstrap) {
    bootstrapNewCluster(peer);
  } else if (fresh) {
    peer.joining = true;
    peer.joinTarget ??= cfg.bootstrap;
  } else if (peer.selfElect) {
    becomeLeader(peer, false);
  } else {
    // --uri and --bootstrap are ignored once a state exists (docs/qdrant-facts.md#upgrade-rules), except that a changed own
    // address is announced to the cluster, and a new version is recorded in peer metadata.
    peer.selfUpdatesPending = true;
    resetElectionTimer(peer, true);
  }
  peer.loop(() => tick(peer));
}
