// The chat page: sends messages, shows replies as they stream in, keeps the
// conversation across reloads, and explains every failure with a way to retry.

import { ApiError, ChatApi } from "./api.js";
import {
  appendDivider,
  appendUserMessage,
  createReplyBubble,
  parseTime,
  scrollToBottom,
  validNumber,
} from "./messages.js";

const STORAGE_SESSION = "firstaid.sessionId";
const STORAGE_NUMBER = "firstaid.emergencyNumber";
const DEFAULT_EMERGENCY_NUMBER = "112";

// localStorage can be missing or throw (private modes, disabled storage): the chat still works.
function storageApi() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

const storage = {
  get(key) {
    try {
      return storageApi()?.getItem(key) ?? null;
    } catch {
      return null;
    }
  },
  set(key, value) {
    try {
      storageApi()?.setItem(key, value);
    } catch {
      // not kept across reloads, which is all that is lost
    }
  },
  remove(key) {
    try {
      storageApi()?.removeItem(key);
    } catch {
      // as above
    }
  },
};

const $ = (id) => document.getElementById(id);
const ui = {
  main: $("main"),
  welcome: $("welcome"),
  messages: $("messages"),
  notice: $("session-notice"),
  form: $("composer"),
  input: $("message"),
  send: $("send"),
  stop: $("stop"),
  newChat: $("new-chat"),
  deleteChat: $("delete-chat"),
  error: $("error"),
  errorText: $("error-text"),
  errorHint: $("error-hint"),
  retry: $("retry"),
  dismiss: $("dismiss-error"),
  announcer: $("announcer"),
  dialog: $("confirm-delete"),
  disclaimerNumber: $("disclaimer-number"),
};

const state = {
  api: null,
  sessionId: storage.get(STORAGE_SESSION),
  emergencyNumber: validNumber(storage.get(STORAGE_NUMBER)) || DEFAULT_EMERGENCY_NUMBER,
  inFlight: null, // {controller, stoppedByUser} while a request runs
  failedSend: null, // {text, clientMessageId}: retrying reuses the id, so a retry never doubles a turn
  retryAction: null,
  countdown: 0,
};

// ---- start ------------------------------------------------------------------

start();

async function start() {
  showEmergencyNumber(state.emergencyNumber);
  wireEvents();
  let config;
  try {
    config = await loadConfig();
  } catch {
    setBusy(true);
    ui.send.disabled = true;
    showError(
      { text: "The page could not load its settings.", hint: `Reload to try again. ${callNow()}`, retryable: true },
      () => location.reload(),
    );
    return;
  }
  state.api = new ChatApi(config.apiBaseUrl);
  if (state.sessionId) await loadHistory();
  else updateEmptyState();
  document.documentElement.dataset.ready = "true";
}

async function loadConfig() {
  const response = await fetch("config.json", { cache: "no-store", credentials: "same-origin" });
  if (!response.ok) throw new Error(`config.json: ${response.status}`);
  const config = await response.json();
  const url = new URL(String(config.apiBaseUrl || ""));
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("apiBaseUrl must be http(s)");
  return { apiBaseUrl: url.href };
}

function wireEvents() {
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitInput();
  });
  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.altKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      submitInput();
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.inFlight && !ui.dialog.open) stopReply();
  });
  ui.stop.addEventListener("click", stopReply);
  ui.retry.addEventListener("click", () => {
    const action = state.retryAction;
    if (action) {
      hideError();
      action();
    }
  });
  ui.dismiss.addEventListener("click", () => {
    hideError();
    ui.input.focus();
  });
  ui.newChat.addEventListener("click", () => {
    startNewChat();
    announce("New chat started.");
  });
  ui.deleteChat.addEventListener("click", () => ui.dialog.showModal());
  ui.dialog.addEventListener("close", () => {
    if (ui.dialog.returnValue === "delete") deleteConversation();
    else ui.deleteChat.focus();
    ui.dialog.returnValue = "";
  });
  for (const button of document.querySelectorAll(".example")) {
    button.addEventListener("click", () => {
      if (!state.inFlight && state.api) sendMessage(button.textContent.trim());
    });
  }
  window.addEventListener("online", () => {
    if (!ui.error.hidden && ui.error.dataset.kind === "network") {
      ui.errorHint.textContent = "You are back online. Retry to send your message.";
    }
  });
}

// ---- sending ----------------------------------------------------------------

function submitInput() {
  if (state.inFlight || !state.api) return;
  const text = ui.input.value.trim();
  if (!text) {
    ui.input.focus();
    return;
  }
  const failed = state.failedSend;
  const clientMessageId = failed && failed.text === text ? failed.clientMessageId : newMessageId();
  sendMessage(text, clientMessageId);
}

