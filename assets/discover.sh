# aginstall discovery: read-only, POSIX sh, prints key=value lines.
# Runs as the SSH user; every probe tolerates missing tools.
# Every review runs this on every host at once, and each process it starts
# costs those hosts CPU: shell builtins and /proc are read where they give the
# same answer, and a tool runs only when its answer is needed.
LC_ALL=C
export LC_ALL
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
export PATH
set -f # words are split below, never globbed
echo "time_start=$(date +%s.%N)"
# One uname for the system, node name, release and machine (node name is
# what hostname prints).
set -- $(uname -snrm)
echo "uname_s=$1"
echo "hostname=$2"
echo "kernel=$3"
echo "arch=$4"
kernel=$3
if [ -r /etc/os-release ]; then
	(. /etc/os-release && echo "os_id=$ID" && echo "os_version=$VERSION_ID" && echo "os_name=$PRETTY_NAME")
fi
echo "cpus=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null)"
# MemTotal is the first line of /proc/meminfo.
if [ -r /proc/meminfo ] && read -r key mem _ </proc/meminfo && [ "$key" = MemTotal: ]; then
	echo "mem_kb=$mem"
fi
d=${AG_SRC:-/}
while [ ! -e "$d" ] && [ "$d" != / ] && [ "$d" != . ]; do
	d=${d%/*}
	[ "$d" ] || d=/
done
df -Pk / "$d" 2>/dev/null | awk 'NR == 2 { print "disk_free_kb=" $4 } NR == 3 { print "source_free_kb=" $4 }'

# id prints uid=N(name) ...; the number is all that is needed.
ids=$(id)
uid=${ids#uid=}
uid=${uid%%[!0-9]*}
echo "uid=$uid"
if [ "$uid" = 0 ]; then
	sudo=root
elif ! command -v sudo >/dev/null 2>&1; then
	sudo=none
elif out=$(sudo -n true 2>&1); then
	sudo=nopasswd
else
	case $out in
	*"password is required"*) sudo=password ;;
	*) sudo=none ;;
	esac
fi
echo "sudo=$sudo"

# Docker: the engine's own answer when the socket is reachable (a socket
# open to the user: aginstall asks the engine over the API, cheaper than a
# docker CLI start-up), else the installed daemon's version.
access=none
fmt='{{.ServerVersion}}|{{.Swarm.LocalNodeState}}|{{.Swarm.NodeID}}|{{.Swarm.ControlAvailable}}|{{if .Swarm.Cluster}}{{.Swarm.Cluster.ID}}{{end}}'
if command -v docker >/dev/null 2>&1; then
	if [ -S /var/run/docker.sock ] && [ -w /var/run/docker.sock ]; then
		access=direct
	elif [ "$sudo" = nopasswd ] && info=$(sudo -n docker info --format "$fmt" 2>/dev/null) && [ "${info%%|*}" ]; then
		access=sudo
	fi
	echo "docker_access=$access"
	[ "$access" = sudo ] && echo "docker_info=$info"
fi
[ -S /var/run/docker.sock ] && echo docker_sock=1
if [ "$access" = none ] && command -v dockerd >/dev/null 2>&1; then
	echo "dockerd=$(dockerd --version 2>/dev/null | sed -n 's/^Docker version \([^,]*\).*/\1/p')"
fi

# limits.conf whole (base64, one line), for the limits check of the same
# review: one base64 here instead of a session of its own.
l=/etc/security/limits.conf
if [ -r $l ]; then
	sed -n -E 's/^[[:space:]]*[^#[:space:]]+[[:space:]]+[^[:space:]]+[[:space:]]+nofile([[:space:]]|$)/nofile=&/p' $l
	b=$(base64 -w0 $l) && echo "limits_conf=$b"
elif [ -x /etc/security ] && ! [ -e $l ] && ! [ -L $l ]; then
	echo limits_conf_missing=1
fi
dpkg-query -W -f='pkg=${Package} ${db:Status-Abbrev}\n' nfs-common nfs-kernel-server 2>/dev/null

# NFS and IPVS: in the running kernel already, else a module this kernel
# could load (what modprobe -n finds: modules.dep or modules.builtin).
nfs=
if [ -r /proc/filesystems ]; then
	while read -r a b; do
		case $b in nfs | nfs4) nfs=1 ;; esac
	done </proc/filesystems
fi
ipvs=
[ -e /proc/net/ip_vs ] && ipvs=1
if [ -z "$nfs" ] || [ -z "$ipvs" ]; then
	mods=$(grep -ohE '/(nfs|ip_vs)\.ko' "/lib/modules/$kernel/modules.dep" "/lib/modules/$kernel/modules.builtin" 2>/dev/null)
	case $mods in */nfs.ko*) nfs=1 ;; esac
	case $mods in */ip_vs.ko*) ipvs=1 ;; esac
fi
[ "$nfs" ] && echo "nfs_kernel=1"
[ "$ipvs" ] && echo "ipvs=1"

ip -o -4 addr show 2>/dev/null | while read -r _ _ _ a _; do
	case $a in 127.*) ;; *) echo "addr=$a" ;; esac
done
if [ "$AG_PEER" ]; then
	peer=$AG_PEER
	case $peer in
	*[!0-9.]*) peer=$(getent ahostsv4 "$peer" 2>/dev/null | awk 'NR == 1 { print $1 }') ;;
	esac
	if [ "$peer" ]; then
		set -- $(ip -o route get "$peer" 2>/dev/null)
		while [ $# -gt 1 ]; do
			[ "$1" = src ] && echo "reach=$2" && break
			shift
		done
	fi
fi
# Who listens on 80 or 443: ss (which also names the process) only when
# the kernel's socket tables show such a listener (state 0A).
if grep -qE '^ *[0-9]+: [0-9A-F]+:(0050|01BB) [0-9A-F]+:0000 0A ' /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
	ss -ltnp 2>/dev/null | awk 'NR > 1 && $4 ~ /:(80|443)$/ {
	p = ""; if (match($0, /users:\(\("[^"]*"/)) p = substr($0, RSTART + 9, RLENGTH - 10)
	print "listen=" $4 " " p }'
fi
echo "time_end=$(date +%s.%N)"
