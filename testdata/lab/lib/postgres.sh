# The lab's postgres:15 and postgres:9.5 images: real PostgreSQL from Debian's
# postgresql-15, as one layer on top of the image base (aglab/base:bookworm),
# started by images/rootfs/usr/local/bin/docker-entrypoint.sh, which honours
# the official image's interface (POSTGRES_PASSWORD, PGDATA, first-start
# initdb). Debian has no PostgreSQL 9.5: the 9.5 tag is the same PostgreSQL 15
# and reports its real version (SHOW server_version), never a fake 9.5.

PG_PACKAGES="postgresql-15"
PG_MAJOR=15

# Installs PG_PACKAGES with the machine's apt sources in a throw-away overlay
# of the image rootfs, and packs what the install added or changed (the
# overlay's upper dir) as a layer tarball. echo its path.
build_pg_layer() {
  local img key layer work
  img=$(build_rootfs image "$IMAGE_PACKAGES") || return 1
  key=$(cache_key "$(basename "$img")" "$PG_PACKAGES" "$(declare -f build_pg_layer | sha256sum)")
  layer=$CACHE/layer-pg-$key.tar
  if [[ ! -f $layer ]]; then
    log "building the postgres layer ($PG_PACKAGES)"
    work=$CACHE/pgbuild.tmp
    cleanup_aptdl "$work"
    mkdir -p "$work"/{upper,work,root}
    mount -t overlay overlay -o "lowerdir=$img,upperdir=$work/upper,workdir=$work/work" "$work/root" || return 1
    mount --bind /proc "$work/root/proc"
    cp /etc/resolv.conf "$work/root/etc/resolv.conf"
    echo "deb $(debian_mirror) $SUITE main" >"$work/root/etc/apt/sources.list.d/aglab-build.list"
    if ! chroot "$work/root" /bin/sh -euc "
        # No service starts in a build chroot; no default cluster (initdb runs
        # at the container's first start, in PGDATA, like the official image).
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d
        mkdir -p /etc/postgresql-common/createcluster.d
        echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/aglab.conf
        apt-get -q update
        DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends install $PG_PACKAGES
        apt-get clean
        rm -f /usr/sbin/policy-rc.d /etc/apt/sources.list.d/aglab-build.list
        rm -rf /var/lib/apt/lists/*
        install -d -o postgres -g postgres -m 2775 /var/run/postgresql
        install -d -o postgres -g postgres -m 700 /var/lib/postgresql/data" >"$CACHE/pgbuild.log" 2>&1; then
      cleanup_aptdl "$work"
      log "postgres layer build failed, see $CACHE/pgbuild.log"
      return 1
    fi
    umount "$work/root/proc" "$work/root"
    # Whiteouts (char devices 0:0) mark files the install deleted: none that
    # matter (apt's caches); leave them out. resolv.conf was only for apt.
    (cd "$work/upper" && find . -type c -printf '%p\n' >"$work/exclude" && echo ./etc/resolv.conf >>"$work/exclude" &&
      tar --numeric-owner --sort=name --mtime=@0 -X "$work/exclude" -cf "$layer.tmp" .) || return 1
    mv "$layer.tmp" "$layer"
    cleanup_aptdl "$work"
    log "postgres layer: $(du -h "$layer" | cut -f1)"
  fi
  echo "$layer"
}