async function sendMessage(text, clientMessageId = newMessageId(), { recovering = false } = {}) {
  hideError();
  hideNotice();
  state.failedSend = null;
  ui.input.value = "";
  const userItem = appendUserMessage(ui.messages, text, new Date());
  const reply = createReplyBubble(ui.messages);
  updateEmptyState();
  scrollToBottom(true);
  const controller = new AbortController();
  const flight = { controller, stoppedByUser: false, newSession: !state.sessionId };
  state.inFlight = flight;
  setBusy(true);
  try {
    const done = await state.api.sendMessage({
      message: text,
      sessionId: state.sessionId,
      clientMessageId,
      signal: controller.signal,
      onDelta: (piece) => reply.append(piece),
      onSession: (id) => {
        if (state.inFlight === flight && !state.sessionId) rememberSession(id);
      },
    });
    rememberSession(done.session_id);
    if (validNumber(done.emergency_number)) showEmergencyNumber(done.emergency_number);
    reply.finish(done, { fallbackNumber: state.emergencyNumber });
    announceReply(done, reply.plainText());
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (state.inFlight !== flight) return; // superseded by "New chat"
    if (error.kind === "aborted" && flight.stoppedByUser) {
      reply.markStopped();
      announce("Stopped. The reply so far is kept.");
    } else if (!recovering && state.sessionId && isLostSession(error)) {
      // The stored conversation expired (or was erased elsewhere): carry on in a new one.
      userItem.remove();
      reply.remove();
      forgetSession();
      appendDivider(ui.messages, "Your earlier conversation has expired, so a new one was started.");
      announce("Your earlier conversation has expired, so a new one was started.");
      state.inFlight = null;
      return sendMessage(text, clientMessageId, { recovering: true });
    } else {
      // A reply that failed on the server was not stored: a conversation it was starting does not exist.
      if (flight.newSession && error.kind === "stream") forgetSession();
      userItem.remove();
      reply.remove();
      state.failedSend = { text, clientMessageId };
      if (!ui.input.value) ui.input.value = text; // the typed text is never lost
      showError(describeError(error), () => retrySend());
    }
  } finally {
    if (state.inFlight === flight) {
      state.inFlight = null;
      setBusy(false);
      updateEmptyState();
      if (!ui.dialog.open && ui.error.hidden) ui.input.focus();
    }
  }
}

function retrySend() {
  const failed = state.failedSend;
  if (!failed || state.inFlight) return;
  if (ui.input.value.trim() === failed.text) ui.input.value = "";
  sendMessage(failed.text, failed.clientMessageId);
}

function stopReply() {
  if (!state.inFlight) return;
  state.inFlight.stoppedByUser = true;
  state.inFlight.controller.abort();
}

function isLostSession(error) {
  return (
    (error.status === 404 && error.code === "session_not_found") ||
    (error.status === 400 && error.code === "invalid_session_id")
  );
}

function setBusy(busy) {
  ui.input.disabled = busy;
  ui.send.disabled = busy;
  ui.send.hidden = busy && Boolean(state.inFlight);
  ui.stop.hidden = !(busy && state.inFlight);
  ui.main.setAttribute("aria-busy", String(busy));
  for (const button of document.querySelectorAll(".example")) button.disabled = busy;
  if (busy && state.inFlight && (document.activeElement === ui.input || document.activeElement === document.body)) {
    ui.stop.focus(); // keep keyboard focus somewhere useful while the box is disabled
  }
  updateActions();
}

// ---- conversation state -------------------------------------------------------

async function loadHistory() {
  const sessionId = state.sessionId;
  showNotice("Loading your conversation…");
  setBusy(true);
  try {
    const transcript = await state.api.getSession(sessionId);
    if (state.sessionId !== sessionId) return; // a new chat was started meanwhile
    if (validNumber(transcript.emergency_number)) showEmergencyNumber(transcript.emergency_number);
    hideNotice();
    ui.messages.replaceChildren();
    for (const message of transcript.messages || []) {
      if (message.role === "user") {
        appendUserMessage(ui.messages, message.text, parseTime(message.time));
      } else if (message.role === "model") {
        const stored = { ...message, reply: message.text, created_at: message.time };
        createReplyBubble(ui.messages).finish(stored, { fallbackNumber: state.emergencyNumber });
      }
    }
    scrollToBottom(true);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (state.sessionId !== sessionId) return;
    if (error.status === 404 || (error.status === 400 && error.code === "invalid_session_id")) {
      forgetSession();
      showNotice("Your earlier conversation has expired. You can start a new one below.");
    } else {
      hideNotice();
      showError({ ...describeError(error), text: "Your conversation could not be loaded." }, () => loadHistory());
    }
  } finally {
    setBusy(false);
    updateEmptyState();
  }
}

function startNewChat() {
  if (state.inFlight) {
    state.inFlight.stoppedByUser = true;
    state.inFlight.controller.abort();
    state.inFlight = null;
    setBusy(false);
  }
  forgetSession();
  state.failedSend = null;
  hideError();
  hideNotice();
  ui.messages.replaceChildren();
  ui.input.value = "";
  updateEmptyState();
  ui.input.focus();
}

