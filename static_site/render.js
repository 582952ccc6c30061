// Renders reply text (untrusted model output) as light markdown: paragraphs,
// line breaks, numbered and bulleted lists (one level of nesting), headings
// shown as bold lines, **bold**, *italic*, `code`, [links](https://...) and
// bare URLs. It builds DOM nodes with createElement and textContent only, so
// nothing in the text can become markup or script.

const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:", "tel:"]);
const ORDERED = /^(\s*)(\d{1,4})[.)]\s+(.*)$/;
const BULLET = /^(\s*)[-*•+]\s+(.*)$/;
const HEADING = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
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

/** A fragment holding `text` rendered as light markdown. */
export function renderMarkdown(text, doc = document) {
  const fragment = doc.createDocumentFragment();
  for (const block of parseBlocks(String(text ?? ""))) fragment.append(buildBlock(block, doc));
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
          child = { type: "list", kind, start: ordered ? Number(ordered[2]) : 1, items: [] };
          parent.children = child;
          parent.extra.push(child);
        }
        child.items.push({ lines: [content], extra: [], children: null });
        continue;
      }
      if (!list || list.kind !== kind) {
        list = { type: "list", kind, start: ordered ? Number(ordered[2]) : 1, items: [] };
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

function buildBlock(block, doc) {
  if (block.type === "heading") {
    const p = doc.createElement("p");
    p.className = "md-heading";
    const strong = doc.createElement("strong");
    appendInline(strong, block.text, doc);
    p.append(strong);
    return p;
  }
  if (block.type === "list") {
    const list = doc.createElement(block.kind);
    if (block.kind === "ol" && block.start !== 1) list.start = block.start;
    for (const item of block.items) {
      const li = doc.createElement("li");
      appendLines(li, item.lines, doc);
      for (const child of item.extra) li.append(buildBlock(child, doc));
      list.append(li);
    }
    return list;
  }
  const p = doc.createElement("p");
  appendLines(p, block.lines, doc);
  return p;
}

function appendLines(parent, lines, doc) {
  lines.forEach((line, index) => {
    if (index > 0) parent.append(doc.createElement("br"));
    appendInline(parent, line, doc);
  });
}

// ---- inline ---------------------------------------------------------------

function appendInline(parent, text, doc, depth = 0) {
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
      appendInline(strong, g.bold ?? g.bold2, doc, depth + 1);
      parent.append(strong);
    } else if (g.em !== undefined || g.em2 !== undefined) {
      const em = doc.createElement("em");
      appendInline(em, g.em ?? g.em2, doc, depth + 1);
      parent.append(em);
    } else if (g.code !== undefined) {
      const code = doc.createElement("code");
      code.textContent = g.code;
      parent.append(code);
    } else if (g.label !== undefined) {
      const href = safeUrl(g.href);
      if (href) parent.append(link(href, g.label, doc));
      else parent.append(doc.createTextNode(match[0])); // unsafe scheme: show it, never follow it
    } else if (g.url !== undefined) {
      const [url, trailing] = splitTrailing(g.url);
      const href = safeUrl(url);
      parent.append(href ? link(href, url, doc) : doc.createTextNode(url));
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

function link(href, label, doc) {
  const a = doc.createElement("a");
  a.href = href;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  appendInline(a, label, doc, 4); // the label is text only: no nested links
  return a;
}
