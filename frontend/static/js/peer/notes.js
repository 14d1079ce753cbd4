'use strict';
/**
 * The shared notes of a peer session's room (templates/room/_peer.html; protocol in
 * docs/protocol.md, "Peer sessions").
 *
 * Attaches to the room page's connection (imported from js/room/live.js) and subscribes
 * to `room:snapshot`, `room:event` and `room:message` on the room's bus (js/room/bus.js),
 * so saves share the room's socket, ids and reconnects.
 *
 * The model: `base` is the server's text at `base.version`, rebuilt only from what the
 * server sends (the snapshot's whole text, then each `notes.changed` splice); the
 * textarea holds the person's draft. A pause in typing saves the draft on `base`. When
 * someone else's change arrives, it is merged into the draft if the two touch different
 * parts; if they touch the same part, the draft stays as it is and the newer text is shown
 * beside it until the person saves theirs or takes the newer one. Nothing is dropped
 * without the person choosing it.
 */

/**
 * @typedef {{id: number, name: string}} Author
 * @typedef {{version: number, text: string, updated_at: string|null, updated_by: Author|null, save_id: string|null}} Notes
 * @typedef {{start: number, end: number, insert: string}} Splice
 * @typedef {{version: number, base_version: number, start: number, end: number, insert: string, length: number, by: Author, save_id: string|null, at: string}} NotesChange
 */

import {connection} from '../room/live.js';
import {subscribe} from '../room/bus.js';

const SAVE_AFTER_MS = 1200;
/** After an ack, the change itself should arrive at once; if not, ask for the whole text. */
const CHANGE_WAIT_MS = 4000;

/**
 * The one splice that turns `before` into `after`: what lies between their common start and end.
 * @param {string} before
 * @param {string} after
 * @returns {Splice}
 */
export function spliceBetween(before, after) {
  const limit = Math.min(before.length, after.length);
  let prefix = 0;
  while (prefix < limit && before.charCodeAt(prefix) === after.charCodeAt(prefix)) prefix += 1;
  let suffix = 0;
  while (suffix < limit - prefix
         && before.charCodeAt(before.length - 1 - suffix) === after.charCodeAt(after.length - 1 - suffix)) suffix += 1;
  return {start: prefix, end: before.length - suffix, insert: after.slice(prefix, after.length - suffix)};
}

/**
 * @param {string} text
 * @param {Splice} splice
 */
export function applySplice(text, splice) {
  return text.slice(0, splice.start) + splice.insert + text.slice(splice.end);
}

/**
 * Both changes to `base` at once, or null when they touch the same part.
 * Also returns `theirs` moved into the draft's positions (to keep the caret in place).
 * @param {string} base
 * @param {Splice} mine
 * @param {Splice} theirs
 * @returns {{text: string, theirsInDraft: Splice}|null}
 */
export function mergeSplices(base, mine, theirs) {
  const shift = mine.insert.length - (mine.end - mine.start);
  if (mine.end <= theirs.start) {
    const text = base.slice(0, mine.start) + mine.insert + base.slice(mine.end, theirs.start) + theirs.insert + base.slice(theirs.end);
    return {text, theirsInDraft: {start: theirs.start + shift, end: theirs.end + shift, insert: theirs.insert}};
  }
  if (theirs.end <= mine.start) {
    const text = base.slice(0, theirs.start) + theirs.insert + base.slice(theirs.end, mine.start) + mine.insert + base.slice(mine.end);
    return {text, theirsInDraft: theirs};
  }
  return null;
}

/**
 * Where a position of the text goes when `splice` is applied.
 * @param {number} position
 * @param {Splice} splice
 */
export function movePosition(position, splice) {
  if (position <= splice.start) return position;
  if (position >= splice.end) return position + splice.insert.length - (splice.end - splice.start);
  return splice.start + splice.insert.length;
}

/** @param {string} id @returns {any} */
const byId = (id) => document.getElementById(id);

