'use strict';
/**
 * The consult's panels on top of the live room page: private guidance, the SOAP note
 * written live, clinical photos and the connection mode. It rides on the room's own
 * connection (imported from ../room/live.js) and the room bus's `room:snapshot` and
 * `room:event` (../room/bus.js); it sends `guidance.send`, `note.update`,
 * `note.comment`, `note.sign` and `connection.mode` (docs/protocol.md, "Consults").
 *
 * The media part can tell this page the mode it fell back to:
 *   publish('consult:mode', {mode: 'audio'})   (publish from ../room/bus.js)
 * and this page publishes the consent it learns as `consult:consent`.
 */
import {byId, el, t, timeOf} from '../room/dom.js';
import {connection} from '../room/live.js';
import {publish, subscribe} from '../room/bus.js';

const root = byId('consult');
const role = root.dataset.role || '';

const SOAP = ['subjective', 'objective', 'assessment', 'plan'];
const MODE_RANK = {video: 3, audio: 2, text: 1};
const MODE_TEXT = {video: 'Mode: video', audio: 'Mode: audio only', text: 'Mode: text and photos'};

const state = {
  mediaAllowed: root.dataset.mediaAllowed === '1',
  signed: root.dataset.signed === '1',
  noteVersion: Number(root.dataset.noteVersion || 0),
  dirty: false,
  /** @type {Map<number, {name: string, mode: string}>} */
  modes: new Map(),
  /** @type {Set<number>} */
  guidanceSeen: new Set(),
  /** @type {Set<number>} */
  photosSeen: new Set(),
  trainee: 0,
  supervisor: 0,
};

/** @param {string} text @param {boolean} [isError] */
function noteStatus(text, isError = false) {
  const line = byId('note-status');
  line.textContent = text;
  line.classList.toggle('errors', isError);
}

/** @param {{text: string, from: string, at: string}} data @param {number} seq */
function showGuidance(data, seq) {
  if (state.guidanceSeen.has(seq)) return;
  state.guidanceSeen.add(seq);
  byId('guidance-log').append(el('li', {class: 'guidance'}, [
    el('strong', {text: data.from}), ' ', el('time', {datetime: data.at, text: timeOf(data.at)}), ' ',
    el('span', {class: 'guidance-text', text: data.text}),
  ]));
}

/** @param {any} note */
function showNote(note) {
  if (!note) return;
  state.noteVersion = note.version;
  for (const name of SOAP) {
    const field = /** @type {HTMLTextAreaElement} */ (byId(`note-${name}`));
    // Never overwrite what the trainee is typing; their next save carries the version.
    if (document.activeElement !== field || role !== 'trainee') field.value = note[name] || '';
  }
  const comments = /** @type {HTMLTextAreaElement} */ (byId('note-comments'));
  if (document.activeElement !== comments) comments.value = note.supervisor_comments || '';
  if (note.signed) lockNote(note.signed_by);
}

/** @param {string} by */
function lockNote(by) {
  state.signed = true;
  for (const area of root.querySelectorAll('#note-form textarea')) area.setAttribute('readonly', '');
  for (const id of ['note-save', 'note-sign', 'note-comment-save']) {
    const button = byId(id);
    if (button) /** @type {HTMLButtonElement} */ (button).disabled = true;
  }
  noteStatus(t('Signed by %s; read-only.').replace('%s', by || ''));
}

/** @param {any} photo */
function showPhoto(photo) {
  if (state.photosSeen.has(photo.id)) return;
  state.photosSeen.add(photo.id);
  const list = byId('photo-list');
  const exists = [...list.querySelectorAll('a')].some((a) => a.getAttribute('href') === photo.url);
  if (exists) return;
  list.append(el('li', {}, [
    el('a', {href: photo.url, target: '_blank', rel: 'noopener', text: photo.caption || t('Photo')}), ' ',
    el('small', {class: 'muted', text: `${photo.by}, ${timeOf(photo.at)}`}),
  ]));
}

function renderMode() {
  const line = byId('consult-mode');
  let mode = 'video';
  for (const id of [state.trainee, state.supervisor]) {
    const entry = state.modes.get(id);
    if (entry && MODE_RANK[entry.mode] < MODE_RANK[mode]) mode = entry.mode;
  }
  if (!state.mediaAllowed) mode = 'text';
  line.dataset.mode = mode;
  line.textContent = t(MODE_TEXT[mode]);
  byId('consult-consent-warning').hidden = state.mediaAllowed;
  const list = byId('mode-list');
  list.replaceChildren(...[...state.modes.values()].map((entry) => el('li', {text: `${entry.name}: ${t(entry.mode)}`})));
}

/** @param {{consult: boolean, recording: boolean, teaching: boolean}} consent */
function showConsent(consent) {
  state.mediaAllowed = Boolean(consent.consult);
  renderMode();
  publish('consult:consent', consent);
}

