// The conversation's DOM: user and assistant bubbles, the streaming reply,
// the emergency banner, reply actions (read aloud, CPR rhythm) and small
// markers. Text goes in with textContent only; reply markdown goes through
// render.js. Every text node that may hold another script gets dir="auto".

import { currentLanguage, isRightToLeft, t, translatorFor } from "./i18n.js";
import { renderMarkdown } from "./render.js";

const PHONE_NUMBER = /^[0-9+ ]{2,15}$/;

// What the page around the bubbles provides: set once by app.js.
const hooks = {
  phoneNumbers: () => [],
  mentionsCpr: () => false,
  startRhythm: null, // () => void, or null when there is no rhythm panel
  readAloud: null, // (text, button) => void, or null when the browser cannot speak
};

/** Connects the bubbles to the page: see `hooks` above. */
export function configureMessages(options) {
  Object.assign(hooks, options);
}

/** The number if it looks like a phone number (as the API promises), else null. */
export function validNumber(value) {
  return typeof value === "string" && PHONE_NUMBER.test(value) ? value : null;
}

export function appendUserMessage(list, text, time) {
  const item = el("li", "message message-user");
  const bubble = el("div", "bubble");
  bubble.append(el("span", "visually-hidden", `${t("you_said")} `));
  const body = el("p", "user-text", text);
  body.dir = "auto";
  bubble.append(body);
  item.append(bubble, meta(time));
  list.append(item);
  return item;
}

/**
 * An assistant bubble that fills as the reply streams in: append() each piece,
 * then finish() with the final answer (or markStopped()).
 */
export function createReplyBubble(list) {
  const item = el("li", "message message-model");
  item.setAttribute("aria-busy", "true");
  const bubble = el("div", "bubble");
  const label = el("span", "visually-hidden", `${t("assistant_prefix")} `);
  const typing = el("div", "typing");
  typing.append(el("span", "visually-hidden", t("typing")));
  for (let i = 0; i < 3; i += 1) typing.append(el("span", "dot"));
  const content = el("div", "content");
  content.dir = "auto";
  bubble.append(label, typing, content);
  const info = meta(null);
  item.append(bubble, info);
  list.append(item);
  let text = "";

  const render = (value, follow = isNearBottom()) => {
    content.replaceChildren(renderMarkdown(value, document, { phoneNumbers: hooks.phoneNumbers() }));
    if (follow) followReply(item);
  };
  return {
    item,
    append(piece) {
      text += piece;
      item.classList.add("streaming");
      render(text);
    },
    // `done` is the API's final answer, or a stored message shaped like one.
    finish(done, { fallbackNumber = "112" } = {}) {
      typing.remove();
      item.classList.remove("streaming");
      item.removeAttribute("aria-busy");
      const cpr = hooks.mentionsCpr(done.reply);
      if (done.emergency) {
        item.classList.add("message-emergency");
        const banner = emergencyBanner(validNumber(done.emergency_number) || fallbackNumber, cpr);
        bubble.insertBefore(banner, content);
        speakBannerIn(banner, done.language, validNumber(done.emergency_number) || fallbackNumber);
      }
      render(done.reply, !done.emergency && isNearBottom());
      if (done.source === "offline") info.prepend(badge(t("offline_badge"), "badge badge-offline"));
      setTime(info, parseTime(done.created_at));
      info.append(...replyActions(content, cpr && !done.emergency));
    },
    markStopped() {
      typing.remove();
      item.classList.remove("streaming");
      item.classList.add("stopped");
      item.removeAttribute("aria-busy");
      if (!text) content.replaceChildren(el("p", "muted", t("stopped_before")));
      info.prepend(badge(t("stopped_badge"), "badge badge-stopped"));
      setTime(info, new Date());
    },
    remove() {
      item.remove();
    },
    plainText() {
      return spokenText(content);
    },
  };
}

