# The VM tier's network, services and guests. Sourced by vm/up and vm/down
# after common.sh and vm.sh.
#
# Network: bridge agvm0 = 10.214.0.1/24 on the root host (so tests and the
# product reach the guests as they reach the nspawn hosts), one tap agvm-tK
# per guest. No NAT: the guests reach only each other and 10.214.0.1.
#
# Guests: one User-Mode Linux process each (nodeK = 10.214.0.(10+K)), started
# under setsid so its PID is also its process group, which holds UML's helper
# processes; stopping a guest kills that group (the disks are throw-away).

vm_host_dir() { echo "$VM_OUT/hosts/node$1"; }

setup_vm_net() {
  local k
  ip link show "$VM_BRIDGE" >/dev/null 2>&1 || ip link add "$VM_BRIDGE" type bridge
  ip addr replace "$VM_BRIDGE_IP/24" dev "$VM_BRIDGE"
  ip link set "$VM_BRIDGE" up
  ip neigh flush dev "$VM_BRIDGE" 2>/dev/null || true
  for ((k = 1; k <= LAB_N; k++)); do
    ip tuntap add dev "$(vm_tap "$k")" mode tap
    ip link set "$(vm_tap "$k")" master "$VM_BRIDGE" up
  done
}

teardown_vm_net() {
  local l
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^agvm-t[0-9]+$' || true); do
    ip link del "$l" 2>/dev/null || true
  done
  if ip link show "$VM_BRIDGE" >/dev/null 2>&1; then ip link del "$VM_BRIDGE"; fi
}

# The lab's HTTP server (apt/ and git/) and registry mirror, bound to the VM
# bridge. Own instances, not the nspawn lab's: that lab's up and down start
# and stop its own on 10.213.0.1 at any time.
start_vm_services() {
  mkdir -p "$VM_OUT/pids"
  ( cd "$VM_OUT/www" && exec setsid /usr/bin/python3 -m http.server --bind "$VM_BRIDGE_IP" "$HTTP_PORT" \
      </dev/null >"$VM_OUT/http.log" 2>&1 7>&- 8>&- 9>&- ) &
  echo $! >"$VM_OUT/pids/http.pid"
  local img; img=$(build_rootfs image "$IMAGE_PACKAGES")
  cat >"$VM_OUT/registry.yml" <<YML
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $CACHE/registry}
  delete: {enabled: false}
http: {addr: "$VM_BRIDGE_IP:$REGISTRY_PORT"}
YML
  setsid "$img/usr/bin/docker-registry" serve "$VM_OUT/registry.yml" </dev/null >"$VM_OUT/registry.log" 2>&1 7>&- 8>&- 9>&- &
  echo $! >"$VM_OUT/pids/registry.pid"
  wait_for 15 bash -c "exec 3<>/dev/tcp/$VM_BRIDGE_IP/$HTTP_PORT" ||
    die "http server did not answer on $VM_BRIDGE_IP:$HTTP_PORT within 15 s, see $VM_OUT/http.log"
  wait_for 15 curl_ok "http://$VM_BRIDGE_IP:$REGISTRY_PORT/v2/" ||
    die "registry did not answer on $VM_BRIDGE_IP:$REGISTRY_PORT within 15 s, see $VM_OUT/registry.log"
}

