# The VM tier's disk: one ext4 base image (root filesystem of every guest,
# read-only, shared) and per guest a copy-on-write file over it plus a small
# "seed" disk with what is per guest. Sourced by vm/up after vm.sh.
#
# Like the nspawn hosts, the guests are bare: no Docker, no NFS packages (the
# product installs them from the lab apt repository). Unlike them they boot a
# real kernel (UML), so they also need udev, the kernel's modules and their
# own network setup (from the kernel command line, see vmhosts.sh).

# BASE_PACKAGES (the nspawn hosts') plus what a booted kernel needs. The lab
# apt repository resolves against BASE_PACKAGES, a subset: it serves here too.
VM_PACKAGES=$BASE_PACKAGES,udev,e2fsprogs
VM_IMAGE_SIZE=12G   # sparse; Docker's images and the stack's builds land in each COW file

# Build (once) the guests' base image; echo its path (…/base.raw).
# Keyed by the debootstrap root, the kernel, vm/guestfiles and this code.
build_vm_image() {
  local kernel=$1 base key dir rel
  base=$(build_rootfs vmbase "$VM_PACKAGES") || return 1
  key=$(cache_key "$base" "$kernel" \
    "$(cd "$LAB_DIR" && tar -c --sort=name --mtime=@0 --owner=0 --group=0 vm/guestfiles hostfiles | sha256sum)" \
    "$(declare -f build_vm_image vm_root_setup | sha256sum)")
  dir=$VM_CACHE/image-$key
  if [[ ! -f $dir/.complete ]]; then
    log "preparing the guests' base image $dir"
    rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
    cp -a "$base" "$dir.tmp/root" || return 1
    rm -f "$dir.tmp/root/.complete"
    vm_root_setup "$dir.tmp/root" "$kernel" || return 1
    truncate -s "$VM_IMAGE_SIZE" "$dir.tmp/base.raw"
    mkfs.ext4 -q -L agvmroot -d "$dir.tmp/root" "$dir.tmp/base.raw" || return 1
    rm -rf "$dir.tmp/root"
    # The COW files record the base's mtime: never touch base.raw after this.
    chmod 444 "$dir.tmp/base.raw"
    rm -rf "$dir"; mv "$dir.tmp" "$dir"; touch "$dir/.complete"
  fi
  echo "$dir/base.raw"
}

# What every guest shares: the nspawn hosts' files (sshd, sudo, apt, Docker's
# daemon.json) with the VM bridge's address, the modules, users, services.
vm_root_setup() {
  local r=$1 kernel=$2 rel
  cp -a "$LAB_DIR/hostfiles/etc/ssh" "$LAB_DIR/hostfiles/etc/sudoers.d" "$LAB_DIR/hostfiles/etc/apt" "$r/etc/" || return 1
  install -d "$r/etc/docker"
  sed "s/10\.213\.0\.1/$VM_BRIDGE_IP/" "$LAB_DIR/hostfiles/etc/docker/daemon.json" >"$r/etc/docker/daemon.json"
  cp -a "$LAB_DIR/vm/guestfiles/." "$r/" || return 1
  rel=$(cat "$kernel/release")
  rm -rf "$r/lib/modules/$rel"; mkdir -p "$r/lib/modules"
  cp -a "$kernel/modules/lib/modules/$rel" "$r/lib/modules/" || return 1
  echo "LABEL=agvmroot / ext4 defaults,errors=remount-ro 0 1" >"$r/etc/fstab"
  chroot "$r" /bin/sh -euc "
    depmod $rel   # kbuild skips it for ARCH=um
    id agadmin >/dev/null 2>&1 || useradd -m -s /bin/bash -G sudo agadmin
    id agnosudo >/dev/null 2>&1 || useradd -m -s /bin/bash agnosudo
    rm -f /etc/ssh/ssh_host_*     # per guest, from the seed disk
    rm -f /etc/apt/sources.list.d/* && echo 'deb [trusted=yes] http://$VM_BRIDGE_IP:$HTTP_PORT/apt ./' >/etc/apt/sources.list
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
    # Address and hostname come from the kernel command line (ip=, systemd.hostname=).
    systemctl enable systemd-networkd systemd-network-generator agvm-seed.service ssh.service >/dev/null 2>&1
    systemctl mask systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer \
      e2scrub_reap.service e2scrub_all.timer fstrim.timer systemd-timesyncd.service >/dev/null 2>&1 || true
    : >/etc/machine-id
  " || return 1
}

# The seed disk of guest K: a tar archive on /dev/ubdb that agvm-seed.service
# unpacks over / before sshd starts (per guest: host key, hostname, hosts,
# authorized keys, the sudo user's password hash, node1's TLS files).
make_vm_seed() {
  local k=$1 h=$VM_OUT/hosts/node$1 s
  s=$h/seed
  rm -rf "$s"; mkdir -p "$s/etc/ssh" "$s/etc/agvm" "$s/root/.ssh" "$s/home/agadmin/.ssh" "$s/home/agnosudo/.ssh"
  ssh-keygen -q -t ed25519 -N '' -C "root@node$k" -f "$s/etc/ssh/ssh_host_ed25519_key"
  { echo "127.0.0.1 localhost"; echo "127.0.1.1 node$k"; echo "::1 localhost ip6-localhost ip6-loopback"
    echo "$VM_BRIDGE_IP aglab-root"
    local i; for ((i = 1; i <= LAB_N; i++)); do echo "$(vm_ip "$i") node$i"; done; } >"$s/etc/hosts"
  printf '# aglab: no DNS inside the lab\n' >"$s/etc/resolv.conf"
  echo "node$k" >"$s/etc/hostname"
  local d; for d in root home/agadmin home/agnosudo; do install -m 600 "$VM_OUT/id_ed25519.pub" "$s/$d/.ssh/authorized_keys"; done
  openssl passwd -6 "$LAB_PASSWORD" >"$s/etc/agvm/agadmin.hash"
  if [[ $k == 1 ]]; then   # site.tls_cert / site.tls_key of the cluster file
    install -D -m 644 "$VM_OUT/tls/autograder.cert" "$s/etc/ssl/certs/autograder.cert"
    install -D -m 600 "$VM_OUT/tls/autograder.key.pem" "$s/etc/ssl/private/autograder.key.pem"
  fi
  tar -C "$s" --numeric-owner --owner=0 --group=0 -cf "$h/seed.tar" .
  printf '%s ssh-ed25519 %s\n' "$(vm_ip "$k")" "$(awk '{print $2}' "$s/etc/ssh/ssh_host_ed25519_key.pub")" \
    >>"$VM_OUT/known_hosts"
}
