// Hands-free use: replies read aloud with the browser's speech synthesis, and
// voice input where the browser offers speech recognition. Each is null where
// the browser lacks it, so the page hides its control.

const SCRIPTS = [
  [/\p{Script=Arabic}/u, "ar"],
  [/\p{Script=Devanagari}/u, "hi"],
  [/\p{Script=Han}/u, "zh"],
];

/** The language to speak `text` in: from its script where that tells, else `fallback` (the UI's). */
export function textLanguage(text, fallback) {
  for (const [pattern, lang] of SCRIPTS) if (pattern.test(text)) return lang;
  return fallback;
}

/**
 * Reads texts aloud, one at a time; null without speechSynthesis. `label(reading)`
 * gives a reply's button its text ("Read aloud" / "Stop reading").
 */
export function createSpeaker(label) {
  if (!window.speechSynthesis || typeof window.SpeechSynthesisUtterance !== "function") return null;
  let active = null; // the button of the reply being read
  const mark = (button, reading) => {
    button.setAttribute("aria-pressed", String(reading));
    button.textContent = label(reading);
  };
  const reset = () => {
    if (active) mark(active, false);
    active = null;
  };
  return {
    /** Reads `text` in `lang`; the same button again stops it. */
    toggle(text, lang, button = null) {
      const again = button && button === active;
      window.speechSynthesis.cancel();
      reset();
      if (again) return;
      const utterance = new SpeechSynthesisUtterance(text);
      utterance.lang = lang;
      utterance.addEventListener("end", () => {
        if (active === button) reset();
      });
      utterance.addEventListener("error", () => {
        if (active === button) reset();
      });
      active = button;
      if (button) mark(button, true);
      window.speechSynthesis.speak(utterance);
    },
    stop() {
      window.speechSynthesis.cancel();
      reset();
    },
  };
}

/** Listens for one spoken message; null without SpeechRecognition. */
export function createListener() {
  const Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;
  if (typeof Recognition !== "function") return null;
  let current = null;
  return {
    get listening() {
      return current !== null;
    },
    /** Calls onText(interim text) as words come, onFinal(text) once at the end, onEnd() always. */
    start(lang, { onText, onFinal, onEnd }) {
      if (current) return;
      const recognition = new Recognition();
      recognition.lang = lang;
      recognition.interimResults = true;
      recognition.continuous = false;
      let finalText = "";
      recognition.addEventListener("result", (event) => {
        let interim = "";
        for (const result of event.results) {
          if (result.isFinal) finalText = result[0].transcript;
          else interim += result[0].transcript;
        }
        onText((finalText || interim).trim());
      });
      recognition.addEventListener("end", () => {
        current = null;
        if (finalText.trim()) onFinal(finalText.trim());
        onEnd();
      });
      current = recognition;
      try {
        recognition.start();
      } catch {
        current = null;
        onEnd();
      }
    },
    stop() {
      current?.stop();
    },
  };
}
