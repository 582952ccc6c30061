# shellcheck shell=bash
# shellcheck disable=SC2034  # globals set here are read by the sourcing scripts
# Shared helpers for the scripts in infra/: configuration, output, dry runs.
# Sourced, never run. Written for bash 3.2 (macOS) and later: no associative
# arrays, no mapfile.

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$INFRA_DIR/.." && pwd)"
DRY_RUN=false
# gcloud must never stop to ask: the scripts ask their own questions, and a
# prompt inside a command whose output `exists` captures would hang unseen.
export CLOUDSDK_CORE_DISABLE_PROMPTS=1
# What `exists` answers in a dry run: deploy assumes a fresh project (nothing
# exists), teardown assumes a full deployment (everything exists).
DRY_RUN_ASSUME_EXISTS=false

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

step() {
  printf '\n==> %s\n' "$*"
}

note() {
  printf '    %s\n' "$*"
}

# Quote arguments so that a shell (or Python's shlex.split) reads them back
# unchanged; plain words stay unquoted for readability.
shell_quote() {
  local arg quoted=()
  for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then
      quoted+=("$arg")
    else
      quoted+=("'${arg//\'/\'\\\'\'}'")
    fi
  done
  printf '%s' "${quoted[*]}"
}

show_command() {
  printf '+ %s\n' "$(shell_quote "$@")"
}

# Announce a command, then run it unless this is a dry run.
run() {
  show_command "$@"
  if ! $DRY_RUN; then
    "$@"
  fi
}

# Like run, but retried: IAM changes right after creating a service account
# can fail until the account has propagated.
run_retried() {
  show_command "$@"
  if $DRY_RUN; then
    return 0
  fi
  local attempt
  for attempt in 1 2 3 4 5; do
    if "$@"; then
      return 0
    fi
    note "attempt $attempt failed; retrying in ${RETRY_DELAY_SECONDS:-6}s"
    sleep "${RETRY_DELAY_SECONDS:-6}"
  done
  die "giving up after 5 attempts: $(shell_quote "$@")"
}

# Run a command with a secret on its standard input. The secret goes through
# printf (a shell builtin), so it is never in any process's arguments.
run_with_secret_stdin() {
  local secret=$1
  shift
  show_command "$@"
  if ! $DRY_RUN; then
    printf '%s' "$secret" | "$@"
  fi
}

# Announce a command, run it and store its standard output in the variable
# named $1; in a dry run store $2 instead.
capture() {
  local _capture_into=$1 _capture_dry_run_value=$2 _capture_output
  shift 2
  show_command "$@"
  if $DRY_RUN; then
    _capture_output=$_capture_dry_run_value
  else
    _capture_output=$("$@")
  fi
  printf -v "$_capture_into" '%s' "$_capture_output"
}

# Succeed if a describe-style command finds its resource, fail if gcloud
# reports it missing, and stop on any other error (no credentials, no
# permission, a bucket name owned by someone else): creating blindly then
# would only fail later with a less helpful message.
exists() {
  show_command "$@"
  if $DRY_RUN; then
    $DRY_RUN_ASSUME_EXISTS
    return
  fi
  local errors
  if errors=$("$@" 2>&1 >/dev/null); then
    return 0
  fi
  if [[ $errors =~ NOT_FOUND|[Nn]ot[[:space:]]found|does[[:space:]]not[[:space:]]exist|404 ]]; then
    return 1
  fi
  printf '%s\n' "$errors" >&2
  die "could not tell whether the resource exists: $(shell_quote "$@")"
}

# Ask a yes/no question on the terminal (or standard input); anything but
# y/yes, including end of input, is no.
confirm() {
  local answer=""
  printf '%s [y/N] ' "$1"
  read -r answer || true
  printf '\n'
  [[ $answer =~ ^[Yy]([Ee][Ss])?$ ]]
}

# Names assigned (NAME=...) at the start of a line in a config file.
config_names() {
  sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' "$1"
}

