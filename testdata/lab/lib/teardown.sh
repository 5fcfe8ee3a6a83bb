# Tear the lab down: hosts, services, network, mounts, files. Only PIDs that
# up recorded are signalled, and only if they still run what we started.

stop_pidfile() {
  local word=$1 file=$2 pid
  pid=$(cat "$file" 2>/dev/null || true)
  if pid_alive "$pid" "$word"; then
    kill -TERM "$pid"
    local deadline=$((SECONDS + 10))
    while pid_alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
    pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

# teardown_lab [keep]: with "keep", the lab identity (key, password, TLS
# files) survives so a re-run of up keeps the same key.
teardown_lab() {
  local keep=${1:-}
  [[ -n $OUT && $OUT != / && -n $LAB_DIR ]] || die "refusing to tear down OUT='$OUT'"
  stop_foreign_hosts
  [[ -d $OUT ]] || { teardown_net; return 0; }
  stop_hosts
  stop_pidfile http.server "$OUT/pids/http.pid"
  stop_pidfile docker-registry "$OUT/pids/registry.pid"
  teardown_net
  unmount_under "$OUT"   # also mounts left by a lab whose processes were killed
  if [[ $keep == keep ]]; then
    find "$OUT" -mindepth 1 -maxdepth 1 ! -name 'id_ed25519*' ! -name password ! -name tls \
      -exec rm -rf {} +
  else
    rm -rf "$OUT"
  fi
}
