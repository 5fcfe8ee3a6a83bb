# Services on the root host, bound to the bridge address only:
#   http://10.213.0.1:8080/  apt repository (apt/) and git repositories (git/)
#   http://10.213.0.1:5000/  registry: the hosts' Docker registry mirror
# Both are started by up, their PIDs recorded in $OUT/pids/.

# stop_stale_listener PORT WORD: the lab is single (one bridge address), but
# each checkout keeps its own out/pids: a lab server another checkout's up
# left on BRIDGE_IP:PORT would answer in place of ours (ours then dies with
# "address already in use" and the hosts get the other checkout's apt and
# git). Stop it if it is a lab server (its command line has WORD and binds
# the bridge), as teardown stops the other lab's hosts.
stop_stale_listener() {
  local port=$1 word=$2 pid
  for pid in $(ss -Hltnp src "$BRIDGE_IP:$port" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
    if pid_alive "$pid" "$word"; then
      log "stopping a lab server another checkout left on $BRIDGE_IP:$port (pid $pid, cwd $(readlink "/proc/$pid/cwd" 2>/dev/null))"
      kill -TERM "$pid" 2>/dev/null || true
      wait_for 5 bash -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

start_http() {
  mkdir -p "$OUT/pids" "$CACHE/www"
  stop_stale_listener "$HTTP_PORT" "http.server --bind $BRIDGE_IP $HTTP_PORT"
  ( cd "$CACHE/www" && exec setsid /usr/bin/python3 -m http.server --bind "$BRIDGE_IP" "$HTTP_PORT" \
      </dev/null >"$OUT/http.log" 2>&1 9>&- ) &
  echo $! >"$OUT/pids/http.pid"
  wait_for 15 bash -c "exec 3<>/dev/tcp/$BRIDGE_IP/$HTTP_PORT" ||
    die "http server did not answer on $BRIDGE_IP:$HTTP_PORT within 15 s, see $OUT/http.log"
  pid_alive "$(cat "$OUT/pids/http.pid")" || die "the http server died, see $OUT/http.log"
}

# Debian's docker-registry binary, taken from the cached image rootfs (so
# nothing is installed on, or started as a service of, the root host).
start_registry() {
  local img; img=$(build_rootfs image "$IMAGE_PACKAGES")
  mkdir -p "$CACHE/registry" "$OUT/pids"
  cat >"$OUT/registry.yml" <<YML
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $CACHE/registry}
  delete: {enabled: true}
http: {addr: "$BRIDGE_IP:$REGISTRY_PORT"}
YML
  stop_stale_listener "$REGISTRY_PORT" "docker-registry serve"
  setsid "$img/usr/bin/docker-registry" serve "$OUT/registry.yml" </dev/null >"$OUT/registry.log" 2>&1 9>&- &
  echo $! >"$OUT/pids/registry.pid"
  wait_for 15 curl_ok "http://$BRIDGE_IP:$REGISTRY_PORT/v2/" ||
    die "registry did not answer on $BRIDGE_IP:$REGISTRY_PORT within 15 s, see $OUT/registry.log"
  pid_alive "$(cat "$OUT/pids/registry.pid")" || die "the registry died, see $OUT/registry.log"
}

curl_ok() { /usr/bin/python3 -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1"; }

# Push the lab images unless this exact set is already in the registry.
# Docker Hub names resolve through the hosts' registry mirror:
#   aglab/base:bookworm   base of the stand-in Dockerfiles (python3, Django)
#   registry:2            Debian's docker-registry, official image's CLI/paths
#   postgres:15, postgres:9.5   real PostgreSQL 15 (lib/postgres.sh)
#   redis:latest                TCP stand-in (aglab-listen)
# The registry is shared by every clone using the same cache: the marker
# records the digests pushed, and a registry holding other ones (pushed by a
# clone with other images) is pushed again.
push_images() {
  ensure_crane
  build_image_layers
  local pg_layer; pg_layer=$(build_pg_layer) || die "building the postgres layer failed"
  IMAGE_SET_KEY=$(cache_key "$IMAGE_SET_KEY" "$(basename "$pg_layer")")
  local r=$BRIDGE_IP:$REGISTRY_PORT marker=$CACHE/registry/.pushed-$IMAGE_SET_KEY
  if [[ -f $marker ]] && [[ "$(pushed_digests "$r")" == "$(cat "$marker")" ]]; then
    return 0
  fi
  log "pushing lab images to $r"
  local path=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  {
    "$CRANE" append --insecure -f "$IMAGE_LAYER1" -f "$IMAGE_LAYER2" -t "$r/aglab/base:bookworm.tmp"
    "$CRANE" mutate --insecure "$r/aglab/base:bookworm.tmp" --set-platform linux/amd64 \
      -e "$path" -e LANG=C.UTF-8 --cmd /bin/bash -t "$r/aglab/base:bookworm"
    "$CRANE" mutate --insecure "$r/aglab/base:bookworm" --entrypoint /usr/local/bin/registry-entrypoint \
      --cmd serve,/etc/docker/registry/config.yml --exposed-ports 5000 -t "$r/library/registry:2"
    local v
    "$CRANE" append --insecure -b "$r/aglab/base:bookworm" -f "$pg_layer" -t "$r/aglab/postgres:tmp"
    for v in 15 9.5; do
      "$CRANE" mutate --insecure "$r/aglab/postgres:tmp" --entrypoint docker-entrypoint.sh \
        --cmd postgres --exposed-ports 5432 -e "$path:/usr/lib/postgresql/$PG_MAJOR/bin" \
        -e PGDATA=/var/lib/postgresql/data -e PG_MAJOR=$PG_MAJOR -e LANG=C.UTF-8 -t "$r/library/postgres:$v"
    done
    "$CRANE" mutate --insecure "$r/aglab/base:bookworm" --entrypoint aglab-listen \
      --cmd redis,6379 --exposed-ports 6379 -t "$r/library/redis:latest"
  } >"$OUT/push.log" 2>&1 || die "pushing images failed, see $OUT/push.log"
  pushed_digests "$r" >"$marker"
}

pushed_digests() {
  local t
  for t in aglab/base:bookworm library/postgres:15 library/postgres:9.5 library/redis:latest; do
    echo "$t $("$CRANE" digest --insecure "$1/$t" 2>/dev/null)"
  done
}

# The stand-in autograder-full-stack, as three git repositories served over
# dumb HTTP. master = first commit; tag v2 = second commit (standin/v2/ laid
# over it) for upgrade tests. Fixed dates and authors: the same content gives
# the same commit ids on every machine.
build_git_repos() {
  local src=$LAB_DIR/standin git=$CACHE/www/git work=$OUT/gitwork
  rm -rf "$git" "$work"; mkdir -p "$git" "$work"
  export GIT_AUTHOR_NAME="aglab" GIT_AUTHOR_EMAIL="lab@aglab.test" \
    GIT_COMMITTER_NAME="aglab" GIT_COMMITTER_EMAIL="lab@aglab.test" \
    GIT_AUTHOR_DATE="2024-08-26T12:00:00Z" GIT_COMMITTER_DATE="2024-08-26T12:00:00Z"
  local sub
  for sub in autograder-server ag-website-vue; do
    git_init_commit "$work/$sub" "$src/$sub" "Stand-in $sub"
    GIT_AUTHOR_DATE="2024-09-02T12:00:00Z" GIT_COMMITTER_DATE="2024-09-02T12:00:00Z" \
      git_next_commit "$work/$sub" "$src/v2/$sub" "Stand-in $sub v2"
  done
  local fs=$work/autograder-full-stack
  git_init_commit "$fs" "$src/autograder-full-stack" "Stand-in autograder-full-stack"
  ( cd "$fs"
    printf '[submodule "autograder-server"]\n\tpath = autograder-server\n\turl = ../autograder-server.git\n[submodule "ag-website-vue"]\n\tpath = ag-website-vue\n\turl = ../ag-website-vue.git\n' >.gitmodules
    for sub in autograder-server ag-website-vue; do
      git update-index --add --cacheinfo "160000,$(git -C "$work/$sub" rev-parse master),$sub"
    done
    git add .gitmodules && git commit -q -m "Add submodules"
    git checkout -q -b v2work
    copy_tree "$src/v2/autograder-full-stack" .
    restage
    # The submodules are not checked out here: (re)write their gitlinks.
    for sub in autograder-server ag-website-vue; do
      git update-index --add --cacheinfo "160000,$(git -C "$work/$sub" rev-parse v2),$sub"
    done
    GIT_AUTHOR_DATE="2024-09-02T12:00:00Z" GIT_COMMITTER_DATE="2024-09-02T12:00:00Z" \
      git commit -q -m "Stand-in v2: submodule updates" && git tag v2
    git checkout -q master && git branch -q -D v2work )
  for sub in autograder-server ag-website-vue autograder-full-stack; do
    git clone -q --bare "$work/$sub" "$git/$sub.git"
    git -C "$git/$sub.git" update-server-info
  done
  rm -rf "$work"
}

# cp without timestamps: copied files keep their old mtimes with cp -a, and
# git's stat cache then misses same-size edits (e.g. v1 -> v2).
copy_tree() { cp -dR --preserve=mode "$1/." "$2/"; }

# Stage the work tree from scratch (content, not stat data, decides).
restage() { git rm -r -q --cached . >/dev/null && git add -A; }

git_init_commit() {
  local dir=$1 from=$2 msg=$3
  mkdir -p "$dir"; copy_tree "$from" "$dir"
  git -C "$dir" init -q -b master
  git -C "$dir" add -A && git -C "$dir" commit -q -m "$msg"
}

git_next_commit() {
  local dir=$1 from=$2 msg=$3
  copy_tree "$from" "$dir"
  (cd "$dir" && restage)
  git -C "$dir" commit -q -m "$msg" && git -C "$dir" tag v2
  git -C "$dir" reset -q --hard HEAD~1   # master stays at the first commit
}
