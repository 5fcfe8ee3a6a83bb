# Cached artefacts: host root filesystem, lab apt repository, image layers,
# crane. Each is built once, in a temp dir renamed into place when complete,
# and keyed by a hash of what it is made from.

# The host root: debootstrap base + the lab's files (hostfiles/) and users.
# Per-lab things (key, password, host keys, hostname) are written per host at
# up time, into that host's overlay upper dir.
prepare_host_root() {
  local base key dir
  # Called as $(prepare_host_root), where set -e does not reach: stop by hand.
  base=$(build_rootfs base "$BASE_PACKAGES") || return 1
  # Keyed by the base, hostfiles/ and this function's own text.
  key=$(cache_key "$base" "$(cd "$LAB_DIR" && tar -c --sort=name --mtime=@0 --owner=0 --group=0 hostfiles | sha256sum)" \
    "$(declare -f prepare_host_root | sha256sum)")
  dir=$CACHE/hostroot-$key
  if [[ ! -f $dir/.complete ]]; then
    log "preparing host root $dir"
    rm -rf "$dir.tmp"
    cp -a "$base" "$dir.tmp" || return 1
    rm -f "$dir.tmp/.complete"
    cp -a "$LAB_DIR/hostfiles/." "$dir.tmp/" || return 1
    chroot "$dir.tmp" /bin/sh -euc '
      # Users: agadmin (sudo, must type a password), agnosudo (no sudo).
      id agadmin >/dev/null 2>&1 || useradd -m -s /bin/bash -G sudo agadmin
      id agnosudo >/dev/null 2>&1 || useradd -m -s /bin/bash agnosudo
      # Per-host keys are generated at up time; never share the debootstrap ones.
      rm -f /etc/ssh/ssh_host_*
      # Only the lab repository, no internet.
      rm -f /etc/apt/sources.list.d/* && echo "deb [trusted=yes] http://10.213.0.1:8080/apt ./" >/etc/apt/sources.list
      rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
      systemctl enable aglab-cgroups-rw.service aglab-cgroups-watch.service ssh.service >/dev/null 2>&1
      # Not needed in a container and slow or failing under nspawn.
      systemctl mask systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer \
        e2scrub_reap.service systemd-timesyncd.service >/dev/null 2>&1 || true
      : >/etc/machine-id
    ' || return 1
    mv "$dir.tmp" "$dir"; touch "$dir/.complete"
  fi
  echo "$dir"
}

# Lab apt repository: docker.io & co. and their dependencies relative to the
# base, downloaded in a throw-away overlay of the base with the machine's own
# apt sources, then indexed with dpkg-scanpackages.
build_apt_repo() {
  local base key dir work
  base=$(build_rootfs base "$BASE_PACKAGES")
  key=$(cache_key "$base" "$REPO_PACKAGES")
  dir=$CACHE/www/apt
  if [[ ! -f $dir/.key-$key ]]; then
    log "downloading the lab apt repository ($REPO_PACKAGES)"
    work=$CACHE/aptdl.tmp
    cleanup_aptdl "$work"
    mkdir -p "$work"/{upper,work,root}
    mount -t overlay overlay -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/work" "$work/root"
    mount --bind /proc "$work/root/proc"
    cp /etc/resolv.conf "$work/root/etc/resolv.conf"
    echo "deb $(debian_mirror) $SUITE main" >"$work/root/etc/apt/sources.list"
    if ! chroot "$work/root" /bin/sh -euc "
        apt-get -q update
        apt-get -q -y --download-only install $REPO_PACKAGES" >"$CACHE/aptdl.log" 2>&1; then
      cleanup_aptdl "$work"
      die "apt download failed, see $CACHE/aptdl.log"
    fi
    rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
    cp "$work"/root/var/cache/apt/archives/*.deb "$dir.tmp/"
    cleanup_aptdl "$work"
    (cd "$dir.tmp" && dpkg-scanpackages -m . >Packages 2>/dev/null && gzip -9kf Packages)
    rm -rf "$dir"; mv "$dir.tmp" "$dir"; touch "$dir/.key-$key"
    log "apt repository: $(ls "$dir"/*.deb | wc -l) packages, $(du -sh "$dir" | cut -f1)"
  fi
}

cleanup_aptdl() {
  local work=$1
  umount "$work/root/proc" 2>/dev/null || true
  umount "$work/root" 2>/dev/null || true
  rm -rf "$work"
}

# crane (go-containerregistry) pushes images to the lab registry without a
# Docker engine on this machine.
ensure_crane() {
  CRANE=$CACHE/bin/crane
  if [[ ! -x $CRANE ]]; then
    local go; go=$(command -v go || echo /usr/local/go/bin/go)
    [[ -x $go ]] || die "go is needed once to install crane (go install ...crane@$CRANE_VERSION)"
    log "installing crane $CRANE_VERSION into $CACHE/bin"
    mkdir -p "$CACHE/bin"
    HOME=${HOME:-/root} GOBIN=$CACHE/bin GOFLAGS=-mod=mod "$go" install "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION" \
      >"$CACHE/crane-install.log" 2>&1 || die "go install crane failed, see $CACHE/crane-install.log"
  fi
}

# Layer tarballs of the image base: the debootstrap rootfs (cached) and the
# lab's extra files (images/rootfs: registry config, aglab-listen).
build_image_layers() {
  local img key
  img=$(build_rootfs image "$IMAGE_PACKAGES")
  IMAGE_LAYER1=$CACHE/layer-rootfs-$(basename "$img").tar
  if [[ ! -f $IMAGE_LAYER1 ]]; then
    log "packing image rootfs layer"
    tar -C "$img" --numeric-owner --sort=name --exclude=./.complete \
      --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' --exclude='./run/*' \
      --exclude='./var/cache/apt/archives/*.deb' --exclude='./var/lib/apt/lists/*' \
      -cf "$IMAGE_LAYER1.tmp" .
    mv "$IMAGE_LAYER1.tmp" "$IMAGE_LAYER1"
  fi
  IMAGE_LAYER2=$OUT/layer-extras.tar
  tar -C "$LAB_DIR/images/rootfs" --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 \
    -cf "$IMAGE_LAYER2" .
  IMAGE_SET_KEY=$(cache_key "$(basename "$IMAGE_LAYER1")" "$(sha256sum <"$IMAGE_LAYER2")" v1)
}
