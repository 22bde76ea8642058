#!/usr/bin/env bash
# Refresh the vendored front-end assets from the npm registry.
#   scripts/vendor-assets.sh [KERN_VERSION] [SWAGGER_UI_VERSION]
# Copies only what the pages load, plus each package's licence and version.
set -euo pipefail
kern_version="${1:-2.7.2}"
swagger_version="${2:-5.35.0}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "@kern-ux/native@${kern_version}" "swagger-ui-dist@${swagger_version}" >/dev/null
mkdir kern swagger
tar xzf kern-ux-native-"${kern_version}".tgz -C kern
tar xzf swagger-ui-dist-"${swagger_version}".tgz -C swagger

kern="$root/static/vendor/kern-ux"
rm -rf "$kern" && mkdir -p "$kern/fonts"
cp kern/package/dist/kern.min.css "$kern/"
cp kern/package/dist/fonts/fira-sans.css "$kern/fonts/"
cp -r kern/package/dist/fonts/fira-sans "$kern/fonts/"
cp kern/package/LICENSE.md "$kern/LICENSE.md"
echo "@kern-ux/native ${kern_version} (EUPL-1.2), from the npm registry" > "$kern/VERSION"

swagger="$root/static/vendor/swagger-ui"
rm -rf "$swagger" && mkdir -p "$swagger"
cp swagger/package/swagger-ui.css swagger/package/swagger-ui-bundle.js "$swagger/"
cp swagger/package/LICENSE "$swagger/LICENSE"
[ -f swagger/package/NOTICE ] && cp swagger/package/NOTICE "$swagger/NOTICE"
echo "swagger-ui-dist ${swagger_version} (Apache-2.0), from the npm registry" > "$swagger/VERSION"
echo "Vendored @kern-ux/native ${kern_version} and swagger-ui-dist ${swagger_version}."
