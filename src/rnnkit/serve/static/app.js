// The page of `rnnkit serve`: one panel per loaded model, talking to the JSON API.
"use strict";

async function postTexts(url, texts) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ texts: texts }),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body.results[0];
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function showLabel(answer, result) {
  answer.replaceChildren();
  const label = element("span", "label " + result.label, result.label);
  label.dataset.label = result.label;
  const bar = element("span", "bar");
  const fill = element("span");
  fill.style.width = (100 * result.probability).toFixed(1) + "%";
  bar.append(fill);
  answer.append(label, bar, element("span", "prob", result.probability.toFixed(3)));
}

// The text with each entity marked in place, its type after it (as displaCy shows them).
function showEntities(answer, result) {
  answer.replaceChildren();
  let at = 0;
  for (const entity of result.entities) {
    answer.append(document.createTextNode(result.text.slice(at, entity.start)));
    const mark = element("mark", "entity", result.text.slice(entity.start, entity.end));
    mark.dataset.type = entity.type;
    mark.append(element("span", "type", entity.type));
    answer.append(mark);
    at = entity.end;
  }
  answer.append(document.createTextNode(result.text.slice(at)));
  if (result.entities.length === 0) answer.append(element("span", "note", "  (no entities)"));
}

// The sampled text, appended piece by piece as the server streams it.
async function streamText(answer, model, panel, prime) {
  const options = {
    prime: prime,
    length: Number(panel.querySelector(".length").value),
    temperature: Number(panel.querySelector(".temperature").value),
    seed: Number(panel.querySelector(".seed").value),
  };
  answer.replaceChildren(element("span", "prime", prime));
  answer.dataset.done = "false";
  const response = await fetch(model.endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(options),
  });
  if (!response.ok) throw new Error((await response.json()).error || response.statusText);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const sampled = element("span", "sampled");
  answer.append(sampled);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    sampled.textContent += decoder.decode(value, { stream: true });
  }
  answer.dataset.done = "true";
}

// A piece played in the page: each step a quarter note, each of its pitches a softly
// enveloped triangle wave (Web Audio synthesis; no sound files).
function play(steps, bpm) {
  const audio = new AudioContext();
  const beat = 60 / bpm;
  const start = audio.currentTime + 0.05;
  steps.forEach((pitches, i) => {
    for (const pitch of pitches) {
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.type = "triangle";
      oscillator.frequency.value = 440 * Math.pow(2, (pitch - 69) / 12);
      const t = start + i * beat;
      gain.gain.setValueAtTime(0, t);
      gain.gain.linearRampToValueAtTime(0.12, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.001, t + beat * 0.95);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start(t);
      oscillator.stop(t + beat);
    }
  });
  return audio;
}

async function compose(answer, model, panel) {
  const options = {
    steps: Number(panel.querySelector(".steps").value),
    temperature: Number(panel.querySelector(".temperature").value),
    seed: Number(panel.querySelector(".seed").value),
  };
  const response = await fetch(model.endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(options),
  });
  const piece = await response.json();
  if (!response.ok) throw new Error(piece.error || response.statusText);
  const roll = element("img");
  roll.alt = "piano roll of the piece";
  roll.src = "data:image/png;base64," + piece.piano_roll;
  const button = element("button", "play", "▶ Play");
  button.type = "button";
  button.addEventListener("click", () => {
    play(piece.steps, 80);
    button.dataset.played = "true";
  });
  const download = element("a", "download", "Download MIDI");
  download.href = "data:audio/midi;base64," + piece.midi;
  download.download = model.name + "-seed" + options.seed + ".mid";
  const controls = element("div", "controls");
  controls.append(button, download);
  answer.replaceChildren(roll, controls);
}

async function transcribe(answer, model, panel) {
  const file = panel.querySelector(".wav").files[0];
  if (!file) throw new Error("choose a WAV file first");
  const response = await fetch(model.endpoint, {
    method: "POST",
    headers: { "Content-Type": "audio/wav" },
    body: file,
  });
  const heard = await response.json();
  if (!response.ok) throw new Error(heard.error || response.statusText);
  answer.replaceChildren(element("q", "heard", heard.text));
}

const KINDS = {
  sentiment: "classify",
  ner: "tag",
  translate: "translate",
  text: "generate",
  music: "compose",
  speech: "transcribe",
};
const SHOW = {
  classify: showLabel,
  tag: showEntities,
  translate: (answer, result) => answer.replaceChildren(element("q", "", result.translation)),
};

function addPanel(main, model) {
  const kind = KINDS[model.task];
  const panel = document.getElementById(kind + "-panel").content.cloneNode(true).firstElementChild;
  panel.id = "model-" + model.name;
  panel.dataset.model = model.name;
  panel.querySelector(".name").textContent = model.name;
  const input = panel.querySelector("textarea") || { value: "" };
  const button = panel.querySelector("button");
  const answer = panel.querySelector(".answer");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      if (kind === "generate") {
        await streamText(answer, model, panel, input.value);
      } else if (kind === "compose") {
        await compose(answer, model, panel);
      } else if (kind === "transcribe") {
        await transcribe(answer, model, panel);
      } else {
        const result = await postTexts(model.endpoint, [input.value]);
        SHOW[kind](answer, result);
      }
    } catch (error) {
      answer.replaceChildren(element("span", "error", error.message));
    } finally {
      button.disabled = false;
    }
  });
  main.append(panel);
}

async function start() {
  const main = document.getElementById("models");
  try {
    const response = await fetch("/v1/models");
    const body = await response.json();
    document.getElementById("loading").remove();
    for (const model of body.models) addPanel(main, model);
  } catch (error) {
    document.getElementById("loading").textContent = "Could not load the models: " + error.message;
  }
}

start();
