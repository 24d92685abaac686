#!/bin/sh
# Download Debian packages (never installing them) and unpack each into
# OUT/<package>/. Already unpacked packages are kept.
#
# usage: fetch-debs.sh OUT PACKAGE...
#   PACKAGE "kernel" means the current linux-image-*-cloud-amd64;
#   "kernel-vdpa" the newest Linux 6.12 generic kernel Debian 12 has
#   (linux-image-6.12.*+deb12-amd64-unsigned: vdpa, vduse and vhost_vdpa
#   as modules; the cloud kernels and 6.1 have no vDPA).
set -eu
out=$1
shift
mkdir -p "$out/debs"

kernel_pkg() {
	v=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n 1)
	if [ -z "$v" ]; then
		echo "fetch-debs: cannot resolve linux-image-cloud-amd64;" \
			"run 'apt-get update' (or 'make deps') first" >&2
		exit 1
	fi
	echo "$v"
}

kernel_vdpa_pkg() {
	v=$(apt-cache pkgnames linux-image-6.12 2>/dev/null |
		grep -E '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' |
		sort -V | tail -n 1)
	if [ -z "$v" ]; then
		echo "fetch-debs: no linux-image-6.12.*+deb12-amd64-unsigned in" \
			"the package lists; run 'apt-get update' first" >&2
		exit 1
	fi
	echo "$v"
}

for p in "$@"; do
	if [ "$p" = kernel ]; then
		p=$(kernel_pkg)
		ln -sfn "$p" "$out/kernel"
	elif [ "$p" = kernel-vdpa ]; then
		p=$(kernel_vdpa_pkg)
		ln -sfn "$p" "$out/kernel-vdpa"
	fi
	[ -d "$out/$p" ] && continue
	(cd "$out/debs" && apt-get download -q "$p" >/dev/null 2>&1 ||
		apt-get download "$p") || {
		echo "fetch-debs: apt-get download $p failed" >&2
		exit 1
	}
	deb=$(ls "$out/debs/${p}_"*.deb | head -n 1)
	rm -rf "$out/$p.tmp"
	dpkg-deb -x "$deb" "$out/$p.tmp"
	mv "$out/$p.tmp" "$out/$p"
done