class SharedNotes {
  /** @param {HTMLElement} root */
  constructor(root) {
    this.root = root;
    this.userId = Number(root.dataset.userId || 0);
    this.box = /** @type {HTMLTextAreaElement} */ (byId('peer-notes-text'));
    this.theirsBox = /** @type {HTMLTextAreaElement} */ (byId('peer-notes-theirs'));
    this.conflictPanel = byId('peer-notes-conflict');
    this.saveButton = /** @type {HTMLButtonElement} */ (byId('peer-notes-save'));
    /** The room's connection (js/room/live.js). */
    this.connection = connection;
    /** @type {{version: number, text: string}|null} */
    this.base = null;
    /** @type {{id: string, timer: number}|null} the save on its way */
    this.inflight = null;
    /** Ids of the saves this page sent: a change carrying one of them is ours. */
    this.sentIds = new Set();
    this.conflict = false;
    this.muted = false;
    this.saveAgain = false;
    this.timer = 0;
    this.maxChars = 20000;
    this.maxBytes = 60000;
    this.lastAuthor = '';

    this.box.addEventListener('input', () => { this.setStatus('unsaved'); this.saveSoon(); });
    this.box.addEventListener('blur', () => { if (this.dirty()) this.saveSoon(0); });
    this.box.addEventListener('keydown', (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 's') { event.preventDefault(); this.save(); }
    });
    this.saveButton.addEventListener('click', () => this.save());
    byId('peer-notes-keep-mine').addEventListener('click', () => this.keepMine());
    byId('peer-notes-take-theirs').addEventListener('click', () => this.takeTheirs());
    subscribe('room:snapshot', (snapshot) => this.onSnapshot(snapshot));
    subscribe('room:event', (event) => this.onEvent(event));
    subscribe('room:message', (message) => this.onMessage(message));
  }

  /**
   * A translated text of the template (data-t-*), with {name}-style values filled in.
   * @param {string} key
   * @param {{[name: string]: string}} [values]
   */
  text(key, values = {}) {
    const template = this.root.dataset[`t${key.replace(/(^|-)(\w)/g, (_m, _d, c) => c.toUpperCase())}`] || key;
    return template.replace(/\{(\w+)\}/g, (_m, name) => values[name] ?? '');
  }

  /** @param {'saved'|'unsaved'|'saving'|'offline'|'loading'} state */
  setStatus(state) {
    const line = byId('peer-notes-status');
    line.dataset.state = state;
    line.textContent = this.text(state);
  }

  /** Something the person should hear about (merged, conflict, refusal): a polite live region. @param {string} message */
  announce(message) {
    byId('peer-notes-alert').textContent = message;
  }

  /** @param {Author|null|undefined} author @param {string|null|undefined} at */
  showLast(author, at) {
    if (!author) return;
    this.lastAuthor = author.name;
    const time = at ? new Date(at).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'}) : '';
    byId('peer-notes-last').textContent = this.text('last', {name: author.name, time});
  }

  dirty() {
    return this.base !== null && this.box.value.trim() !== this.base.text;
  }

  /** @param {string} text */
  tooLong(text) {
    return text.length > this.maxChars || new TextEncoder().encode(text).length > this.maxBytes;
  }

  /** @param {boolean} muted */
  setMuted(muted) {
    this.muted = muted;
    this.box.readOnly = muted;
    this.saveButton.disabled = muted || this.base === null;
    if (muted) this.announce(this.text('muted'));
  }

  // --- what the server sends ----------------------------------------------------------

  /** @param {any} snapshot */
  onSnapshot(snapshot) {
    const part = snapshot && snapshot.peer;
    if (!part || !part.notes) return;
    this.maxChars = part.max_chars || this.maxChars;
    this.maxBytes = part.max_bytes || this.maxBytes;
    this.box.maxLength = this.maxChars;
    /** @type {Notes} */
    const notes = part.notes;
    if (this.base === null) {
      this.base = {version: notes.version, text: notes.text};
      this.box.value = notes.text;
      this.box.disabled = false;
      this.setStatus('saved');
      this.showLast(notes.updated_by, notes.updated_at);
      this.setMuted(Boolean(snapshot.you && snapshot.you.muted));
      this.replay(snapshot);
      return;
    }
    // A reconnect: the notes may have moved on meanwhile.
    this.setMuted(Boolean(snapshot.you && snapshot.you.muted));
    if (this.inflight && !(this.connection && this.connection.pending.has(this.inflight.id))) {
      window.clearTimeout(this.inflight.timer);
      this.inflight = null;
    }
    // An unacknowledged save is resent with its id by the connection: it either landed
    // (then the snapshot or its ack says so) or is tried again on the newest base.
    this.receiveWhole(notes);
    this.replay(snapshot);
    if (!this.inflight && !this.conflict && this.dirty()) this.saveSoon(0);
  }

  /**
   * Changes in the snapshot's own events that are newer than its `peer` part (both are read
   * at nearly the same moment); the room page does not re-dispatch those events.
   * @param {any} snapshot
   */
  replay(snapshot) {
    for (const event of snapshot.events || []) {
      if (event.type === 'notes.changed') this.onEvent(event);
    }
  }

  /** @param {any} event */
  onEvent(event) {
    if (!event || !this.base) return;
    if ((event.type === 'participant.muted' || event.type === 'participant.unmuted') && event.data && event.data.user_id === this.userId) {
      this.setMuted(event.type === 'participant.muted');
      return;
    }
    if (event.type !== 'notes.changed') return;
    /** @type {NotesChange} */
    const change = event.data;
    if (change.version <= this.base.version) return;
    if (change.base_version !== this.base.version) { this.fetchWhole(); return; }
    const text = applySplice(this.base.text, change);
    if (text.length !== change.length) { this.fetchWhole(); return; }
    this.receive(change.version, text, change.by, change.at, change.save_id);
  }

  /** @param {any} message */
  onMessage(message) {
    if (message && message.type === 'notes.current' && message.notes) this.receiveWhole(message.notes);
  }

  /** @param {Notes} notes */
  receiveWhole(notes) {
    if (this.base === null || notes.version <= this.base.version) return;
    this.receive(notes.version, notes.text, notes.updated_by, notes.updated_at, notes.save_id);
  }

  /**
   * A newer version of the server's text.
   * @param {number} version
   * @param {string} text
   * @param {Author|null} author
   * @param {string|null} at
   * @param {string|null} saveId
   */
  receive(version, text, author, at, saveId) {
    if (this.base === null) return;
    const old = this.base.text;
    this.base = {version, text};
    this.showLast(author, at);
    if (saveId && this.sentIds.has(saveId)) {  // our own save: the draft already holds it (and maybe more)
      if (this.inflight && this.inflight.id === saveId) this.settled();
      return;
    }
    const name = (author && author.name) || this.text('someone');
    if (this.conflict) { this.showConflict(name); return; }
    const draft = this.box.value;
    if (draft === old || draft === text) {
      this.replaceDraft(text, spliceBetween(draft, text));
      if (!this.inflight) this.setStatus('saved');
      return;
    }
    const merged = mergeSplices(old, spliceBetween(old, draft), spliceBetween(old, text));
    if (merged === null) {
      this.conflict = true;
      this.showConflict(name);
      return;
    }
    this.replaceDraft(merged.text, merged.theirsInDraft);
    this.announce(this.text('merged', {name}));
    // A save on the old version is refused anyway; the merged draft is saved after it.
    if (this.inflight) this.saveAgain = true;
    else this.saveSoon();
  }

  /**
   * Put `text` in the textarea, keeping the caret and the scroll where the person was.
   * @param {string} text
   * @param {Splice} change the change, in the current draft's positions
   */
  replaceDraft(text, change) {
    if (this.box.value === text) return;
    const focused = document.activeElement === this.box;
    const start = this.box.selectionStart;
    const end = this.box.selectionEnd;
    const scroll = this.box.scrollTop;
    this.box.value = text;
    if (focused) this.box.setSelectionRange(movePosition(start, change), movePosition(end, change));
    this.box.scrollTop = scroll;
  }

  /** @param {string} name */
  showConflict(name) {
    this.theirsBox.value = this.base ? this.base.text : '';
    this.conflictPanel.hidden = false;
    this.announce(this.text('conflict', {name}));
    this.setStatus('unsaved');
  }

  fetchWhole() {
    if (this.connection) this.connection.send('notes.get').catch(() => {});
  }

  // --- saving -------------------------------------------------------------------------

  /** @param {number} [delay] */
  saveSoon(delay = SAVE_AFTER_MS) {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.save(), delay);
  }

  /** Save the draft on the newest version known. @param {boolean} [merged] the person resolved a conflict */
  save(merged = false) {
    window.clearTimeout(this.timer);
    if (this.base === null || this.muted || (this.conflict && !merged)) return;
    if (this.inflight) { this.saveAgain = true; return; }
    const draft = this.box.value;
    if (!this.dirty()) { this.setStatus('saved'); return; }
    if (this.tooLong(draft)) { this.announce(this.text('too-long')); return; }
    const sent = this.connection.send('notes.save', {text: draft, base_version: this.base.version});
    // RoomConnection numbers its messages itself; this is the id it just used.
    const id = `${this.connection.idPrefix}-${this.connection.counter}`;
    this.sentIds.add(id);
    this.inflight = {id, timer: 0};
    this.setStatus(this.connection.joined && this.connection.socket && this.connection.socket.readyState === WebSocket.OPEN ? 'saving' : 'offline');
    sent.then((ack) => this.onAck(id, ack), (error) => this.onRefused(id, error));
  }

  /** @param {string} id @param {{seq: number|null}} ack */
  onAck(id, ack) {
    if (!this.inflight || this.inflight.id !== id) return;
    if (ack.seq === null) { this.settled(); return; }  // the server already had this text
    // The change itself arrives as a room event (usually before the ack).
    this.inflight.timer = window.setTimeout(() => {
      if (this.inflight && this.inflight.id === id) { this.inflight = null; this.fetchWhole(); }
    }, CHANGE_WAIT_MS);
  }

  /** @param {string} id @param {any} error */
  onRefused(id, error) {
    if (!this.inflight || this.inflight.id !== id) return;
    window.clearTimeout(this.inflight.timer);
    this.inflight = null;
    if (error && error.code === 'notes_conflict' && error.notes) {
      this.receiveWhole(error.notes);
      this.settled();
      return;
    }
    if (error && error.code === 'closed') return;
    this.announce((error && error.message) || '');
    this.setStatus('unsaved');
  }

  /** The save on its way is done: save again if the draft moved on meanwhile. */
  settled() {
    if (this.inflight) window.clearTimeout(this.inflight.timer);
    this.inflight = null;
    const again = this.saveAgain;
    this.saveAgain = false;
    if (this.conflict) return;
    if (this.dirty()) this.saveSoon(again ? 0 : SAVE_AFTER_MS);
    else this.setStatus('saved');
  }

  keepMine() {
    this.conflict = false;
    this.conflictPanel.hidden = true;
    this.announce('');
    this.save(true);
    this.box.focus();
  }

  takeTheirs() {
    this.conflict = false;
    this.conflictPanel.hidden = true;
    this.announce('');
    if (this.base) this.box.value = this.base.text;
    this.setStatus('saved');
    this.box.focus();
  }
}

const root = /** @type {HTMLElement|null} */ (document.querySelector('[data-peer-notes]'));
if (root) new SharedNotes(root);
