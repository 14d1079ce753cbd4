'use strict';
/**
 * Annotation in the room (sessions/annotation; docs/protocol.md "Annotation"): the light
 * part every room page with slides loads. It keeps the strokes of the pages it has seen
 * (from the snapshot, events and page loads), says how many annotations the page on screen
 * has, and offers "Annotate" to those who may draw. The drawing layer (./layer.js: the SVG
 * over the slide, tools, pointer, keyboard) is imported only when it has something to show
 * (the page has strokes, someone points) or the person opens the pen, so the room page
 * stays light. Entry module (templates/room/_slides.html); nothing imports it.
 */

import { t } from '../room/dom.js';
import { connection, model as roomModel } from '../room/live.js';
import { subscribe } from '../room/bus.js';

/**
 * @typedef {{id: number, tool: string, color: string, width: number, d: string, by?: number}} Stroke
 * @typedef {{id: number, width: number, height: number, pages: number, title: string}} Deck
 * @typedef {{type: string, seq?: number, data?: any}} RoomEvent
 */

/** Django's catalogue's plural forms (absent: English). */
const catalogue = /** @type {{ngettext?: (one: string, many: string, n: number) => string}} */ (/** @type {unknown} */ (window));
/** @param {string} one @param {string} many @param {number} n */
const ngettext = (one, many, n) => (typeof catalogue.ngettext === 'function' ? catalogue.ngettext(one, many, n) : (n === 1 ? one : many));

/** Room roles with the `present` permission (as js/slides/slides.js). */
const PRESENTING_ROLES = new Set(['host', 'presenter', 'supervisor', 'trainee']);

/**
 * @param {string} text
 * @param {Object<string, string|number>} values
 */
const format = (text, values) => text.replace(/%\((\w+)\)s/g, (_m, key) => String(values[key] ?? ''));

/** The strokes of every page seen, the page on screen and who holds the pen. No DOM. */
export class AnnotationStore {
  constructor() {
    /** @type {Map<string, Map<number, Stroke>>} */ this.pages = new Map();
    /** Pages whose strokes are complete (loaded or followed since the snapshot). */
    /** @type {Set<string>} */ this.loaded = new Set();
    /** Events of pages being loaded, to replay over the loaded strokes. @type {Map<string, RoomEvent[]>} */
    this.pending = new Map();
    /** @type {Deck|null} */ this.deck = null;
    this.page = 0;
    this.slidesSeq = 0;
    /** @type {Set<number>} */ this.pens = new Set();
    this.seq = 0;
    /** Every stroke seen, by id, also once taken away: what an undo or a redo brings back. @type {Map<number, Stroke>} */
    this.known = new Map();
  }

  /** @param {number} deckId @param {number} page */
  static key(deckId, page) { return `${deckId}:${page}`; }

  get currentKey() { return this.deck ? AnnotationStore.key(this.deck.id, this.page) : ''; }

  /** @returns {Stroke[]} the strokes of the page on screen, oldest first */
  current() { return [...(this.pages.get(this.currentKey) || new Map()).values()].sort((a, b) => a.id - b.id); }

  /** @param {any} snapshot the room's snapshot */
  applySnapshot(snapshot) {
    const slides = snapshot.slides || {};
    if ((slides.seq || 0) >= this.slidesSeq) {
      this.deck = slides.deck || null;
      this.page = slides.page || 0;
      this.slidesSeq = slides.seq || 0;
    }
    const part = snapshot.annotation;
    if (part) {
      this.pages.clear();
      this.loaded.clear();
      this.pending.clear();
      this.seq = part.seq || 0;
      this.pens = new Set(part.pens || []);
      if (part.deck_id) {
        const key = AnnotationStore.key(part.deck_id, part.page);
        this.pages.set(key, this.remember(part.strokes || []));
        this.loaded.add(key);
      }
    }
    for (const event of snapshot.events || []) this.applyEvent(event);
  }

  /** @param {RoomEvent} event @returns {boolean} whether the page on screen or the pens changed */
  applyEvent(event) {
    const data = event.data || {};
    const seq = event.seq || 0;
    if (event.type.startsWith('slides.')) {
      if (seq <= this.slidesSeq) return false;
      this.slidesSeq = seq;
      if (event.type === 'slides.opened') { this.deck = data.deck; this.page = data.page; }
      else if (event.type === 'slides.page' && this.deck && this.deck.id === data.deck_id) this.page = data.page;
      else if (event.type === 'slides.closed') { this.deck = null; this.page = 0; }
      return true;
    }
    if (!event.type.startsWith('annotation.') || seq <= this.seq) return false;
    if (event.type === 'annotation.pen') {
      if (data.pen) this.pens.add(data.user_id); else this.pens.delete(data.user_id);
      return true;
    }
    const key = AnnotationStore.key(data.deck_id, data.page);
    const waiting = this.pending.get(key);
    if (waiting) waiting.push(event);
    if (!this.applyToPage(key, event)) this.loaded.delete(key); // ask the server for the page
    return key === this.currentKey;
  }

