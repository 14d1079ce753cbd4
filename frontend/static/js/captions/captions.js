'use strict';
/**
 * Live captions in the room: the lines everyone sees (each person may hide them) and the
 * captioner's input. A line being typed arrives as `caption.partial` (not stored); a
 * finished line as the stored event `caption.line` (replayed to late joiners, and the
 * recording's WebVTT). sessions/captions/room_handlers.py is the server side.
 */
import {byId, el, t} from '../room/dom.js';
import {connection, model} from '../room/live.js';
import {subscribe} from '../room/bus.js';

const panel = byId('captions-panel');
const SHOWN_LINES = 4;
const PARTIAL_EVERY_MS = 350;
const STORE_KEY = 'openrounds.captions';

/** @type {{name: string, text: string, user_id: number}[]} */
const lines = [];
/** @type {Map<number, {name: string, text: string}>} */
const partials = new Map();
/** Sequence numbers already shown (a resumed socket's snapshot repeats recent events). */
const seen = new Set();

function hidden() {
  try { return window.localStorage.getItem(STORE_KEY) === 'off'; } catch { return false; }
}

function render() {
  const off = hidden();
  const toggle = byId('captions-toggle');
  toggle.textContent = off ? t('Show captions') : t('Hide captions');
  toggle.setAttribute('aria-pressed', String(!off));
  const box = byId('captions');
  box.hidden = off;
  const shown = lines.slice(-SHOWN_LINES).map((line) => el('p', {class: 'caption-line'}, [
    el('bdi', {class: 'caption-speaker', text: line.name}), ': ', el('span', {dir: 'auto', text: line.text}),
  ]));
  for (const [, partial] of partials) {
    if (partial.text) shown.push(el('p', {class: 'caption-line partial'}, [
      el('bdi', {class: 'caption-speaker', text: partial.name}), ': ', el('span', {dir: 'auto', text: partial.text}),
    ]));
  }
  box.replaceChildren(...(shown.length ? shown : [el('p', {class: 'muted', text: t('No captions yet. The host can give someone the captioner role.')})]));
  const captioner = model.can('caption');
  byId('caption-form').hidden = !captioner;
}

/** @param {import('../room/protocol.js').RoomEvent} event */
function onEvent(event) {
  if (event.type !== 'caption.line' || seen.has(event.seq)) return;
  seen.add(event.seq);
  lines.push({name: event.data.name, text: event.data.text, user_id: event.data.user_id});
  if (lines.length > 50) lines.splice(0, lines.length - 50);
  partials.delete(event.data.user_id);
}

function wireInput() {
  const form = /** @type {HTMLFormElement} */ (byId('caption-form'));
  const input = /** @type {HTMLInputElement} */ (byId('caption-text'));
  let timer = 0;
  const send = (/** @type {boolean} */ final) => {
    connection.send('caption.send', {text: input.value, final}).catch((/** @type {any} */ error) => {
      byId('caption-error').textContent = error && error.message ? error.message : t('The caption could not be sent.');
    });
  };
  input.addEventListener('input', () => {
    if (!timer) timer = window.setTimeout(() => { timer = 0; send(false); }, PARTIAL_EVERY_MS);
  });
  form.addEventListener('submit', (submitted) => {
    submitted.preventDefault();
    if (!input.value.trim()) return;
    window.clearTimeout(timer);
    timer = 0;
    send(true);
    input.value = '';
  });
}

if (panel) {
  byId('captions-toggle').addEventListener('click', () => {
    try { window.localStorage.setItem(STORE_KEY, hidden() ? 'on' : 'off'); } catch { /* private mode: this page only */ }
    render();
  });
  subscribe('room:snapshot', (snapshot) => {
    for (const event of snapshot.events || []) onEvent(event);
    render();
  });
  subscribe('room:event', (event) => { onEvent(event); render(); });
  subscribe('room:message', (message) => {
    if (message.type !== 'caption.partial') return;
    partials.set(message.data.user_id, {name: message.data.name, text: message.data.text});
    render();
  });
  wireInput();
  render();
}
