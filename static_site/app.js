// The chat page: sends messages, shows replies as they stream in, keeps the
// conversation across reloads, and explains every failure with a way to retry.
// With no network, or when the API cannot be reached, it opens the offline
// first-aid guide (cached by the service worker, sw.js).

import { ApiError, ChatApi } from "./api.js";
import { Guide } from "./guide.js";
import { chooseLanguage, currentLanguage, setLanguage, t } from "./i18n.js";
import {
  appendDivider,
  appendUserMessage,
  configureMessages,
  createReplyBubble,
  parseTime,
  scrollToBottom,
  showReplyTop,
  validNumber,
} from "./messages.js";
import { Rhythm } from "./rhythm.js";
import { createListener, createSpeaker, textLanguage } from "./speech.js";

const STORAGE_SESSION = "firstaid.sessionId";
const STORAGE_NUMBER = "firstaid.emergencyNumber";
const STORAGE_LANGUAGE = "firstaid.language";
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
  welcomeCall: $("welcome-call"),
  welcomeCallLabel: $("welcome-call-label"),
  language: $("language"),
  voice: $("voice"),
};

const state = {
  api: null,
  sessionId: storage.get(STORAGE_SESSION),
  // Whether the conversation came from an earlier visit (only such a one can have expired).
  sessionRestored: Boolean(storage.get(STORAGE_SESSION)),
  emergencyNumber: validNumber(storage.get(STORAGE_NUMBER)) || DEFAULT_EMERGENCY_NUMBER,
  inFlight: null, // {controller, stoppedByUser} while a request runs
  failedSend: null, // {text, clientMessageId}: retrying reuses the id, so a retry never doubles a turn
  retryAction: null,
  countdown: 0,
  otherNumbers: [], // crisis and poison lines from config.json: tel: links may call them
  historyPending: false, // the stored conversation could not be loaded yet (no network)
  spokenTurn: false, // the message was spoken: read its reply aloud too
};

const speaker = createSpeaker((reading) => t(reading ? "stop_reading" : "read_aloud"));
const listener = createListener();
const guide = new Guide(
  {
    section: $("guide"),
    status: $("guide-status"),
    language: $("guide-language"),
    topics: $("guide-topics"),
    filter: $("guide-filter"),
    empty: $("guide-empty"),
    missing: $("guide-missing"),
    call: $("guide-call"),
    callLabel: $("guide-call-label"),
  },
  { number: () => state.emergencyNumber, onRhythm: () => rhythm.start() },
);
const rhythm = new Rhythm(
  {
    panel: $("rhythm"),
    beat: $("rhythm-beat"),
    count: $("rhythm-count"),
    prompt: $("rhythm-prompt"),
    elapsed: $("rhythm-elapsed"),
    ratio: $("rhythm-ratio"),
    sound: $("rhythm-sound"),
    toggle: $("rhythm-toggle"),
    announcer: $("rhythm-announcer"),
  },
  storage,
);

// ---- start ------------------------------------------------------------------

start();

async function start() {
  registerServiceWorker();
  try {
    await setLanguage(chooseLanguage(storage.get(STORAGE_LANGUAGE)));
  } catch {
    // English from the HTML stays; t() falls back to the key names only if en.json is unreachable too
  }
  ui.language.value = currentLanguage();
  configureMessages({
    phoneNumbers: () => [state.emergencyNumber, ...state.otherNumbers],
    mentionsCpr,
    startRhythm: () => rhythm.start(),
    readAloud: speaker ? (text, button) => speaker.toggle(text, textLanguage(text, currentLanguage()), button) : null,
  });
  ui.voice.hidden = !listener;
  showEmergencyNumber(state.emergencyNumber);
  wireEvents();
  if (navigator.onLine === false) guide.open("offline");
  let config;
  try {
    config = await loadConfig();
  } catch {
    setBusy(true);
    ui.send.disabled = true;
    showError({ text: t("config_failed"), hint: t("reload_hint", { call: callNow() }), retryable: true }, () =>
      location.reload(),
    );
    document.documentElement.dataset.ready = "true";
    return;
  }
  state.api = new ChatApi(config.apiBaseUrl);
  state.otherNumbers = config.otherNumbers;
  if (config.emergencyNumber) showEmergencyNumber(config.emergencyNumber); // the deployment's number
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
  return {
    apiBaseUrl: url.href,
    emergencyNumber: validNumber(config.emergencyNumber),
    otherNumbers: [config.crisisNumber, config.poisonNumber].filter(validNumber),
  };
}

// After the page has loaded, so that filling the offline cache never slows the first visit's paint.
function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  const register = () =>
    navigator.serviceWorker.register("sw.js").catch(() => {
      // blocked or unsupported: the page works, only not offline
    });
  if (document.readyState === "complete") register();
  else window.addEventListener("load", register, { once: true });
}

