#!/bin/sh
# Copy a dynamically linked program and its library closure (ldd) into
# DEST/bin and DEST/lib, and write DEST/bin/NAME.sh, a wrapper that runs it
# through the copied dynamic loader. For tools a test carries into the
# nested test host (which has only busybox).
# usage: add-binary.sh PROGRAM DEST
#        add-binary.sh --plugins DIR DEST NAME...: the shared objects
#        DIR/NAME.so* (a program's run-time plugins) into DEST/lib/dpdk,
#        their libraries into DEST/lib
set -eu
if [ "$1" = --plugins ]; then
	dir=$2
	dest=$3
	shift 3
	mkdir -p "$dest/lib/dpdk"
	for n in "$@"; do
		so=$(ls "$dir/$n".so.* 2>/dev/null | head -n 1)
		[ -n "$so" ] || { echo "add-binary: no $n in $dir" >&2; exit 1; }
		# One copy in DEST/lib (the program may link it too: loaded
		# twice from two files, its registrations would clash), and
		# DEST/lib/dpdk/NAME.so pointing at it: DPDK loads only *.so
		# and *.so.<ABI> from a plugin directory, not *.so.<major>.
		base=$(basename "$so")
		[ -f "$dest/lib/$base" ] || cp -L "$so" "$dest/lib/$base"
		ln -sf "../$base" "$dest/lib/dpdk/$n.so"
		for lib in $(ldd "$so" | awk '/=>/ { print $3 }'); do
			[ -f "$lib" ] && cp -L "$lib" "$dest/lib/"
		done
	done
	exit 0
fi
prog=$(command -v "$1")
dest=$2
name=$(basename "$prog")
mkdir -p "$dest/bin" "$dest/lib"
cp -L "$prog" "$dest/bin/$name"
loader=
for lib in $(ldd "$prog" | awk '/=>/ { print $3 } /^\t\// { print $1 }'); do
	[ -f "$lib" ] || continue
	cp -L "$lib" "$dest/lib/"
	case "$lib" in */ld-linux*) loader=$(basename "$lib") ;; esac
done
if [ -z "$loader" ]; then
	echo "add-binary: $prog is not dynamically linked?" >&2
	exit 1
fi
cat > "$dest/bin/$name.sh" <<WRAP
#!/bin/sh
d=\$(cd "\$(dirname "\$0")/.." && pwd)
exec "\$d/lib/$loader" --library-path "\$d/lib" "\$d/bin/$name" "\$@"
WRAP
chmod +x "$dest/bin/$name.sh"
