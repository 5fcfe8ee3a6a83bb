# The VM tier's kernel: User-Mode Linux built from Debian sid's
# linux-source-7.2 with vm/uml-kernel.config. Sourced by up (after common.sh
# and vm.sh).
#
# Why built here: the packaged UML kernels of bookworm (6.1) and trixie (6.12)
# panic at once on this machine kind ("ptrace set fp regs failed, errno = 14":
# the CPU has AMX), and sid's packaged 7.2 lacks the nftables/iptables NAT and
# filter that dockerd needs. The config is sid's plus Docker, swarm ingress
# (NETFILTER_XT_TARGET_REDIRECT), NFS and IPVS; see /work/shared/vmlab.
#
# Cold: ~18 min on 2 cores. The source .deb stays in the cache because sid
# moves: once downloaded, a rebuild never needs the network. A .deb can also be
# given by hand with AGLAB_UML_SOURCE_DEB=/path/linux-source-7.2_*.deb.

UML_SOURCE_PACKAGE=linux-source-7.2

# Private apt state for Debian sid: the machine's apt configuration is untouched.
vm_sid_apt() {
  local st=$VM_CACHE/apt-sid
  mkdir -p "$st/parts" "$st/lists/partial" "$st/cache/archives/partial"
  printf 'Types: deb\nURIs: %s\nSuites: sid\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$(debian_mirror)" >"$st/parts/sid.sources"
  apt-get -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$st/parts" \
    -o Dir::State::Lists="$st/lists" -o Dir::Cache="$st/cache" -o Dir::State::status=/dev/null "$@"
}

# Echo the cached source .deb, downloading it once.
vm_kernel_source_deb() {
  local src=$VM_CACHE/src deb
  mkdir -p "$src"
  if [[ -n ${AGLAB_UML_SOURCE_DEB:-} ]]; then
    [[ -f $AGLAB_UML_SOURCE_DEB ]] || { log "AGLAB_UML_SOURCE_DEB=$AGLAB_UML_SOURCE_DEB: no such file"; return 1; }
    cp -n "$AGLAB_UML_SOURCE_DEB" "$src/"
  fi
  deb=$(ls "$src"/${UML_SOURCE_PACKAGE}_*_all.deb 2>/dev/null | sort -V | tail -n1 || true)
  if [[ -z $deb ]]; then
    log "downloading $UML_SOURCE_PACKAGE from Debian sid (kept in $src)"
    if ! { vm_sid_apt -q update && (cd "$src" && vm_sid_apt -q download "$UML_SOURCE_PACKAGE"); } \
        >"$VM_CACHE/kernel-download.log" 2>&1; then
      log "cannot fetch $UML_SOURCE_PACKAGE from sid (see $VM_CACHE/kernel-download.log)."
      log "Sid moves: put a saved .deb at $src/ or set AGLAB_UML_SOURCE_DEB."
      return 1
    fi
    deb=$(ls "$src"/${UML_SOURCE_PACKAGE}_*_all.deb | sort -V | tail -n1)
  fi
  echo "$deb"
}

# Build (once) the UML kernel and its modules; echo the cache dir holding
# `linux` (the executable kernel) and `modules/lib/modules/VERSION/`.
build_uml_kernel() {
  local deb key dir build t0
  deb=$(vm_kernel_source_deb) || return 1
  key=$(cache_key "$(basename "$deb")" "$(sha256sum <"$VM_DIR/uml-kernel.config")" \
    "$(declare -f build_uml_kernel | sha256sum)")
  dir=$VM_CACHE/kernel-$key
  if [[ ! -f $dir/.complete ]]; then
    t0=$SECONDS
    log "building the UML kernel from $(basename "$deb") into $dir (cold: ~18 min on 2 cores; log: $dir.log)"
    rm -rf "$dir.tmp"; mkdir -p "$dir.tmp/build"
    build=$dir.tmp/build
    if ! (
      set -euo pipefail
      dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/$UML_SOURCE_PACKAGE.tar.xz" | tar -xJ -C "$build"
      cd "$build/$UML_SOURCE_PACKAGE"
      cp "$VM_DIR/uml-kernel.config" .config
      make ARCH=um olddefconfig
      make ARCH=um -j"$(nproc)" linux modules
      cp linux "$dir.tmp/linux"
      # kbuild skips depmod for ARCH=um: up runs it inside the guest root.
      make ARCH=um INSTALL_MOD_PATH="$dir.tmp/modules" modules_install
      make ARCH=um -s kernelrelease >"$dir.tmp/release"
    ) >"$dir.log" 2>&1; then
      log "UML kernel build failed, last lines of $dir.log:"; tail -n 15 "$dir.log" >&2
      return 1
    fi
    rm -rf "$build"
    rm -rf "$dir"; mv "$dir.tmp" "$dir"; touch "$dir/.complete"
    log "UML kernel $(cat "$dir/release") built in $((SECONDS - t0)) s"
  fi
  echo "$dir"
}