# Guest K: COW file over the base image (ubda), its seed (ubdb, read-only),
# a tap on the bridge; address and hostname from the kernel command line.
# gro=1: the host hands the tap GSO frames (vnet_hdr); without GRO the guest
# drops them ("Incoming GSO frames and GRO disabled") and bulk downloads stall.
start_vm_guest() {
  local k=$1 kernel=$2 base=$3 h; h=$(vm_host_dir "$k")
  mkdir -p "$h" "$VM_OUT/uml"
  rm -f "$h/disk.cow"
  setsid "$kernel/linux" "umid=agvm-node$k" "uml_dir=$VM_OUT/uml" "mem=$VM_MEM" \
    "ubd0=$h/disk.cow,$base" "ubd1r=$h/seed.tar" root=/dev/ubda rw \
    "vec0:transport=tap,ifname=$(vm_tap "$k"),mac=$(vm_mac "$k"),gro=1" \
    con=null con0=null,fd:1 console=tty0 net.ifnames=0 "systemd.hostname=node$k" \
    "ip=$(vm_ip "$k")::$VM_BRIDGE_IP:255.255.255.0:node$k:vec0:off" quiet \
    </dev/null >"$h/console.log" 2>&1 7>&- 8>&- 9>&- &
  echo $! >"$h/pid"
}

vm_ssh() {
  local k=$1; shift
  ssh -i "$VM_OUT/id_ed25519" -o BatchMode=yes -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile="$VM_OUT/known_hosts" -o ConnectTimeout=3 -o LogLevel=ERROR \
    "root@$(vm_ip "$k")" "$@"
}

# Wait until every guest answers SSH and its boot has finished; log how long.
wait_vm_guests() {
  local secs=$1 t0=$SECONDS k pids=()
  for ((k = 1; k <= LAB_N; k++)); do
    (
      end=$((SECONDS + secs))
      until vm_ssh "$k" true 2>/dev/null; do
        pid_alive "$(cat "$(vm_host_dir "$k")/pid")" "umid=agvm-node$k" ||
          { log "node$k: its UML process died, see $(vm_host_dir "$k")/console.log"; exit 1; }
        ((SECONDS < end)) || { log "node$k did not answer SSH within ${secs}s, see $(vm_host_dir "$k")/console.log"; exit 1; }
        sleep 1
      done
      state=$(vm_ssh "$k" 'timeout 120 systemctl is-system-running --wait' 2>/dev/null || true)
      case $state in
        running) ;;
        degraded) log "node$k: WARNING: failed units: $(vm_ssh "$k" 'systemctl --failed --plain --no-legend' 2>/dev/null | awk '{print $1}' | tr '\n' ' ')" ;;
        *) log "node$k: systemd is '$state' after 120 s (see $(vm_host_dir "$k")/console.log)"; exit 1 ;;
      esac
      log "node$k ($(vm_ip "$k")) up after $((SECONDS - t0)) s"
    ) &
    pids+=($!)
  done
  local rc=0 p
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  return $rc
}

# Stop every guest of the tier: SIGKILL its process group (recorded PID,
# checked to still be that guest's UML first), then wait for it to be gone.
stop_vm_guests() {
  local h pid k
  for h in "$VM_OUT"/hosts/node*; do
    [[ -f $h/pid ]] || continue
    k=${h##*/node}
    pid=$(cat "$h/pid")
    if pid_alive "$pid" "umid=agvm-node$k"; then
      kill -KILL -- "-$pid" 2>/dev/null || true
      local end=$((SECONDS + 20))
      while pgrep -g "$pid" >/dev/null && ((SECONDS < end)); do sleep 0.2; done
    fi
    rm -f "$h/pid"
  done
}

teardown_vm_lab() {
  local keep=${1:-}
  [[ -n $VM_OUT && $VM_OUT != / ]] || die "refusing to tear down VM_OUT='$VM_OUT'"
  if [[ -d $VM_OUT ]]; then
    stop_vm_guests
    stop_pidfile http.server "$VM_OUT/pids/http.pid"
    stop_pidfile docker-registry "$VM_OUT/pids/registry.pid"
  fi
  teardown_vm_net
  [[ -d $VM_OUT ]] || return 0
  if [[ $keep == keep ]]; then
    find "$VM_OUT" -mindepth 1 -maxdepth 1 ! -name 'id_ed25519*' ! -name password ! -name tls \
      -exec rm -rf {} +
  else
    rm -rf "$VM_OUT"
  fi
}
