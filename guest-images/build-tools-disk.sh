#!/bin/sh
# Build the guest's tools disk: host programs from Debian packages (fio,
# e2fsprogs, util-linux, installed by 'make deps') with their library
# closure, on a read-only ext4 image the guest mounts at /opt. Libraries
# load from disk on demand instead of filling the guest's RAM.
# /opt/bin/NAME runs each program through the image's own dynamic loader.
# usage: build-tools-disk.sh OUT.img PROGRAM...
set -eu
out=$1
shift
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin"
libdirs=
for prog in "$@"; do
	p=$(command -v "$prog") || { echo "build-tools-disk: $prog is not installed (make deps)" >&2; exit 1; }
	for f in "$p" $(ldd "$p" | awk '/=>/ { print $3 } /^\t\// { print $1 }'); do
		[ -f "$f" ] || continue
		mkdir -p "$stage$(dirname "$f")"
		cp -L "$f" "$stage$f"
		case "$f" in
		*.so*) case ":$libdirs:" in
			*":/opt$(dirname "$f"):"*) ;;
			*) libdirs="$libdirs:/opt$(dirname "$f")" ;;
			esac ;;
		esac
	done
	printf '%s\n' "$p" > "$stage/bin/.$prog.path"
done
loader=$(ldd "$p" | awk '/ld-linux/ { print ($3 ? $3 : $1) }' | head -n 1)
for prog in "$@"; do
	p=$(cat "$stage/bin/.$prog.path")
	rm "$stage/bin/.$prog.path"
	cat > "$stage/bin/$prog" <<WRAP
#!/bin/sh
exec /opt$loader --library-path "${libdirs#:}" /opt$p "\$@"
WRAP
	chmod 755 "$stage/bin/$prog"
done
kb=$(du -sk "$stage" | cut -f1)
rm -f "$out"
mkfs.ext4 -q -F -L vireo-tools -d "$stage" "$out" $((kb * 5 / 4 + 8192))k
