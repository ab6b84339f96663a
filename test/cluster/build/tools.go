//go:build tools

// Package tools pins the commands of the e2e control plane; build.sh builds them with `go build`.
// etcd comes from the same module graph (k8s.io/kubernetes requires go.etcd.io/etcd/server/v3 v3.6.4), so the
// apiserver talks to the etcd release it is tested with.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