function emergencyBanner(value, cpr) {
  const banner = el("div", "emergency-banner");
  const icon = svgIcon("M12 3l10 18H2zM12 10v5M12 18v.01");
  const body = el("div", "emergency-text");
  body.append(el("strong", "", t("emergency_banner")));
  const actions = el("div", "emergency-actions");
  const call = el("a", "emergency-call", t("call_number_now", { number: value }));
  call.href = `tel:${value.replace(/\s/g, "")}`;
  actions.append(call);
  if (cpr && hooks.startRhythm) actions.append(rhythmButton("button emergency-rhythm"));
  body.append(actions);
  banner.append(icon, body);
  return banner;
}

/**
 * The banner in the language the person wrote in, like the reply's own lead, when that is
 * another of the page's languages (the page itself stays in its chosen language).
 */
async function speakBannerIn(banner, lang, number) {
  if (!lang || lang === currentLanguage()) return;
  const other = await translatorFor(lang);
  if (!other) return;
  banner.lang = lang;
  banner.dir = isRightToLeft(lang) ? "rtl" : "ltr";
  banner.querySelector("strong").textContent = other("emergency_banner");
  banner.querySelector(".emergency-call").textContent = other("call_number_now", { number });
}

/** A reply's text with a line break between paragraphs and list items, so they are read as sentences. */
function spokenText(content) {
  return (content.innerText || content.textContent).trim();
}

function replyActions(content, cpr) {
  const buttons = [];
  if (hooks.readAloud) {
    const read = el("button", "button button-quiet button-small read-aloud", t("read_aloud"));
    read.type = "button";
    read.setAttribute("aria-pressed", "false");
    read.addEventListener("click", () => hooks.readAloud(spokenText(content), read));
    buttons.push(read);
  }
  if (cpr && hooks.startRhythm) buttons.push(rhythmButton("button button-quiet button-small"));
  return buttons;
}

function rhythmButton(className) {
  const button = el("button", `${className} rhythm-start`, t("rhythm_start"));
  button.type = "button";
  button.addEventListener("click", () => hooks.startRhythm());
  return button;
}

/** A line across the conversation, e.g. where an expired one was replaced. */
export function appendDivider(list, text) {
  const item = el("li", "divider");
  item.append(el("span", "", text));
  list.append(item);
}

function meta(time) {
  const info = el("div", "meta");
  if (time) setTime(info, time);
  return info;
}

function setTime(info, time) {
  if (!time || Number.isNaN(time.getTime())) return;
  const existing = info.querySelector("time");
  const node = existing || el("time", "");
  node.dateTime = time.toISOString();
  node.textContent = time.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (!existing) info.prepend(node);
}

function badge(text, className) {
  return el("span", className, text);
}

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function svgIcon(path) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const shape = document.createElementNS(ns, "path");
  shape.setAttribute("d", path);
  svg.append(shape);
  return svg;
}

function isNearBottom() {
  const root = document.documentElement;
  return window.innerHeight + window.scrollY >= root.scrollHeight - 120;
}

// Follows a streaming reply down the page, but never past its top: the first
// steps (and an emergency's call button) stay on screen while the rest arrives.
function followReply(item) {
  const headerBottom = document.querySelector(".topbar")?.getBoundingClientRect().bottom ?? 0;
  const room = item.getBoundingClientRect().top - headerBottom - 8;
  const below = document.documentElement.scrollHeight - (window.scrollY + window.innerHeight);
  const by = Math.min(below, room);
  if (by > 0) window.scrollBy({ top: by, behavior: "auto" });
}

export function scrollToBottom(force) {
  if (force) window.scrollTo({ top: document.documentElement.scrollHeight, behavior: "auto" });
}

/** Brings an emergency reply's top (its banner, call button and first step) under the header. */
export function showReplyTop(item) {
  item.scrollIntoView({ block: "start", behavior: "auto" });
}

export function parseTime(value) {
  const time = value ? new Date(value) : null;
  return time && !Number.isNaN(time.getTime()) ? time : null;
}
