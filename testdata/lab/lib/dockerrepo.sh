# Docker's apt repository, laid out as download.docker.com/linux/debian is:
#   $CACHE/www/docker/linux/debian/gpg                      the signing key (armored)
#   .../dists/bookworm/{Release,InRelease,Release.gpg}      signed by a lab key
#   .../dists/bookworm/stable/binary-amd64/Packages(.gz)
#   .../pool/stable/amd64/*.deb
# served at http://10.213.0.1:8080/docker/linux/debian, so the product's
# official path (keyring under /etc/apt/keyrings, signed-by source, install
# of docker-ce & co., service handling) runs for real. Docker's own packages
# are not reachable, so they are built here from Debian's: docker-ce is
# Debian's docker.io repacked under Docker's name (docker.io Conflicts with
# docker-ce and docker-ce-cli, so metapackages depending on it cannot be
# installed), the others are metapackages over Debian's containerd and
# docker-compose from the lab's flat repository. Sourced by up, after
# build_apt_repo (it repacks that repository's docker.io).

DOCKER_REPO_DIR=docker/linux/debian          # under $CACHE/www
DOCKER_REPO_VERSION="5:20.10.24~aglab-1~debian.12~bookworm"
# package|Depends|what it stands for (docker-ce: the repack, see docker_repo_engine)
DOCKER_REPO_PACKAGES=(
  "docker-ce-cli|docker-ce|Docker CLI (in the docker-ce repack)"
  "containerd.io|containerd|containerd"
  "docker-buildx-plugin||buildx plugin (none in the lab: the classic builder is used)"
  "docker-compose-plugin|docker-compose|compose (Debian's docker-compose v1 stands in for the plugin)"
)

build_docker_repo() {
  local key dir gnupg
  local engine; engine=$(ls "$CACHE"/www/apt/docker.io_*_amd64.deb 2>/dev/null | head -n1)
  [[ -f $engine ]] || die "no docker.io in the lab apt repository ($CACHE/www/apt) to repack as docker-ce"
  key=$(cache_key "$(declare -f build_docker_repo docker_repo_engine docker_repo_metapkg docker_repo_release | sha256sum)" \
    "${DOCKER_REPO_PACKAGES[@]}" "$DOCKER_REPO_VERSION" "$SUITE" "$(basename "$engine")")
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
  docker_repo_engine "$engine" "$dir.tmp/pool/stable/amd64" || die "repacking $engine as docker-ce failed"
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

# docker_repo_engine DOCKER_IO_DEB DIR: Debian's docker.io as docker-ce, with
# Docker's dependencies (docker-ce-cli, containerd.io) added and docker.io's
# conflicts turned round.
docker_repo_engine() {
  local deb=$1 out=$2 work rc=0
  work=$(mktemp -d)
  dpkg-deb -R "$deb" "$work/pkg" || { rm -rf "$work"; return 1; }
  /usr/bin/python3 - "$work/pkg/DEBIAN/control" "$DOCKER_REPO_VERSION" <<'PY' || rc=1
import sys
path, version = sys.argv[1], sys.argv[2]
fields, order = {}, []
for line in open(path).read().splitlines():
    if line[:1] in (' ', '\t') and order:
        fields[order[-1]] += '\n' + line
    elif ':' in line:
        k, v = line.split(':', 1)
        fields[k] = v.strip()
        order.append(k)
debian_version = fields['Version']
fields['Package'] = 'docker-ce'
fields['Version'] = version
fields['Depends'] = fields['Depends'] + ', docker-ce-cli, containerd.io'
fields['Conflicts'] = 'docker.io'
fields['Replaces'] = 'docker.io'
fields['Description'] = ('aglab stand-in for Docker\'s docker-ce\n'
                         ' Debian\'s docker.io %s repacked under Docker\'s package name.' % debian_version)
for k in ('Source', 'Built-Using'):
    fields.pop(k, None)
for k in ('Conflicts', 'Replaces'):
    if k not in order:
        order.append(k)
with open(path, 'w') as f:
    for k in order:
        if k in fields:
            f.write('%s: %s\n' % (k, fields[k]))
PY
  # gzip -1: this deb is big and only crosses the lab's bridge.
  [[ $rc = 0 ]] && dpkg-deb -Zgzip -z1 -b "$work/pkg" "$out/docker-ce_${DOCKER_REPO_VERSION#*:}_amd64.deb" >/dev/null || rc=1
  rm -rf "$work"
  return $rc
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
Maintainer: aglab <lab@aglab.test>${depends:+
Depends: $depends}
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
