"""Cloud Functions entry point: the HTTP target ``chat``.

Settings are read and validated at import, so a misconfigured deployment fails
at start with a message naming the variable to fix; clients (Firestore,
Gemini, Secret Manager) are built on the first request and reused.
"""

from __future__ import annotations

import flask
import functions_framework
from firstaid_chat import logs, runtime
from firstaid_chat.settings import Settings
from werkzeug.exceptions import HTTPException

settings = Settings.from_env()
logs.configure(settings.log_level)


@functions_framework.http
def chat(request: flask.Request) -> flask.Response:
    return runtime.get_api(settings)(request)


@functions_framework.errorhandler(HTTPException)
def framework_error(exc: HTTPException) -> flask.Response:
    return runtime.get_api(settings).framework_error(flask.request, exc)