  /** @param {Stroke[]} strokes @returns {Map<number, Stroke>} them by id, remembered */
  remember(strokes) {
    for (const s of strokes) this.known.set(s.id, s);
    return new Map(strokes.map((s) => [s.id, s]));
  }

  /**
   * @param {string} key @param {RoomEvent} event
   * @returns {boolean} false when it brings back a stroke this page never saw (load the page)
   */
  applyToPage(key, event) {
    const data = event.data || {};
    let strokes = this.pages.get(key);
    if (!strokes) { strokes = new Map(); this.pages.set(key, strokes); }
    const type = event.type;
    if (type === 'annotation.stroke') {
      const stroke = { id: event.seq || 0, ...data };
      strokes.set(stroke.id, stroke);
      this.known.set(stroke.id, stroke);
    } else if (type === 'annotation.erased' || type === 'annotation.undone') strokes.delete(data.stroke);
    else if (type === 'annotation.cleared') strokes.clear();
    else if (type === 'annotation.removed') for (const id of data.strokes || []) strokes.delete(id);
    else if (type === 'annotation.redone' || type === 'annotation.restored') {
      // An undo of an erase or a clear, or a redo: the strokes come back by id.
      let complete = true;
      for (const id of type === 'annotation.redone' ? [data.stroke] : data.strokes || []) {
        const stroke = this.known.get(id);
        if (stroke) strokes.set(id, stroke); else complete = false;
      }
      return complete;
    }
    return true;
  }

  /** The page on screen is not complete here: ask for it (once). @returns {string|null} its key */
  needsLoad() {
    const key = this.currentKey;
    if (!key || this.loaded.has(key) || this.pending.has(key)) return null;
    this.pending.set(key, []);
    return key;
  }

  /** @param {{deck_id: number, page: number, strokes: Stroke[], seq: number}} data a page load's reply */
  applyLoad(data) {
    const key = AnnotationStore.key(data.deck_id, data.page);
    const events = this.pending.get(key) || [];
    this.pending.delete(key);
    this.pages.set(key, this.remember(data.strokes));
    let complete = true;
    for (const event of events) if ((event.seq || 0) > data.seq) complete = this.applyToPage(key, event) && complete;
    if (complete) this.loaded.add(key);
    return key === this.currentKey;
  }

  /** Whether `you` may draw: presenters (as for slides), the host, pen holders. */
  mayDraw() {
    const you = roomModel.you;
    if (roomModel.session.kind === 'consult') return false;
    return PRESENTING_ROLES.has(you.role) || Boolean(you.has_floor) || roomModel.session.kind === 'peer'
      || this.pens.has(you.user_id);
  }
}

/**
 * Wire annotation to the slides section.
 * @param {HTMLElement} root the `[data-slides]` section
 */
export function attachAnnotation(root) {
  const store = new AnnotationStore();
  const frame = /** @type {HTMLElement} */ (root.querySelector('[data-slides-frame]'));
  const summary = document.createElement('p');
  summary.className = 'visually-hidden';
  summary.setAttribute('aria-live', 'polite');
  summary.dataset.annotationSummary = '';
  const open = document.createElement('button');
  open.type = 'button';
  open.className = 'secondary';
  open.dataset.annotationOpen = '';
  open.setAttribute('aria-pressed', 'false');
  open.textContent = t('Annotate');
  open.hidden = true;
  frame.after(summary, open);
  /** @type {any} */
  let layer = null;
  /** @type {Promise<any>|null} */
  let loading = null;

  /** Import and attach the drawing layer (once). */
  function loadLayer() {
    if (!loading) {
      loading = import('./layer.js').then((module) => {
        layer = module.attachLayer({ frame, store, connection, roomModel, openButton: open });
        return layer;
      });
    }
    return loading;
  }

  function render() {
    const strokes = store.current();
    const onScreen = Boolean(store.deck);
    open.hidden = !(onScreen && store.mayDraw());
    if (open.hidden && layer) layer.close();
    const count = strokes.length;
    const text = !onScreen || !count ? '' : format(ngettext('%(n)s annotation on this page', '%(n)s annotations on this page', count), { n: count });
    if (summary.textContent !== text) summary.textContent = text;
    const key = store.needsLoad();
    if (key) connection.send('annotation.load', { deck_id: store.deck?.id, page: store.page }).catch(() => store.pending.delete(key));
    if (layer) layer.render();
    else if (onScreen && count) loadLayer();
  }

  open.addEventListener('click', async () => {
    const active = await loadLayer();
    active.toggle();
  });
  subscribe('room:snapshot', (snapshot) => { store.applySnapshot(snapshot); render(); });
  subscribe('room:event', (event) => {
    if (store.applyEvent(event) || /^(participant\.role|floor\.)/.test(event.type)) render();
  });
  subscribe('room:message', (message) => {
    if (message.type === 'annotation.strokes' && store.applyLoad(message.data)) render();
    else if (message.type === 'annotation.pointer' && store.deck) {
      loadLayer().then((active) => active.pointer(message.data));
    }
  });
  return store;
}

const slidesRoot = /** @type {HTMLElement|null} */ (document.querySelector('[data-slides]'));
if (slidesRoot) attachAnnotation(slidesRoot);
