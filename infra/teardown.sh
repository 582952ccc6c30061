#!/usr/bin/env bash
# Remove what infra/deploy.sh created: the function, the page's bucket, the
# runtime service account and the key secret. Chat data in Firestore is kept
# unless you say otherwise. See infra/README.md.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: infra/teardown.sh [--dry-run] [--yes] [--delete-data]

  --dry-run      Print every gcloud command instead of running it (assumes a
                 full deployment; needs no credentials).
  --yes          Do not ask before deleting the function, bucket, service
                 account and secret.
  --delete-data  Also delete the chat data in Firestore without asking.
                 Without it, you are asked (default no); with --yes and
                 without it, the data is kept.
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

echo "This removes from project $PROJECT_ID:"
note "function      $FUNCTION_NAME ($REGION)"
if [[ $PAGE_HOSTING == gcs ]]; then
  note "bucket        gs://$BUCKET and the page in it"
fi
note "accounts      $SERVICE_ACCOUNT_EMAIL${BUILD_SERVICE_ACCOUNT_EMAIL:+ and $BUILD_SERVICE_ACCOUNT_EMAIL}, with their roles"
note "secret        $SECRET_NAME, with every version of the Gemini key"
if ! $ASSUME_YES && ! confirm "Delete these?"; then
  echo "Nothing deleted."
  exit 0
fi

if [[ $DELETE_DATA == ask ]]; then
  DELETE_DATA=no
  if ! $ASSUME_YES &&
    confirm "Also delete all chat data (collections $TTL_COLLECTION_GROUPS in Firestore database $FIRESTORE_DATABASE)?"; then
    DELETE_DATA=yes
  fi
fi

step "Deleting the function $FUNCTION_NAME"
if exists gcloud functions describe "$FUNCTION_NAME" --gen2 --region="$REGION" --project="$PROJECT_ID"; then
  run gcloud functions delete "$FUNCTION_NAME" --gen2 --region="$REGION" --project="$PROJECT_ID" --quiet
else
  note "not found; skipped"
fi

step "Deleting the bucket gs://$BUCKET"
if [[ $PAGE_HOSTING != gcs ]]; then
  note "PAGE_HOSTING=$PAGE_HOSTING: no bucket; remove the page from its host yourself"
elif exists gcloud storage buckets describe "gs://$BUCKET" --project="$PROJECT_ID"; then
  run gcloud storage rm --recursive "gs://$BUCKET" --project="$PROJECT_ID"
else
  note "not found; skipped"
fi

# Project bindings outlive a deleted account (as "deleted:serviceAccount:...")
# so they go first; a binding that is already gone is not an error here.
delete_service_account() {
  local email=$1 role
  shift
  step "Deleting the service account $email"
  if ! exists gcloud iam service-accounts describe "$email" --project="$PROJECT_ID"; then
    note "not found; skipped"
    return
  fi
  for role in "$@"; do
    run gcloud projects remove-iam-policy-binding "$PROJECT_ID" \
      --member="serviceAccount:$email" --role="$role" --condition=None --quiet \
      --format=none || note "binding $role not removed (already gone?)"
  done
  run gcloud iam service-accounts delete "$email" --project="$PROJECT_ID" --quiet
}

delete_service_account "$SERVICE_ACCOUNT_EMAIL" "${RUNTIME_PROJECT_ROLES[@]}"
if [[ -n $BUILD_SERVICE_ACCOUNT_EMAIL ]]; then
  delete_service_account "$BUILD_SERVICE_ACCOUNT_EMAIL" "${BUILD_PROJECT_ROLES[@]}"
fi

step "Deleting the secret $SECRET_NAME"
if exists gcloud secrets describe "$SECRET_NAME" --project="$PROJECT_ID"; then
  run gcloud secrets delete "$SECRET_NAME" --project="$PROJECT_ID" --quiet
else
  note "not found; skipped"
fi

step "Firestore data"
if [[ $DELETE_DATA == yes ]]; then
  # Only this app's collection groups: the database may hold other data.
  run gcloud firestore bulk-delete --collection-ids="${TTL_COLLECTION_GROUPS// /,}" \
    --database="$FIRESTORE_DATABASE" --project="$PROJECT_ID" --quiet
else
  note "kept (sessions expire through their TTL; pass --delete-data to delete them now)."
fi
note "The database itself stays. If nothing else uses it:"
note "  gcloud firestore databases delete --database='$FIRESTORE_DATABASE' --project=$PROJECT_ID"

step "Done"
note "Kept: enabled APIs, the Firestore database, and the function's build images in"
note "Artifact Registry (repository gcf-artifacts in $REGION); see infra/README.md."
