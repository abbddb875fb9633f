// Getting the duty officer's attention: sound, system notifications, the tab's title
// and icon.
//
// Sounds are made with the Web Audio API (no file to fetch, works offline). Browsers
// allow sound only after a gesture, so the "开启声音提示" switch creates the audio
// context; the choice is remembered in this browser and the context is resumed at the
// next click anywhere.

const SOUND_KEY = "station-edge.sound";
const PATTERNS = {
  // [frequency Hz, seconds] pairs, played in turn; 0 Hz is a pause
  alarm: [[988, 0.22], [740, 0.22], [988, 0.22], [740, 0.22], [0, 0.3]],
  checkin: [[880, 0.15], [0, 0.1], [880, 0.15]],
  lost: [[440, 0.5], [0, 0.15], [330, 0.7]],
};
let audio = null;

export function soundWanted() {
  return localStorage.getItem(SOUND_KEY) === "on";
}

/** Called from the switch's click (a gesture): sound on or off, remembered. */
export async function setSound(on) {
  localStorage.setItem(SOUND_KEY, on ? "on" : "off");
  if (on) {
    await ensureAudio();
    if ("Notification" in window && Notification.permission === "default") {
      Notification.requestPermission().catch(() => {});
    }
    play("checkin");
  }
}

async function ensureAudio() {
  if (!audio) audio = new AudioContext();
  if (audio.state === "suspended") await audio.resume().catch(() => {});
  return audio;
}

/** A later click anywhere resumes the context the browser suspended on reload. */
export function resumeOnGesture() {
  document.addEventListener("pointerdown", () => {
    if (soundWanted()) ensureAudio();
  });
}

export function play(name) {
  if (!soundWanted() || !audio || audio.state !== "running") return false;
  let at = audio.currentTime + 0.02;
  const gain = audio.createGain();
  gain.gain.value = 0.25;
  gain.connect(audio.destination);
  for (const [freq, seconds] of PATTERNS[name]) {
    if (freq) {
      const tone = audio.createOscillator();
      tone.type = "square";
      tone.frequency.value = freq;
      tone.connect(gain);
      tone.start(at);
      tone.stop(at + seconds);
    }
    at += seconds;
  }
  return true;
}

export function notify(title, body, tag) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  try {
    new Notification(title, { body, tag, requireInteraction: true });
  } catch {
    // some browsers only allow notifications from a service worker: the title still flashes
  }
}

// -- the tab: a flashing title and an icon that says the state --------------------------

let titleTimer = null;
let flashOn = false;

export function setTitle(calm, urgent) {
  clearInterval(titleTimer);
  titleTimer = null;
  if (!urgent) {
    document.title = calm;
    return;
  }
  document.title = urgent;
  titleTimer = setInterval(() => {
    flashOn = !flashOn;
    document.title = flashOn ? `${"█".repeat(3)} ${urgent}` : urgent;
  }, 1000);
}

export function setIcon(kind) {
  const icon = document.getElementById("favicon");
  const href = { alarm: "/panel/favicon-alarm.svg", lost: "/panel/favicon-lost.svg" }[kind]
    || "/panel/favicon.svg";
  if (icon.getAttribute("href") !== href) icon.setAttribute("href", href);
}
