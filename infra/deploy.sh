#!/usr/bin/env bash
# Deploy the first-aid chat: a Firestore database of its own, the Gemini key
# secret (or Vertex AI access, no key), a least-privilege service account, the
# function, and the static page on Firebase Hosting (its own origin).
# Safe to re-run: existing resources are kept, the function and the page are
# updated. See infra/README.md.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: infra/deploy.sh [--dry-run] [--key-file PATH|-] [--shared-origin]

  --dry-run        Print every gcloud and firebase command instead of running
                   it (assumes a fresh project; needs no credentials).
  --key-file PATH  Store the Gemini API key read from PATH as a new secret
                   version; "-" reads it from standard input. Without it, the
                   deploy prompts for the key only if the secret has none yet.
                   Not with GEMINI_BACKEND=vertex, which uses no key.
  --shared-origin  Required with PAGE_HOSTING=gcs: accept serving the page from
                   https://storage.googleapis.com, an origin every public
                   bucket shares (see infra/README.md, "Where the page lives").

Settings: infra/config.env, overridden by the file INFRA_CONFIG names and then
by environment variables of the same names.
EOF
}

KEY_FILE=""
SHARED_ORIGIN=false
while (($#)); do
  case $1 in
    --dry-run) DRY_RUN=true ;;
    --key-file)
      (($# >= 2)) || die "--key-file needs a path (or - for standard input)"
      KEY_FILE=$2
      shift
      ;;
    --key-file=*) KEY_FILE=${1#--key-file=} ;;
    --shared-origin) SHARED_ORIGIN=true ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done

load_config

# ------------------------------------------------------------------ checks --

check_settings() {
  local name timeout_seconds
  for name in CONCURRENCY MAX_INSTANCES MIN_INSTANCES; do
    require_integer "$name"
  done
  [[ $TIMEOUT =~ ^([0-9]+)s?$ ]] || die "TIMEOUT must be seconds such as 60s, got '$TIMEOUT'"
  timeout_seconds=${BASH_REMATCH[1]}
  # For a whole number of seconds T, v < T exactly when floor(v) < T.
  [[ $REQUEST_TIMEOUT_SECONDS =~ ^([0-9]+)(\.[0-9]+)?$ ]] ||
    die "REQUEST_TIMEOUT_SECONDS must be a number of seconds, got '$REQUEST_TIMEOUT_SECONDS'"
  ((10#${BASH_REMATCH[1]} < timeout_seconds)) ||
    die "REQUEST_TIMEOUT_SECONDS ($REQUEST_TIMEOUT_SECONDS) must be below the function's TIMEOUT ($TIMEOUT)"
  [[ $CPU =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "CPU must be a number, got '$CPU'"
  if ((10#$CONCURRENCY > 1)) && [[ $CPU =~ ^0*(\.[0-9]*)?$ ]]; then
    die "CONCURRENCY above 1 needs CPU of at least 1, got CPU=$CPU"
  fi
  ((10#$MIN_INSTANCES <= 10#$MAX_INSTANCES)) || die "MIN_INSTANCES must not exceed MAX_INSTANCES"
  [[ $FIRESTORE_DATABASE == "(default)" || $FIRESTORE_DATABASE =~ ^[a-z][a-z0-9-]{2,61}[a-z0-9]$ ]] ||
    die "FIRESTORE_DATABASE must be (default) or 4-63 lower-case letters, digits and hyphens, got '$FIRESTORE_DATABASE'"
  if [[ $GEMINI_BACKEND == vertex && -n $KEY_FILE ]]; then
    die "GEMINI_BACKEND=vertex calls Gemini as the function's service account and stores no key: drop --key-file"
  fi
  if [[ $PAGE_HOSTING == gcs ]]; then
    $SHARED_ORIGIN || die "PAGE_HOSTING=gcs serves the page from https://storage.googleapis.com, an origin every
public bucket shares: any other bucket's page could read this page's session ids. Use the
default PAGE_HOSTING=firebase, or pass --shared-origin to accept that (demos only)."
    note "warning: --shared-origin: the page's origin https://storage.googleapis.com is shared by every"
    note "public bucket; do not use this for real users (infra/README.md, \"Where the page lives\")."
  fi
  [[ $ALLOW_UNAUTHENTICATED == true || $ALLOW_UNAUTHENTICATED == false ]] ||
    die "ALLOW_UNAUTHENTICATED must be true or false, got '$ALLOW_UNAUTHENTICATED'"
  if [[ $ALLOW_UNAUTHENTICATED == false ]]; then
    note "ALLOW_UNAUTHENTICATED=false: only IAM-authenticated callers can reach the"
    note "function, so the public page will not be able to use it."
  fi

  local missing=""
  [[ -f $FUNCTION_SOURCE_PATH/main.py ]] || missing+=" $FUNCTION_SOURCE_PATH/main.py"
  [[ -f $FUNCTION_SOURCE_PATH/requirements.txt ]] || missing+=" $FUNCTION_SOURCE_PATH/requirements.txt"
  [[ -f $SITE_SOURCE_PATH/index.html ]] || missing+=" $SITE_SOURCE_PATH/index.html"
  if [[ $PAGE_HOSTING == firebase ]]; then
    [[ -f $HOSTING_CONFIG_PATH ]] || missing+=" $HOSTING_CONFIG_PATH"
  fi
  if [[ -n $missing ]]; then
    $DRY_RUN || die "missing:$missing"
    note "warning: missing:$missing (a real deploy would stop here)"
  fi
  if ! $DRY_RUN; then
    command -v gcloud >/dev/null || die "gcloud not found: install the Google Cloud CLI (see infra/README.md)"
    if [[ $PAGE_HOSTING == firebase ]]; then
      command -v node >/dev/null || die "node not found: PAGE_HOSTING=firebase needs Node.js 20+ (Cloud Shell has it)"
    fi
  fi
}

# ------------------------------------------------------------------- steps --

enable_apis() {
  step "Enabling APIs"
  # Already-enabled services are a no-op. Cloud Build and Artifact Registry
  # build the function's container; Cloud Run serves it.
  local apis=(cloudfunctions.googleapis.com run.googleapis.com cloudbuild.googleapis.com
    artifactregistry.googleapis.com firestore.googleapis.com iam.googleapis.com
    logging.googleapis.com storage.googleapis.com cloudresourcemanager.googleapis.com)
  if [[ $GEMINI_BACKEND == vertex ]]; then
    apis+=(aiplatform.googleapis.com)
  else
    apis+=(secretmanager.googleapis.com)
  fi
  if [[ $PAGE_HOSTING == firebase ]]; then
    apis+=(firebase.googleapis.com firebasehosting.googleapis.com)
  fi
  run gcloud services enable "${apis[@]}" --project="$PROJECT_ID"
}

create_firestore() {
  step "Creating the Firestore database $FIRESTORE_DATABASE"
  if exists gcloud firestore databases describe --database="$FIRESTORE_DATABASE" --project="$PROJECT_ID"; then
    note "exists; kept"
  else
    run gcloud firestore databases create --database="$FIRESTORE_DATABASE" \
      --location="$FIRESTORE_LOCATION" --type=firestore-native --project="$PROJECT_ID"
  fi

  step "Setting Firestore TTL on expires_at"
  local ttl_fields group
  capture ttl_fields "" gcloud firestore fields ttls list --database="$FIRESTORE_DATABASE" \
    --project="$PROJECT_ID" --format='value(name,ttlConfig.state)'
  for group in $TTL_COLLECTION_GROUPS; do
    # A policy that is CREATING or ACTIVE needs nothing; a missing one or one in
    # NEEDS_REPAIR is (re-)enabled. Takes effect in the background.
    if [[ $ttl_fields =~ /collectionGroups/$group/fields/expires_at[[:space:]]+(CREATING|ACTIVE) ]]; then
      note "$group.expires_at: already set"
    else
      run gcloud firestore fields ttls update expires_at --collection-group="$group" \
        --database="$FIRESTORE_DATABASE" --enable-ttl --async --project="$PROJECT_ID"
    fi
  done
}

store_api_key() {
  step "Storing the Gemini API key in Secret Manager ($SECRET_NAME)"
  if exists gcloud secrets describe "$SECRET_NAME" --project="$PROJECT_ID"; then
    note "secret exists; kept"
  else
    run gcloud secrets create "$SECRET_NAME" --replication-policy=automatic --project="$PROJECT_ID"
  fi

  local key_source=$KEY_FILE versions
  if [[ -z $key_source ]]; then
    capture versions "" gcloud secrets versions list "$SECRET_NAME" --filter=state:ENABLED \
      --limit=1 --format='value(name)' --project="$PROJECT_ID"
    if [[ -n $versions ]]; then
      note "a key version exists; kept (rotate with infra/rotate-key.sh)"
      return
    fi
  fi

  local api_key=""
  if $DRY_RUN; then
    note "(dry run: the key would be read from ${key_source:-a hidden prompt} and piped on standard input)"
  else
    read_api_key api_key "$key_source"
  fi
  run_with_secret_stdin "$api_key" gcloud secrets versions add "$SECRET_NAME" --data-file=- --project="$PROJECT_ID"
}

# Create the service account $1 (the part before @) unless it exists, and
# grant it the project bindings (ROLE|CONDITION) that follow. Adding a binding
# that is already there changes nothing; an explicit --condition (None for an
# unconditional one) keeps gcloud from prompting when the policy has conditions.
ensure_service_account() {
  local name=$1 display_name=$2 email=$1@$PROJECT_ID.iam.gserviceaccount.com binding
  shift 2
  step "Creating the service account $email"
  if exists gcloud iam service-accounts describe "$email" --project="$PROJECT_ID"; then
    note "exists; kept"
  else
    run gcloud iam service-accounts create "$name" --display-name="$display_name" --project="$PROJECT_ID"
  fi
  for binding in "$@"; do
    run_retried gcloud projects add-iam-policy-binding "$PROJECT_ID" \
      --member="serviceAccount:$email" --role="${binding%%|*}" --condition="${binding#*|}" --quiet --format=none
  done
}

create_service_accounts() {
  ensure_service_account "$SERVICE_ACCOUNT_NAME" "First-aid chat function (runtime)" "${RUNTIME_PROJECT_BINDINGS[@]}"
  if [[ $GEMINI_BACKEND == ai_studio ]]; then
    # Access to this one secret only, not to every secret in the project.
    run_retried gcloud secrets add-iam-policy-binding "$SECRET_NAME" \
      --member="serviceAccount:$SERVICE_ACCOUNT_EMAIL" --role=roles/secretmanager.secretAccessor \
      --project="$PROJECT_ID" --format=none
  fi
  if [[ -n $BUILD_SERVICE_ACCOUNT_EMAIL ]]; then
    # Projects created since mid-2024 build with the Compute Engine default
    # account, which no longer holds the roles a build needs; a dedicated
    # builder avoids both the failure and widening that shared account.
    ensure_service_account "$BUILD_SERVICE_ACCOUNT_NAME" "First-aid chat function (build)" "${BUILD_PROJECT_BINDINGS[@]}"
  fi
}

create_bucket() {
  step "Creating the bucket gs://$BUCKET for the page"
  if exists gcloud storage buckets describe "gs://$BUCKET" --project="$PROJECT_ID"; then
    note "exists; kept"
  else
    run gcloud storage buckets create "gs://$BUCKET" --location="$REGION" \
      --uniform-bucket-level-access --no-public-access-prevention --project="$PROJECT_ID"
  fi
  step "Making the page public-readable"
  run gcloud storage buckets add-iam-policy-binding "gs://$BUCKET" --member=allUsers \
    --role=roles/storage.objectViewer --project="$PROJECT_ID" --format=none
}

# YAML double-quoted scalar: every value reaches the function as a string,
# whatever commas, colons, quotes or newlines it holds.
yaml_string() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}

# Settings passed through from the configuration when not empty.
FUNCTION_SETTINGS="FIRESTORE_DATABASE FIRESTORE_COLLECTION GEMINI_MODEL SYSTEM_INSTRUCTION
  TEMPERATURE SAFETY_SETTINGS MAX_OUTPUT_TOKENS THINKING_BUDGET HISTORY_BUDGET_CHARS MAX_MESSAGE_CHARS
  MAX_BODY_BYTES SESSION_TTL_HOURS REQUEST_TIMEOUT_SECONDS MODEL_ATTEMPT_TIMEOUT_SECONDS
  MODEL_MAX_ATTEMPTS STORE_TIMEOUT_SECONDS LOG_LEVEL MODEL_PROVIDER FALLBACK EMERGENCY_NUMBER
  CRISIS_LINE POISON_CENTRE RATE_LIMIT_SESSION_PER_MINUTE RATE_LIMIT_CLIENT_PER_MINUTE AUTH_MODE FIREBASE_PROJECT
  FIREBASE_PROJECT_NUMBER CLIENT_CONCURRENT_TURNS DAILY_TOKEN_BUDGET"

# Write the function's environment to $1 (for --env-vars-file, which, unlike
# --set-env-vars, needs no escaping of the commas in ALLOWED_ORIGINS).
write_env_file() {
  local file=$1 name allowed_origins=$PAGE_ORIGIN
  if [[ $PAGE_HOSTING == firebase && $PAGE_ORIGIN == "https://$FIREBASE_SITE.web.app" ]]; then
    # Hosting serves the same site on both of the project's own domains.
    allowed_origins+=",https://$FIREBASE_SITE.firebaseapp.com"
  fi
  if [[ -n ${EXTRA_ALLOWED_ORIGINS:-} ]]; then
    allowed_origins+=",$EXTRA_ALLOWED_ORIGINS"
  fi
  {
    printf 'CHAT_STORE: "firestore"\n'
    printf 'GOOGLE_CLOUD_PROJECT: %s\n' "$(yaml_string "$PROJECT_ID")"
    if [[ $GEMINI_BACKEND == vertex ]]; then
      printf 'GEMINI_BACKEND: "vertex"\n'
      printf 'GOOGLE_CLOUD_LOCATION: %s\n' "$(yaml_string "${GOOGLE_CLOUD_LOCATION:-global}")"
    else
      printf 'GEMINI_API_KEY_SECRET: %s\n' "$(yaml_string "$SECRET_VERSION_PATH")"
    fi
    printf 'ALLOWED_ORIGINS: %s\n' "$(yaml_string "$allowed_origins")"
    printf 'THREADS: %s\n' "$(yaml_string "$CONCURRENCY")"
    for name in $FUNCTION_SETTINGS; do
      if [[ -n ${!name:-} ]]; then
        printf '%s: %s\n' "$name" "$(yaml_string "${!name}")"
      fi
    done
  } >"$file"
}

deploy_function() {
  step "Deploying the function $FUNCTION_NAME (builds in Cloud Build; takes a few minutes)"
  local env_file=$WORK_DIR/function-env.yaml
  write_env_file "$env_file"
  local access=--no-allow-unauthenticated
  if [[ $ALLOW_UNAUTHENTICATED == true ]]; then
    access=--allow-unauthenticated
  fi
  local extra=()
  if [[ -n $BUILD_SERVICE_ACCOUNT_EMAIL ]]; then
    extra+=(--build-service-account="projects/$PROJECT_ID/serviceAccounts/$BUILD_SERVICE_ACCOUNT_EMAIL")
  fi
  # --[no-]allow-unauthenticated adds or removes the allUsers invoker binding
  # on every deploy, so flipping ALLOW_UNAUTHENTICATED takes effect on re-run.
  run gcloud functions deploy "$FUNCTION_NAME" --gen2 --region="$REGION" --runtime=python312 \
    --source="$FUNCTION_SOURCE_PATH" --entry-point=chat --trigger-http "$access" \
    --run-service-account="$SERVICE_ACCOUNT_EMAIL" --memory="$MEMORY" --cpu="$CPU" \
    --timeout="$TIMEOUT" --concurrency="$CONCURRENCY" --max-instances="$MAX_INSTANCES" \
    --min-instances="$MIN_INSTANCES" --env-vars-file="$env_file" \
    ${extra[@]+"${extra[@]}"} --project="$PROJECT_ID" --quiet
  note "environment ($env_file):"
  sed 's/^/      /' "$env_file"

  capture FUNCTION_URL "https://$FUNCTION_NAME-PROJECT_HASH.$REGION.run.app" \
    gcloud functions describe "$FUNCTION_NAME" --gen2 --region="$REGION" \
    --format='value(serviceConfig.uri)' --project="$PROJECT_ID"
  [[ $FUNCTION_URL =~ ^https:// ]] || die "unexpected function URL: '$FUNCTION_URL'"
  if $DRY_RUN; then
    note "(dry run: placeholder URL $FUNCTION_URL)"
  fi
}

# JSON string: the URL holds no quotes or backslashes in practice, but a
# config.json that is always valid costs two substitutions.
json_string() {
  local s=${1//\\/\\\\}
  printf '"%s"' "${s//\"/\\\"}"
}

# Build the page's offline first-aid guide (static_site/guide.json) from the
# guide's topics, when the repository has the script that does it.
build_guide() {
  if [[ -f $GUIDE_SCRIPT_PATH ]]; then
    step "Building the page's offline guide"
    (cd "$REPO_ROOT" && run "${PYTHON:-python3}" "$GUIDE_SCRIPT_PATH")
  fi
}

# Copy the page to $WORK_DIR/site with a config.json naming the function. The
# repository's config.json, which points at a local server, is left alone.
write_page() {
  build_guide
  SITE=$WORK_DIR/site
  mkdir -p "$SITE"
  if [[ -d $SITE_SOURCE_PATH ]]; then
    cp -R "$SITE_SOURCE_PATH/." "$SITE/"
  fi
  # The page shows the deployment's emergency number from its first paint (and offline).
  printf '{"apiBaseUrl": %s, "emergencyNumber": %s}\n' "$(json_string "$FUNCTION_URL")" \
    "$(json_string "${EMERGENCY_NUMBER:-112}")" >"$SITE/config.json"
  if [[ -n ${APP_CHECK_SITE_KEY:-} ]]; then
    step "Bundling Firebase's App Check SDK into the page (scripts/build_page.py)"
    python3 "$REPO_ROOT/scripts/build_page.py" --source "$SITE" --out "$SITE" --api-base-url "$FUNCTION_URL" \
      --app-check-site-key "$APP_CHECK_SITE_KEY" --firebase-api-key "${FIREBASE_WEB_API_KEY:-}" \
      --firebase-app-id "${FIREBASE_WEB_APP_ID:-}" --firebase-project-id "${FIREBASE_PROJECT:-$PROJECT_ID}" ||
      die "the page could not be built with App Check (run npm ci first)"
  fi
  note "config.json: $(<"$SITE/config.json")"
  if [[ $PAGE_HOSTING == none ]]; then
    step "Page written to $SITE"
    note "Upload it to the host serving $PAGE_ORIGIN (see infra/README.md)."
  fi
}

upload_page() {
  step "Uploading the page to gs://$BUCKET"
  write_page
  local site=$SITE

  # Assets may be cached for 5 minutes; HTML and config.json are revalidated
  # on every load so that a redeploy shows at once and never pairs a new page
  # with an old API URL. Excluded files are neither copied nor deleted by rsync.
  run gcloud storage rsync "$site" "gs://$BUCKET" --recursive --delete-unmatched-destination-objects \
    --exclude='^[^/]*\.html$|^config\.json$' --cache-control='public, max-age=300' \
    --project="$PROJECT_ID"
  local fresh=() file
  for file in "$site"/*.html "$site/config.json"; do
    [[ -f $file ]] && fresh+=("$file")
  done
  run gcloud storage cp "${fresh[@]}" "gs://$BUCKET/" --cache-control=no-cache --project="$PROJECT_ID"
}

# Add Firebase to the project unless it is a Firebase project already: Hosting
# needs it.
add_firebase() {
  step "Adding Firebase to the project (for Hosting)"
  ensure_firebase_cli
  if is_firebase_project; then
    note "already a Firebase project; kept"
  else
    run firebase projects:addfirebase "$PROJECT_ID" --non-interactive
  fi
}

# Deploy the page to Firebase Hosting, with the security headers of the
# repository's firebase.json and the function's origin in its CSP connect-src.
deploy_hosting() {
  step "Deploying the page to Firebase Hosting (site $FIREBASE_SITE)"
  write_page
  local api_origin config=$WORK_DIR/firebase.json
  api_origin=$(printf '%s' "$FUNCTION_URL" | sed -E 's#^(https?://[^/]+).*#\1#')
  if command -v node >/dev/null; then
    node "$INFRA_DIR/hosting-config.mjs" "$HOSTING_CONFIG_PATH" "$config" site "$FIREBASE_SITE" "$api_origin" \
      ${APP_CHECK_SITE_KEY:+app-check} ||
      die "could not write the Hosting configuration from $HOSTING_CONFIG_PATH"
  else
    $DRY_RUN || die "node not found"
    note "(dry run: node not found, so $config was not written)"
  fi
  run firebase deploy --only hosting --config "$config" --project "$PROJECT_ID" --non-interactive
}

# ------------------------------------------------------------------- main --

if [[ $PAGE_HOSTING == none && -z ${INFRA_WORK_DIR:-} ]]; then
  die "PAGE_HOSTING=none needs INFRA_WORK_DIR: the directory to write the finished page to"
fi
if [[ -n ${INFRA_WORK_DIR:-} ]]; then
  # Kept after the run (tests and debugging look at the generated files).
  WORK_DIR=$INFRA_WORK_DIR
  mkdir -p "$WORK_DIR"
else
  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/firstaid-deploy.XXXXXX")
  trap 'rm -rf "$WORK_DIR"' EXIT
fi

if $DRY_RUN; then
  echo "Dry run: printing the commands for a fresh project; nothing is run."
fi
echo "Project $PROJECT_ID, region $REGION, function $FUNCTION_NAME, page origin $PAGE_ORIGIN"
check_settings

# The page's origin is known from the bucket before anything is deployed, so
# the function is deployed once, already allowing it.
enable_apis
create_firestore
if [[ $GEMINI_BACKEND == ai_studio ]]; then
  store_api_key
fi
create_service_accounts
case $PAGE_HOSTING in
  firebase) add_firebase ;;
  gcs) create_bucket ;;
esac
deploy_function
case $PAGE_HOSTING in
  firebase) deploy_hosting ;;
  gcs) upload_page ;;
  none) write_page ;;
esac

step "Done"
note "Page:      $PAGE_URL"
note "API:       $FUNCTION_URL"
note "Logs:      infra/logs.sh   (or: gcloud functions logs read $FUNCTION_NAME --gen2 --region=$REGION --project=$PROJECT_ID)"
if [[ $GEMINI_BACKEND == ai_studio ]]; then
  note "New key:   infra/rotate-key.sh --key-file PATH   (no redeploy needed)"
else
  note "Gemini:    Vertex AI in ${GOOGLE_CLOUD_LOCATION:-global}, as $SERVICE_ACCOUNT_EMAIL (no key)"
fi
