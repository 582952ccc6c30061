"""Tests of the deployment scripts in infra/, all offline.

Three kinds:
- the commands `--dry-run` prints go through the real gcloud CLI with an empty
  configuration, which must reject them only for lack of an account, never
  for their syntax;
- the scripts' logic runs against a recording `gcloud` stand-in
  (tests/infra_shims/gcloud_shim.py): what exists decides what is created,
  the Gemini key never shows, the page learns the function's URL;
- shellcheck, and gcloud's own reading of the .gcloudignore files.

A missing gcloud or shellcheck fails the test with how to get it, unless
SKIP_COMPONENTS names it (tests/components.py).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import pty
import shlex
import shutil
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import components

REPO = Path(__file__).resolve().parents[1]
INFRA = REPO / "infra"
SHIM = Path(__file__).resolve().parent / "infra_shims" / "gcloud_shim.py"

KEY = "AIzaSy-SENTINEL-test-key-000000000000"
FUNCTION_URL = "https://firstaid-chat-abc123-ew.a.run.app"
PAGE_ORIGINS = "https://demo-project.web.app,https://demo-project.firebaseapp.com"
SHARED_BUCKET = {"PAGE_HOSTING": "gcs"}  # with deploy.sh --shared-origin
PAGE_CONFIG = {"apiBaseUrl": FUNCTION_URL, "emergencyNumber": "112"}
LOCAL_CONFIG = '{"apiBaseUrl": "http://127.0.0.1:8080"}\n'
NOT_LOGGED_IN = "You do not currently have an active account selected"
PARSE_ERRORS = ("unrecognized arguments", "invalid choice", "must be specified", "argument --", "error parsing")


def command_words(argv: list[str]) -> list[str]:
    return [arg for arg in argv if not arg.startswith("-")]


def require_tool(name: str) -> str:
    """The tool's path; a missing tool fails the test (or skips it when SKIP_COMPONENTS names it)."""
    path = shutil.which(name)
    if path is None:
        components.missing(name, f"{name} is not on PATH")
    assert path is not None
    return path