/** @param {any} event */
function applyEvent(event) {
  const data = event.data || {};
  switch (event.type) {
    case 'consult.guidance': showGuidance(data, event.seq); break;
    case 'note.updated': case 'note.signed': showNote(data); break;
    case 'note.addendum': break;
    case 'photo.added': showPhoto(data); break;
    case 'consent.changed': showConsent(data); break;
    case 'connection.mode': state.modes.set(data.user_id, {name: data.name, mode: data.mode}); renderMode(); break;
    case 'consult.status': if (data.status !== 'accepted' && data.status !== 'scheduled') noteStatus(t('The consult has ended.')); break;
    default: break;
  }
}

subscribe('room:snapshot', (snapshot) => {
  const consult = snapshot.consult || {};
  state.trainee = consult.trainee ? consult.trainee.id : 0;
  state.supervisor = consult.supervisor ? consult.supervisor.id : 0;
  if (consult.note) showNote(consult.note);
  for (const photo of consult.photos || []) showPhoto(photo);
  if (consult.consent) showConsent(consult.consent);
  for (const past of snapshot.events || []) applyEvent(past);
  announceMode();
});
subscribe('room:event', applyEvent);

/** @param {any} error */
function failed(error) {
  // A refusal from the room (type "error") is already in the person's words and language;
  // anything else (a browser exception) is technical: a plain sentence here, details in the console.
  const refusal = error && error.type === 'error' && error.message;
  if (!refusal) console.warn('consult room', error);
  noteStatus(refusal || t('That did not work; try again.'), true);
}

// -- guidance (supervisor) --------------------------------------------------------------
const guidanceForm = byId('guidance-form');
if (guidanceForm) {
  guidanceForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const input = /** @type {HTMLInputElement} */ (byId('guidance-text'));
    const text = input.value.trim();
    if (!text) return;
    connection.send('guidance.send', {text}).then(() => { input.value = ''; }).catch(failed);
  });
}

// -- the note ---------------------------------------------------------------------------
let saveTimer = 0;
function saveNote() {
  window.clearTimeout(saveTimer);
  if (state.signed || role !== 'trainee') return Promise.resolve();
  /** @type {{[key: string]: any}} */
  const fields = {base_version: state.noteVersion};
  for (const name of SOAP) fields[name] = /** @type {HTMLTextAreaElement} */ (byId(`note-${name}`)).value;
  noteStatus(t('Saving…'));
  return connection.send('note.update', fields).then(() => {
    state.dirty = false;
    noteStatus(t('Saved'));
  }).catch((error) => {
    if (error && error.code === 'note_conflict') noteStatus(t('Someone else changed the note; the newest version is shown.'), true);
    else failed(error);
  });
}
if (role === 'trainee') {
  for (const name of SOAP) {
    byId(`note-${name}`).addEventListener('input', () => {
      state.dirty = true;
      window.clearTimeout(saveTimer);
      saveTimer = window.setTimeout(saveNote, 1500);  // live: saved when the writer pauses
    });
  }
  byId('note-save').addEventListener('click', () => { saveNote(); });
}
if (role === 'supervisor') {
  byId('note-comment-save').addEventListener('click', () => {
    const text = /** @type {HTMLTextAreaElement} */ (byId('note-comments')).value;
    connection.send('note.comment', {text}).then(() => noteStatus(t('Comment saved'))).catch(failed);
  });
  byId('note-sign').addEventListener('click', () => {
    const text = /** @type {HTMLTextAreaElement} */ (byId('note-comments')).value;
    connection.send('note.comment', {text})
      .then(() => connection.send('note.sign'))
      .then(() => noteStatus(t('Signed; read-only.')))
      .catch(failed);
  });
}

// -- photos: uploaded over HTTP (works with video and audio off), announced in the room ---
const photoForm = /** @type {HTMLFormElement|null} */ (byId('photo-form'));
if (photoForm) {
  photoForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const status = byId('photo-status');
    status.textContent = t('Uploading…');
    fetch(photoForm.action, {method: 'POST', body: new FormData(photoForm), credentials: 'same-origin'})
      .then((response) => {
        if (!response.ok) throw new Error(String(response.status));
        photoForm.reset();
        status.textContent = t('Photo added, without its metadata.');
      })
      .catch(() => { status.textContent = t('The photo could not be added.'); });
  });
}

// -- connection mode ----------------------------------------------------------------------
const modeSelect = /** @type {HTMLSelectElement|null} */ (byId('my-mode'));
function announceMode() {
  if (!modeSelect) return;
  if (!state.mediaAllowed) modeSelect.value = 'text';
  connection.send('connection.mode', {mode: modeSelect.value}).catch(() => {});
}
if (modeSelect) modeSelect.addEventListener('change', announceMode);
subscribe('consult:mode', (detail) => {
  if (modeSelect && detail && MODE_RANK[detail.mode]) {
    modeSelect.value = detail.mode;
    announceMode();
  }
});
window.addEventListener('pagehide', () => { if (state.dirty) saveNote(); });
renderMode();
