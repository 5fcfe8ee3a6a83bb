# Stop/start one host of a running lab, for fault tests (labtest.StopHost /
# StartHost). The host's netns, overlay root and /var/lib/docker stay, so a
# start after a stop is a reboot of the same machine.

stop_one_host() {
  local k=$1 h pid kind; h=$(host_dir "$k")
  [[ -d $h ]] || die "node$k is not part of the lab"
  pid=$(cat "$h/pid" 2>/dev/null || true); kind=$(cat "$h/kind")
  if [[ $kind == full ]] && pid_alive "$pid" systemd-nspawn; then
    kill -TERM "$pid"
  elif [[ $kind == light ]] && pid_alive "$pid" unshare; then
    local c; for c in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do kill -TERM "$c" 2>/dev/null || true; done
  fi
  local deadline=$((SECONDS + 20))
  while pid_alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
  kill_host_leader "$h"
  if pid_alive "$pid"; then log "node$k: PID $pid did not stop in 20 s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  : >"$h/leader_pid"
}

start_one_host() {
  local k=$1 h kind; h=$(host_dir "$k")
  [[ -d $h ]] || die "node$k is not part of the lab"
  kind=$(cat "$h/kind")
  if pid_alive "$(cat "$h/pid" 2>/dev/null)"; then log "node$k is already running"; return 0; fi
  : >"$h/leader_pid"
  [[ $kind == light ]] && unmount_under "$h/root/proc" || true
  "start_${kind}_host" "$k"
  wait_one_host "$k" "$BOOT_TIMEOUT"
}

wait_one_host() {
  local k=$1 timeout=$2 h deadline; h=$(host_dir "$k")
  deadline=$((SECONDS + timeout))
  until [[ -s $h/leader_pid ]] && ssh_lab "$(host_ip "$k")" true </dev/null 2>/dev/null; do
    pid_alive "$(cat "$h/pid")" || die "node$k exited while booting; console log: $h/console.log"
    [[ -s $h/leader_pid ]] || find_leader "$(cat "$h/pid")" >"$h/leader_pid" || true
    ((SECONDS < deadline)) || die "node$k did not answer SSH within ${timeout}s; console log: $h/console.log"
    sleep 0.3
  done
}
