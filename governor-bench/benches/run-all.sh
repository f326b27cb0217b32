#!/usr/bin/env bash
# Regenerates the measured part of BENCHMARKS.md (between its
# "generated" markers): the criterion benches, then the scale program,
# whose --markdown output carries the tables, the criterion medians and
# the target verdicts. Run it on a quiet machine; about 20 minutes on
# 2 cores.
#
#   governor-bench/benches/run-all.sh            # everything
#   SKIP_CRITERION=1 governor-bench/benches/run-all.sh   # the scale program only
set -euo pipefail
cd "$(dirname "$0")/../.."

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
if [ -z "${SKIP_CRITERION:-}" ]; then
    rm -rf target/criterion
    cargo bench -p governor-bench --bench lifecycle --bench token
fi
cargo build --release -p governor-bench --bin scale

out=$(mktemp)
trap 'rm -f "$out"' EXIT
./target/release/scale --markdown --criterion target/criterion >"$out"
if command -v objdump >/dev/null; then
    {
        echo '`StopToken::is_cancelled()` as compiled here (`objdump -d`, x86-64; the'
        echo 'first `mov` loads the handle'"'"'s pointer, the second is the atomic load):'
        echo
        echo '```text'
        objdump -d --no-show-raw-insn -C target/release/scale |
            awk '/<scale::ours_is_cancelled>:/,/ret/' | sed 's/[[:space:]]*$//'
        echo '```'
        echo
    } >>"$out"
fi
awk -v gen="$out" '
    /<!-- generated:begin -->/ { print; while ((getline line < gen) > 0) print line; skip = 1; next }
    /<!-- generated:end -->/ { skip = 0 }
    !skip { print }
' BENCHMARKS.md >BENCHMARKS.md.new
mv BENCHMARKS.md.new BENCHMARKS.md
echo "BENCHMARKS.md updated" >&2