@dataclass
class Infra:
    """A sandbox for running infra/*.sh: fake sources, a recording gcloud, a clean environment."""

    tmp: Path
    env: dict[str, str]

    @property
    def log(self) -> Path:
        return self.tmp / "gcloud-calls.jsonl"

    @property
    def bucket(self) -> Path:
        return self.tmp / "bucket"

    @property
    def site(self) -> Path:
        return self.tmp / "site"

    def run(self, script: str, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(INFRA / script), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**self.env, **env},
            timeout=120,
        )

    def run_ok(self, script: str, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
        """``run``, asserting that the script exited 0."""
        result = self.run(script, *args, stdin=stdin, **env)
        assert result.returncode == 0, f"{script} exited {result.returncode}: {result.stderr[-2000:]}"
        return result

    def calls(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def argvs(self, tool: str = "gcloud") -> list[list[str]]:
        return [call["argv"] for call in self.calls() if call["tool"] == tool]

    def called(self, *words: str, tool: str = "gcloud") -> list[list[str]]:
        """Recorded calls whose command starts with words (flags skipped)."""
        return [argv for argv in self.argvs(tool) if command_words(argv)[: len(words)] == list(words)]

    def firebase_called(self, *words: str) -> list[list[str]]:
        return self.called(*words, tool="firebase")

    def function_env(self) -> dict[str, str]:
        (deploy,) = [call for call in self.calls() if "env_vars_file" in call]
        env: dict[str, str] = yaml.safe_load(deploy["env_vars_file"])
        return env


@pytest.fixture
def infra(tmp_path: Path) -> Infra:
    functions = tmp_path / "functions"
    functions.mkdir()
    (functions / "main.py").write_text("def chat(request):\n    return 'ok'\n")
    (functions / "requirements.txt").write_text("functions-framework\n")
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html><title>chat</title>\n")
    (site / "app.js").write_text("// app\n")
    (site / "config.json").write_text(LOCAL_CONFIG)

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "gcloud"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -I -S {shlex.quote(str(SHIM))} "$@"\n')
    wrapper.chmod(0o755)
    firebase = tmp_path / "firebase-shim"
    firebase.write_text(f'#!/bin/sh\nGCLOUD_SHIM_TOOL=firebase exec {shlex.quote(str(wrapper))} "$@"\n')
    firebase.chmod(0o755)

    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "TMPDIR": str(tmp_path),
        "PROJECT_ID": "demo-project",
        "FUNCTION_SOURCE_DIR": str(functions),
        "SITE_SOURCE_DIR": str(site),
        "GCLOUD_SHIM_LOG": str(tmp_path / "gcloud-calls.jsonl"),
        "GCLOUD_SHIM_BUCKET_DIR": str(tmp_path / "bucket"),
        "GCLOUD_SHIM_URL": FUNCTION_URL,
        "GCLOUD_SHIM_EXISTING": "",
        "FIREBASE_BIN": str(firebase),
        "GUIDE_SCRIPT": str(tmp_path / "no-guide-script.py"),
    }
    return Infra(tmp_path, env)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "gemini.key"
    path.write_text(KEY + "\n")
    return path


def assert_key_hidden(infra: Infra, output: str) -> None:
    """The key reached gcloud only on standard input: not in arguments, files or the script's output."""
    assert KEY not in output
    for call in infra.calls():
        assert all(KEY not in arg for arg in call["argv"])
        assert KEY not in call.get("env_vars_file", "")
    (stored,) = [call["stdin"] for call in infra.calls() if "stdin" in call]
    assert stored == KEY


# ------------------------------------------------------ deploy: what exists --


def test_fresh_project_gets_every_resource_created(infra: Infra, key_file: Path) -> None:
    result = infra.run("deploy.sh", "--key-file", str(key_file))
    assert result.returncode == 0, result.stderr
    assert infra.called("firestore", "databases", "create")
    assert infra.called("secrets", "create", "gemini-api-key")
    assert infra.called("iam", "service-accounts", "create", "firstaid-chat-fn")
    assert infra.firebase_called("projects:addfirebase", "demo-project")
    assert infra.firebase_called("deploy")
    assert infra.called("storage", "buckets", "create") == []
    assert infra.called("secrets", "versions", "add")
    assert infra.called("functions", "deploy", "firstaid-chat")


def test_existing_resources_are_kept_and_function_updated(infra: Infra) -> None:
    result = infra.run("deploy.sh", GCLOUD_SHIM_EXISTING="all")
    assert result.returncode == 0, result.stderr
    assert [argv for argv in infra.argvs() if "create" in argv] == []
    assert infra.firebase_called("projects:addfirebase") == []
    assert infra.called("firestore", "fields", "ttls", "update") == []
    assert infra.called("secrets", "versions", "add") == []
    assert infra.called("functions", "deploy", "firstaid-chat")
    assert (infra.bucket / "config.json").exists()


def test_ttl_is_set_on_sessions_turns_and_ratelimits(infra: Infra, key_file: Path) -> None:
    infra.run_ok("deploy.sh", "--key-file", str(key_file))
    updates = infra.called("firestore", "fields", "ttls", "update", "expires_at")
    groups = {arg.split("=", 1)[1] for argv in updates for arg in argv if arg.startswith("--collection-group=")}
    assert groups == {"sessions", "turns", "ratelimits", "token_budget", "token_shards", "client_turns"}


def project_roles_of(infra: Infra, account: str) -> set[str]:
    bindings = infra.called("projects", "add-iam-policy-binding")
    member = f"--member=serviceAccount:{account}@demo-project.iam.gserviceaccount.com"
    return {arg.split("=", 1)[1] for argv in bindings if member in argv for arg in argv if arg.startswith("--role=")}


def test_runtime_account_gets_only_its_three_roles(infra: Infra, key_file: Path) -> None:
    """datastore.user and logWriter on the project, secretAccessor on the one secret."""
    infra.run_ok("deploy.sh", "--key-file", str(key_file))
    assert project_roles_of(infra, "firstaid-chat-fn") == {"roles/datastore.user", "roles/logging.logWriter"}
    (secret_binding,) = infra.called("secrets", "add-iam-policy-binding")
    assert "gemini-api-key" in secret_binding
    assert "--role=roles/secretmanager.secretAccessor" in secret_binding
    (deploy,) = infra.called("functions", "deploy")
    assert "--run-service-account=firstaid-chat-fn@demo-project.iam.gserviceaccount.com" in deploy


def test_function_is_built_by_its_own_build_account(infra: Infra, key_file: Path) -> None:
    infra.run_ok("deploy.sh", "--key-file", str(key_file))
    assert infra.called("iam", "service-accounts", "create", "firstaid-chat-build")
    assert project_roles_of(infra, "firstaid-chat-build") == {"roles/cloudbuild.builds.builder"}
    (deploy,) = infra.called("functions", "deploy")
    builder = "projects/demo-project/serviceAccounts/firstaid-chat-build@demo-project.iam.gserviceaccount.com"
    assert f"--build-service-account={builder}" in deploy


def test_empty_build_account_name_keeps_googles_default_builder(infra: Infra) -> None:
    infra.run_ok("deploy.sh", GCLOUD_SHIM_EXISTING="all", BUILD_SERVICE_ACCOUNT_NAME="")
    (deploy,) = infra.called("functions", "deploy")
    assert not any(arg.startswith("--build-service-account") for arg in deploy)
    assert project_roles_of(infra, "firstaid-chat-build") == set()


def test_unreadable_resource_stops_deploy_before_creating_it(infra: Infra, key_file: Path) -> None:
    result = infra.run("deploy.sh", "--key-file", str(key_file), GCLOUD_SHIM_DENIED="service-account")
    assert result.returncode != 0
    assert "PERMISSION_DENIED" in result.stderr
    assert infra.called("iam", "service-accounts", "create") == []
    assert infra.called("functions", "deploy") == []


DATABASE_CONDITION = (
    '--condition=expression=resource.name=="projects/demo-project/databases/firstaid-chat",'
    "title=firstaid-chat-database-only"
)


def test_firestore_role_holds_only_on_the_apps_own_database(infra: Infra, key_file: Path) -> None:
    infra.run("deploy.sh", "--key-file", str(key_file))
    (create,) = infra.called("firestore", "databases", "create")
    assert "--database=firstaid-chat" in create
    member = "--member=serviceAccount:firstaid-chat-fn@demo-project.iam.gserviceaccount.com"
    (datastore,) = [
        argv for argv in infra.called("projects", "add-iam-policy-binding") if "--role=roles/datastore.user" in argv
    ]
    assert member in datastore
    assert DATABASE_CONDITION in datastore
    assert infra.function_env()["FIRESTORE_DATABASE"] == "firstaid-chat"


def test_vertex_backend_creates_no_secret_and_grants_vertex_ai_instead(infra: Infra) -> None:
    result = infra.run("deploy.sh", GEMINI_BACKEND="vertex", GOOGLE_CLOUD_LOCATION="europe-west1")
    assert result.returncode == 0, result.stderr
    assert [argv for argv in infra.argvs() if "secrets" in argv] == []
    assert project_roles_of(infra, "firstaid-chat-fn") == {
        "roles/datastore.user",
        "roles/logging.logWriter",
        "roles/aiplatform.user",
    }
    (enable,) = infra.called("services", "enable")
    assert "aiplatform.googleapis.com" in enable
    assert "secretmanager.googleapis.com" not in enable
    env = infra.function_env()
    assert env["GEMINI_BACKEND"] == "vertex"
    assert env["GOOGLE_CLOUD_LOCATION"] == "europe-west1"
    assert "GEMINI_API_KEY_SECRET" not in env
    assert "GEMINI_API_KEY" not in env


def test_vertex_backend_refuses_a_key_file(infra: Infra, key_file: Path) -> None:
    result = infra.run("deploy.sh", "--key-file", str(key_file), GEMINI_BACKEND="vertex")
    assert result.returncode != 0
    assert "drop --key-file" in result.stderr
    assert infra.calls() == []
    result = infra.run("rotate-key.sh", "--key-file", str(key_file), GEMINI_BACKEND="vertex")
    assert result.returncode != 0
    assert "no API key" in result.stderr


def test_shared_bucket_hosting_needs_the_explicit_flag(infra: Infra) -> None:
    refused = infra.run("deploy.sh", **SHARED_BUCKET)
    assert refused.returncode != 0
    assert "--shared-origin" in refused.stderr
    assert infra.calls() == []
    accepted = infra.run("deploy.sh", "--shared-origin", GCLOUD_SHIM_EXISTING="all", **SHARED_BUCKET)
    assert accepted.returncode == 0, accepted.stderr
    assert "warning: --shared-origin" in accepted.stdout
    assert infra.function_env()["ALLOWED_ORIGINS"] == "https://storage.googleapis.com"
    assert infra.firebase_called("deploy") == []


def test_hosting_config_names_the_site_the_page_and_the_functions_origin(infra: Infra) -> None:
    result = infra.run("deploy.sh", GCLOUD_SHIM_EXISTING="all", FIREBASE_SITE="first-aid-demo")
    assert result.returncode == 0, result.stderr
    (deploy,) = [call for call in infra.calls() if "firebase_config" in call]
    assert deploy["argv"][:3] == ["deploy", "--only", "hosting"]
    hosting = json.loads(deploy["firebase_config"])["hosting"]
    assert (hosting["site"], hosting["public"]) == ("first-aid-demo", "site")
    (csp,) = [
        h["value"] for rule in hosting["headers"] for h in rule["headers"] if h["key"] == "Content-Security-Policy"
    ]
    assert f"connect-src 'self' {FUNCTION_URL};" in csp
    assert "127.0.0.1" not in csp
    assert infra.function_env()["ALLOWED_ORIGINS"] == (
        "https://first-aid-demo.web.app,https://first-aid-demo.firebaseapp.com"
    )
    assert json.loads((infra.bucket / "config.json").read_text()) == PAGE_CONFIG


def test_guide_is_built_before_the_page_is_deployed(infra: Infra) -> None:
    script = infra.tmp / "build_guide.py"
    script.write_text(
        "import os, pathlib\n"
        "site = pathlib.Path(os.environ['SITE_SOURCE_DIR'])\n"
        "(site / 'guide.json').write_text('{\"topics\": []}')\n"
    )
    result = infra.run("deploy.sh", GCLOUD_SHIM_EXISTING="all", GUIDE_SCRIPT=str(script), PYTHON=sys.executable)
    assert result.returncode == 0, result.stderr
    assert json.loads((infra.bucket / "guide.json").read_text()) == {"topics": []}


# ------------------------------------------------------- deploy: the key ----


def test_key_from_file_reaches_secret_manager_only_on_stdin(infra: Infra, key_file: Path) -> None:
    result = infra.run("deploy.sh", "--key-file", str(key_file))
    assert result.returncode == 0, result.stderr
    assert_key_hidden(infra, result.stdout + result.stderr)


def test_key_from_stdin_reaches_secret_manager_only_on_stdin(infra: Infra) -> None:
    result = infra.run("deploy.sh", "--key-file", "-", stdin=KEY + "\n")
    assert result.returncode == 0, result.stderr
    assert_key_hidden(infra, result.stdout + result.stderr)


def test_key_given_again_adds_a_version_to_existing_secret(infra: Infra, key_file: Path) -> None:
    result = infra.run("deploy.sh", "--key-file", str(key_file), GCLOUD_SHIM_EXISTING="all")
    assert result.returncode == 0, result.stderr
    assert infra.called("secrets", "create") == []
    assert_key_hidden(infra, result.stdout + result.stderr)


def test_missing_key_without_terminal_stops_before_deploying(infra: Infra) -> None:
    result = infra.run("deploy.sh")
    assert result.returncode != 0
    assert "--key-file" in result.stderr
    assert infra.called("functions", "deploy") == []


def test_prompted_key_is_read_without_echo(infra: Infra) -> None:
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [str(INFRA / "deploy.sh")],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=infra.env,
        )
        # Type only once `read -s` has turned echo off, as a person would.
        deadline = time.monotonic() + 60
        while termios.tcgetattr(controller)[3] & termios.ECHO:
            assert process.poll() is None, "deploy.sh ended without prompting for the key"
            assert time.monotonic() < deadline, "no hidden prompt appeared"
            time.sleep(0.05)
        os.write(controller, (KEY + "\n").encode())
        stdout, stderr = process.communicate(timeout=60)
        os.set_blocking(controller, False)
        try:
            echoed = os.read(controller, 65536).decode(errors="replace")
        except BlockingIOError:
            echoed = ""
    finally:
        os.close(terminal)
        os.close(controller)
    assert process.returncode == 0, stderr
    assert "Gemini API key (input hidden)" in stderr
    assert KEY not in echoed
    assert_key_hidden(infra, stdout + stderr)


