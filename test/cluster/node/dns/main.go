// A CoreDNS build with only the plugins the e2e node's cluster DNS uses (the Corefile written by
// test/cluster/node/up.sh): the version kubeadm v1.34 deploys, built here because no registry is reachable for its
// image. Plugins are linked in by import and ordered by dnsserver.Directives, as CoreDNS's own plugin.cfg does
// (https://github.com/coredns/coredns/blob/v1.12.1/plugin.cfg).
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func init() {
	// Order matters: a request passes the plugins in this order (plugin.cfg's relative order).
	dnsserver.Directives = []string{"bind", "ready", "health", "errors", "log", "cache", "loadbalance", "kubernetes"}
}

func main() {
	coremain.Run()
}
