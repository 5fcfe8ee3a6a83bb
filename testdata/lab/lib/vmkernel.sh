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
# Usage: vm_sid_apt apt-get|apt-cache ARGS...
vm_sid_apt() {
  local tool=$1; shift
  local st=$VM_CACHE/apt-sid
  mkdir -p "$st/parts" "$st/lists/partial" "$st/cache/archives/partial"
  printf 'Types: deb\nURIs: %s\nSuites: sid\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$(debian_mirror)" >"$st/parts/sid.sources"
  "$tool" -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$st/parts" \
    -o Dir::State::Lists="$st/lists" -o Dir::Cache="$st/cache" -o Dir::State::status=/dev/null "$@"
}

# Echo the cached source .deb, downloading it once. Order: a .deb already in
# the cache (7.2 first); sid's linux-source-7.2; if sid has dropped it, sid's
# newest linux-source-7.N, with a warning (the config is then brought up to
# date by olddefconfig: it usually works, but it is not the measured kernel).
vm_kernel_source_deb() {
  local src=$VM_CACHE/src deb pkg
  mkdir -p "$src"
  if [[ -n ${AGLAB_UML_SOURCE_DEB:-} ]]; then
    [[ -f $AGLAB_UML_SOURCE_DEB ]] || { log "AGLAB_UML_SOURCE_DEB=$AGLAB_UML_SOURCE_DEB: no such file"; return 1; }
    cp -n "$AGLAB_UML_SOURCE_DEB" "$src/"
  fi
  deb=$( { ls "$src"/${UML_SOURCE_PACKAGE}_*_all.deb; ls "$src"/linux-source-7.*_all.deb; } 2>/dev/null | head -n1 || true)
  if [[ -z $deb ]]; then
    log "downloading $UML_SOURCE_PACKAGE from Debian sid (kept in $src)"
    vm_sid_apt apt-get -q update >"$VM_CACHE/kernel-download.log" 2>&1 || true
    pkg=$UML_SOURCE_PACKAGE
    if ! vm_sid_apt apt-cache show "$pkg" >/dev/null 2>&1; then
      pkg=$(vm_sid_apt apt-cache pkgnames linux-source-7. 2>/dev/null | grep -xE 'linux-source-7\.[0-9]+' | sort -V | tail -n1 || true)
      [[ -n $pkg ]] && log "WARNING: sid no longer has $UML_SOURCE_PACKAGE; trying $pkg with vm/uml-kernel.config (olddefconfig)"
    fi
    if [[ -z $pkg ]] || ! (cd "$src" && vm_sid_apt apt-get -q download "$pkg") >>"$VM_CACHE/kernel-download.log" 2>&1; then
      log "cannot fetch $UML_SOURCE_PACKAGE (nor a newer linux-source-7.N) from sid, see $VM_CACHE/kernel-download.log."
      log "Put a saved linux-source-7.2_*_all.deb in $src/ or set AGLAB_UML_SOURCE_DEB=/path/to/it."
      return 3
    fi
    deb=$(ls "$src"/linux-source-7.*_all.deb | head -n1)
  fi
  echo "$deb"
}

# Build (once) the UML kernel and its modules; echo the cache dir holding
# `linux` (the executable kernel) and `modules/lib/modules/VERSION/`.
build_uml_kernel() {
  local deb key dir build t0 pkg
  deb=$(vm_kernel_source_deb) || return
  pkg=$(basename "$deb"); pkg=${pkg%%_*}
  # Bump uml-vN when the build itself changes.
  key=$(cache_key "$(basename "$deb")" "$(sha256sum <"$VM_DIR/uml-kernel.config")" uml-v1)
  dir=$VM_CACHE/kernel-$key
  if [[ ! -f $dir/.complete ]]; then
    t0=$SECONDS
    log "building the UML kernel from $(basename "$deb") into $dir (cold: ~12-18 min on 2 cores; log: $dir.log)"
    rm -rf "$dir.tmp"; mkdir -p "$dir.tmp/build"
    build=$dir.tmp/build
    if ! (
      set -euo pipefail
      dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/src/$pkg.tar.xz" | tar -xJ -C "$build"
      cd "$build/$pkg"
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