# --------------------------------------------- deploy: page and function ----


def test_uploaded_config_points_at_function_and_repo_copy_is_untouched(infra: Infra) -> None:
    result = infra.run("deploy.sh", GCLOUD_SHIM_EXISTING="all")
    assert result.returncode == 0, result.stderr
    assert json.loads((infra.bucket / "config.json").read_text()) == PAGE_CONFIG
    assert (infra.bucket / "index.html").exists()
    assert (infra.bucket / "app.js").exists()
    assert (infra.site / "config.json").read_text() == LOCAL_CONFIG
    assert FUNCTION_URL in result.stdout


def test_the_page_gets_the_deployments_emergency_number_from_its_first_paint(infra: Infra) -> None:
    result = infra.run("deploy.sh", GCLOUD_SHIM_EXISTING="all", EMERGENCY_NUMBER="911")
    assert result.returncode == 0, result.stderr
    assert json.loads((infra.bucket / "config.json").read_text())["emergencyNumber"] == "911"


def test_config_and_html_are_uploaded_uncached_to_a_shared_bucket(infra: Infra) -> None:
    infra.run_ok("deploy.sh", "--shared-origin", GCLOUD_SHIM_EXISTING="all", **SHARED_BUCKET)
    (copy,) = infra.called("storage", "cp")
    assert "--cache-control=no-cache" in copy
    assert {Path(arg).name for arg in copy if arg.startswith("/")} == {"index.html", "config.json"}