# Load infra/config.env, then $INFRA_CONFIG; values already in the environment
# win over both files.
load_config() {
  local files=("$INFRA_DIR/config.env") file name i
  if [[ -n ${INFRA_CONFIG:-} ]]; then
    [[ -f $INFRA_CONFIG ]] || die "INFRA_CONFIG=$INFRA_CONFIG: no such file"
    files+=("$INFRA_CONFIG")
  fi

  local saved_names=() saved_values=()
  for file in "${files[@]}"; do
    while IFS= read -r name; do
      if [[ -n ${!name+set} ]]; then
        saved_names+=("$name")
        saved_values+=("${!name}")
      fi
    done < <(config_names "$file")
  done

  for file in "${files[@]}"; do
    # shellcheck source=/dev/null
    source "$file"
  done

  for ((i = 0; i < ${#saved_names[@]}; i++)); do
    printf -v "${saved_names[i]}" '%s' "${saved_values[i]}"
  done
  resolve_config
}

require_setting() {
  [[ -n ${!1:-} ]] || die "$1 is not set: set it in infra/config.env, in the file INFRA_CONFIG names, or in the environment ($1=... infra/deploy.sh)"
}

require_integer() {
  [[ ${!1:-} =~ ^[0-9]+$ ]] || die "$1 must be a whole number, got '${!1:-}'"
}

absolute_path() {
  case $1 in
    /*) printf '%s' "$1" ;;
    *) printf '%s' "$REPO_ROOT/$1" ;;
  esac
}

# Check the settings and work out the derived names every script uses.
resolve_config() {
  local name
  for name in PROJECT_ID REGION FUNCTION_NAME SECRET_NAME SERVICE_ACCOUNT_NAME \
    FIRESTORE_LOCATION FIRESTORE_DATABASE FIRESTORE_COLLECTION; do
    require_setting "$name"
  done
  [[ $PROJECT_ID =~ ^[a-z][a-z0-9-]{4,28}[a-z0-9]$ ]] ||
    die "PROJECT_ID '$PROJECT_ID' is not a project id (the id, not the display name or number)"
  [[ $SERVICE_ACCOUNT_NAME =~ ^[a-z][a-z0-9-]{4,28}[a-z0-9]$ ]] ||
    die "SERVICE_ACCOUNT_NAME must be 6-30 lower-case letters, digits or hyphens"

  BUCKET=${BUCKET:-$PROJECT_ID-firstaid-chat-site}
  FIREBASE_SITE=${FIREBASE_SITE:-$PROJECT_ID}
  PAGE_HOSTING=${PAGE_HOSTING:-firebase}
  case $PAGE_HOSTING in
    firebase)
      [[ $FIREBASE_SITE =~ ^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$ ]] ||
        die "FIREBASE_SITE must be a Hosting site id (lower-case letters, digits, hyphens), got '$FIREBASE_SITE'"
      PAGE_ORIGIN=${PAGE_ORIGIN:-https://$FIREBASE_SITE.web.app}
      ;;
    gcs) PAGE_ORIGIN=${PAGE_ORIGIN:-https://storage.googleapis.com} ;;
    none) [[ -n ${PAGE_ORIGIN:-} ]] || die "PAGE_HOSTING=none needs PAGE_ORIGIN: the origin your page is served from" ;;
    *) die "PAGE_HOSTING must be firebase, gcs or none, got '$PAGE_HOSTING'" ;;
  esac
  PAGE_ORIGIN=${PAGE_ORIGIN%/}
  [[ $PAGE_ORIGIN =~ ^https?://[^/]+$ ]] ||
    die "PAGE_ORIGIN must be scheme://host[:port] without a path, got '$PAGE_ORIGIN'"
  if [[ $PAGE_ORIGIN == https://storage.googleapis.com ]]; then
    PAGE_URL="https://storage.googleapis.com/$BUCKET/index.html"
  else
    PAGE_URL="$PAGE_ORIGIN/"
  fi
  SERVICE_ACCOUNT_EMAIL="$SERVICE_ACCOUNT_NAME@$PROJECT_ID.iam.gserviceaccount.com"
  BUILD_SERVICE_ACCOUNT_EMAIL=""
  if [[ -n ${BUILD_SERVICE_ACCOUNT_NAME:-} ]]; then
    [[ $BUILD_SERVICE_ACCOUNT_NAME =~ ^[a-z][a-z0-9-]{4,28}[a-z0-9]$ ]] ||
      die "BUILD_SERVICE_ACCOUNT_NAME must be 6-30 lower-case letters, digits or hyphens"
    BUILD_SERVICE_ACCOUNT_EMAIL="$BUILD_SERVICE_ACCOUNT_NAME@$PROJECT_ID.iam.gserviceaccount.com"
  fi
  GEMINI_BACKEND=${GEMINI_BACKEND:-ai_studio}
  case $GEMINI_BACKEND in
    ai_studio | vertex) ;;
    *) die "GEMINI_BACKEND must be ai_studio or vertex, got '$GEMINI_BACKEND'" ;;
  esac
  # Firestore access for this app's database only: an IAM condition on the
  # database's resource name (no commas allowed inside gcloud's --condition).
  FIRESTORE_CONDITION="expression=resource.name==\"projects/$PROJECT_ID/databases/$FIRESTORE_DATABASE\",title=firstaid-chat-database-only"
  # Project-level bindings of each account, ROLE|CONDITION (None: unconditional);
  # teardown removes the same ones.
  RUNTIME_PROJECT_BINDINGS=("roles/datastore.user|$FIRESTORE_CONDITION" "roles/logging.logWriter|None")
  if [[ $GEMINI_BACKEND == vertex ]]; then
    RUNTIME_PROJECT_BINDINGS+=("roles/aiplatform.user|None")
  fi
  BUILD_PROJECT_BINDINGS=("roles/cloudbuild.builds.builder|None")
  SECRET_VERSION_PATH="projects/$PROJECT_ID/secrets/$SECRET_NAME/versions/latest"
  FUNCTION_SOURCE_PATH=$(absolute_path "${FUNCTION_SOURCE_DIR:-functions}")
  SITE_SOURCE_PATH=$(absolute_path "${SITE_SOURCE_DIR:-static_site}")
  GUIDE_SCRIPT_PATH=$(absolute_path "${GUIDE_SCRIPT:-scripts/build_guide.py}")
  HOSTING_CONFIG_PATH=$(absolute_path "${HOSTING_CONFIG:-firebase.json}")
  # Collection groups whose documents carry expires_at: sessions, their turns
  # subcollection, the rate-limit counters, the daily token count (its day
  # marker and shards) and the per-client turn leases.
  TTL_COLLECTION_GROUPS="$FIRESTORE_COLLECTION turns ratelimits token_budget token_shards client_turns"
}

# The pinned Firebase CLI (infra/package.json), or FIREBASE_BIN when set. A
# function of that name, so that commands read `firebase ...` when announced.
firebase() {
  NO_UPDATE_NOTIFIER=1 "${FIREBASE_BIN:-$INFRA_DIR/node_modules/.bin/firebase}" "$@"
}

# Succeed if PROJECT_ID is a Firebase project (Hosting needs one):
# `projects:list` lists the Firebase projects this account can see.
is_firebase_project() {
  local projects dry_run_value=""
  if $DRY_RUN_ASSUME_EXISTS; then
    dry_run_value="\"projectId\": \"$PROJECT_ID\""
  fi
  capture projects "$dry_run_value" firebase projects:list --json --non-interactive
  [[ $projects =~ \"projectId\":[[:space:]]*\"$PROJECT_ID\" ]]
}

# Install the pinned Firebase CLI from infra/package-lock.json unless it is there.
ensure_firebase_cli() {
  if [[ -n ${FIREBASE_BIN:-} ]]; then
    [[ -x $FIREBASE_BIN ]] || $DRY_RUN || die "FIREBASE_BIN=$FIREBASE_BIN is not an executable file"
    return 0
  fi
  if [[ -x $INFRA_DIR/node_modules/.bin/firebase ]]; then
    return 0
  fi
  if ! $DRY_RUN; then
    command -v npm >/dev/null ||
      die "npm not found: PAGE_HOSTING=firebase needs Node.js 20+ and npm for the Firebase CLI (Cloud Shell has them)"
  fi
  run npm ci --prefix "$INFRA_DIR" --no-audit --no-fund --ignore-scripts
}

# Read the Gemini API key into the variable named $1, from the file $2, from
# standard input when $2 is "-", or from a hidden prompt when $2 is empty and
# standard input is a terminal. The key is never echoed or logged.
read_api_key() {
  local _key_into=$1 from=$2 key=""
  if [[ $from == - ]]; then
    key=$(cat)
  elif [[ -n $from ]]; then
    [[ -f $from && -r $from ]] || die "--key-file $from: no such readable file"
    key=$(<"$from")
  elif [[ -t 0 ]]; then
    printf 'Gemini API key (input hidden): ' >&2
    IFS= read -rs key || true
    printf '\n' >&2
  else
    die "no Gemini API key given: pass --key-file PATH, or --key-file - with the key on standard input"
  fi
  # Strip surrounding whitespace and newlines that files and pastes carry.
  key="${key#"${key%%[![:space:]]*}"}"
  key="${key%"${key##*[![:space:]]}"}"
  [[ -n $key ]] || die "the Gemini API key is empty"
  [[ $key != *[[:space:]]* ]] || die "the Gemini API key contains whitespace; is it the right file?"
  printf -v "$_key_into" '%s' "$key"
}
