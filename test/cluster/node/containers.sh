#!/usr/bin/env bash
# Housekeeping of the real node's containerd (CLUSTER_NODE=real), for up.sh and down.sh.
#   containers.sh remove-all SOCK     kill and delete every task and container in the k8s.io namespace (pod sandboxes
#                                     included), so a persistent content store never carries pods into the next run
#   containers.sh kill-cgroup ROOT    SIGKILL every process in cgroup ROOT (e.g. /qug-e2e-26400) of each v1 hierarchy
#                                     and remove its cgroups, deepest first
#   containers.sh unmount-below DIR   unmount every mount point below DIR, deepest first (overlay roots, netns files,
#                                     the kubelet's tmpfs and bind mounts)
set -uo pipefail
cmd=${1:-}
case "$cmd" in
  remove-all)
    sock=$2
    c=(ctr --address "$sock" -n k8s.io)
    ids=$("${c[@]}" containers ls -q 2>/dev/null) || exit 0
    for id in $ids; do
      "${c[@]}" tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
    done
    for id in $ids; do
      for _ in 1 2 3 4 5 6 7 8 9 10; do
        "${c[@]}" tasks delete "$id" >/dev/null 2>&1 && break
        "${c[@]}" tasks ls -q 2>/dev/null | grep -qx "$id" || break
        sleep 0.2
      done
      "${c[@]}" containers delete "$id" >/dev/null 2>&1 || true
    done
    [ -z "$ids" ] || echo "node: removed $(wc -w <<<"$ids") containers left in containerd" >&2
    ;;
  kill-cgroup)
    root=$2
    [ -n "$root" ] && [ "$root" != / ] || { echo "containers.sh: refusing cgroup root '$root'" >&2; exit 2; }
    for round in 1 2 3 4 5; do
      left=0
      for h in /sys/fs/cgroup/*/; do
        [ -d "$h${root#/}" ] || continue
        while read -r pid; do
          [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null && left=1
        done < <(find "$h${root#/}" -name cgroup.procs -exec cat {} + 2>/dev/null)
      done
      [ "$left" = 0 ] && break
      sleep 0.3
    done
    for h in /sys/fs/cgroup/*/; do
      [ -d "$h${root#/}" ] || continue
      find "$h${root#/}" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    ;;
  unmount-below)
    dir=$(realpath -m "$2")
    [ -n "$dir" ] && [ "$dir" != / ] || { echo "containers.sh: refusing to unmount below '$dir'" >&2; exit 2; }
    # Field 5 of mountinfo is the mount point (octal escapes for spaces, which our paths do not have).
    for _ in 1 2 3; do
      mps=$(awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | awk '{print length, $0}' | sort -rn | cut -d' ' -f2-)
      [ -z "$mps" ] && break
      while read -r mp; do umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || true; done <<<"$mps"
    done
    ;;
  *)
    echo "usage: containers.sh remove-all SOCK | kill-cgroup ROOT | unmount-below DIR" >&2
    exit 2
    ;;
esac