def test_function_allows_the_page_origin_from_its_first_deploy(infra: Infra, key_file: Path) -> None:
    infra.run_ok("deploy.sh", "--key-file", str(key_file))
    env = infra.function_env()
    assert env["ALLOWED_ORIGINS"] == PAGE_ORIGINS
    commands = [" ".join(call["argv"][:2]) for call in infra.calls()]
    assert commands.index("functions deploy") < commands.index("deploy --only")


def test_function_environment_names_store_secret_and_threads(infra: Infra) -> None:
    infra.run_ok("deploy.sh", GCLOUD_SHIM_EXISTING="all", CONCURRENCY="8")
    env = infra.function_env()
    assert env["CHAT_STORE"] == "firestore"
    assert env["GOOGLE_CLOUD_PROJECT"] == "demo-project"
    assert env["GEMINI_API_KEY_SECRET"] == "projects/demo-project/secrets/gemini-api-key/versions/latest"
    assert env["THREADS"] == "8"
    assert "GEMINI_API_KEY" not in env
    assert all(isinstance(value, str) for value in env.values())
    (deploy,) = infra.called("functions", "deploy")
    assert "--concurrency=8" in deploy
    assert "--cpu=1" in deploy


def test_commas_quotes_and_newlines_survive_the_env_file(infra: Infra) -> None:
    instruction = 'Be calm, brief: say "call 112".\nNever diagnose; \\ no guesses.'
    infra.run_ok(
        "deploy.sh",
        GCLOUD_SHIM_EXISTING="all",
        SYSTEM_INSTRUCTION=instruction,
        PAGE_ORIGIN="https://chat.example.org/",
        EXTRA_ALLOWED_ORIGINS="http://127.0.0.1:8000",
    )
    env = infra.function_env()
    assert env["SYSTEM_INSTRUCTION"] == instruction
    assert env["ALLOWED_ORIGINS"] == "https://chat.example.org,http://127.0.0.1:8000"


