#!/usr/bin/env bash
# Real Helm without a helm binary: the helm-java jars from Maven Central (resolved once into the
# stack's cache folder, like the Kafka broker's), run through scripts/helm/HelmChart.java.
#   scripts/helm.sh classpath                  resolve, print the jar folder
#   scripts/helm.sh lint [CHART]               helm lint --strict
#   scripts/helm.sh template [CHART] [VALUES]  helm template bet-projector CHART -n bets [-f VALUES]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${BET_PROJECTOR_CACHE:-$HOME/.cache/bet-projector}
version=$(sed -n 's:.*<version>\(0\.0\.[0-9]*\)</version>.*:\1:p' "$here/helm/pom.xml" | head -1)
libs="$cache/helm-java-$version/libs"
chart_default="$here/../helm/bet-projector"

fetch() {
  [ -f "$libs/.complete" ] && return 0
  command -v mvn >/dev/null || { echo "[helm] mvn is not installed: apt-get install maven (and a JDK 17)" >&2; exit 1; }
  echo "[helm] resolving helm-java $version from Maven Central into $libs" >&2
  mkdir -p "$libs"
  # Maven's output (even -q prints colour codes on a cold repository) goes to stderr: stdout is the
  # rendered chart or the folder, and a caller parses it.
  (cd "$here/helm" && mvn -q -B -Dstyle.color=never dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs" >&2)
  touch "$libs/.complete"
}

run() { fetch; java -cp "$libs/*" "$here/helm/HelmChart.java" "$@"; }

case "${1:-}" in
  classpath) fetch; echo "$libs" ;;
  lint) run lint "${2:-$chart_default}" ;;
  template) run template "${2:-$chart_default}" bet-projector bets ${3:+"$3"} ;;
  *) echo "usage: $0 classpath|lint [CHART]|template [CHART] [VALUES]" >&2; exit 2 ;;
esac
