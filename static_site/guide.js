// The offline first-aid guide: guide.json is generated from the function's own
// topic files (scripts/build_guide.py) and cached by the service worker, so it
// opens with no network. Life-threatening topics come first; a filter box
// narrows them by title, the words people use, and the steps.

import { currentLanguage, t } from "./i18n.js";
import { el } from "./messages.js";

const PLACEHOLDER = "{emergency_number}";

function fold(text) {
  return String(text).normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
}

export class Guide {
  /**
   * `ui`: {section, status, language, topics, filter, empty, missing, call, callLabel};
   * `number()`: the emergency number to show; `onRhythm`: starts the CPR rhythm, or null.
   */
  constructor(ui, { number, onRhythm = null }) {
    this.ui = ui;
    this.number = number;
    this.onRhythm = onRhythm;
    this.topics = null;
    this.loading = null;
    this.reason = null;
    ui.filter.addEventListener("input", () => this.applyFilter());
  }

  get isOpen() {
    return !this.ui.section.hidden;
  }

  /** Fetches guide.json once (from the service worker's cache when offline). */
  load() {
    this.loading ||= fetch("guide.json", { credentials: "same-origin" })
      .then((response) => {
        if (!response.ok) throw new Error(`guide.json: ${response.status}`);
        return response.json();
      })
      .then((guide) => {
        this.topics = Array.isArray(guide.topics) ? guide.topics : [];
        this.render();
      })
      .catch(() => {
        this.loading = null; // try again next time it opens
        this.ui.missing.hidden = false;
      });
    return this.loading;
  }

  /** Shows the guide; `reason` ("offline", "unreachable" or null) says why it opened by itself. */
  async open(reason = null) {
    this.reason = reason;
    this.setStatus(reason ? t(reason === "offline" ? "guide_offline" : "guide_unreachable") : "");
    this.ui.section.hidden = false;
    this.ui.language.hidden = currentLanguage() === "en";
    document.body.classList.add("guide-open");
    this.refreshNumber();
    window.scrollTo({ top: 0, behavior: "auto" });
    await this.load();
  }

  close() {
    this.ui.section.hidden = true;
    document.body.classList.remove("guide-open");
    this.reason = null;
  }

  /** The network is back: say so if the guide opened because it was gone. */
  backOnline() {
    if (this.isOpen && this.reason) this.setStatus(t("guide_back_online"));
  }

  setStatus(text) {
    this.ui.status.textContent = text;
    this.ui.status.hidden = !text;
  }

  refreshNumber() {
    const number = this.number();
    this.ui.call.href = `tel:${number.replace(/\s/g, "")}`;
    this.ui.callLabel.textContent = t("call_number", { number });
    if (this.topics && this.rendered !== number) this.render();
  }

  render() {
    const number = this.number();
    this.rendered = number;
    this.ui.missing.hidden = true;
    this.ui.topics.replaceChildren(...this.topics.map((topic) => this.topicItem(topic, number)));
    this.applyFilter();
  }

  topicItem(topic, number) {
    const item = el("li", "guide-topic");
    item.dataset.slug = String(topic.slug || "");
    item.dataset.search = fold([topic.title, ...(topic.keywords || []), ...(topic.steps || [])].join(" "));
    const details = el("details");
    const summary = el("summary", "", String(topic.title || ""));
    if (topic.life_threatening) {
      item.classList.add("guide-urgent");
      summary.append(" ", el("span", "badge badge-urgent", t("guide_life_threatening")));
    }
    details.append(summary, withNumbers(el("ol", "guide-steps"), topic.steps, number));
    if (topic.do_not?.length) {
      details.append(el("h3", "guide-subtitle", t("guide_do_not")), withNumbers(el("ul"), topic.do_not, number));
    }
    if (topic.call_emergency_when?.length) {
      details.append(
        el("h3", "guide-subtitle", t("guide_call_when", { number })),
        withNumbers(el("ul"), topic.call_emergency_when, number),
      );
    }
    if (this.onRhythm && String(topic.slug || "").startsWith("cpr")) {
      const button = el("button", "button button-primary rhythm-start", t("rhythm_start"));
      button.type = "button";
      button.addEventListener("click", () => this.onRhythm());
      details.append(button);
    }
    if (topic.sources?.length) {
      details.append(el("p", "guide-sources", `${t("guide_sources")}: ${topic.sources.join(", ")}`));
    }
    item.append(details);
    return item;
  }

  applyFilter() {
    const words = fold(this.ui.filter.value).split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const item of this.ui.topics.children) {
      const match = words.every((word) => item.dataset.search.includes(word));
      item.hidden = !match;
      if (match) shown += 1;
    }
    this.ui.empty.hidden = shown > 0 || !this.topics;
  }
}

// List items from texts, with the emergency number filled in as a call link.
function withNumbers(list, texts, number) {
  for (const text of texts || []) {
    const item = el("li");
    const parts = String(text).split(PLACEHOLDER);
    parts.forEach((part, index) => {
      if (index > 0) {
        const call = el("a", "phone", number);
        call.href = `tel:${number.replace(/\s/g, "")}`;
        item.append(call);
      }
      item.append(part);
    });
    list.append(item);
  }
  return list;
}