def test_page_hosted_elsewhere_is_written_not_uploaded(infra: Infra) -> None:
    work = infra.tmp / "work"
    result = infra.run(
        "deploy.sh",
        GCLOUD_SHIM_EXISTING="all",
        PAGE_HOSTING="none",
        PAGE_ORIGIN="https://demo-project.web.app",
        INFRA_WORK_DIR=str(work),
    )
    assert result.returncode == 0, result.stderr
    assert [argv for argv in infra.argvs() if "storage" in argv] == []
    assert infra.firebase_called("deploy") == []
    assert json.loads((work / "site" / "config.json").read_text()) == PAGE_CONFIG
    assert infra.function_env()["ALLOWED_ORIGINS"] == "https://demo-project.web.app"


def test_public_and_private_are_explicit_deploy_flags(infra: Infra) -> None:
    infra.run_ok("deploy.sh", GCLOUD_SHIM_EXISTING="all", ALLOW_UNAUTHENTICATED="false")
    infra.run_ok("deploy.sh", GCLOUD_SHIM_EXISTING="all", ALLOW_UNAUTHENTICATED="true")
    private, public = infra.called("functions", "deploy")
    assert "--no-allow-unauthenticated" in private
    assert "--allow-unauthenticated" in public


# --------------------------------------------------------- deploy: config ----


def test_environment_overrides_infra_config_which_overrides_defaults(infra: Infra) -> None:
    own = infra.tmp / "my.env"
    own.write_text('REGION="us-central1"\nMEMORY="1Gi"\n')
    result = infra.run("deploy.sh", "--dry-run", INFRA_CONFIG=str(own), MEMORY="2Gi")
    assert result.returncode == 0, result.stderr
    (deploy,) = [line for line in result.stdout.splitlines() if line.startswith("+ gcloud functions deploy")]
    assert "--region=us-central1" in deploy
    assert "--memory=2Gi" in deploy
    assert "--timeout=60s" in deploy


def test_missing_project_id_is_named_in_the_error(infra: Infra) -> None:
    result = infra.run("deploy.sh", "--dry-run", PROJECT_ID="")
    assert result.returncode != 0
    assert "PROJECT_ID is not set" in result.stderr


def test_request_timeout_must_be_below_function_timeout(infra: Infra) -> None:
    result = infra.run("deploy.sh", REQUEST_TIMEOUT_SECONDS="60", TIMEOUT="60s")
    assert result.returncode != 0
    assert "REQUEST_TIMEOUT_SECONDS" in result.stderr
    assert infra.calls() == []


def test_concurrency_above_one_needs_a_whole_cpu(infra: Infra) -> None:
    result = infra.run("deploy.sh", CPU="0.5", CONCURRENCY="16")
    assert result.returncode != 0
    assert "CPU" in result.stderr


def test_dry_run_calls_no_gcloud(infra: Infra) -> None:
    result = infra.run("deploy.sh", "--dry-run", "--key-file", "-", stdin=KEY)
    assert result.returncode == 0, result.stderr
    assert infra.calls() == []
    assert KEY not in result.stdout + result.stderr


