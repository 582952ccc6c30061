// Stream a first-aid chat reply with fetch and eventsource-parser (npm install eventsource-parser).
//
//   node stream-chat.mjs http://127.0.0.1:8080 "How do I treat a burn?"
//
// streamChat() sends one message with `Accept: text/event-stream` and handles everything the API can
// answer (openapi.yaml): the X-Session-Id header before the first word, `delta` events, one `done` or
// one `error` event, and an error status with a JSON body (and Retry-After on 429) when the turn fails
// before the stream begins. Retry a failed message with the same clientMessageId: the server never
// stores it twice. EventSource cannot POST, hence fetch.

import { pathToFileURL } from "node:url";
import { createParser } from "eventsource-parser";

/** The turn failed: status is the HTTP status (0 if the stream was cut off), code the API's error
 * code, retryAfter the seconds to wait before retrying when the server said so (else null). */
export class ChatFailed extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.name = "ChatFailed";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/**
 * Sends `message` and streams the reply; resolves with the `done` payload (the API's ChatReply).
 * onSession(id) gets the conversation's id before the first word (if the connection is lost, the
 * reply is still stored under it); onDelta(text) gets each piece of the reply as it arrives.
 * Rejects with ChatFailed.
 */
export async function streamChat(baseUrl, { message, sessionId = null, clientMessageId = null,
                                            onSession = () => {}, onDelta = () => {}, signal } = {}) {
  const response = await fetch(`${baseUrl.replace(/\/+$/, "")}/v1/chat`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify({ message, session_id: sessionId, client_message_id: clientMessageId }),
    signal,
  });
  const type = response.headers.get("Content-Type") || "";
  if (!response.ok || !type.startsWith("text/event-stream")) throw await failureFrom(response);
  onSession(response.headers.get("X-Session-Id"));

  let outcome = null; // { done } or { failed }
  const parser = createParser({
    onEvent({ event, data }) {
      if (outcome) return;
      const payload = JSON.parse(data);
      if (event === "delta") onDelta(payload.text);
      else if (event === "done") outcome = { done: payload };
      else if (event === "error") {
        const { code, message: text } = payload.error;
        outcome = { failed: new ChatFailed(payload.status, code, text, payload.retry_after ?? null) };
      }
      // Any other event name is one this client does not know yet: ignore it.
    },
  });
  const decoder = new TextDecoder();
  for await (const chunk of response.body) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    if (outcome) break; // `done` and `error` are the last events
  }
  if (outcome?.done) return outcome.done;
  throw outcome?.failed ??
    new ChatFailed(0, "stream_cut", "The reply broke off before it finished; retry with the same clientMessageId.");
}

async function failureFrom(response) {
  let code = "http_error";
  let message = `The server answered ${response.status}.`;
  try {
    const { error } = await response.json();
    if (typeof error?.code === "string") ({ code, message } = error);
  } catch {
    // Not the API's JSON (a proxy's error page, say): the status alone has to do.
  }
  const retryAfter = response.headers.get("Retry-After");
  return new ChatFailed(response.status, code, message, /^\d+$/.test(retryAfter ?? "") ? Number(retryAfter) : null);
}

// Run directly: send one message, print the reply as it streams, retry once when the server says when.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [baseUrl, message] = process.argv.slice(2);
  const clientMessageId = crypto.randomUUID(); // the same id on the retry: never stored twice
  for (let attempt = 1; ; attempt += 1) {
    try {
      const reply = await streamChat(baseUrl, { message, clientMessageId, onDelta: (t) => process.stdout.write(t) });
      console.log(`\n[session ${reply.session_id.slice(0, 6)}…, turn ${reply.turn}, source ${reply.source}]`);
      break;
    } catch (error) {
      if (!(error instanceof ChatFailed)) throw error;
      if (attempt === 1 && error.retryAfter !== null && error.retryAfter <= 30) {
        console.error(`\n[${error.code}: retrying in ${error.retryAfter} s]`);
        await new Promise((resolve) => setTimeout(resolve, error.retryAfter * 1000));
        continue;
      }
      console.error(`\n[${error.status} ${error.code}] ${error.message}`);
      process.exitCode = 1;
      break;
    }
  }
}
