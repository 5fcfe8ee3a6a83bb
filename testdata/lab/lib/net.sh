# Network: bridge aglab0 (10.213.0.1/24) on the root host; per host a netns
# aglab-nodeK with a veth "eth0" (fixed MAC, so re-created hosts do not wait
# on stale ARP entries), 10.213.0.(10+K)/24, default route via the bridge.
# No NAT: nothing routes from the lab to the outside.

setup_bridge() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  ip addr replace "$BRIDGE_IP/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  ip neigh flush dev "$BRIDGE" 2>/dev/null || true
}

setup_host_net() {
  local k=$1 ns=aglab-node$1 veth=aglab-v$1
  ip netns add "$ns"
  ip link add "$veth" type veth peer name eth0 netns "$ns"
  ip link set "$veth" master "$BRIDGE" up
  ip -n "$ns" link set eth0 address "$(host_mac "$k")"
  ip -n "$ns" addr add "$(host_ip "$k")/24" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default via "$BRIDGE_IP"
  # dockerd cannot set this from inside the nspawn host (read-only /proc/sys).
  ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
}

teardown_net() {
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^aglab-node[0-9]+$' || true); do
    ip netns del "$ns" 2>/dev/null || true
  done
  # A veth outlives "ip netns del" while a process still holds the namespace;
  # the hosts are stopped by now, so remove any that are left.
  local l
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^aglab-v[0-9]+$' || true); do
    ip link del "$l" 2>/dev/null || true
  done
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE"; fi
}
