// A CPR rhythm: 110 compressions a minute (guidelines: 100 to 120; European
// Resuscitation Council 2021, American Heart Association 2020), a visual beat,
// an optional click (Web Audio), a compression counter, the breaths prompt for
// the chosen ratio (30:2 for adults and, for lay rescuers, children; none for
// hands-only CPR), and the time since it started. Beats are scheduled against
// the start time on the page's clock (performance.now), so timer lateness never
// adds up. It runs in the dock and never blocks the chat; the screen stays on
// (Screen Wake Lock) where the browser allows it.

import { t } from "./i18n.js";

export const BEATS_PER_MINUTE = 110;
export const BEAT_MS = 60_000 / BEATS_PER_MINUTE;
export const BREATHS_MS = 5_000; // two rescue breaths: about a second each, under 10 s in all

export class Rhythm {
  /** `ui`: {panel, beat, count, prompt, elapsed, ratio, sound, toggle, announcer}; `storage`: get/set. */
  constructor(ui, storage) {
    this.ui = ui;
    this.storage = storage;
    this.running = false;
    this.timer = 0;
    this.clock = 0;
    this.audio = null;
    this.wakeLock = null;
    this.soundOn = storage.get("firstaid.rhythmSound") !== "off";
    ui.sound.setAttribute("aria-pressed", String(this.soundOn));
    ui.sound.addEventListener("click", () => {
      this.soundOn = !this.soundOn;
      ui.sound.setAttribute("aria-pressed", String(this.soundOn));
      storage.set("firstaid.rhythmSound", this.soundOn ? "on" : "off");
    });
    ui.toggle.addEventListener("click", () => this.stop());
    ui.ratio.addEventListener("change", () => {
      this.cycle = 0;
    });
    document.addEventListener("visibilitychange", () => {
      if (this.running && document.visibilityState === "visible") this.keepScreenOn();
    });
  }

  /** Starts (or restarts) the rhythm and shows its panel. */
  start() {
    this.stop({ keepPanel: true });
    this.running = true;
    this.startedAt = performance.now();
    this.nextAt = this.startedAt;
    this.beats = 0;
    this.cycle = 0;
    this.breathing = false;
    this.ui.panel.hidden = false;
    this.ui.panel.dataset.running = "true";
    this.ui.count.textContent = "0";
    this.ui.prompt.textContent = t("rhythm_push");
    this.ui.toggle.focus();
    if (this.soundOn) this.prepareAudio();
    this.keepScreenOn();
    this.clock = setInterval(() => this.showElapsed(), 1000);
    this.showElapsed();
    this.tick();
  }

  stop({ keepPanel = false } = {}) {
    clearTimeout(this.timer);
    clearInterval(this.clock);
    this.running = false;
    delete this.ui.panel.dataset.running;
    if (!keepPanel) this.ui.panel.hidden = true;
    this.wakeLock?.release().catch(() => {});
    this.wakeLock = null;
  }

  tick() {
    if (!this.running) return;
    const now = performance.now();
    if (now - this.nextAt > BEAT_MS) this.nextAt = now; // the tab slept: pick the rhythm up, don't rush
    const ratio = Number(this.ui.ratio.value);
    if (this.breathing) {
      this.breathing = false;
      this.cycle = 0;
      this.setPrompt(t("rhythm_push"));
    }
    this.beat(now);
    if (ratio > 0 && this.cycle >= ratio) {
      this.breathing = true;
      this.setPrompt(t("rhythm_breaths"));
      this.nextAt += BEAT_MS + BREATHS_MS;
    } else {
      this.nextAt += BEAT_MS;
    }
    this.timer = setTimeout(() => this.tick(), Math.max(0, this.nextAt - performance.now()));
  }

  beat(now) {
    this.beats += 1;
    this.cycle += 1;
    const panel = this.ui.panel;
    panel.dataset.beats = String(this.beats);
    panel.dataset.lastBeat = now.toFixed(3); // performance.now() of this beat, for anyone measuring the rate
    this.ui.count.textContent = String(this.cycle);
    // A flash on every beat (Web Animations: no inline style, so the CSP holds); no movement for
    // people who asked for reduced motion.
    const still = window.matchMedia?.("(prefers-reduced-motion: reduce)").matches;
    const frames = still
      ? [{ opacity: 1 }, { opacity: 0.35 }]
      : [
          { opacity: 1, transform: "scale(1.25)" },
          { opacity: 0.35, transform: "scale(1)" },
        ];
    this.ui.beat.animate?.(frames, { duration: 300, easing: "ease-out" });
    if (this.soundOn) this.click();
  }

  setPrompt(text) {
    this.ui.prompt.textContent = text;
    this.ui.announcer.textContent = text;
  }

  showElapsed() {
    const seconds = Math.floor((performance.now() - this.startedAt) / 1000);
    this.ui.elapsed.textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    this.ui.elapsed.dateTime = `PT${seconds}S`;
  }

  prepareAudio() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    try {
      this.audio ||= new Context();
      if (this.audio.state === "suspended") this.audio.resume().catch(() => {});
    } catch {
      this.audio = null; // no sound, the beat still shows
    }
  }

  click() {
    if (!this.audio) this.prepareAudio();
    const audio = this.audio;
    if (!audio || audio.state !== "running") return;
    const start = audio.currentTime;
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 1000;
    gain.gain.setValueAtTime(0.4, start);
    gain.gain.exponentialRampToValueAtTime(0.001, start + 0.05);
    tone.connect(gain).connect(audio.destination);
    tone.start(start);
    tone.stop(start + 0.06);
  }

  async keepScreenOn() {
    if (!navigator.wakeLock || this.wakeLock) return;
    try {
      this.wakeLock = await navigator.wakeLock.request("screen");
      this.wakeLock.addEventListener("release", () => {
        this.wakeLock = null;
      });
    } catch {
      // not allowed here (battery saver, no focus): the rhythm goes on regardless
    }
  }
}
