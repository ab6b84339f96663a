//go:build tools

// Package tools pins the real node's commands; test/cluster/node/build.sh builds them with `go build`.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