function mentionsCpr(text) {
  const terms = `${t("rhythm_terms")}|CPR`.split("|").map((term) => term.trim()).filter(Boolean);
  const escaped = terms.map((term) => term.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`(^|[^\\p{L}])(${escaped.join("|")})($|[^\\p{L}])`, "iu").test(String(text || ""));
}

function wireEvents() {
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitInput();
  });
  // An input method (Japanese, Chinese, ...) confirms its text with Enter: that Enter never sends.
  // Safari fires compositionend first and then a keydown with isComposing false but keyCode 229.
  let composing = false;
  ui.input.addEventListener("compositionstart", () => {
    composing = true;
  });
  ui.input.addEventListener("compositionend", () => {
    composing = false;
  });
  ui.input.addEventListener("keydown", (event) => {
    const ime = event.isComposing || composing || event.keyCode === 229;
    if (event.key === "Enter" && !ime && !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey) {
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
    announce(t("new_chat_started"));
  });
  $("open-guide").addEventListener("click", () => guide.open());
  $("welcome-guide").addEventListener("click", () => guide.open());
  $("close-guide").addEventListener("click", () => {
    guide.close();
    (ui.error.hidden ? ui.input : ui.retry).focus();
  });
  ui.language.addEventListener("change", async () => {
    storage.set(STORAGE_LANGUAGE, ui.language.value);
    await setLanguage(ui.language.value);
    showEmergencyNumber(state.emergencyNumber);
    $("guide-language").hidden = currentLanguage() === "en";
    if (guide.topics) guide.render();
  });
  ui.voice.addEventListener("click", listen);
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
  $("offline-open-guide").addEventListener("click", () => guide.open("offline"));
  window.addEventListener("online", () => {
    $("offline-notice").hidden = true;
    guide.backOnline();
    if (!ui.error.hidden && ui.error.dataset.kind === "network") {
      ui.errorHint.textContent = t("back_online_retry");
    }
    if (state.historyPending && state.api && !state.inFlight) {
      hideError();
      loadHistory();
    }
  });
  // Gone mid-conversation: say so, and leave the guide one tap away rather than covering the chat.
  window.addEventListener("offline", () => {
    if (guide.isOpen) return;
    if (ui.messages.children.length === 0) guide.open("offline");
    else $("offline-notice").hidden = false;
  });
}

// Voice input: the words fill the box as they are recognised; the final text is sent.
function listen() {
  if (!listener || state.inFlight) return;
  if (listener.listening) {
    listener.stop();
    return;
  }
  ui.voice.setAttribute("aria-pressed", "true");
  announce(t("voice_listening"));
  listener.start(currentLanguage(), {
    onText: (text) => {
      ui.input.value = text;
    },
    onFinal: (text) => {
      ui.input.value = text;
      state.spokenTurn = true;
      submitInput();
    },
    onEnd: () => ui.voice.setAttribute("aria-pressed", "false"),
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

// How many times a message is resent while the previous one is still being answered
// (each after the server's Retry-After, about 2 s): longer than a reply can take.
const MAX_BUSY_RESENDS = 45;

async function sendMessage(text, clientMessageId = newMessageId(), { recovering = false, busyResends = 0 } = {}) {
  hideError();
  hideNotice();
  guide.close();
  const spoken = state.spokenTurn;
  state.spokenTurn = false;
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
    rememberOtherNumbers(done);
    reply.finish(done, { fallbackNumber: state.emergencyNumber });
    // The call button and the first step stay in view: the reply's top, not its end.
    if (done.emergency) showReplyTop(reply.item);
    announceReply(done, reply.plainText());
    if (spoken && speaker) speaker.toggle(reply.plainText(), textLanguage(reply.plainText(), currentLanguage()));
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (state.inFlight !== flight) return; // superseded by "New chat"
    if (error.kind === "aborted" && flight.stoppedByUser) {
      reply.markStopped();
      announce(t("stopped_kept"));
    } else if (isTurnInProgress(error) && busyResends < MAX_BUSY_RESENDS) {
      // The previous message (one that was stopped, say) is still being answered and saved on the
      // server: wait, then resend this one with the same id, so it goes after it, in order.
      showNotice(t("waiting_previous"));
      if (busyResends === 0) announce(t("waiting_previous"));
      const waited = await pause((error.retryAfter || 2) * 1000, controller.signal);
      if (state.inFlight !== flight) return;
      userItem.remove();
      reply.remove();
      state.inFlight = null;
      if (!waited) {
        hideNotice();
        restoreUnsent(text, clientMessageId);
        return;
      }
      return sendMessage(text, clientMessageId, { recovering, busyResends: busyResends + 1 });
    } else if (!recovering && state.sessionId && isLostSession(error)) {
      // The stored conversation is gone: carry on in a new one. Only a conversation restored from
      // an earlier visit can have expired; one announced on this page was deleted elsewhere.
      const gone = state.sessionRestored ? t("expired_new_started") : t("gone_new_started");
      userItem.remove();
      reply.remove();
      forgetSession();
      appendDivider(ui.messages, gone);
      announce(gone);
      state.inFlight = null;
      return sendMessage(text, clientMessageId, { recovering: true });
    } else if (error.kind === "stream" && error.code === "turn_superseded") {
      // This same message was resent and answered by the newer request: nothing to show twice.
      userItem.remove();
      reply.remove();
    } else {
      // A reply that failed on the server was not stored: a conversation it was starting does not exist.
      if (flight.newSession && error.kind === "stream") forgetSession();
      userItem.remove();
      reply.remove();
      state.failedSend = { text, clientMessageId };
      if (!ui.input.value) ui.input.value = text; // the typed text is never lost
      showError(describeError(error), () => retrySend());
      if (error.kind === "network") guide.open(navigator.onLine === false ? "offline" : "unreachable");
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

function isTurnInProgress(error) {
  return error.kind === "http" && error.status === 409 && error.code === "turn_in_progress";
}

/** Waits ``ms`` milliseconds; false when ``signal`` aborts first (Stop, New chat). */
function pause(ms, signal) {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => resolve(true), ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve(false);
      },
      { once: true },
    );
  });
}

/** Puts a message that was not sent back in the box, to send again with the same id. */
function restoreUnsent(text, clientMessageId) {
  state.failedSend = { text, clientMessageId };
  if (!ui.input.value) ui.input.value = text;
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
  showNotice(t("loading_conversation"));
  setBusy(true);
  try {
    const transcript = await state.api.getSession(sessionId);
    if (state.sessionId !== sessionId) return; // a new chat was started meanwhile
    if (validNumber(transcript.emergency_number)) showEmergencyNumber(transcript.emergency_number);
    rememberOtherNumbers(transcript);
    state.historyPending = false;
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
      showNotice(t("expired_start_new"));
    } else {
      hideNotice();
      showError({ ...describeError(error), text: t("load_failed") }, () => loadHistory());
      if (error.kind === "network") {
        state.historyPending = true; // loaded again when the network returns
        guide.open(navigator.onLine === false ? "offline" : "unreachable");
      }
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
      showError({ ...describeError(error), text: t("delete_failed") }, () => deleteConversation());
      return;
    }
  }
  startNewChat();
  showNotice(t("deleted"));
  announce(t("deleted"));
}