async function deleteConversation() {
  const sessionId = state.sessionId;
  if (!sessionId) return;
  hideError();
  ui.deleteChat.disabled = true;
  try {
    await state.api.deleteSession(sessionId);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.status !== 404) {
      updateActions();
      showError({ ...describeError(error), text: "The conversation could not be deleted." }, () => deleteConversation());
      return;
    }
  }
  startNewChat();
  showNotice("The conversation was deleted.");
  announce("The conversation was deleted.");
}

function rememberSession(sessionId) {
  state.sessionId = sessionId;
  storage.set(STORAGE_SESSION, sessionId);
  updateActions();
}

function forgetSession() {
  state.sessionId = null;
  storage.remove(STORAGE_SESSION);
  updateActions();
}

function updateActions() {
  ui.deleteChat.disabled = !state.sessionId || Boolean(state.inFlight);
}

function updateEmptyState() {
  const empty = ui.messages.children.length === 0;
  ui.welcome.hidden = !empty;
  ui.messages.hidden = empty;
}

// ---- errors and notices -----------------------------------------------------------

/** What to tell the person about a failure: {text, hint, retryable, retryAfter, kind}. */
function describeError(error) {
  const call = callNow();
  const kind = error.kind === "http" || error.kind === "stream" ? "server" : error.kind;
  if (error.kind === "network") {
    const offline = navigator.onLine === false;
    return {
      kind: "network",
      text: offline ? "You are offline." : "The connection to the assistant was lost.",
      hint: offline
        ? `Check your internet connection, then retry. ${call}`
        : `Check your internet connection and retry. ${call}`,
      retryable: true,
    };
  }
  if (error.kind === "timeout") {
    return { kind, text: "The assistant is taking too long to answer.", hint: `Please retry. ${call}`, retryable: true };
  }
  if (error.kind === "protocol") {
    return { kind, text: "The reply could not be read.", hint: `Please retry. ${call}`, retryable: true };
  }
  const status = error.status;
  if (status === 429) {
    const busy = error.code === "model_busy";
    return {
      kind,
      text: busy ? "The assistant is busy right now." : "You are sending messages too quickly.",
      hint: call,
      retryable: true,
      retryAfter: error.retryAfter ?? 10,
    };
  }
  if (status === 504) {
    return { kind, text: "The assistant took too long to answer.", hint: `Please retry. ${call}`, retryable: true };
  }
  if (status === 503 || status === 502 || status >= 500) {
    return {
      kind,
      text: "The assistant is temporarily unavailable.",
      hint: `Please retry in a moment. ${call}`,
      retryable: true,
    };
  }
  // Input the server refused (too long, malformed): its message says what to change.
  return { kind, text: error.message, hint: call, retryable: false };
}

function showError(info, retryAction) {
  clearInterval(state.countdown);
  state.retryAction = info.retryable ? retryAction : null;
  ui.error.dataset.kind = info.kind || "";
  ui.errorText.textContent = info.text;
  ui.retry.hidden = !info.retryable;
  ui.error.hidden = false;
  if (info.retryAfter) {
    let left = Math.max(1, Math.round(info.retryAfter));
    const tick = () => {
      ui.errorHint.textContent =
        left > 0 ? `Please wait ${left} ${left === 1 ? "second" : "seconds"} before retrying. ${info.hint}` : `You can retry now. ${info.hint}`;
      ui.error.dataset.wait = String(Math.max(0, left));
      if (left <= 0) clearInterval(state.countdown);
      left -= 1;
    };
    tick();
    state.countdown = setInterval(tick, 1000);
  } else {
    delete ui.error.dataset.wait;
    ui.errorHint.textContent = info.hint;
  }
  scrollToBottom(true);
  (info.retryable ? ui.retry : ui.input).focus();
}

function hideError() {
  clearInterval(state.countdown);
  ui.error.hidden = true;
  state.retryAction = null;
}

function showNotice(text) {
  ui.notice.textContent = text;
  ui.notice.hidden = false;
}

function hideNotice() {
  ui.notice.hidden = true;
  ui.notice.textContent = "";
}

function announce(text) {
  ui.announcer.textContent = "";
  // A fresh text node after a tick makes screen readers read repeated messages too.
  setTimeout(() => {
    ui.announcer.textContent = text;
  }, 50);
}

function announceReply(done, text) {
  const prefix = done.emergency ? `Emergency: call ${done.emergency_number || state.emergencyNumber} now. ` : "";
  announce(`${prefix}Assistant: ${text}`);
}

function showEmergencyNumber(number) {
  state.emergencyNumber = number;
  storage.set(STORAGE_NUMBER, number);
  ui.disclaimerNumber.textContent = number;
  ui.disclaimerNumber.href = `tel:${number.replace(/\s/g, "")}`;
}

function callNow() {
  return `If someone is in danger, call ${state.emergencyNumber} now.`;
}

// ---- small helpers ------------------------------------------------------------------

function newMessageId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // randomUUID needs a secure context; getRandomValues does not.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
