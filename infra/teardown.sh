#!/usr/bin/env bash
# Remove what infra/deploy.sh created, and nothing else: the function, the page
# (Firebase Hosting release or bucket), the service accounts with the bindings
# the deploy gave them, and the key secret. The app's own Firestore database is
# deleted only when you say so. See infra/README.md.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: infra/teardown.sh [--dry-run] [--yes] [--delete-data]

  --dry-run      List what would be removed and print every command instead
                 of running it (assumes a full deployment; needs no
                 credentials).
  --yes          Do not ask before deleting the function, page, service
                 accounts and secret.
  --delete-data  Also delete the app's Firestore database FIRESTORE_DATABASE
                 (every conversation) without asking. Without it, you are
                 asked (default no); with --yes and without it, it is kept.
                 The "(default)" database is never deleted.
EOF
}

ASSUME_YES=false
DELETE_DATA=ask
while (($#)); do
  case $1 in
    --dry-run) DRY_RUN=true ;;
    --yes | -y) ASSUME_YES=true ;;
    --delete-data) DELETE_DATA=yes ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done

load_config
DRY_RUN_ASSUME_EXISTS=true
if $DRY_RUN; then
  echo "Dry run: printing the commands for a full deployment; nothing is run."
fi

# The bindings ROLE|CONDITION as "role, role (only database D)".
describe_bindings() {
  local binding text=""
  for binding in "$@"; do
    text+="${text:+, }${binding%%|*}"
    if [[ ${binding#*|} != None ]]; then
      text+=" (only database $FIRESTORE_DATABASE)"
    fi
  done
  printf '%s' "$text"
}

if [[ $FIRESTORE_DATABASE == "(default)" ]]; then
  DELETE_DATA=no
fi

echo "This removes from project $PROJECT_ID:"
note "function   $FUNCTION_NAME ($REGION), with its Cloud Run service"
case $PAGE_HOSTING in
  firebase) note "page       the release on Firebase Hosting site $FIREBASE_SITE (the site stops serving)" ;;
  gcs) note "bucket     gs://$BUCKET and the page in it" ;;
esac
note "account    $SERVICE_ACCOUNT_EMAIL, and its project roles $(describe_bindings "${RUNTIME_PROJECT_BINDINGS[@]}")"
if [[ -n $BUILD_SERVICE_ACCOUNT_EMAIL ]]; then
  note "account    $BUILD_SERVICE_ACCOUNT_EMAIL, and its project role $(describe_bindings "${BUILD_PROJECT_BINDINGS[@]}")"
fi
if [[ $GEMINI_BACKEND == ai_studio ]]; then
  note "secret     $SECRET_NAME, with every version of the Gemini key"
fi
case $DELETE_DATA in
  yes) note "database   Firestore database $FIRESTORE_DATABASE, with every conversation in it" ;;
  ask) note "database   Firestore database $FIRESTORE_DATABASE only if you say so next (default: kept)" ;;
  no) note "kept       Firestore database $FIRESTORE_DATABASE (conversations expire through TTL)" ;;
esac
if ! $ASSUME_YES && ! confirm "Delete these?"; then
  echo "Nothing deleted."
  exit 0
fi

if [[ $DELETE_DATA == ask ]]; then
  DELETE_DATA=no
  if ! $ASSUME_YES &&
    confirm "Also delete the Firestore database $FIRESTORE_DATABASE, with every conversation in it?"; then
    DELETE_DATA=yes
  fi
fi

step "Deleting the function $FUNCTION_NAME"
if exists gcloud functions describe "$FUNCTION_NAME" --gen2 --region="$REGION" --project="$PROJECT_ID"; then
  run gcloud functions delete "$FUNCTION_NAME" --gen2 --region="$REGION" --project="$PROJECT_ID" --quiet
else
  note "not found; skipped"
fi

case $PAGE_HOSTING in
  firebase)
    step "Taking the page off Firebase Hosting (site $FIREBASE_SITE)"
    ensure_firebase_cli
    if is_firebase_project; then
      run firebase hosting:disable --site "$FIREBASE_SITE" --project "$PROJECT_ID" --force --non-interactive
    else
      note "not a Firebase project; skipped"
    fi
    ;;
  gcs)
    step "Deleting the bucket gs://$BUCKET"
    if exists gcloud storage buckets describe "gs://$BUCKET" --project="$PROJECT_ID"; then
      run gcloud storage rm --recursive "gs://$BUCKET" --project="$PROJECT_ID"
    else
      note "not found; skipped"
    fi
    ;;
  none)
    step "The page"
    note "PAGE_HOSTING=none: remove the page from its host yourself"
    ;;
esac

# Project bindings outlive a deleted account (as "deleted:serviceAccount:...")
# so they go first, each with the condition it was granted with; a binding that
# is already gone is not an error here.
delete_service_account() {
  local email=$1 binding
  shift
  step "Deleting the service account $email"
  if ! exists gcloud iam service-accounts describe "$email" --project="$PROJECT_ID"; then
    note "not found; skipped"
    return
  fi
  for binding in "$@"; do
    run gcloud projects remove-iam-policy-binding "$PROJECT_ID" \
      --member="serviceAccount:$email" --role="${binding%%|*}" --condition="${binding#*|}" --quiet \
      --format=none || note "binding ${binding%%|*} not removed (already gone?)"
  done
  run gcloud iam service-accounts delete "$email" --project="$PROJECT_ID" --quiet
}

delete_service_account "$SERVICE_ACCOUNT_EMAIL" "${RUNTIME_PROJECT_BINDINGS[@]}"
if [[ -n $BUILD_SERVICE_ACCOUNT_EMAIL ]]; then
  delete_service_account "$BUILD_SERVICE_ACCOUNT_EMAIL" "${BUILD_PROJECT_BINDINGS[@]}"
fi

if [[ $GEMINI_BACKEND == ai_studio ]]; then
  step "Deleting the secret $SECRET_NAME"
  if exists gcloud secrets describe "$SECRET_NAME" --project="$PROJECT_ID"; then
    run gcloud secrets delete "$SECRET_NAME" --project="$PROJECT_ID" --quiet
  else
    note "not found; skipped"
  fi
fi

step "Firestore database $FIRESTORE_DATABASE"
if [[ $DELETE_DATA == yes ]]; then
  # The database is this app's own, so deleting it touches nothing else
  # (a bulk delete by collection name would reach other apps' collections).
  if exists gcloud firestore databases describe --database="$FIRESTORE_DATABASE" --project="$PROJECT_ID"; then
    run gcloud firestore databases delete --database="$FIRESTORE_DATABASE" --project="$PROJECT_ID" --quiet
  else
    note "not found; skipped"
  fi
elif [[ $FIRESTORE_DATABASE == "(default)" ]]; then
  note "kept: (default) may hold other data; this app's documents expire through their TTL."
else
  note "kept (conversations expire through TTL; pass --delete-data to delete the database now)."
fi

step "Done"
note "Kept: enabled APIs, Firebase on the project and its (now empty) Hosting site, and"
note "the function's build images in Artifact Registry (repository gcf-artifacts in $REGION)."
