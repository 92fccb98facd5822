#!/bin/sh
# Install the Debian packages listed in .ci/packages.txt that are missing. Runs apt-get only when needed.
set -eu
cd "$(dirname "$0")"
pkgs=$(grep -v '^#' packages.txt | grep -v '^$' | sort -u)
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