function rememberSession(sessionId) {
  if (sessionId !== state.sessionId) state.sessionRestored = false;
  state.sessionId = sessionId;
  storage.set(STORAGE_SESSION, sessionId);
  updateActions();
}

function rememberOtherNumbers(answer) {
  const numbers = [answer.crisis_number, answer.poison_number].filter(validNumber);
  state.otherNumbers = [...new Set([...state.otherNumbers, ...numbers])];
}

function forgetSession() {
  state.historyPending = false;
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
      text: offline ? t("offline") : t("connection_lost"),
      hint: offline ? t("offline_hint", { call }) : t("connection_lost_hint", { call }),
      retryable: true,
    };
  }
  if (error.kind === "timeout") {
    return { kind, text: t("timeout"), hint: t("retry_hint", { call }), retryable: true };
  }
  if (error.kind === "protocol") {
    return { kind, text: t("unreadable"), hint: t("retry_hint", { call }), retryable: true };
  }
  const status = error.status;
  if (status === 429) {
    const busy = error.code === "model_busy";
    return {
      kind,
      text: busy ? t("busy") : t("too_fast"),
      hint: call,
      retryable: true,
      retryAfter: error.retryAfter ?? 10,
    };
  }
  if (status === 504) {
    return { kind, text: t("gateway_timeout"), hint: t("retry_hint", { call }), retryable: true };
  }
  if (status === 503 || status === 502 || status >= 500) {
    return {
      kind,
      text: t("unavailable"),
      hint: t("unavailable_hint", { call }),
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
        left > 0
          ? t(left === 1 ? "wait_one" : "wait_other", { n: left, hint: info.hint })
          : t("retry_now", { hint: info.hint });
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
  if (guide.isOpen) window.scrollTo({ top: 0, behavior: "auto" }); // the panel sits above the guide
  else scrollToBottom(true);
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
  const number = done.emergency_number || state.emergencyNumber;
  const prefix = done.emergency ? `${t("emergency_announce", { number })} ` : "";
  announce(`${prefix}${t("assistant_prefix")} ${text}`);
}

function showEmergencyNumber(number) {
  state.emergencyNumber = number;
  storage.set(STORAGE_NUMBER, number);
  ui.disclaimerNumber.textContent = number;
  ui.disclaimerNumber.href = `tel:${number.replace(/\s/g, "")}`;
  ui.welcomeCall.href = ui.disclaimerNumber.href;
  ui.welcomeCallLabel.textContent = t("call_number", { number });
  guide.refreshNumber();
}

function callNow() {
  return t("call_now_sentence", { number: state.emergencyNumber });
}

// ---- small helpers ------------------------------------------------------------------

function newMessageId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // randomUUID needs a secure context; getRandomValues does not.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
