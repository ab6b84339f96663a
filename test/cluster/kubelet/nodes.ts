// Node registration and heartbeats, as the kubelet does them: the Node object with its addresses, capacity and
// kubelet endpoint; a Lease in kube-node-lease renewed every 10s (what the node lifecycle controller watches); the
// Ready condition refreshed every minute.
import { Api, isStatus } from './api.js';
import { kubeTime, microTime, sleep, type Logger } from './util.js';

export const KUBELET_VERSION = 'v1.34.4';
const LEASE_SECONDS = 40;
const LEASE_RENEW_MS = 10_000;
const STATUS_MS = 60_000;

export interface NodeSpec {
  name: string;
  kubeletPort: number;
  hostIP: string;
  zone: string;
}

export const CAPACITY: Record<string, string> = { cpu: '8', memory: '16Gi', pods: '110', 'ephemeral-storage': '100Gi' };

export class NodeAgent {
  private readonly readySince = kubeTime();

  constructor(
    private readonly api: Api,
    readonly spec: NodeSpec,
    private readonly log: Logger,
  ) {}

  private status(): any {
    const now = kubeTime();
    const cond = (type: string, status: string, reason: string, message: string) => ({
      type,
      status,
      reason,
      message,
      lastHeartbeatTime: now,
      lastTransitionTime: this.readySince,
    });
    return {
      capacity: CAPACITY,
      allocatable: CAPACITY,
      conditions: [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        cond('Ready', 'True', 'KubeletReady', 'kubelet stand-in is posting ready status'),
      ],
      addresses: [
        { type: 'InternalIP', address: this.spec.hostIP },
        { type: 'Hostname', address: this.spec.name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: this.spec.kubeletPort } },
      nodeInfo: {
        machineID: `standin-${this.spec.name}`,
        systemUUID: `standin-${this.spec.name}`,
        bootID: `standin-${process.pid}`,
        kernelVersion: process.version,
        osImage: 'qdrant-upgrade-guard kubelet stand-in (pods run as local processes)',
        containerRuntimeVersion: 'standin://0.1.0',
        kubeletVersion: KUBELET_VERSION,
        kubeProxyVersion: '',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    };
  }

  /** Creates the Node (or adopts an existing one) and posts its first Ready status. */
  async register(): Promise<void> {
    const node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: this.spec.name,
        labels: {
          'kubernetes.io/hostname': this.spec.name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'topology.kubernetes.io/zone': this.spec.zone,
          'node.kubernetes.io/instance-type': 'standin',
        },
      },
      spec: {},
    };
    try {
      await this.api.request('POST', '/api/v1/nodes', { body: node });
      this.log(`node ${this.spec.name}: registered (kubelet port ${this.spec.kubeletPort})`);
    } catch (err) {
      if (!isStatus(err, 409)) throw err;
      await this.api.strategicPatch(`/api/v1/nodes/${this.spec.name}`, { metadata: { labels: node.metadata.labels } });
      this.log(`node ${this.spec.name}: already registered, adopted`);
    }
    await this.postStatus();
    await this.renewLease();
  }

  private async postStatus(): Promise<void> {
    await this.api.strategicPatch(`/api/v1/nodes/${this.spec.name}/status`, { status: this.status() });
  }

  private async renewLease(): Promise<void> {
    const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${this.spec.name}`;
    const spec = { holderIdentity: this.spec.name, leaseDurationSeconds: LEASE_SECONDS, renewTime: microTime() };
    const existing = await this.api.getOptional(path);
    if (!existing) {
      const nodeObj = await this.api.get(`/api/v1/nodes/${this.spec.name}`);
      await this.api.request('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: {
            name: this.spec.name,
            namespace: 'kube-node-lease',
            ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: this.spec.name, uid: nodeObj.metadata.uid }],
          },
          spec,
        },
      });
      return;
    }
    await this.api.request('PUT', path, { body: { ...existing, spec: { ...existing.spec, ...spec } } });
  }

  /** Heartbeats until the signal aborts; a failed beat is logged and retried on the next tick. */
  async run(signal: AbortSignal): Promise<void> {
    let lastStatus = Date.now();
    while (!signal.aborted) {
      await sleep(LEASE_RENEW_MS, signal);
      if (signal.aborted) break;
      try {
        await this.renewLease();
        if (Date.now() - lastStatus >= STATUS_MS) {
          await this.postStatus();
          lastStatus = Date.now();
        }
      } catch (err) {
        this.log(`node ${this.spec.name}: heartbeat failed: ${(err as Error).message}`);
      }
    }
  }
}
