#!/usr/bin/env bash
# Store a new Gemini API key as a new version of the secret. No redeploy: the
# function reads versions/latest when an instance starts and again whenever
# Gemini rejects the key it holds. See infra/README.md.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: infra/rotate-key.sh [--key-file PATH|-] [--disable-previous] [--dry-run]

  --key-file PATH     Read the new key from PATH; "-" reads standard input.
                      Without it, the key is asked for (input hidden).
  --disable-previous  After adding the new version, disable the versions that
                      were enabled before, so the old key cannot be read again.
  --dry-run           Print the gcloud commands instead of running them.
EOF
}

KEY_FILE=""
DISABLE_PREVIOUS=false
while (($#)); do
  case $1 in
    --key-file)
      (($# >= 2)) || die "--key-file needs a path (or - for standard input)"
      KEY_FILE=$2
      shift
      ;;
    --key-file=*) KEY_FILE=${1#--key-file=} ;;
    --disable-previous) DISABLE_PREVIOUS=true ;;
    --dry-run) DRY_RUN=true ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done

load_config
DRY_RUN_ASSUME_EXISTS=true
[[ $GEMINI_BACKEND == ai_studio ]] ||
  die "GEMINI_BACKEND=$GEMINI_BACKEND uses no API key: the function calls Vertex AI as its service account"

step "Adding a new version of $SECRET_NAME in $PROJECT_ID"
exists gcloud secrets describe "$SECRET_NAME" --project="$PROJECT_ID" ||
  die "secret $SECRET_NAME does not exist in $PROJECT_ID: run infra/deploy.sh first"

previous=""
if $DISABLE_PREVIOUS; then
  capture previous "1" gcloud secrets versions list "$SECRET_NAME" --filter=state:ENABLED \
    --format='value(name.basename())' --project="$PROJECT_ID"
fi

api_key=""
if $DRY_RUN; then
  note "(dry run: the key would be read from ${KEY_FILE:-a hidden prompt} and piped on standard input)"
else
  read_api_key api_key "$KEY_FILE"
fi
run_with_secret_stdin "$api_key" gcloud secrets versions add "$SECRET_NAME" --data-file=- --project="$PROJECT_ID"

for version in $previous; do
  run gcloud secrets versions disable "$version" --secret="$SECRET_NAME" --project="$PROJECT_ID" --quiet
done

step "Done"
note "New instances use the new key at once. Running instances switch when Gemini"
note "rejects the key they hold: revoke the old key in Google AI Studio once you"
note "no longer need it."