def test_dry_run_on_a_fresh_project_shows_hosting_and_a_database_scoped_role(infra: Infra) -> None:
    result = infra.run("deploy.sh", "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "+ firebase projects:addfirebase demo-project --non-interactive" in lines
    assert any(line.startswith("+ firebase deploy --only hosting --config ") for line in lines)
    (datastore,) = [line for line in lines if "--role=roles/datastore.user" in line]
    assert 'resource.name=="projects/demo-project/databases/firstaid-chat"' in datastore
    assert "    Page:      https://demo-project.web.app/" in lines
    assert "storage buckets" not in result.stdout


def test_dry_run_with_vertex_shows_no_secret_and_the_vertex_ai_role(infra: Infra) -> None:
    result = infra.run("deploy.sh", "--dry-run", GEMINI_BACKEND="vertex")
    assert result.returncode == 0, result.stderr
    commands = [line for line in result.stdout.splitlines() if line.startswith("+ ")]
    assert [line for line in commands if "secret" in line] == []
    assert any("--role=roles/aiplatform.user" in line for line in commands)


# --------------------------------------------------------------- teardown ----

DESTRUCTIVE = ("delete", "rm", "bulk-delete", "remove-iam-policy-binding", "hosting:disable")


def destructive_calls(infra: Infra) -> list[list[str]]:
    argvs = infra.argvs() + infra.argvs("firebase")
    return [argv for argv in argvs if any(word in argv for word in DESTRUCTIVE)]


def test_teardown_answered_no_deletes_nothing(infra: Infra) -> None:
    result = infra.run("teardown.sh", stdin="n\n", GCLOUD_SHIM_EXISTING="all")
    assert result.returncode == 0, result.stderr
    assert destructive_calls(infra) == []
    assert "Nothing deleted" in result.stdout


def test_teardown_keeps_data_unless_that_question_is_answered_yes(infra: Infra) -> None:
    result = infra.run("teardown.sh", stdin="y\nn\n", GCLOUD_SHIM_EXISTING="all")
    assert result.returncode == 0, result.stderr
    assert infra.called("functions", "delete", "firstaid-chat")
    assert infra.firebase_called("hosting:disable")
    assert infra.called("iam", "service-accounts", "delete")
    assert infra.called("secrets", "delete", "gemini-api-key")
    assert infra.called("firestore", "databases", "delete") == []


def test_teardown_yes_keeps_data_without_delete_data(infra: Infra) -> None:
    infra.run_ok("teardown.sh", "--yes", GCLOUD_SHIM_EXISTING="all")
    assert infra.called("functions", "delete")
    assert infra.called("firestore", "databases", "delete") == []


def test_teardown_delete_data_deletes_only_the_apps_own_database(infra: Infra) -> None:
    result = infra.run("teardown.sh", "--yes", "--delete-data", GCLOUD_SHIM_EXISTING="all")
    assert result.returncode == 0, result.stderr
    (delete,) = infra.called("firestore", "databases", "delete")
    assert "--database=firstaid-chat" in delete
    assert infra.called("firestore", "bulk-delete") == []


def test_teardown_never_deletes_data_in_the_shared_default_database(infra: Infra) -> None:
    result = infra.run(
        "teardown.sh", "--yes", "--delete-data", GCLOUD_SHIM_EXISTING="all", FIRESTORE_DATABASE="(default)"
    )
    assert result.returncode == 0, result.stderr
    assert infra.called("firestore", "databases", "delete") == []
    assert infra.called("firestore", "bulk-delete") == []
    assert "kept       Firestore database (default)" in result.stdout


def test_teardown_removes_the_database_scoped_binding_it_granted(infra: Infra) -> None:
    infra.run("teardown.sh", "--yes", GCLOUD_SHIM_EXISTING="all")
    (removed,) = [
        argv for argv in infra.called("projects", "remove-iam-policy-binding") if "--role=roles/datastore.user" in argv
    ]
    assert DATABASE_CONDITION in removed


def test_teardown_dry_run_lists_exactly_what_it_removes(infra: Infra) -> None:
    result = infra.run("teardown.sh", "--dry-run", "--yes", "--delete-data", GEMINI_BACKEND="vertex")
    assert result.returncode == 0, result.stderr
    listing = result.stdout.split("\n==>", 1)[0].splitlines()[2:]
    assert [line.split()[0] for line in listing] == ["function", "page", "account", "account", "database"]
    assert "Firebase Hosting site demo-project" in listing[1]
    assert (
        "roles/datastore.user (only database firstaid-chat), roles/logging.logWriter, roles/aiplatform.user"
        in (listing[2])
    )
    assert "Firestore database firstaid-chat" in listing[4]
    assert "secret" not in result.stdout
    assert infra.calls() == []


def test_teardown_skips_what_does_not_exist(infra: Infra) -> None:
    result = infra.run("teardown.sh", "--yes", GCLOUD_SHIM_EXISTING="")
    assert result.returncode == 0, result.stderr
    assert destructive_calls(infra) == []


# ------------------------------------------------------------- rotate-key ----


def test_rotation_adds_a_version_and_can_disable_the_previous(infra: Infra) -> None:
    result = infra.run("rotate-key.sh", "--key-file", "-", "--disable-previous", stdin=KEY, GCLOUD_SHIM_EXISTING="all")
    assert result.returncode == 0, result.stderr
    assert_key_hidden(infra, result.stdout + result.stderr)
    (disable,) = infra.called("secrets", "versions", "disable")
    assert disable[3] == "1"
    assert infra.called("functions", "deploy") == []


def test_rotation_without_secret_points_to_deploy(infra: Infra) -> None:
    result = infra.run("rotate-key.sh", "--key-file", "-", stdin=KEY)
    assert result.returncode != 0
    assert "deploy.sh" in result.stderr
    assert infra.called("secrets", "versions", "add") == []


# ------------------------------------------------------------ real gcloud ----


PRIVATE_WITHOUT_BUILDER = {"ALLOW_UNAUTHENTICATED": "false", "BUILD_SERVICE_ACCOUNT_NAME": ""}
VERTEX = {"GEMINI_BACKEND": "vertex", "GOOGLE_CLOUD_LOCATION": "europe-west1"}


def dry_run_commands(infra: Infra) -> list[list[str]]:
    """Every gcloud command the scripts print in their dry runs, with all variants of flags."""
    work = infra.tmp / "work"
    runs = [
        ("deploy.sh", ["--dry-run"], {}),
        ("deploy.sh", ["--dry-run", "--key-file", "-"], PRIVATE_WITHOUT_BUILDER),
        ("deploy.sh", ["--dry-run"], VERTEX),
        ("deploy.sh", ["--dry-run", "--shared-origin"], SHARED_BUCKET),
        ("teardown.sh", ["--dry-run", "--yes", "--delete-data"], {}),
        ("teardown.sh", ["--dry-run", "--yes", "--delete-data"], {**VERTEX, **SHARED_BUCKET}),
        ("rotate-key.sh", ["--dry-run", "--disable-previous"], {}),
        ("logs.sh", ["--dry-run", "--severity", "WARNING"], {}),
    ]
    commands: list[list[str]] = []
    for script, args, env in runs:
        result = infra.run(script, *args, INFRA_WORK_DIR=str(work), **env)
        assert result.returncode == 0, f"{script} {args}: {result.stderr}"
        for line in result.stdout.splitlines():
            if line.startswith("+ "):
                argv = shlex.split(line[2:])
                assert argv[0] in ("gcloud", "firebase"), line
                if argv not in commands:
                    commands.append(argv)
    return commands


def run_real_gcloud(gcloud: str, argv: list[str], config: Path) -> tuple[list[str], int, str]:
    """Run argv with a fresh, empty gcloud configuration (no account, no project)."""
    config.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CLOUDSDK_", "GOOGLE_", "GCLOUD_")) and key != "BOTO_CONFIG"
    }
    env.update(
        CLOUDSDK_CONFIG=str(config),
        CLOUDSDK_CORE_DISABLE_PROMPTS="1",
        CLOUDSDK_CORE_CHECK_GCE_METADATA="false",
        CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK="1",
        CLOUDSDK_CORE_DISABLE_USAGE_REPORTING="1",
    )
    result = subprocess.run(
        [gcloud, *argv[1:]], stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=90
    )
    return argv, result.returncode, result.stderr


