# Lab hosts. Layout of $OUT/hosts/nodeK/:
#   upper/ work/   overlay dirs (upper = everything the host wrote)
#   root/          merged root (overlay of the cached host root)
#   docker/        bind-mounted at /var/lib/docker (overlay2 needs a real fs)
#   console.log    nspawn console / light sshd log
#   pid, leader_pid, kind

host_dir() { echo "$OUT/hosts/node$1"; }

# Mount the host's overlay root and write what is per host: hostname, host
# key, machine id, authorized keys, the sudo user's password.
make_host_root() {
  local k=$1 lower=$2 kind=$3 h; h=$(host_dir "$k")
  local r=$h/root name=node$k
  mkdir -p "$h"/{upper,work,root,docker}
  mount -t overlay overlay -o "lowerdir=$lower,upperdir=$h/upper,workdir=$h/work" "$r"
  echo "$name" >"$r/etc/hostname"
  { echo "127.0.0.1 localhost"; echo "127.0.1.1 $name"; echo "::1 localhost ip6-localhost ip6-loopback"
    local i; for ((i = 1; i <= LAB_N; i++)); do echo "$(host_ip "$i") node$i"; done; } >"$r/etc/hosts"
  printf '# aglab: no DNS inside the lab\n' >"$r/etc/resolv.conf"
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$r/etc/machine-id"; echo >>"$r/etc/machine-id"
  ssh-keygen -q -t ed25519 -N '' -C "root@$name" -f "$r/etc/ssh/ssh_host_ed25519_key"
  local u home
  for u in root agadmin agnosudo; do
    home=$(awk -F: -v u="$u" '$1 == u {print $6}' "$r/etc/passwd")
    install -d -m 700 "$r$home/.ssh"
    install -m 600 "$OUT/id_ed25519.pub" "$r$home/.ssh/authorized_keys"
    chown -R "$(awk -F: -v u="$u" '$1 == u {print $3":"$4}' "$r/etc/passwd")" "$r$home/.ssh"
  done
  # agadmin: the lab password (sudo asks for it). agnosudo: no password but
  # not locked ("*"), so key logins work with UsePAM=no (light hosts) too.
  local hash; hash=$(openssl passwd -6 "$LAB_PASSWORD")
  awk -F: -v OFS=: -v h="$hash" '$1 == "agadmin" {$2 = h} $1 == "agnosudo" {$2 = "*"} {print}' \
    "$r/etc/shadow" >"$r/etc/shadow.new" && cat "$r/etc/shadow.new" >"$r/etc/shadow" && rm "$r/etc/shadow.new"
  mkdir -p "$r/root/autograder-full-stack"
  if [[ $k != 1 && $kind == full ]]; then
    ln -sf /etc/systemd/system/aglab-registry-forward.service \
      "$r/etc/systemd/system/multi-user.target.wants/aglab-registry-forward.service"
  fi
  if [[ $k == 1 ]]; then   # site.tls_cert / site.tls_key of the cluster file
    install -D -m 644 "$OUT/tls/autograder.cert" "$r/etc/ssl/certs/autograder.cert"
    install -D -m 600 "$OUT/tls/autograder.key.pem" "$r/etc/ssl/private/autograder.key.pem"
  fi
  printf '%s ssh-ed25519 %s\n' "$(host_ip "$k")" "$(awk '{print $2}' "$r/etc/ssh/ssh_host_ed25519_key.pub")" \
    >>"$OUT/known_hosts"
  echo "$kind" >"$h/kind"
}

# A systemd-booted host (see LAB-NOTES: --register=no --keep-unit because the
# root host's PID 1 is not systemd; SYSTEMD_SECCOMP=0 and --capability=all so
# Docker can run inside).
start_full_host() {
  local k=$1 h; h=$(host_dir "$k")
  # The subshell joins the host's own cgroups, then becomes nspawn (exec, so
  # $! is nspawn's PID).
  (own_cgroup "$k"
    export SYSTEMD_SECCOMP=0
    exec setsid systemd-nspawn -q --register=no --keep-unit -b -D "$h/root" -M "node$k" \
      --network-namespace-path="/run/netns/aglab-node$k" --capability=all \
      --resolv-conf=off --link-journal=no --timezone=off \
      --bind="$h/docker:/var/lib/docker" --bind="$OUT/shared:/root/autograder-full-stack") \
    </dev/null >"$h/console.log" 2>&1 9>&- &
  echo $! >"$h/pid"
}

# Where each full host's cgroups live, in every hierarchy systemd uses: the
# named v1 one and the unified one of the hybrid layout, or a cgroup2 root.
lab_cgroup_bases() {
  local base
  for base in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
    [[ -e $base/cgroup.procs ]] && echo "$base/aglab"
  done
  return 0
}

