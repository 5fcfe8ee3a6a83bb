# Shared settings and helpers for testdata/lab/up and testdata/lab/down.
# Sourced, not executed. Everything the lab makes lives under $OUT (per run)
# and $CACHE (kept between runs).

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${AGLAB_OUT:-$LAB_DIR/out}
CACHE=${AGLAB_CACHE:-$LAB_DIR/cache}

BRIDGE=aglab0
BRIDGE_IP=10.213.0.1
NET_PREFIX=10.213.0
HOST_IP_BASE=10            # nodeK gets 10.213.0.(10+K)
HTTP_PORT=8080
REGISTRY_PORT=5000
SUITE=bookworm

# Packages baked into every lab host. Docker is deliberately NOT here: the
# product's Docker step installs it from the lab apt repository.
BASE_PACKAGES=openssh-server,python3,systemd,systemd-sysv,dbus,sudo,iproute2,procps,iputils-ping,ca-certificates,socat,kmod,iptables,less,util-linux,libpam-systemd
# Packages the lab apt repository offers to the hosts (plus their dependencies).
# python3-django python3-gnupg gnupg: what upstream's generate_secrets.py needs
# on the manager (the product installs them there before running it).
REPO_PACKAGES="docker.io docker-compose nfs-common nfs-kernel-server git curl gnupg python3-django python3-gnupg"
# Root filesystem of every container image the lab registry serves.
IMAGE_PACKAGES=python3,python3-django,python3-psycopg2,docker-registry,ca-certificates,procps,iproute2
CRANE_VERSION=v0.22.1

log() { printf '[lab %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { printf '[lab] ERROR: %s\n' "$*" >&2; exit 1; }

# Mirror: the same one apt on this machine uses.
debian_mirror() {
  local m
  m=$(grep -hoE '^(URIs:|deb) +\S+' /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null |
      awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
  echo "${m:-http://deb.debian.org/debian}"
}

# Short, stable hash of its arguments: the cache key of a rootfs.
cache_key() { printf '%s\n' "$@" | sha256sum | cut -c1-12; }

host_ip() { echo "$NET_PREFIX.$((HOST_IP_BASE + $1))"; }
host_mac() { printf '02:a9:1a:00:00:%02x' "$1"; }

# Is PID alive (not a zombie) and, if WORD is given, does its command line
# contain WORD? Guards against signalling a recycled PID.
pid_alive() {
  local pid=${1:-} word=${2:-} state
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/stat ]] || return 1
  state=$(sed -E 's/^.*\) (.).*/\1/' /proc/"$pid"/stat 2>/dev/null) || return 1
  [[ $state != Z && $state != X ]] || return 1
  [[ -z $word ]] && return 0
  tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | grep -qF -- "$word"
}

# Wait up to $1 seconds for command "${@:2}" to succeed.
wait_for() {
  local secs=$1; shift
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || return 1
    sleep 0.2
  done
}

# Build (once) a debootstrap rootfs in $CACHE/NAME-KEY; echo its path.
# Built into a temp dir and renamed, so an interrupted run never leaves a
# half-made cache entry.
build_rootfs() {
  local name=$1 include=$2 mirror key dir
  mirror=$(debian_mirror)
  key=$(cache_key "$SUITE" minbase "$include" "$mirror")
  dir=$CACHE/$name-$key
  if [[ ! -f $dir/.complete ]]; then
    log "debootstrap $name ($include) from $mirror (cold cache: ~1 min)"
    rm -rf "$dir.tmp"
    mkdir -p "$CACHE"
    debootstrap --variant=minbase --include="$include" "$SUITE" "$dir.tmp" "$mirror" \
      >"$CACHE/$name-$key.debootstrap.log" 2>&1 ||
      die "debootstrap $name failed, see $CACHE/$name-$key.debootstrap.log"
    rm -rf "$dir"; mv "$dir.tmp" "$dir"; touch "$dir/.complete"
  fi
  echo "$dir"
}
