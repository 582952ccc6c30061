#!/usr/bin/env bash
# Show the function's recent logs. Extra arguments go to `gcloud logging read`.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: infra/logs.sh [--dry-run] [--severity LEVEL] [--freshness DURATION] [--limit N]
                     [-- more `gcloud logging read` flags]

  --severity LEVEL      Only entries at LEVEL or above (DEBUG, INFO, WARNING,
                        ERROR). Default: all.
  --freshness DURATION  How far back to look, e.g. 30m, 6h, 2d. Default: 1h.
  --limit N             At most N entries, newest first. Default: 50.
EOF
}

SEVERITY=""
FRESHNESS="1h"
LIMIT="50"
EXTRA=()
while (($#)); do
  case $1 in
    --dry-run) DRY_RUN=true ;;
    --severity) SEVERITY=${2:?--severity needs a level}; shift ;;
    --freshness) FRESHNESS=${2:?--freshness needs a duration}; shift ;;
    --limit) LIMIT=${2:?--limit needs a number}; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done

load_config

# A gen2 function runs as the Cloud Run service of the same name.
filter="resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"$FUNCTION_NAME\""
filter+=" AND resource.labels.location=\"$REGION\""
if [[ -n $SEVERITY ]]; then
  filter+=" AND severity>=$SEVERITY"
fi
run gcloud logging read "$filter" --freshness="$FRESHNESS" --limit="$LIMIT" \
  --format='table(timestamp,severity,textPayload,jsonPayload.message)' \
  --project="$PROJECT_ID" ${EXTRA[@]+"${EXTRA[@]}"}