# own_cgroup K: move this subshell into cgroups of host K's own. Why: with
# --keep-unit, nspawn puts the host in <its caller's cgroup>/payload, so the
# hosts, all started from one shell, shared one cgroup tree: each host's
# systemd saw the others' user-1000.slice as its own, and stopping agadmin's
# user manager on one host (its last session gone, as after a quit) hung in
# "final-sigkill" (it cannot kill PIDs of another PID namespace: EIO) until
# every other host's agadmin sessions had ended, and new logins there
# queued behind it for minutes.
own_cgroup() {
  local k=$1 base
  for base in $(lab_cgroup_bases); do
    drop_cgroup_tree "$base/node$k"
    if ! { mkdir -p "$base/node$k" && echo "$BASHPID" >"$base/node$k/cgroup.procs"; }; then
      echo "aglab: node$k could not join $base/node$k; it shares its caller's cgroup" >&2
    fi
  done
}

# drop_cgroup_tree DIR: remove an empty cgroup tree (a stopped host's),
# deepest first; groups that still hold processes stay.
drop_cgroup_tree() {
  [[ -d $1 ]] || return 0
  find "$1" -depth -type d -exec rmdir {} + 2>/dev/null || true
}

# A light host: namespaces + chroot + sshd, no systemd (LAB-NOTES recipe).
start_light_host() {
  local k=$1 h; h=$(host_dir "$k")
  local r=$h/root
  ip netns exec "aglab-node$k" setsid unshare --kill-child --mount --uts --ipc --pid --fork \
    --mount-proc="$r/proc" --propagation private sh -euc '
      r=$1 shared=$2 name=$3
      mount -t sysfs sysfs "$r/sys"
      mount -t tmpfs tmpfs "$r/run"
      mount -t tmpfs tmpfs "$r/tmp"
      mount -t devpts -o newinstance,ptmxmode=0666 devpts "$r/dev/pts"
      touch "$r/dev/ptmx" 2>/dev/null || true
      mount --bind "$r/dev/pts/ptmx" "$r/dev/ptmx"
      mount --bind "$shared" "$r/root/autograder-full-stack"
      hostname "$name"
      exec chroot "$r" sh -c "mkdir -p /run/sshd; exec /usr/sbin/sshd -D -e -o UsePAM=no"
    ' sh "$r" "$OUT/shared" "node$k" </dev/null >"$h/console.log" 2>&1 9>&- &
  echo $! >"$h/pid"
}

# PID (as seen from here) of the host's PID 1: the descendant of the
# recorded PID whose innermost namespace PID is 1. nsenter targets it.
find_leader() {
  local top=$1 pid nspid
  for pid in $(descendants "$top"); do
    # "NSpid:  <pid here> ... <pid in its own namespace>"
    nspid=$(awk '/^NSpid:/ && NF > 2 {print $NF}' "/proc/$pid/status" 2>/dev/null || true)
    if [[ $nspid == 1 ]]; then
      echo "$pid"; return 0
    fi
  done
  return 1
}

