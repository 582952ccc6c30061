"""A stand-in for the gcloud and firebase CLIs that records what infra/*.sh ask of them.

tests/test_infra.py puts a `gcloud` wrapper that runs this file first on PATH,
and points FIREBASE_BIN at a `firebase` wrapper that runs it with
GCLOUD_SHIM_TOOL=firebase. Every call appends one JSON line to
$GCLOUD_SHIM_LOG: the tool, the arguments, plus the contents of an
--env-vars-file, of a firebase --config file, and of standard input for
--data-file=-, read while the call happens (the deploy deletes its temporary
files afterwards).

Answers, driven by the environment:
  GCLOUD_SHIM_EXISTING  comma-separated resource kinds that already exist
                        (firestore, ttl, secret, secret-version,
                        service-account, bucket, function, firebase) or "all".
  GCLOUD_SHIM_DENIED    kinds whose describe fails with PERMISSION_DENIED.
  GCLOUD_SHIM_URL       what `functions describe --format=value(serviceConfig.uri)`
                        prints.
  GCLOUD_SHIM_BUCKET_DIR  where `storage rsync`, `storage cp` and `firebase
                        deploy` copy files to, so tests can read what was
                        uploaded.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

DESCRIBE_KINDS = {
    ("firestore", "databases", "describe"): "firestore",
    ("secrets", "describe"): "secret",
    ("iam", "service-accounts", "describe"): "service-account",
    ("storage", "buckets", "describe"): "bucket",
    ("functions", "describe"): "function",
}


def starts_with(argv: list[str], *words: str) -> bool:
    """Whether the command (its arguments that are not flags) begins with words."""
    plain = [arg for arg in argv if not arg.startswith("-")]
    return tuple(plain[: len(words)]) == words


def flag_value(argv: list[str], name: str) -> str | None:
    prefix = f"--{name}="
    for arg in argv:
        if arg.startswith(prefix):
            return arg[len(prefix) :]
    return None


def record(tool: str, argv: list[str]) -> None:
    entry: dict[str, object] = {"tool": tool, "argv": argv}
    env_file = flag_value(argv, "env-vars-file")
    if env_file is not None:
        entry["env_vars_file"] = Path(env_file).read_text(encoding="utf-8")
    if tool == "firebase" and "--config" in argv:
        entry["firebase_config"] = Path(argv[argv.index("--config") + 1]).read_text(encoding="utf-8")
    if flag_value(argv, "data-file") == "-":
        entry["stdin"] = sys.stdin.read()
    with open(os.environ["GCLOUD_SHIM_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")


def upload(argv: list[str]) -> None:
    """Copy local files as `storage rsync` / `storage cp` would upload them."""
    bucket_dir = Path(os.environ["GCLOUD_SHIM_BUCKET_DIR"])
    bucket_dir.mkdir(parents=True, exist_ok=True)
    paths = [arg for arg in argv[2:] if not arg.startswith("-") and not arg.startswith("gs://")]
    for path in map(Path, paths):
        if path.is_dir():
            shutil.copytree(path, bucket_dir, dirs_exist_ok=True)
        else:
            shutil.copy(path, bucket_dir / path.name)


def firebase(argv: list[str], exists: bool) -> int:
    """Answer the firebase commands the deploy uses; `deploy` uploads the config's public directory."""
    if starts_with(argv, "projects:list"):
        projects = [{"projectId": "demo-project", "displayName": "demo"}] if exists else []
        print(json.dumps({"status": "success", "result": projects}, indent=2))
    elif starts_with(argv, "deploy"):
        config_path = Path(argv[argv.index("--config") + 1])
        public = config_path.parent / json.loads(config_path.read_text())["hosting"]["public"]
        bucket_dir = Path(os.environ["GCLOUD_SHIM_BUCKET_DIR"])
        shutil.copytree(public, bucket_dir, dirs_exist_ok=True)
    return 0


def main(argv: list[str]) -> int:
    tool = os.environ.get("GCLOUD_SHIM_TOOL", "gcloud")
    record(tool, argv)
    existing = set(os.environ.get("GCLOUD_SHIM_EXISTING", "").split(","))
    denied = set(os.environ.get("GCLOUD_SHIM_DENIED", "").split(","))

    def exists(kind: str) -> bool:
        return "all" in existing or kind in existing

    if tool == "firebase":
        return firebase(argv, exists("firebase"))

    if starts_with(argv, "functions", "describe") and flag_value(argv, "format"):
        print(os.environ.get("GCLOUD_SHIM_URL", "https://shim.example/fn"))
        return 0
    for words, kind in DESCRIBE_KINDS.items():
        if not starts_with(argv, *words):
            continue
        if kind in denied:
            print(f"ERROR: (gcloud.shim) PERMISSION_DENIED: may not read {kind}", file=sys.stderr)
            return 1
        if exists(kind):
            print(f"name: {kind}")
            return 0
        print(f"ERROR: (gcloud.shim) NOT_FOUND: {kind} not found", file=sys.stderr)
        return 1
    if starts_with(argv, "secrets", "versions", "list"):
        if exists("secret-version"):
            print("1")
    elif starts_with(argv, "firestore", "fields", "ttls", "list"):
        if exists("ttl"):
            for group in ("sessions", "turns", "ratelimits", "token_budget", "token_shards", "client_turns"):
                name = f"projects/p/databases/(default)/collectionGroups/{group}/fields/expires_at"
                print(f"{name}\tACTIVE")
    elif starts_with(argv, "storage", "rsync") or starts_with(argv, "storage", "cp"):
        upload(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
