'use strict';
/**
 * The drawing layer over the slide on screen, imported by ./annotation.js only when it has
 * something to show or someone opens the pen.
 *
 * - Everyone: the page's strokes as an SVG over the slide image (aria-hidden: the slide
 *   image keeps its text, and ./annotation.js says how many annotations there are) and
 *   the presenter's pointer (a red dot that fades when it stops moving).
 * - Whoever may draw ("Annotate"): a toolbar (pointer, pen, highlighter, colours, width,
 *   undo, eraser, clear page) usable by keyboard, and drawing with a mouse, a pen or a
 *   finger (pointer events; the layer takes `touch-action: none` only while a tool is
 *   active, css/annotation.css, so a finger scrolls the page otherwise). From the
 *   keyboard, with the focus on the slide: the arrow keys move a cross (Shift for small
 *   steps), Space puts the pen down and lifts it (one stroke), Enter erases the nearest
 *   stroke with the eraser; with the pointer tool the cross is the pointer. Escape stops.
 *   The arrow keys do not turn pages while annotating. Undo (the button, or Ctrl/Cmd+Z
 *   anywhere but in a text field) takes back your newest stroke, erase or clear on the
 *   page on screen, for everyone (`annotation.undo`); again, the one before. Redo (the
 *   button, Ctrl/Cmd+Shift+Z or Ctrl+Y) does again what your Undo took back
 *   (`annotation.redo`), until you draw, erase or clear on that page again.
 * - The host: hand the pen to someone in the room, and take it back.
 *
 * A stroke is simplified and encoded (./codec.js) before it is sent; it shows at once as
 * a preview and is replaced by the stored stroke when its event comes back.
 */

import { t } from '../room/dom.js';
import { GRID, MAX_POINTS, decode, distanceSq, encode, simplify } from './codec.js';

const SVG = 'http://www.w3.org/2000/svg';
/** The palette (sessions/annotation/selectors.py COLOURS). */
const COLOURS = /** @type {Record<string, string>} */ ({
  red: '#d62728', blue: '#1f5fbf', green: '#1a7f37', yellow: '#f2c200', black: '#111111', white: '#ffffff',
});
const COLOUR_NAMES = /** @type {Record<string, string>} */ ({
  red: t('Red'), blue: t('Blue'), green: t('Green'), yellow: t('Yellow'), black: t('Black'), white: t('White'),
});
const PEN_WIDTHS = /** @type {Record<number, number>} */ ({ 1: 12, 2: 25, 3: 50 });
const HIGHLIGHTER_FACTOR = 4;
const POINTER_MS = 100; // at most ten pointer positions a second
const POINTER_FADE_MS = 3000;
const ERASE_REACH = 200; // grid units around the eraser
const STEP = 100;
const SMALL_STEP = 20;

/** @typedef {import('./codec.js').Point} Point */

/**
 * @param {string} text
 * @param {Object<string, string|number>} values
 */
const format = (text, values) => text.replace(/%\((\w+)\)s/g, (_m, key) => String(values[key] ?? ''));

/**
 * @param {string} name
 * @param {Record<string, string|number>} [attributes]
 */
function svg(name, attributes = {}) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

/** @param {string} label @param {Record<string, string>} [data] */
function button(label, data = {}) {
  const node = document.createElement('button');
  node.type = 'button';
  node.className = 'secondary';
  node.textContent = label;
  for (const [key, value] of Object.entries(data)) node.dataset[key] = value;
  return node;
}

/**
 * @param {{frame: HTMLElement, store: any, connection: any, roomModel: any,
 *   openButton: HTMLButtonElement}} options
 */
