#!/usr/bin/env bash
# Installs the real AI coding CLIs that internal/clitest drives, at pinned
# versions, into <repo>/.cache/npm (a project-local npm prefix; nothing global).
# Idempotent: does nothing when the pinned versions are already installed.
# The packages are large (Claude Code ~370 MB, Codex ~390 MB, with native
# binaries for linux-x64), so this is a separate step, not part of `go test`.
#
# Usage: scripts/install-ai-clis.sh        (env AITRACK_NPM_PREFIX overrides the prefix)
set -euo pipefail

# Pinned to the versions the notes in shared/notes/ai-cli-offline-testing.md
# were gathered with; the fake model in internal/clitest speaks their protocol.
PINS=(
	"@anthropic-ai/claude-code@2.1.328"
	"@openai/codex@0.169.0"
	"@google/gemini-cli@0.61.0"
)

die() { echo "install-ai-clis: $*" >&2; exit 1; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${AITRACK_NPM_PREFIX:-$repo/.cache/npm}"

command -v node >/dev/null || die "node not found on PATH; install Node.js >= 20 (e.g. apt-get install nodejs npm)"
command -v npm >/dev/null || die "npm not found on PATH; install npm (e.g. apt-get install npm)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || die "node $(node --version) is too old; Gemini CLI needs node >= 20"

# installed_version PKG prints the version of PKG under the prefix, or nothing.
installed_version() {
	local pj="$prefix/node_modules/$1/package.json"
	[ -f "$pj" ] && node -p "require(process.argv[1]).version" "$pj" 2>/dev/null || true
}

missing=()
for pin in "${PINS[@]}"; do
	pkg="${pin%@*}"
	want="${pin##*@}"
	have="$(installed_version "$pkg")"
	if [ "$have" = "$want" ]; then
		echo "install-ai-clis: $pkg $want already installed"
	else
		echo "install-ai-clis: $pkg: want $want, have ${have:-nothing}"
		missing+=("$pin")
	fi
done

if [ "${#missing[@]}" -gt 0 ]; then
	mkdir -p "$prefix" || die "cannot create $prefix"
	echo "install-ai-clis: npm install --prefix $prefix ${missing[*]} (several hundred MB; this takes a while)"
	start=$SECONDS
	# --save-exact records the pins in the prefix's package.json; --no-audit/--no-fund keep the
	# output short. Install all pins together so npm resolves one tree.
	npm install --prefix "$prefix" --save-exact --no-audit --no-fund --loglevel=error "${PINS[@]}" ||
		die "npm install failed (see the npm output above); is the npm registry reachable?"
	echo "install-ai-clis: npm install took $((SECONDS - start)) s"
fi

# Verify: each pinned version is present and each CLI answers --version.
for pin in "${PINS[@]}"; do
	pkg="${pin%@*}"
	want="${pin##*@}"
	have="$(installed_version "$pkg")"
	[ "$have" = "$want" ] || die "$pkg: expected $want under $prefix, found ${have:-nothing}"
done
for bin in claude codex gemini; do
	path="$prefix/node_modules/.bin/$bin"
	[ -x "$path" ] || die "$path missing after install"
	out="$("$path" --version 2>&1)" || die "$path --version failed: $out"
	echo "install-ai-clis: $bin: $out ($path)"
done
echo "install-ai-clis: $(du -sh "$prefix" | cut -f1) in $prefix"
