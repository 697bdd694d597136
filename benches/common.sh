# Shared by the benchmark scripts: `source benches/common.sh` from the
# repository root.

# The binary to benchmark: POISONSCAN_BIN when set (a binary built
# beforehand, so that rebuilding the tree does not disturb a long run), else
# this tree's release build.
bench_bin() {
  if [ -n "${POISONSCAN_BIN:-}" ]; then
    echo "$POISONSCAN_BIN"
  else
    cargo build --release --quiet >&2
    echo "$PWD/target/release/poisonscan"
  fi
}

# write_block MARKER HEADING COMMAND TABLE_FILE: puts the table into
# BENCHMARKS.md between `<!-- MARKER:start -->` and `<!-- MARKER:end -->`,
# with the command, commit and machine; appends a `## HEADING` section with
# the markers when they are not there yet.
write_block() {
  python3 - "$PWD/BENCHMARKS.md" "$1" "$2" "$3" "$4" \
    "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" <<'PY'
import os, platform, sys
path, marker, heading, command, table, commit = sys.argv[1:7]
start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
block = (f"{start}\n`{command}` — commit {commit}, {os.cpu_count()} cores "
         f"({platform.machine()})\n\n{open(table).read()}{end}")
text = open(path).read()
s, e = text.find(start), text.find(end)
if s >= 0 and e >= 0:
    text = text[:s] + block + text[e + len(end):]
else:
    text = text.rstrip() + f"\n\n## {heading}\n\n{block}\n"
open(path, "w").write(text)
PY
}

# cached SET FILE: the path of datasets/cache/FILE, fetching the data set
# SET (datasets/fetch.sh SET) first when it is missing.
cached() {
  local f="datasets/cache/$2"
  [ -e "$f" ] || datasets/fetch.sh "$1" >&2
  echo "$PWD/$f"
}

# mnist_train: the path of MNIST's training images (fetched when missing).
mnist_train() {
  cached mnist mnist/train-images-idx3-ubyte
}

# bench_python DIR PACKAGE...: a virtual environment in DIR/venv with the
# packages (from PyPI); prints its python.
bench_python() {
  local dir="$1"
  shift
  python3 -m venv "$dir/venv" >&2
  "$dir/venv/bin/pip" install --quiet "$@" >&2
  echo "$dir/venv/bin/python"
}

# python_with DIR PACKAGE...: $POISONSCAN_PYTHON when set (a Python that
# has the packages, such as .ci/run's venv), else `bench_python`'s.
python_with() {
  if [ -n "${POISONSCAN_PYTHON:-}" ]; then
    echo "$POISONSCAN_PYTHON"
  else
    bench_python "$@"
  fi
}
