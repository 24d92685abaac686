# Helpers for integration tests (POSIX sh: they also run under busybox ash
# inside the nested test host). Each test reports one line:
#   PASS name | FAIL name: why | SKIP name: why
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
skip() { echo "SKIP $1: $2"; }

# wait_for FILE PATTERN SECONDS: wait until FILE contains PATTERN.
wait_for() {
	_n=0
	while ! grep -q -- "$2" "$1" 2>/dev/null; do
		_n=$((_n + 1))
		[ "$_n" -gt $(($3 * 10)) ] && return 1
		sleep 0.1
	done
	return 0
}

# count_of FILE PATTERN: how many lines of FILE contain PATTERN.
count_of() {
	grep -c -- "$2" "$1" 2>/dev/null || true
}

# field NAME LINE: the value of NAME=... in a RESULT line.
field() {
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}
