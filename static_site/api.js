// HTTP client for the chat function: JSON requests, the streamed chat reply
// (server-sent events read from fetch, since EventSource cannot POST), and
// one error type that says what kind of failure happened.

export const CLIENT_TIMEOUT_MS = 60_000;

// App Check headers (appcheck.js), loaded as the page starts; a page that cannot load the
// module (offline, say) still works, and sends none.
const appCheck = import("./appcheck.js").then(
  (module) => module.appCheckHeaders,
  () => async () => ({}),
);

/**
 * A failed request. `kind` is one of:
 *   "http"     the server answered with an error status (see status, code)
 *   "stream"   the reply broke off with an `error` event (see status, code)
 *   "network"  the server could not be reached, or the connection dropped
 *   "timeout"  nothing arrived for CLIENT_TIMEOUT_MS
 *   "aborted"  the caller stopped the request
 *   "protocol" the answer was not what the API promises
 */
export class ApiError extends Error {
  constructor(kind, message, { status = 0, code = "", retryAfter = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.kind = kind;
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date), or null. */
export function parseRetryAfter(value, now = Date.now()) {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * Splits a server-sent event stream into events. Feed it decoded text as it
 * arrives; it returns the events completed so far ({event, data}).
 */
export class SseParser {
  constructor() {
    this.buffer = "";
  }

  push(text) {
    this.buffer += text;
    const events = [];
    let match;
    const boundary = /\r\n\r\n|\n\n|\r\r/;
    while ((match = boundary.exec(this.buffer)) !== null) {
      const block = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = parseBlock(block);
      if (event) events.push(event);
    }
    return events;
  }
}

function parseBlock(block) {
  let name = "message";
  const data = [];
  for (const line of block.split(/\r\n|\n|\r/)) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return null;
  return { event: name, data: data.join("\n") };
}

export class ChatApi {
  constructor(baseUrl, { timeoutMs = CLIENT_TIMEOUT_MS } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.timeoutMs = timeoutMs;
  }

  /**
   * Sends one message and streams the reply. Calls onDelta(text) for each
   * piece as it arrives and resolves with the final `done` payload.
   */
  async sendMessage({ message, sessionId, clientMessageId, onDelta = () => {}, onSession = () => {}, signal }) {
    const body = { message, client_message_id: clientMessageId };
    if (sessionId) body.session_id = sessionId;
    return this.#request("/v1/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(body),
      signal,
      read: (response, watchdog) => {
        // The id arrives before the first word, so Stop or a lost stream cannot orphan a new conversation.
        const announced = response.headers.get("X-Session-Id");
        if (announced) onSession(announced);
        return readChatAnswer(response, onDelta, watchdog);
      },
    });
  }

  /** The stored conversation: {session_id, messages: [...]}. */
  // The id travels in a header, not the URL, so it stays out of the platform's request logs.
  async getSession(sessionId, { signal } = {}) {
    return this.#request("/v1/session", {
      method: "GET",
      headers: { Accept: "application/json", "X-Session-Id": sessionId },
      signal,
      read: (response) => readJson(response),
    });
  }

  async deleteSession(sessionId, { signal } = {}) {
    return this.#request("/v1/session", {
      method: "DELETE",
      headers: { Accept: "application/json", "X-Session-Id": sessionId },
      signal,
      read: async () => null,
    });
  }

  // One request with a client-side inactivity timeout and errors turned into ApiError.
  async #request(path, { method, headers, body, signal, read }) {
    const controller = new AbortController();
    let timedOut = false;
    let timer = 0;
    const watchdog = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, this.timeoutMs);
    };
    const onAbort = () => controller.abort();
    if (signal) {
      if (signal.aborted) controller.abort();
      else signal.addEventListener("abort", onAbort, { once: true });
    }
    watchdog();
    try {
      const response = await fetch(this.baseUrl + path, {
        method,
        headers: { ...headers, ...(await (await appCheck)()) },
        body,
        signal: controller.signal,
        mode: "cors",
        credentials: "omit",
        cache: "no-store",
        referrerPolicy: "no-referrer",
      });
      watchdog();
      if (!response.ok) throw await errorFrom(response);
      return await read(response, watchdog);
    } catch (error) {
      if (error instanceof ApiError) throw error;
      if (timedOut) throw new ApiError("timeout", "No answer arrived in time.");
      if (controller.signal.aborted) throw new ApiError("aborted", "Stopped.");
      // fetch() and stream reads reject with TypeError when the connection fails.
      throw new ApiError("network", "The connection to the assistant failed.");
    } finally {
      clearTimeout(timer);
      if (signal) signal.removeEventListener("abort", onAbort);
    }
  }
}

async function readJson(response) {
  try {
    return await response.json();
  } catch (error) {
    if (error instanceof SyntaxError) throw new ApiError("protocol", "The server sent an unreadable answer.");
    throw error;
  }
}

async function errorFrom(response) {
  let code = "";
  let message = "";
  try {
    const body = await response.json();
    if (body && typeof body.error === "object" && body.error !== null) {
      code = typeof body.error.code === "string" ? body.error.code : "";
      message = typeof body.error.message === "string" ? body.error.message : "";
    }
  } catch {
    // Not JSON (a proxy's error page, say): the status alone has to do.
  }
  return new ApiError("http", message || `The server answered ${response.status}.`, {
    status: response.status,
    code,
    retryAfter: parseRetryAfter(response.headers.get("Retry-After")),
  });
}

async function readChatAnswer(response, onDelta, watchdog) {
  const type = response.headers.get("Content-Type") || "";
  if (!type.startsWith("text/event-stream")) {
    // A server may answer with the plain JSON form; it is the same object as `done`.
    const done = await readJson(response);
    checkDone(done);
    return done;
  }
  if (!response.body) throw new ApiError("protocol", "The reply could not be read.");
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      watchdog();
      const text = done ? decoder.decode() + "\n\n" : decoder.decode(value, { stream: true });
      for (const event of parser.push(text)) {
        const result = handleEvent(event, onDelta);
        // `done` is the last event: the server ends the stream right after it, so let it finish.
        if (result) return result;
      }
      if (done) throw new ApiError("network", "The reply broke off before it finished.");
    }
  } catch (error) {
    reader.cancel().catch(() => {});
    throw error;
  }
}

function handleEvent({ event, data }, onDelta) {
  let payload;
  try {
    payload = JSON.parse(data);
  } catch {
    throw new ApiError("protocol", "The server sent an unreadable event.");
  }
  if (event === "delta") {
    if (payload && typeof payload.text === "string" && payload.text) onDelta(payload.text);
    return null;
  }
  if (event === "done") {
    checkDone(payload);
    return payload;
  }
  if (event === "error") {
    const error = (payload && payload.error) || {};
    throw new ApiError("stream", typeof error.message === "string" ? error.message : "The reply failed.", {
      status: Number(payload && payload.status) || 500,
      code: typeof error.code === "string" ? error.code : "",
      retryAfter: Number(payload && payload.retry_after) || undefined,
    });
  }
  return null; // unknown events are ignored, as the SSE format intends
}

function checkDone(payload) {
  if (!payload || typeof payload.reply !== "string" || typeof payload.session_id !== "string") {
    throw new ApiError("protocol", "The server's answer was incomplete.");
  }
}
