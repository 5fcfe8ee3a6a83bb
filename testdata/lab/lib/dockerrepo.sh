# Docker's apt repository, laid out as download.docker.com/linux/debian is:
#   $CACHE/www/docker/linux/debian/gpg                      the signing key (armored)
#   .../dists/bookworm/{Release,InRelease,Release.gpg}      signed by a lab key
#   .../dists/bookworm/stable/binary-amd64/Packages(.gz)
#   .../pool/stable/amd64/*.deb
# served at http://10.213.0.1:8080/docker/linux/debian, so the product's
# official path (keyring under /etc/apt/keyrings, signed-by source, install
# of docker-ce & co., service handling) runs for real. The packages are
# metapackages built here that depend on Debian's docker.io, containerd and
# docker-compose from the lab's flat repository (Docker's own are not
# reachable). Sourced by up.

DOCKER_REPO_DIR=docker/linux/debian          # under $CACHE/www
DOCKER_REPO_VERSION="5:20.10.24~aglab-1~debian.12~bookworm"
# package|Depends|what it stands for
DOCKER_REPO_PACKAGES=(
  "docker-ce|docker.io, containerd.io|Docker engine"
  "docker-ce-cli|docker.io|Docker CLI"
  "containerd.io|containerd|containerd"
  "docker-buildx-plugin|docker.io|buildx plugin (none in the lab: the classic builder is used)"
  "docker-compose-plugin|docker-compose|compose (Debian's docker-compose v1 stands in for the plugin)"
)

build_docker_repo() {
  local key dir gnupg
  key=$(cache_key "$(declare -f build_docker_repo docker_repo_metapkg docker_repo_release | sha256sum)" \
    "${DOCKER_REPO_PACKAGES[@]}" "$DOCKER_REPO_VERSION" "$SUITE")
  dir=$CACHE/www/$DOCKER_REPO_DIR
  [[ -f $dir/.key-$key ]] && return 0
  log "building the lab's Docker-layout apt repository"
  # The signing key lives in the cache (not in www): made once, so hosts of
  # a re-run lab keep trusting the same key.
  gnupg=$CACHE/docker-repo-gnupg
  if [[ ! -f $gnupg/.complete ]]; then
    rm -rf "$gnupg"; mkdir -p -m 700 "$gnupg"
    GNUPGHOME=$gnupg gpg -q --batch --pinentry-mode loopback --passphrase '' \
      --quick-gen-key 'aglab Docker repository stand-in <lab@aglab.test>' ed25519 sign never 2>>"$CACHE/docker-repo.log" ||
      die "could not make the Docker repository's signing key, see $CACHE/docker-repo.log"
    touch "$gnupg/.complete"
  fi
  rm -rf "$dir.tmp"; mkdir -p "$dir.tmp/pool/stable/amd64" "$dir.tmp/dists/$SUITE/stable/binary-amd64"
  local p
  for p in "${DOCKER_REPO_PACKAGES[@]}"; do
    docker_repo_metapkg "$dir.tmp/pool/stable/amd64" "$p" || die "building the $p metapackage failed"
  done
  ( cd "$dir.tmp" &&
    dpkg-scanpackages -m pool/stable >"dists/$SUITE/stable/binary-amd64/Packages" 2>/dev/null &&
    gzip -9kf "dists/$SUITE/stable/binary-amd64/Packages" ) || die "indexing the Docker repository failed"
  docker_repo_release "$dir.tmp/dists/$SUITE" >"$dir.tmp/dists/$SUITE/Release"
  {
    GNUPGHOME=$gnupg gpg -q --batch --yes --armor --export >"$dir.tmp/gpg" &&
      GNUPGHOME=$gnupg gpg -q --batch --yes --clearsign -o "$dir.tmp/dists/$SUITE/InRelease" "$dir.tmp/dists/$SUITE/Release" &&
      GNUPGHOME=$gnupg gpg -q --batch --yes -abs -o "$dir.tmp/dists/$SUITE/Release.gpg" "$dir.tmp/dists/$SUITE/Release"
  } 2>>"$CACHE/docker-repo.log" || die "signing the Docker repository failed, see $CACHE/docker-repo.log"
  GNUPGHOME=$gnupg gpgconf --kill gpg-agent 2>/dev/null || true
  rm -rf "$dir"; mkdir -p "$(dirname "$dir")"; mv "$dir.tmp" "$dir"; touch "$dir/.key-$key"
}

# docker_repo_metapkg DIR "name|depends|what": an empty package with those Depends.
docker_repo_metapkg() {
  local out=$1 name depends what work
  IFS='|' read -r name depends what <<<"$2"
  work=$(mktemp -d)
  mkdir -p "$work/DEBIAN" "$work/usr/share/doc/$name"
  cat >"$work/DEBIAN/control" <<EOF
Package: $name
Version: $DOCKER_REPO_VERSION
Architecture: amd64
Maintainer: aglab <lab@aglab.test>
Depends: $depends
Section: admin
Priority: optional
Description: aglab stand-in for Docker's $name
 Lab metapackage: the $what comes from Debian's packages.
EOF
  echo "aglab stand-in for Docker's $name ($what)" >"$work/usr/share/doc/$name/README"
  dpkg-deb --root-owner-group -Zxz -b "$work" "$out/${name}_${DOCKER_REPO_VERSION#*:}_amd64.deb" >/dev/null
  local rc=$?
  rm -rf "$work"
  return $rc
}

# docker_repo_release DISTDIR: a Release file over the indexes under DISTDIR.
docker_repo_release() {
  /usr/bin/python3 - "$1" "$SUITE" <<'PY'
import email.utils, hashlib, os, sys, time
root, suite = sys.argv[1], sys.argv[2]
files = sorted(os.path.relpath(os.path.join(d, f), root)
               for d, _, fs in os.walk(root) for f in fs if f.startswith('Packages'))
print('Origin: Docker\nLabel: Docker CE\nSuite: %s\nCodename: %s\nArchitectures: amd64\nComponents: stable' % (suite, suite))
print('Description: aglab stand-in for download.docker.com/linux/debian')
print('Date: %s' % email.utils.formatdate(time.time() - 86400, usegmt=True))
for name, algo in (('MD5Sum', 'md5'), ('SHA256', 'sha256')):
    print(name + ':')
    for f in files:
        data = open(os.path.join(root, f), 'rb').read()
        print(' %s %d %s' % (hashlib.new(algo, data).hexdigest(), len(data), f))
PY
}
