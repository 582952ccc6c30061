// Renders reply text (untrusted model output) as light markdown: paragraphs,
// line breaks, numbered and bulleted lists (one level of nesting, numbered in
// any script's digits), headings shown as bold lines, **bold**, *italic*,
// `code`, [links](https://...) and bare URLs. It builds DOM nodes with
// createElement and textContent only, so nothing in the text can become markup
// or script. Every block gets dir="auto", so Arabic reads right-to-left.
//
// Links cannot mislead: a tel: link is kept only for a number the page was
// configured with (emergency, crisis, poison), and a link whose text looks
// like a URL, address or phone number other than its target shows its target.

const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:", "tel:"]);
// "1. ", "1) ", "١. ", "१) ", "1、", "１．": any decimal digits (Unicode Nd), then a marker.
const ORDERED = /^(\s*)(\p{Nd}{1,4})(?:[.)]\s+|[．）、。]\s*)(.*)$/u;
const BULLET = /^(\s*)[-*•+]\s+(.*)$/;
const HEADING = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
const DIGIT = /\p{Nd}/u;
const DIGIT_RUN = /\p{Nd}(?:[\p{Nd} ().-]*\p{Nd})?/gu;
const LOOKS_LIKE_URL = /^(?:[a-z][a-z0-9+.-]*:\/\/|www\.)\S+$|^[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,}(?:[/?#]\S*)?$/iu;
const LOOKS_LIKE_EMAIL = /^\S+@\S+\.\S+$/;
// The CSS list style (styles.css .digits-*) for lists numbered in these digits, by the digit zero.
const DIGIT_STYLES = new Map([
  [0x0660, "arabic-indic"],
  [0x06f0, "persian"],
  [0x0966, "devanagari"],
  [0x09e6, "bengali"],
  [0x0e50, "thai"],
]);
const INLINE = new RegExp(
  [
    String.raw`\*\*(?<bold>[^\n]+?)\*\*`,
    String.raw`__(?<bold2>[^\n_]+?)__`,
    String.raw`\[(?<label>[^\]\n]+)\]\((?<href>[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)\)`,
    String.raw`(?<url>https?:\/\/[^\s<>"'\`\[\]]+)`,
    String.raw`\x60(?<code>[^\x60\n]+)\x60`,
    String.raw`(?<![\w*])\*(?![\s*])(?<em>[^*\n]+?)(?<!\s)\*(?![\w*])`,
    String.raw`(?<![\w_])_(?![\s_])(?<em2>[^_\n]+?)(?<!\s)_(?![\w_])`,
  ].join("|"),
  "g",
);

/**
 * A fragment holding `text` rendered as light markdown. `phoneNumbers` are the
 * numbers a tel: link may call (anything else is shown as text).
 */
export function renderMarkdown(text, doc = document, { phoneNumbers = [] } = {}) {
  const fragment = doc.createDocumentFragment();
  const phones = new Set(phoneNumbers.map((n) => phoneDigits(n).replace(/^\+/, "")).filter(Boolean));
  const context = { doc, phones };
  for (const block of parseBlocks(String(text ?? ""))) fragment.append(buildBlock(block, context));
  return fragment;
}

/** A link for `href` if its scheme is one we allow, else null. */
export function safeUrl(href) {
  let url;
  try {
    url = new URL(href);
  } catch {
    return null; // relative or malformed: there is no page for it to point into
  }
  return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
}

/** The value (0-9) of one decimal digit in any script (Unicode Nd digits come in runs of ten). */
export function digitValue(ch) {
  let code = ch.codePointAt(0);
  let steps = 0;
  while (DIGIT.test(String.fromCodePoint(code - 1))) {
    code -= 1;
    steps += 1;
  }
  return steps % 10;
}

function numberValue(digits) {
  return [...digits].reduce((value, ch) => value * 10 + digitValue(ch), 0);
}

function digitStyle(digits) {
  const first = digits.codePointAt(0);
  return DIGIT_STYLES.get(first - digitValue(digits[0])) || null;
}

/** A phone number as ASCII digits with an optional leading +, or "" if it is not one. */
export function phoneDigits(value) {
  const text = String(value ?? "").trim();
  const digits = [...text].filter((ch) => DIGIT.test(ch)).map((ch) => String(digitValue(ch))).join("");
  if (!digits) return "";
  return (text.startsWith("+") ? "+" : "") + digits;
}

// ---- blocks ---------------------------------------------------------------

function parseBlocks(text) {
  const blocks = [];
  let paragraph = null;
  let list = null;
  const endAll = () => {
    paragraph = null;
    list = null;
  };
  for (const line of text.replace(/\r\n?/g, "\n").split("\n")) {
    if (line.trim() === "") {
      endAll();
      continue;
    }
    const ordered = ORDERED.exec(line);
    const bullet = ordered ? null : BULLET.exec(line);
    if (ordered || bullet) {
      const indent = (ordered || bullet)[1].replace(/\t/g, "    ").length;
      const kind = ordered ? "ol" : "ul";
      const content = ordered ? ordered[3] : bullet[2];
      paragraph = null;
      if (list && indent >= 2 && list.items.length > 0) {
        // An indented item belongs to a list under the previous item.
        const parent = list.items[list.items.length - 1];
        let child = parent.children;
        if (!child || child.kind !== kind) {
          child = listBlock(kind, ordered);
          parent.children = child;
          parent.extra.push(child);
        }
        child.items.push({ lines: [content], extra: [], children: null });
        continue;
      }
      if (!list || list.kind !== kind) {
        list = listBlock(kind, ordered);
        blocks.push(list);
      }
      list.items.push({ lines: [content], extra: [], children: null });
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      endAll();
      blocks.push({ type: "heading", text: heading[1] });
      continue;
    }
    if (RULE.test(line)) {
      endAll();
      continue;
    }
    if (list && /^\s/.test(line)) {
      // An indented line continues the last item (or its last sub-item).
      const item = list.items[list.items.length - 1];
      const target = item.children ? item.children.items[item.children.items.length - 1] : item;
      target.lines.push(line.trim());
      continue;
    }
    list = null;
    if (!paragraph) {
      paragraph = { type: "paragraph", lines: [] };
      blocks.push(paragraph);
    }
    paragraph.lines.push(line.trim());
  }
  return blocks;
}

function listBlock(kind, ordered) {
  return {
    type: "list",
    kind,
    start: ordered ? numberValue(ordered[2]) : 1,
    digits: ordered ? digitStyle(ordered[2]) : null,
    items: [],
  };
}

function buildBlock(block, context) {
  const { doc } = context;
  if (block.type === "heading") {
    const p = doc.createElement("p");
    p.className = "md-heading";
    p.dir = "auto";
    const strong = doc.createElement("strong");
    appendInline(strong, block.text, context);
    p.append(strong);
    return p;
  }
  if (block.type === "list") {
    const list = doc.createElement(block.kind);
    list.dir = "auto";
    if (block.kind === "ol" && block.start !== 1) list.start = block.start;
    if (block.digits) list.className = `digits-${block.digits}`;
    for (const item of block.items) {
      const li = doc.createElement("li");
      appendLines(li, item.lines, context);
      for (const child of item.extra) li.append(buildBlock(child, context));
      list.append(li);
    }
    return list;
  }
  const p = doc.createElement("p");
  p.dir = "auto";
  appendLines(p, block.lines, context);
  return p;
}

function appendLines(parent, lines, context) {
  lines.forEach((line, index) => {
    if (index > 0) parent.append(context.doc.createElement("br"));
    appendInline(parent, line, context);
  });
}

// ---- inline ---------------------------------------------------------------

function appendInline(parent, text, context, depth = 0) {
  const { doc } = context;
  if (depth > 3) {
    parent.append(doc.createTextNode(text));
    return;
  }
  let last = 0;
  INLINE.lastIndex = 0;
  const matches = [...text.matchAll(INLINE)];
  for (const match of matches) {
    if (match.index > last) parent.append(doc.createTextNode(text.slice(last, match.index)));
    last = match.index + match[0].length;
    const g = match.groups;
    if (g.bold !== undefined || g.bold2 !== undefined) {
      const strong = doc.createElement("strong");
      appendInline(strong, g.bold ?? g.bold2, context, depth + 1);
      parent.append(strong);
    } else if (g.em !== undefined || g.em2 !== undefined) {
      const em = doc.createElement("em");
      appendInline(em, g.em ?? g.em2, context, depth + 1);
      parent.append(em);
    } else if (g.code !== undefined) {
      const code = doc.createElement("code");
      code.textContent = g.code;
      parent.append(code);
    } else if (g.label !== undefined) {
      const href = safeUrl(g.href);
      if (!href) parent.append(doc.createTextNode(match[0])); // unsafe scheme: show it, never follow it
      else parent.append(labelledLink(href, g.label, context));
    } else if (g.url !== undefined) {
      const [url, trailing] = splitTrailing(g.url);
      const href = safeUrl(url);
      parent.append(href && !href.startsWith("tel:") ? link(href, url, context) : doc.createTextNode(url));
      if (trailing) parent.append(doc.createTextNode(trailing));
    }
  }
  if (last < text.length) parent.append(doc.createTextNode(text.slice(last)));
}

// Punctuation that ends a sentence is not part of a bare URL; a closing
// bracket is, when the URL opened one (as Wikipedia links do).
function splitTrailing(url) {
  let end = url.length;
  while (end > 0) {
    const ch = url[end - 1];
    if (".,;:!?*_".includes(ch)) {
      end -= 1;
    } else if (ch === ")") {
      const opened = (url.slice(0, end).match(/\(/g) || []).length;
      const closed = (url.slice(0, end).match(/\)/g) || []).length;
      if (closed > opened) end -= 1;
      else break;
    } else {
      break;
    }
  }
  return [url.slice(0, end), url.slice(end)];
}

// A [label](href) link that cannot mislead: see the header comment.
function labelledLink(href, label, context) {
  const url = new URL(href);
  if (url.protocol === "tel:") {
    const number = phoneDigits(decodeURIComponent(url.pathname));
    if (!context.phones.has(number.replace(/^\+/, ""))) return context.doc.createTextNode(label); // never a one-tap call elsewhere
    const shown = (label.match(DIGIT_RUN) || []).map(phoneDigits).filter((run) => run.length >= 3);
    const honest = shown.every((run) => run === number || run === number.replace(/^\+/, ""));
    return link(`tel:${number}`, honest ? label : number, context);
  }
  if (url.protocol === "mailto:") {
    const address = decodeURIComponent(url.pathname);
    const plain = label.trim();
    const honest = !LOOKS_LIKE_EMAIL.test(plain) || plain.toLowerCase() === address.toLowerCase();
    return link(href, honest ? label : address, context);
  }
  return link(href, showsOtherUrl(label, url) ? href : label, context);
}

// True when the label reads as a web address that is not where the link goes.
function showsOtherUrl(label, target) {
  const plain = label.trim().replace(/^<|>$/g, "");
  if (!LOOKS_LIKE_URL.test(plain)) return false;
  let shown;
  try {
    shown = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(plain) ? plain : `https://${plain}`);
  } catch {
    return true;
  }
  const host = (u) => u.hostname.replace(/^www\./, "");
  const path = (u) => (u.pathname + u.search).replace(/\/+$/, "");
  return host(shown) !== host(target) || (path(shown) !== "" && path(shown) !== path(target));
}

function link(href, label, context) {
  const a = context.doc.createElement("a");
  a.href = href;
  if (!href.startsWith("tel:")) {
    a.target = "_blank";
    a.rel = "noopener noreferrer";
  }
  appendInline(a, label, context, 4); // the label is text only: no nested links
  return a;
}
