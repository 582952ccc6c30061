// The conversation's DOM: user and assistant bubbles, the streaming reply,
// the emergency banner and small markers. Text goes in with textContent only;
// reply markdown goes through render.js.

import { renderMarkdown } from "./render.js";

const PHONE_NUMBER = /^[0-9+ ]{2,15}$/;

/** The number if it looks like a phone number (as the API promises), else null. */
export function validNumber(value) {
  return typeof value === "string" && PHONE_NUMBER.test(value) ? value : null;
}

export function appendUserMessage(list, text, time) {
  const item = el("li", "message message-user");
  const bubble = el("div", "bubble");
  bubble.append(el("span", "visually-hidden", "You said: "));
  bubble.append(el("p", "user-text", text));
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
  const label = el("span", "visually-hidden", "Assistant: ");
  const typing = el("div", "typing");
  typing.append(el("span", "visually-hidden", "The assistant is typing"));
  for (let i = 0; i < 3; i += 1) typing.append(el("span", "dot"));
  const content = el("div", "content");
  bubble.append(label, typing, content);
  const info = meta(null);
  item.append(bubble, info);
  list.append(item);
  let text = "";

  const render = (value) => {
    const follow = isNearBottom();
    content.replaceChildren(renderMarkdown(value));
    scrollToBottom(follow);
  };
  return {
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
      if (done.emergency) {
        bubble.insertBefore(emergencyBanner(validNumber(done.emergency_number) || fallbackNumber), content);
      }
      render(done.reply);
      if (done.source === "offline") info.prepend(badge("Offline guide", "badge badge-offline"));
      setTime(info, parseTime(done.created_at));
    },
    markStopped() {
      typing.remove();
      item.classList.remove("streaming");
      item.classList.add("stopped");
      item.removeAttribute("aria-busy");
      if (!text) content.replaceChildren(el("p", "muted", "Stopped before the reply began."));
      info.prepend(badge("Stopped", "badge badge-stopped"));
      setTime(info, new Date());
    },
    remove() {
      item.remove();
    },
    plainText() {
      return content.textContent;
    },
  };
}

function emergencyBanner(value) {
  const banner = el("div", "emergency-banner");
  const icon = svgIcon("M12 3l10 18H2zM12 10v5M12 18v.01");
  const body = el("p", "emergency-text");
  body.append(el("strong", "", "This sounds like an emergency. "));
  const call = el("a", "emergency-call", `Call ${value} now`);
  call.href = `tel:${value.replace(/\s/g, "")}`;
  body.append(call);
  banner.append(icon, body);
  return banner;
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
  if (!existing) info.append(node);
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

function svgIcon(path) {
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

export function scrollToBottom(force) {
  if (force) window.scrollTo({ top: document.documentElement.scrollHeight, behavior: "auto" });
}

export function parseTime(value) {
  const time = value ? new Date(value) : null;
  return time && !Number.isNaN(time.getTime()) ? time : null;
}