export function attachLayer({ frame, store, connection, roomModel, openButton }) {
  // The stage wraps the slide image so the SVG covers exactly the image.
  const picture = /** @type {HTMLElement} */ (frame.querySelector('picture'));
  const stage = document.createElement('div');
  stage.className = 'annotation-stage';
  stage.dataset.annotationStage = '';
  picture.before(stage);
  stage.append(picture);
  const layer = svg('svg', { class: 'annotation-layer', 'aria-hidden': 'true', focusable: 'false', preserveAspectRatio: 'none' });
  const strokesGroup = svg('g');
  const preview = svg('polyline', { fill: 'none', 'stroke-linecap': 'round', 'stroke-linejoin': 'round' });
  const pointerDot = svg('circle', { r: 70, fill: '#e00000', stroke: '#ffffff', 'stroke-width': 20, visibility: 'hidden' });
  const cross = svg('circle', { r: 40, fill: 'none', stroke: '#1f5fbf', 'stroke-width': 12, visibility: 'hidden' });
  layer.append(strokesGroup, preview, pointerDot, cross);
  layer.dataset.annotationLayer = '';
  stage.append(layer);

  // The toolbar, for those who may draw.
  const tools = document.createElement('div');
  tools.className = 'annotation-tools';
  tools.setAttribute('role', 'toolbar');
  tools.setAttribute('aria-label', t('Annotation tools'));
  tools.hidden = true;
  const toolButtons = {
    pointer: button(t('Pointer'), { tool: 'pointer' }),
    pen: button(t('Pen'), { tool: 'pen' }),
    highlighter: button(t('Highlighter'), { tool: 'highlighter' }),
    eraser: button(t('Eraser'), { tool: 'eraser' }),
  };
  const swatches = Object.keys(COLOURS).map((name) => {
    const swatch = button('', { color: name });
    swatch.className = 'annotation-swatch';
    swatch.setAttribute('aria-label', COLOUR_NAMES[name]);
    return swatch;
  });
  const widthSelect = document.createElement('select');
  widthSelect.setAttribute('aria-label', t('Line width'));
  for (const [value, label] of [['1', t('Thin')], ['2', t('Medium')], ['3', t('Thick')]]) widthSelect.append(new Option(label, value));
  widthSelect.value = '2';
  const undo = button(t('Undo'), { annotationUndo: '' });
  undo.setAttribute('aria-keyshortcuts', 'Control+Z Meta+Z');
  const redo = button(t('Redo'), { annotationRedo: '' });
  redo.setAttribute('aria-keyshortcuts', 'Control+Shift+Z Meta+Shift+Z Control+Y');
  const clear = button(t('Clear page'), { annotationClear: '' });
  const done = button(t('Stop annotating'));
  const status = document.createElement('p');
  status.className = 'muted';
  status.setAttribute('role', 'status');
  const help = document.createElement('p');
  help.className = 'muted';
  help.id = 'annotation-help';
  help.textContent = t('With the focus on the slide: arrow keys move the cross, Space puts the pen down and lifts it, Enter erases with the eraser, Ctrl+Z undoes your last change, Ctrl+Shift+Z or Ctrl+Y redoes it, Escape stops.');
  // The host hands the pen over.
  const pens = document.createElement('div');
  pens.className = 'annotation-pens';
  const who = document.createElement('select');
  who.setAttribute('aria-label', t('Person to hand the pen to'));
  const give = button(t('Hand the pen'));
  const holders = document.createElement('span');
  holders.className = 'annotation-pens';
  pens.append(who, give, holders);
  tools.append(...Object.values(toolButtons), ...swatches, widthSelect, undo, redo, clear, done, pens, help, status);
  openButton.after(tools);

  let active = false;
  /** @type {string} */ let tool = 'pen';
  let colour = 'red';
  /** @type {Point[]} */ let points = [];
  let drawing = false;
  /** @type {Point} */ let cursor = [GRID / 2, GRID / 2];
  let lastPointer = 0;
  let pointerTimer = 0;
  let aspect = 9 / 16;

  /** @param {string} text */
  const say = (text) => { status.textContent = text; };
  /** @param {any} error */
  const sayError = (error) => say((error && error.message) || t('The server could not do that; try again.'));

  /** @param {number} y a grid value down the page @returns {number} the SVG y */
  const sy = (y) => Math.round(y * aspect);
  /** @param {Point[]} list */
  const pointsAttr = (list) => (list.length === 1 ? [list[0], list[0]] : list).map(([x, y]) => `${x},${sy(y)}`).join(' ');

  /** @param {string} kind @param {number} width */
  const strokeWidth = (kind, width) => (PEN_WIDTHS[width] || PEN_WIDTHS[2]) * (kind === 'highlighter' ? HIGHLIGHTER_FACTOR : 1);

  /** @param {SVGElement} node @param {string} kind @param {string} name @param {number} width */
  function paint(node, kind, name, width) {
    node.setAttribute('stroke', COLOURS[name] || COLOURS.red);
    node.setAttribute('stroke-width', String(strokeWidth(kind, width)));
    node.setAttribute('stroke-opacity', kind === 'highlighter' ? '0.35' : '1');
  }

  function render() {
    const deck = store.deck;
    if (deck && deck.width && deck.height) aspect = deck.height / deck.width;
    layer.setAttribute('viewBox', `0 0 ${GRID} ${Math.round(GRID * aspect)}`);
    if (pointerDot.dataset.page !== store.currentKey) pointerDot.setAttribute('visibility', 'hidden');
    const strokes = deck ? store.current() : [];
    strokesGroup.replaceChildren(...strokes.map((/** @type {any} */ s) => {
      const line = svg('polyline', { points: pointsAttr(decode(s.d)), fill: 'none', 'stroke-linecap': 'round', 'stroke-linejoin': 'round' });
      paint(line, s.tool, s.color, s.width);
      line.dataset.strokeId = String(s.id);
      return line;
    }));
    const may = Boolean(deck) && store.mayDraw();
    if (active && !may) close();
    if (roomModel.can('moderate') && active) fillPens();
    pens.hidden = !roomModel.can('moderate');
  }

  function fillPens() {
    const youId = roomModel.you.user_id;
    const people = [...roomModel.people.values()].filter((p) => p.user_id !== youId);
    const chosen = who.value;
    who.replaceChildren(...people.filter((p) => !store.pens.has(p.user_id)).map((p) => new Option(p.name, String(p.user_id))));
    if (chosen) who.value = chosen;
    holders.replaceChildren(...[...store.pens].map((id) => {
      const person = roomModel.people.get(id);
      const back = button(format(t('Take the pen back from %(name)s'), { name: person ? person.name : String(id) }), { penBack: String(id) });
      back.addEventListener('click', () => connection.send('annotation.pen', { user_id: id, pen: false }).catch(sayError));
      return back;
    }));
  }

  /** @param {string} name */
  function choose(name) {
    tool = name;
    stage.dataset.tool = name;
    for (const [key, node] of Object.entries(toolButtons)) node.setAttribute('aria-pressed', String(key === name));
    cross.setAttribute('visibility', 'hidden');
  }

  /** @param {string} name */
  function chooseColour(name) {
    colour = name;
    for (const swatch of swatches) swatch.setAttribute('aria-pressed', String(swatch.dataset.color === name));
  }

  function open() {
    active = true;
    tools.hidden = false;
    openButton.setAttribute('aria-pressed', 'true');
    stage.tabIndex = 0;
    stage.setAttribute('role', 'application'); // its own keys: arrows move the cross, Space draws
    stage.setAttribute('aria-label', t('Slide drawing area'));
    stage.setAttribute('aria-describedby', help.id);
    choose(tool);
    chooseColour(colour);
    render();
    toolButtons[/** @type {'pen'} */ (tool)].focus();
  }

  function close() {
    if (drawing) finish();
    active = false;
    tools.hidden = true;
    openButton.setAttribute('aria-pressed', 'false');
    stage.removeAttribute('tabindex');
    stage.removeAttribute('role');
    stage.removeAttribute('aria-label');
    stage.removeAttribute('aria-describedby');
    delete stage.dataset.tool;
    cross.setAttribute('visibility', 'hidden');
    hidePointer(true);
  }

  /** @param {PointerEvent} event @returns {Point} */
  function gridPoint(event) {
    const box = layer.getBoundingClientRect();
    const x = Math.round(((event.clientX - box.left) / Math.max(1, box.width)) * GRID);
    const y = Math.round(((event.clientY - box.top) / Math.max(1, box.height)) * GRID);
    return [Math.min(GRID, Math.max(0, x)), Math.min(GRID, Math.max(0, y))];
  }

  function showPreview() {
    preview.setAttribute('points', pointsAttr(points));
    paint(preview, tool, colour, Number(widthSelect.value));
    preview.setAttribute('visibility', 'visible');
  }

  /** Send the stroke drawn so far (simplified, encoded); the preview stays until it is stored. */
  function finish() {
    drawing = false;
    const kept = simplify(points);
    points = [];
    if (!kept.length || !store.deck) { preview.setAttribute('visibility', 'hidden'); return; }
    connection.send('annotation.stroke', {
      deck_id: store.deck.id, page: store.page, tool, color: colour, width: Number(widthSelect.value), d: encode(kept),
    }).then(() => say('')).catch(sayError).finally(() => { if (!drawing) preview.setAttribute('visibility', 'hidden'); });
  }

  /** @param {Point} point */
  function addPoint(point) {
    points.push(point);
    if (points.length >= MAX_POINTS) { finish(); points = [point]; drawing = true; }
    showPreview();
  }

  /** @param {Point} point */
  function sendPointer(point) {
    const now = Date.now();
    if (now - lastPointer < POINTER_MS || !store.deck) return;
    lastPointer = now;
    connection.send('annotation.pointer', { deck_id: store.deck.id, page: store.page, x: point[0], y: point[1] }).catch(() => {});
  }

  /** @param {boolean} [send] also tell the room */
  function hidePointer(send = false) {
    if (send && store.deck && lastPointer) {
      lastPointer = 0;
      connection.send('annotation.pointer', { deck_id: store.deck.id, page: store.page, x: -1, y: -1 }).catch(() => {});
    }
  }

  /** @param {Point} point */
  function eraseNear(point) {
    let best = null;
    let bestDistance = ERASE_REACH * ERASE_REACH;
    for (const stroke of store.current()) {
      const list = decode(stroke.d);
      const pairs = list.length === 1 ? [[list[0], list[0]]] : list.slice(1).map((p, i) => [list[i], p]);
      for (const [a, b] of pairs) {
        const d = distanceSq([point[0], sy(point[1])], [a[0], sy(a[1])], [b[0], sy(b[1])]);
        if (d < bestDistance) { bestDistance = d; best = stroke; }
      }
    }
    if (best) connection.send('annotation.erase', { stroke: best.id }).catch(sayError);
    else say(t('No stroke there to erase.'));
  }

  /**
   * Take back your newest stroke on the page on screen (a stroke being drawn is dropped
   * instead). The server picks the stroke: it handles this socket's messages in order, so
   * an Undo right after a stroke takes back that stroke even before its event came back.
   */
  function undoLast() {
    if (drawing) {
      drawing = false;
      points = [];
      preview.setAttribute('visibility', 'hidden');
      return;
    }
    if (!store.deck) return;
    connection.send('annotation.undo', { deck_id: store.deck.id, page: store.page })
      .then((/** @type {any} */ ack) => say(ack && ack.seq === null ? t('Nothing of yours to undo on this page.') : ''))
      .catch(sayError);
  }

  /** Do again what your newest Undo on the page on screen took back (the server keeps the stack). */
  function redoLast() {
    if (drawing || !store.deck) return;
    connection.send('annotation.redo', { deck_id: store.deck.id, page: store.page })
      .then((/** @type {any} */ ack) => say(ack && ack.seq === null ? t('Nothing to redo on this page.') : ''))
      .catch(sayError);
  }

  layer.addEventListener('pointerdown', (event) => {
    if (!active) return;
    event.preventDefault();
    const point = gridPoint(event);
    if (tool === 'eraser') { eraseNear(point); return; }
    if (tool === 'pointer') { sendPointer(point); return; }
    layer.setPointerCapture(event.pointerId);
    drawing = true;
    points = [];
    addPoint(point);
  });
  layer.addEventListener('pointermove', (event) => {
    if (!active) return;
    if (tool === 'pointer') sendPointer(gridPoint(event));
    else if (drawing) for (const sample of event.getCoalescedEvents ? event.getCoalescedEvents() : [event]) addPoint(gridPoint(sample));
  });
  for (const type of ['pointerup', 'pointercancel']) {
    layer.addEventListener(type, () => { if (drawing) finish(); });
  }
  layer.addEventListener('pointerleave', () => { if (tool === 'pointer') hidePointer(true); });

  function moveCross() {
    cross.setAttribute('cx', String(cursor[0]));
    cross.setAttribute('cy', String(sy(cursor[1])));
    cross.setAttribute('visibility', tool === 'pointer' ? 'hidden' : 'visible');
  }

  stage.addEventListener('keydown', (event) => {
    if (!active || event.target !== stage) return;
    /** @type {Record<string, Point>} */
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    const step = event.shiftKey ? SMALL_STEP : STEP;
    if (event.key in moves) {
      const [dx, dy] = moves[event.key];
      cursor = [Math.min(GRID, Math.max(0, cursor[0] + dx * step)), Math.min(GRID, Math.max(0, cursor[1] + dy * step))];
      moveCross();
      if (tool === 'pointer') sendPointer(cursor);
      else if (drawing) addPoint(cursor);
    } else if (event.key === ' ' && (tool === 'pen' || tool === 'highlighter')) {
      if (drawing) finish();
      else { drawing = true; points = []; addPoint(cursor); say(t('Pen down: move with the arrow keys, Space lifts it.')); }
    } else if ((event.key === 'Enter' || event.key === ' ') && tool === 'eraser') {
      eraseNear(cursor);
    } else if (event.key === 'Escape') {
      if (drawing) finish(); else close();
      openButton.focus();
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation(); // not a page turn (js/slides/slides.js listens on the section)
  });
  stage.addEventListener('focus', () => { if (active) moveCross(); });
  stage.addEventListener('blur', () => { if (drawing) finish(); cross.setAttribute('visibility', 'hidden'); });

  for (const node of Object.values(toolButtons)) node.addEventListener('click', () => choose(node.dataset.tool || 'pen'));
  for (const swatch of swatches) {
    swatch.addEventListener('click', () => { chooseColour(swatch.dataset.color || 'red'); if (tool === 'eraser' || tool === 'pointer') choose('pen'); });
  }
  undo.addEventListener('click', undoLast);
  redo.addEventListener('click', redoLast);
  document.addEventListener('keydown', (event) => {
    if (!active || !(event.ctrlKey || event.metaKey) || event.altKey) return;
    const key = event.key.toLowerCase();
    const undoing = key === 'z' && !event.shiftKey;
    const redoing = (key === 'z' && event.shiftKey) || (key === 'y' && event.ctrlKey && !event.shiftKey);
    if (!undoing && !redoing) return;
    const target = event.target;
    if (target instanceof HTMLElement && (target.isContentEditable || target.closest('input, textarea, select'))) return; // their own undo
    event.preventDefault();
    if (undoing) undoLast(); else redoLast();
  });
  clear.addEventListener('click', () => {
    if (!store.deck) return;
    connection.send('annotation.clear', { deck_id: store.deck.id, page: store.page }).catch(sayError);
  });
  done.addEventListener('click', () => { close(); openButton.focus(); });
  give.addEventListener('click', () => {
    if (who.value) connection.send('annotation.pen', { user_id: Number(who.value), pen: true }).catch(sayError);
  });

  /** @param {{user_id: number, deck_id: number, page: number, x: number, y: number}} data */
  function pointer(data) {
    if (!store.deck || data.deck_id !== store.deck.id || data.page !== store.page || data.x < 0) {
      pointerDot.setAttribute('visibility', 'hidden');
      return;
    }
    pointerDot.dataset.page = store.currentKey;
    pointerDot.setAttribute('cx', String(data.x));
    pointerDot.setAttribute('cy', String(sy(data.y)));
    pointerDot.setAttribute('visibility', 'visible');
    clearTimeout(pointerTimer);
    pointerTimer = window.setTimeout(() => pointerDot.setAttribute('visibility', 'hidden'), POINTER_FADE_MS);
  }

  render();
  return {
    render,
    pointer,
    close,
    toggle() { if (active) close(); else open(); render(); },
  };
}
