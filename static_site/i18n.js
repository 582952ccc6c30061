// The page's UI strings in eight languages: one JSON file per language in i18n/,
// all with the same keys (a test checks). The language comes from a stored
// choice, else the browser's languages, else English; the switch in the header
// changes it at once. Elements carry data-i18n="key" (their text) and
// data-i18n-attr="attribute:key;..." (attributes).

export const LANGUAGES = ["en", "es", "fr", "de", "pt", "hi", "ar", "zh"];
export const DEFAULT_LANGUAGE = "en";
const RIGHT_TO_LEFT = new Set(["ar"]);

let strings = {};
let fallback = {};
let current = DEFAULT_LANGUAGE;

/** The first supported language among `stored` and the browser's preferences, else English. */
export function chooseLanguage(stored, preferred = navigator.languages || [navigator.language]) {
  for (const tag of [stored, ...preferred]) {
    const base = String(tag || "").toLowerCase().split(/[-_]/)[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return DEFAULT_LANGUAGE;
}

async function fetchStrings(lang) {
  const response = await fetch(`i18n/${lang}.json`, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`i18n/${lang}.json: ${response.status}`);
  return response.json();
}

/** Loads `lang`'s strings (English fills any gap) and applies them to the document. */
export async function setLanguage(lang, root = document) {
  const wanted = LANGUAGES.includes(lang) ? lang : DEFAULT_LANGUAGE;
  if (!Object.keys(fallback).length) fallback = await fetchStrings(DEFAULT_LANGUAGE);
  try {
    strings = wanted === DEFAULT_LANGUAGE ? fallback : await fetchStrings(wanted);
    current = wanted;
  } catch {
    strings = fallback; // the page still works in English
    current = DEFAULT_LANGUAGE;
  }
  const html = root.documentElement;
  html.lang = current;
  html.dir = RIGHT_TO_LEFT.has(current) ? "rtl" : "ltr";
  applyStrings(root);
  return current;
}

export function currentLanguage() {
  return current;
}

/** The string for `key` with {name} placeholders filled from `values`. */
export function t(key, values = {}) {
  return fill(strings[key] ?? fallback[key] ?? key, values);
}

const loaded = new Map();

/**
 * A `t` for another of the page's languages (the one a message was written in),
 * or null when `lang` is not one of them. Resolves after that language's strings
 * are loaded; English fills any gap.
 */
export async function translatorFor(lang) {
  if (!LANGUAGES.includes(lang)) return null;
  if (!loaded.has(lang)) loaded.set(lang, fetchStrings(lang).catch(() => ({})));
  const other = await loaded.get(lang);
  return (key, values = {}) => fill(other[key] ?? fallback[key] ?? key, values);
}

/** Whether `lang` is written right to left. */
export function isRightToLeft(lang) {
  return RIGHT_TO_LEFT.has(lang);
}

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

function applyStrings(root) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of node.dataset.i18nAttr.split(";")) {
      const [attribute, key] = pair.split(":");
      if (attribute && key) node.setAttribute(attribute.trim(), t(key.trim()));
    }
  }
  root.title = t("app_title");
}
