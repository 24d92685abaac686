#!/bin/sh
# Copy a dynamically linked program and its library closure (ldd) into
# DEST/bin and DEST/lib, and write DEST/bin/NAME.sh, a wrapper that runs it
# through the copied dynamic loader. For tools a test carries into the
# nested test host (which has only busybox).
# usage: add-binary.sh PROGRAM DEST
set -eu
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
