#!/usr/bin/env bash
# Installs the Debian packages the tests use, when they are missing and we
# are root (CI runs as root on a clean machine). As another user it only
# says what is missing: the tests that need it then skip with that reason.
set -euo pipefail

need=()
command -v tmux >/dev/null || need+=(tmux)
command -v zsh >/dev/null || need+=(zsh)
command -v fish >/dev/null || need+=(fish)
command -v protoc >/dev/null || need+=(protobuf-compiler)
[ -f /usr/include/google/protobuf/timestamp.proto ] || need+=(libprotobuf-dev)
command -v git >/dev/null || need+=(git)
command -v script >/dev/null || need+=(bsdutils)
command -v asciinema >/dev/null || need+=(asciinema)
command -v systemd-analyze >/dev/null || need+=(systemd)

if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
	echo "missing test dependencies (install them with your package manager): ${need[*]}" >&2
	exit 0
fi
echo "installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
