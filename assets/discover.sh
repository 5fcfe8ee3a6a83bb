# aginstall discovery: read-only, POSIX sh, prints key=value lines.
# Runs as the SSH user; every probe tolerates missing tools.
LC_ALL=C
export LC_ALL
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin
export PATH
echo "time_start=$(date +%s.%N)"
echo "uname_s=$(uname -s)"
echo "hostname=$(hostname 2>/dev/null || uname -n)"
echo "kernel=$(uname -r)"
echo "arch=$(uname -m)"
if [ -r /etc/os-release ]; then
	(. /etc/os-release && echo "os_id=$ID" && echo "os_version=$VERSION_ID" && echo "os_name=$PRETTY_NAME")
fi
echo "cpus=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null)"
awk '/^MemTotal:/ { print "mem_kb=" $2 }' /proc/meminfo 2>/dev/null
echo "disk_free_kb=$(df -Pk / 2>/dev/null | awk 'NR == 2 { print $4 }')"
d=${AG_SRC:-/}
while [ ! -e "$d" ] && [ "$d" != / ] && [ "$d" != . ]; do d=$(dirname "$d"); done
echo "source_free_kb=$(df -Pk "$d" 2>/dev/null | awk 'NR == 2 { print $4 }')"

uid=$(id -u)
echo "uid=$uid"
echo "user=$(id -un)"
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

# Docker: the engine's own answer when the socket is reachable, else the
# installed daemon's version.
access=none
fmt='{{.ServerVersion}}|{{.Swarm.LocalNodeState}}|{{.Swarm.NodeID}}|{{.Swarm.ControlAvailable}}|{{if .Swarm.Cluster}}{{.Swarm.Cluster.ID}}{{end}}'
if command -v docker >/dev/null 2>&1; then
	if info=$(docker info --format "$fmt" 2>/dev/null) && [ "${info%%|*}" ]; then
		access=direct
	elif [ "$sudo" = nopasswd ] && info=$(sudo -n docker info --format "$fmt" 2>/dev/null) && [ "${info%%|*}" ]; then
		access=sudo
	fi
	echo "docker_access=$access"
	[ "$access" != none ] && echo "docker_info=$info"
fi
[ -S /var/run/docker.sock ] && echo docker_sock=1
if [ "$access" = none ] && command -v dockerd >/dev/null 2>&1; then
	echo "dockerd=$(dockerd --version 2>/dev/null | sed -n 's/^Docker version \([^,]*\).*/\1/p')"
fi

if [ -r /etc/security/limits.conf ]; then
	grep -E '^[[:space:]]*[^#[:space:]]+[[:space:]]+[^[:space:]]+[[:space:]]+nofile([[:space:]]|$)' /etc/security/limits.conf |
		sed 's/^/nofile=/'
fi
dpkg-query -W -f='pkg=${Package} ${db:Status-Abbrev}\n' nfs-common nfs-kernel-server 2>/dev/null
if grep -qE '[[:space:]]nfs4?$' /proc/filesystems 2>/dev/null || modprobe -n nfs >/dev/null 2>&1; then
	echo "nfs_kernel=1"
fi
if [ -e /proc/net/ip_vs ] || modprobe -n ip_vs >/dev/null 2>&1; then
	echo "ipvs=1"
fi

ip -o -4 addr show 2>/dev/null | awk '$4 !~ /^127\./ { print "addr=" $4 }'
if [ "$AG_PEER" ]; then
	peer=$AG_PEER
	case $peer in
	*[!0-9.]*) peer=$(getent ahostsv4 "$peer" 2>/dev/null | awk 'NR == 1 { print $1 }') ;;
	esac
	[ "$peer" ] && ip -o route get "$peer" 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/reach=\1/p'
fi
ss -ltnp 2>/dev/null | awk 'NR > 1 && $4 ~ /:(80|443)$/ {
	p = ""; if (match($0, /users:\(\("[^"]*"/)) p = substr($0, RSTART + 9, RLENGTH - 10)
	print "listen=" $4 " " p }'
echo "time_end=$(date +%s.%N)"