def test_dry_run_commands_are_valid_gcloud_syntax(infra: Infra) -> None:
    gcloud = require_tool("gcloud")
    commands = [argv for argv in dry_run_commands(infra) if argv[0] == "gcloud"]
    assert len(commands) > 25
    configs = [infra.tmp / f"gcloud-config-{number}" for number in range(len(commands))]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda argv, config: run_real_gcloud(gcloud, argv, config), commands, configs))
    problems = [
        f"{shlex.join(argv)}\n  exit {code}: {stderr.strip()[-400:]}"
        for argv, code, stderr in results
        if code == 0 or NOT_LOGGED_IN not in stderr or any(error in stderr.lower() for error in PARSE_ERRORS)
    ]
    assert problems == [], "\n".join(problems)


FIREBASE_NOT_LOGGED_IN = "Failed to authenticate, have you run firebase login?"
FIREBASE_PARSE_ERRORS = ("error: unknown", "error: too many", "error: missing", "argument missing")


def pinned_firebase() -> str:
    """The Firebase CLI pinned in infra/package.json; fails (or skips with SKIP_COMPONENTS=node) when not installed."""
    path = INFRA / "node_modules" / ".bin" / "firebase"
    if not path.exists():
        components.missing("node", "the pinned Firebase CLI is not installed (npm ci --prefix infra)")
    return str(path)