# All descendants of PID, breadth first.
descendants() {
  local -a queue=("$1") out=()
  local p c
  while ((${#queue[@]})); do
    p=${queue[0]}; queue=("${queue[@]:1}")
    for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do out+=("$c"); queue+=("$c"); done
  done
  echo "${out[@]:-}"
}

ssh_lab() {
  local ip=$1; shift
  ssh -i "$OUT/id_ed25519" -o BatchMode=yes -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile="$OUT/known_hosts" -o ConnectTimeout=3 -o LogLevel=ERROR "root@$ip" "$@"
}

# Wait (bounded) until every host has a leader and answers SSH as root.
wait_hosts() {
  local n=$1 timeout=$2 k h deadline
  deadline=$((SECONDS + timeout))
  local -A done_=()
  while ((${#done_[@]} < n)); do
    for ((k = 1; k <= n; k++)); do
      [[ -n ${done_[$k]:-} ]] && continue
      h=$(host_dir "$k")
      pid_alive "$(cat "$h/pid")" || die "node$k exited while booting; console log: $h/console.log"
      if [[ ! -s $h/leader_pid ]]; then
        find_leader "$(cat "$h/pid")" >"$h/leader_pid" || true
      fi
      if [[ -s $h/leader_pid ]] && ssh_lab "$(host_ip "$k")" true </dev/null 2>/dev/null; then
        done_[$k]=1
      fi
    done
    ((${#done_[@]} < n)) || break
    ((SECONDS < deadline)) || {
      for ((k = 1; k <= n; k++)); do
        [[ -n ${done_[$k]:-} ]] || log "node$k: no SSH answer; console log: $(host_dir "$k")/console.log"
      done
      die "hosts did not answer SSH within ${timeout}s"
    }
    sleep 0.3
  done
}

# Stop every host recorded under $OUT/hosts (only PIDs we recorded, checked
# against what we started), then unmount their roots. SIGTERM first (a clean
# shutdown takes ~2 s); after 5 s SIGKILL the host's PID 1, which ends every
# process of the host (SIGKILL to nspawn alone would orphan the host's
# systemd and keep its network namespace alive).
stop_hosts() {
  local h pid kind
  local -a hosts=()
  for h in "$OUT"/hosts/node*; do
    [[ -d $h ]] || continue
    hosts+=("$h")
    pid=$(cat "$h/pid" 2>/dev/null || true); kind=$(cat "$h/kind" 2>/dev/null || echo full)
    if [[ $kind == full ]] && pid_alive "$pid" systemd-nspawn; then
      kill -TERM "$pid"
    elif [[ $kind == light ]] && pid_alive "$pid" unshare; then
      # unshare --fork ignores SIGTERM: signal its child; --kill-child does the rest.
      local c; for c in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do kill -TERM "$c" 2>/dev/null || true; done
    fi
  done
  # The hosts are thrown away: no need to wait for a slow (Docker) shutdown.
  local deadline=$((SECONDS + 5))
  for h in "${hosts[@]}"; do
    pid=$(cat "$h/pid" 2>/dev/null || true)
    while pid_alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
  done
  for h in "${hosts[@]}"; do
    kill_host_leader "$h"
    pid=$(cat "$h/pid" 2>/dev/null || true)
    if pid_alive "$pid" systemd-nspawn || pid_alive "$pid" unshare; then
      log "$(basename "$h"): PID $pid did not stop in time: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for h in "${hosts[@]}"; do
    unmount_under "$h/root"
  done
  local base
  for base in $(lab_cgroup_bases); do drop_cgroup_tree "$base"; done
}

# SIGKILL the host's recorded PID 1 if it still runs, is the init of its own
# PID namespace and is what we started (systemd or sshd).
kill_host_leader() {
  local h=$1 lp deadline
  lp=$(cat "$h/leader_pid" 2>/dev/null || true)
  pid_alive "$lp" || return 0
  [[ $(awk '/^NSpid:/ && NF > 2 {print $NF}' "/proc/$lp/status" 2>/dev/null) == 1 ]] || return 0
  pid_alive "$lp" systemd || pid_alive "$lp" sshd || return 0
  log "$(basename "$h"): host PID 1 ($lp) still running: SIGKILL"
  kill -KILL "$lp" 2>/dev/null || true
  deadline=$((SECONDS + 10))
  while pid_alive "$lp" && ((SECONDS < deadline)); do sleep 0.1; done
}

# Unmount DIR and anything mounted below it (deepest first).
unmount_under() {
  local dir=$1 m
  for m in $(findmnt -rn -o TARGET | grep -E "^$dir(/|$)" | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}

# stop_foreign_hosts: the lab is single on this machine (one bridge, netns
# aglab-nodeK), but each checkout records only its own hosts' PIDs. Hosts
# another checkout's up left running keep their dockerd, registry and tasks
# alive on stale namespaces, load the machine and can make our hosts fail to
# boot. Stop them: nspawn processes on an aglab netns whose root is not ours.
stop_foreign_hosts() {
  local pid root
  local -a stopped=() roots=()
  for pid in $(pgrep -f -- '--network-namespace-path=/run/netns/aglab-node' 2>/dev/null || true); do
    pid_alive "$pid" systemd-nspawn || continue
    root=$(tr '\0' '\n' </proc/"$pid"/cmdline 2>/dev/null | sed -n '/^-D$/{n;p;q}')
    [[ -n $root && $root != "$OUT"/* ]] || continue
    log "stopping a lab host another checkout left (pid $pid, root $root)"
    kill -TERM "$pid" 2>/dev/null || true
    stopped+=("$pid"); roots+=("$root")
  done
  local deadline=$((SECONDS + 15))
  for pid in "${stopped[@]}"; do
    while pid_alive "$pid" systemd-nspawn && ((SECONDS < deadline)); do sleep 0.2; done
    pid_alive "$pid" systemd-nspawn && kill -KILL "$pid" 2>/dev/null || true
  done
  # Their overlay roots stay mounted otherwise, and keep that checkout's
  # folder busy (it could not even be removed).
  for root in "${roots[@]}"; do
    mountpoint -q "$root" && umount -l "$root" 2>/dev/null || true
  done
  return 0
}