def offline_firebase_env(home: Path) -> dict[str, str]:
    """No account, no update check, no message-of-the-day fetch, no usage reporting (never opted in)."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "CI": "true",
        "NO_UPDATE_NOTIFIER": "1",
        "LANG": "C.UTF-8",
    }


def run_real_firebase(firebase: str, argv: list[str], home: Path) -> tuple[list[str], int, str]:
    result = subprocess.run(
        [firebase, *argv[1:]],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=offline_firebase_env(home),
        cwd=home,
        timeout=90,
    )
    return argv, result.returncode, result.stdout + result.stderr


def test_dry_run_commands_are_valid_firebase_syntax(infra: Infra) -> None:
    firebase = pinned_firebase()
    commands = [argv for argv in dry_run_commands(infra) if argv[0] == "firebase"]
    assert {command_words(argv)[1] for argv in commands} == {
        "projects:list",
        "projects:addfirebase",
        "deploy",
        "hosting:disable",
    }
    homes = [infra.tmp / f"firebase-home-{number}" for number in range(len(commands))]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda argv, home: run_real_firebase(firebase, argv, home), commands, homes))
    problems = [
        f"{shlex.join(argv)}\n  exit {code}: {output.strip()[-400:]}"
        for argv, code, output in results
        if code == 0
        or FIREBASE_NOT_LOGGED_IN not in output
        or any(error in output.lower() for error in FIREBASE_PARSE_ERRORS)
    ]
    assert problems == [], "\n".join(problems)


def test_firebase_rejects_an_unknown_flag_before_asking_for_an_account(tmp_path: Path) -> None:
    """The check above can fail: a wrong flag is reported as such, not as a missing login."""
    _argv, code, output = run_real_firebase(
        pinned_firebase(), ["firebase", "deploy", "--only", "hosting", "--no-such-flag"], tmp_path / "home"
    )
    assert code != 0
    assert "unknown option '--no-such-flag'" in output
    assert FIREBASE_NOT_LOGGED_IN not in output


def files_gcloud_uploads(directory: Path) -> set[str]:
    gcloud = require_tool("gcloud")
    result = subprocess.run(
        [gcloud, "meta", "list-files-for-upload", str(directory)],
        capture_output=True,
        text=True,
        env={**os.environ, "CLOUDSDK_CONFIG": str(directory.parent / "gcloud-config")},
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


LOCAL_ONLY = [
    "tests/test_api.py",
    "test_main.py",
    "conftest.py",
    ".venv/lib/site.py",
    "venv/lib/site.py",
    ".env",
    ".env.local",
    "chat.sqlite3",
    ".data/chat.sqlite3",
    "__pycache__/main.cpython-312.pyc",
    "firstaid_chat/__pycache__/api.cpython-312.pyc",
    ".pytest_cache/v/cache",
    ".mypy_cache/3.12/x.json",
    "static_site/index.html",
]


def test_function_upload_leaves_out_tests_venvs_secrets_and_local_data(tmp_path: Path) -> None:
    source = tmp_path / "functions"
    shipped = ["main.py", "requirements.txt", "firstaid_chat/__init__.py", "firstaid_chat/store/firestore.py"]
    for name in shipped + LOCAL_ONLY:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text("x\n")
    shutil.copy(REPO / "functions" / ".gcloudignore", source / ".gcloudignore")
    assert files_gcloud_uploads(source) == set(shipped)


def test_root_upload_leaves_out_the_same_files(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    for name in ["functions/main.py", *LOCAL_ONLY, "infra/deploy.sh"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x\n")
    shutil.copy(REPO / ".gcloudignore", root / ".gcloudignore")
    assert files_gcloud_uploads(root) == {"functions/main.py"}


# ------------------------------------------------------------- shellcheck ----


def test_scripts_pass_shellcheck() -> None:
    shellcheck = require_tool("shellcheck")
    scripts = sorted(str(path.relative_to(REPO)) for path in INFRA.glob("*.sh"))
    result = subprocess.run([shellcheck, "-x", *scripts], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", ["deploy.sh", "teardown.sh", "rotate-key.sh", "logs.sh"])
def test_scripts_are_executable_and_stop_on_errors(script: str) -> None:
    path = INFRA / script
    assert os.access(path, os.X_OK)
    assert "set -euo pipefail" in path.read_text()


# ------------------------------------------------------ deploy: App Check ----


def _needs_node_modules() -> None:
    if not (REPO / "node_modules" / ".bin" / "esbuild").exists():
        components.missing("node", "node_modules is not installed (npm ci)")


APP_CHECK_ENV = {
    "GCLOUD_SHIM_EXISTING": "all",
    "PAGE_HOSTING": "none",
    "PAGE_ORIGIN": "https://demo-project.web.app",
    "AUTH_MODE": "app_check",
    "FIREBASE_PROJECT_NUMBER": "123456789",
    "APP_CHECK_SITE_KEY": "6LcTestSiteKeyForAppCheckOnThePage0000",
    "FIREBASE_WEB_API_KEY": "AIzaTestWebApiKeyNotASecret",
    "FIREBASE_WEB_APP_ID": "1:123456789:web:abc123",
}


def test_app_check_site_key_bundles_the_sdk_into_the_page(infra: Infra) -> None:
    _needs_node_modules()
    work = infra.tmp / "work"
    result = infra.run(
        "deploy.sh", INFRA_WORK_DIR=str(work), SITE_SOURCE_DIR=str(REPO / "static_site"), **APP_CHECK_ENV
    )
    assert result.returncode == 0, result.stderr
    site = work / "site"
    config = json.loads((site / "config.json").read_text())
    assert config["apiBaseUrl"] == FUNCTION_URL
    assert config["appCheck"] == {
        "siteKey": APP_CHECK_ENV["APP_CHECK_SITE_KEY"],
        "firebase": {
            "apiKey": "AIzaTestWebApiKeyNotASecret",
            "appId": "1:123456789:web:abc123",
            "projectId": "demo-project",
        },
    }
    bundle = (site / "vendor" / "firebase-app-check.js").read_text()
    assert "exchangeRecaptchaEnterpriseToken" in bundle
    csp = (site / "index.html").read_text()
    assert "script-src 'self' https://www.google.com/recaptcha/ https://www.gstatic.com/recaptcha/;" in csp
    assert "frame-src https://www.google.com/recaptcha/" in csp
    assert "recaptcha" not in (REPO / "static_site" / "index.html").read_text(), "the repository's page is unchanged"


def test_app_check_without_the_web_app_id_stops_the_deploy_with_a_reason(infra: Infra) -> None:
    _needs_node_modules()
    work = infra.tmp / "work"
    env = {**APP_CHECK_ENV, "FIREBASE_WEB_APP_ID": ""}
    result = infra.run("deploy.sh", INFRA_WORK_DIR=str(work), SITE_SOURCE_DIR=str(REPO / "static_site"), **env)
    assert result.returncode != 0
    assert "appId" in result.stderr and "npm ci" in result.stderr
