'use strict';
/**
 * Slides in the room (templates/room/_slides.html; docs/slides.md).
 *
 * Everyone: the page on screen as one light image (the small one in data-saver mode or
 * on a narrow screen), "Slide N of M" as its text, the next page fetched ahead only
 * when data saver is off. Presenters (host, presenters, whoever has the floor; everyone
 * in a peer session): choose a deck from the session's decks, a library PDF or a
 * library image (an ECG, a radiograph: a deck of kind "image" with one page, its title
 * as its text), upload a PDF or an image, put a still of a shared screen on screen to
 * draw on (a live video frame has no page to keep strokes with), turn pages with
 * buttons or the arrow keys while the focus is in the slides.
 *
 * Attaches to the room page's connection like the media part: it imports the room's
 * connection and model (js/room/live.js) and subscribes to `room:snapshot` and
 * `room:event` on the room's bus (js/room/bus.js). Slides messages share the room's socket.
 */

import { t } from '../room/dom.js';
import { connection, model as roomModel } from '../room/live.js';
import { subscribe } from '../room/bus.js';

/**
 * @typedef {{id: number, title: string, kind?: string, pages: number, width: number, height: number,
 *   image_url: string, widths: {large: number, small: number}}} Deck
 * @typedef {Deck & {status: string, pages_done: number, error: string}} DeckStatus
 * @typedef {{type: string, seq?: number, data?: any}} RoomEvent
 */

const NARROW = '(max-width: 640px)';
const SIZES = '(max-width: 960px) 100vw, 960px';
const POLL_MS = 1500;
const POLL_LIMIT = 600; // 15 minutes of polling at most
const SEARCH_DELAY_MS = 400;
const MAX_BYTES = 50 * 1024 * 1024;
/** Room roles with the `present` permission (sessions/room/registry.py and consults). */
const PRESENTING_ROLES = new Set(['host', 'presenter', 'supervisor', 'trainee']);

/**
 * @param {string} text
 * @param {Object<string, string|number>} values
 */
const format = (text, values) => text.replace(/%\((\w+)\)s/g, (_m, key) => String(values[key] ?? ''));

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/**
 * @param {Deck} deck
 * @param {number} page
 * @param {'large'|'small'} size
 */
export function pageUrl(deck, page, size) {
  return deck.image_url.replace('{page}', String(page)).replace('{size}', size);
}

/** What is on screen, built from the snapshot and kept by events (upserts; newer seq wins). No DOM. */
export class SlidesModel {
  constructor() {
    /** @type {Deck|null} */ this.deck = null;
    this.page = 0;
    this.seq = 0;
  }

  /**
   * @param {{deck: Deck|null, page: number, seq: number}|undefined} part the snapshot's `slides`
   * @param {RoomEvent[]} events the snapshot's events (replayed after the state)
   */
  applySnapshot(part, events) {
    if (part && (part.seq || 0) >= this.seq) {
      this.deck = part.deck;
      this.page = part.page;
      this.seq = part.seq || 0;
    }
    for (const event of events || []) this.applyEvent(event);
  }

  /** @param {RoomEvent} event @returns {boolean} whether it changed what is shown */
  applyEvent(event) {
    const data = event.data || {};
    if (!event.type.startsWith('slides.') || (event.seq || 0) <= this.seq) return false;
    this.seq = event.seq || 0;
    if (event.type === 'slides.opened') {
      this.deck = data.deck;
      this.page = data.page;
    } else if (event.type === 'slides.page' && this.deck && this.deck.id === data.deck_id) {
      this.page = data.page;
    } else if (event.type === 'slides.closed') {
      this.deck = null;
      this.page = 0;
    } else {
      return false;
    }
    return true;
  }
}

/** @param {HTMLElement} root @param {string} name */
const part = (root, name) => /** @type {any} */ (root.querySelector(`[data-slides-${name}]`));

/** The CSRF token of the page (base.html's forms carry one). */
function csrfToken() {
  const input = /** @type {HTMLInputElement|null} */ (document.querySelector('input[name=csrfmiddlewaretoken]'));
  if (input) return input.value;
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : '';
}

/**
 * A JSON call to /api/slides; rejects with {code, message}.
 * @param {string} url
 * @param {{method?: string, json?: object, form?: FormData}} [options]
 */
async function api(url, options = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json', 'X-CSRFToken': csrfToken() };
  let body;
  if (options.form) body = options.form;
  else if (options.json) { headers['Content-Type'] = 'application/json'; body = JSON.stringify(options.json); }
  let response;
  try {
    response = await fetch(url, { method: options.method || 'GET', headers, body, credentials: 'same-origin' });
  } catch {
    throw { code: 'network', message: t('The connection failed; try again.') };
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw { code: data.code || String(response.status), message: data.message || data.detail || t('The server could not do that; try again.') };
  }
  return data;
}

/**
 * Wire the slides section to the room.
 * @param {HTMLElement} root
 */
export function attachSlides(root) {
  const model = new SlidesModel();
  const frame = part(root, 'frame');
  const image = /** @type {HTMLImageElement} */ (part(root, 'image'));
  const narrowSource = /** @type {HTMLSourceElement} */ (part(root, 'narrow'));
  const announce = part(root, 'announce');
  const presenterBox = part(root, 'presenter');
  const controls = part(root, 'controls');
  const prev = /** @type {HTMLButtonElement} */ (part(root, 'prev'));
  const next = /** @type {HTMLButtonElement} */ (part(root, 'next'));
  const select = /** @type {HTMLSelectElement} */ (part(root, 'deck'));
  const status = part(root, 'status');
  const progress = /** @type {HTMLProgressElement} */ (part(root, 'progress'));
  const dataSaver = document.body.classList.contains('data-saver');
  const apiBase = root.dataset.api || '';
  /** Key of the page on screen ("deck:page"), so an unchanged page is not reloaded. */
  let shownKey = '';
  /** The page asked for and not yet confirmed by its event (quick key presses add up). */
  let wanted = 0;
  let choicesLoaded = false;
  /** Move the focus to "Next slide" once the deck this presenter opened is on screen. */
  let focusWhenOpen = false;
  /** @type {Map<number, DeckStatus>} */
  const decks = new Map();

  const isPresenter = () => {
    const you = roomModel.you;
    return PRESENTING_ROLES.has(you.role) || Boolean(you.has_floor) || roomModel.session.kind === 'peer';
  };
  /** @param {string} text */
  const say = (text) => { status.textContent = text; };
  /** @param {any} error */
  const sayError = (error) => say((error && error.message) || t('The server could not do that; try again.'));

  /** Show the page on screen (image, text, next page ahead). */
  function showPage() {
    const deck = model.deck;
    if (!deck) { shownKey = ''; image.removeAttribute('src'); image.removeAttribute('srcset'); return; }
    const key = `${deck.id}:${model.page}`;
    if (key === shownKey) return;
    const opened = !shownKey.startsWith(`${deck.id}:`);
    shownKey = key;
    const small = pageUrl(deck, model.page, 'small');
    const large = pageUrl(deck, model.page, 'large');
    if (dataSaver) {
      narrowSource.removeAttribute('srcset');
      image.removeAttribute('srcset');
      image.src = small;
    } else {
      narrowSource.srcset = small;
      image.sizes = SIZES; // before srcset: the browser picks a candidate as soon as srcset is set
      image.srcset = `${small} ${deck.widths.small}w, ${large} ${deck.widths.large}w`;
      image.src = large;
    }
    if (deck.width && deck.height) { image.width = deck.width; image.height = deck.height; }
    const isImage = deck.kind === 'image';
    const position = isImage ? t('Image') : format(t('Slide %(page)s of %(pages)s'), { page: model.page, pages: deck.pages });
    image.alt = isImage ? deck.title : position; // an image's title says what it shows
    part(root, 'title').textContent = deck.title;
    part(root, 'position').textContent = position;
    part(root, 'full').href = large;
    announce.textContent = opened ? `${deck.title}: ${position}` : position;
    if (!dataSaver && model.page < deck.pages) {
      const ahead = new Image();
      if (window.matchMedia(NARROW).matches) ahead.src = pageUrl(deck, model.page + 1, 'small');
      else {
        ahead.sizes = SIZES;
        ahead.srcset = `${pageUrl(deck, model.page + 1, 'small')} ${deck.widths.small}w, ${pageUrl(deck, model.page + 1, 'large')} ${deck.widths.large}w`;
      }
    }
  }

  /** "Next slide", or "Stop showing the image" when there is nothing to turn. */
  function focusControls() {
    (next.hidden ? /** @type {HTMLButtonElement} */ (part(root, 'close')) : next).focus();
  }

  function render() {
    const presenter = isPresenter();
    root.hidden = !model.deck && !presenter;
    frame.hidden = !model.deck;
    frame.tabIndex = presenter && model.deck ? 0 : -1;
    presenterBox.hidden = !presenter;
    controls.hidden = !(presenter && model.deck);
    const onePage = Boolean(model.deck && model.deck.pages <= 1); // an image: nothing to turn
    prev.hidden = onePage;
    next.hidden = onePage;
    part(root, 'close').textContent = model.deck && model.deck.kind === 'image' ? t('Stop showing the image') : t('Stop showing slides');
    part(root, 'hint').hidden = controls.hidden || onePage;
    // The stage's "nothing shared yet" line is wrong while a deck is on screen.
    const empty = document.getElementById('room-stage-empty');
    if (empty) empty.hidden = Boolean(model.deck);
    if (model.deck) {
      prev.disabled = model.page <= 1;
      next.disabled = model.page >= model.deck.pages;
    }
    showPage();
    if (focusWhenOpen && model.deck && !controls.hidden) { focusWhenOpen = false; focusControls(); }
  }

  // --- presenting ---------------------------------------------------------------------

  /**
   * @param {string} type
   * @param {object} [fields]
   */
  function send(type, fields = {}) {
    return connection.send(type, fields);
  }

  /** @param {number} page */
  function turnTo(page) {
    const deck = model.deck;
    if (!deck) return;
    const target = Math.min(deck.pages, Math.max(1, page));
    if (target === (wanted || model.page)) return;
    wanted = target;
    send('slides.goto', { page: target, deck_id: deck.id }).catch((error) => { wanted = 0; sayError(error); });
  }

  /** @param {DeckStatus} deck */
  function deckLabel(deck) {
    if (deck.status === 'ready' && deck.kind === 'image') return format(t('%(title)s (image)'), { title: deck.title });
    if (deck.status === 'ready') return format(t('%(title)s (%(pages)s pages)'), { title: deck.title, pages: deck.pages });
    if (deck.status === 'failed') return format(t('%(title)s (could not be prepared)'), { title: deck.title });
    return format(t('%(title)s (being prepared)'), { title: deck.title });
  }

  function fillDecks() {
    const group = part(root, 'decks');
    group.replaceChildren(...[...decks.values()].map((deck) => {
      const option = new Option(deckLabel(deck), `d:${deck.id}`);
      option.disabled = deck.status === 'failed';
      return option;
    }));
  }

  /** @param {string} query */
  async function loadMaterials(query) {
    const materials = await api(`${apiBase}/materials?${new URLSearchParams({ q: query })}`);
    const group = part(root, 'materials');
    group.replaceChildren(...materials.map((/** @type {any} */ m) => new Option(
      m.is_session_case ? format(t('%(title)s (this session\'s case)'), { title: m.title })
        : m.kind === 'image' ? format(t('%(title)s (image) · %(school)s'), { title: m.title, school: m.school })
          : `${m.title} · ${m.school}`,
      `m:${m.id}`,
    )));
  }

  async function loadChoices() {
    try {
      const list = await api(`${apiBase}/decks`);
      for (const deck of list) decks.set(deck.id, deck);
      fillDecks();
      await loadMaterials('');
    } catch (error) {
      choicesLoaded = false;
      sayError(error);
    }
  }

  /**
   * Poll a deck until its pages are ready; show progress meanwhile.
   * @param {DeckStatus} deck
   * @returns {Promise<DeckStatus>}
   */
  async function untilReady(deck) {
    for (let round = 0; round < POLL_LIMIT; round += 1) {
      decks.set(deck.id, deck);
      if (deck.status === 'ready' || deck.status === 'failed') break;
      progress.hidden = false;
      progress.max = deck.pages || 1;
      progress.value = deck.pages_done;
      say(deck.pages
        ? format(t('Preparing the pages: %(done)s of %(pages)s'), { done: deck.pages_done, pages: deck.pages })
        : t('Preparing the pages…'));
      await sleep(POLL_MS);
      deck = await api(`${apiBase}/decks/${deck.id}`);
    }
    progress.hidden = true;
    fillDecks();
    select.value = `d:${deck.id}`;
    if (deck.status === 'failed') throw { message: deck.error };
    if (deck.status !== 'ready') throw { message: t('Preparing the pages took too long.') };
    say(format(t('%(title)s is ready.'), { title: deck.title }));
    return deck;
  }

  async function showChosen() {
    const value = select.value;
    if (!value) { say(t('Choose a deck first.')); return; }
    const [kind, id] = value.split(':');
    try {
      let deck = kind === 'd' ? decks.get(Number(id)) : await api(`${apiBase}/decks`, { method: 'POST', json: { material_id: Number(id) } });
      if (!deck) return;
      deck = await untilReady(deck);
      focusWhenOpen = true; // the event that puts it on screen may come after the ack
      const ack = await send('slides.open', { deck_id: deck.id });
      say('');
      part(root, 'choose').open = false;
      if (ack.seq === null) { focusWhenOpen = false; focusControls(); } // it was already on screen
    } catch (error) {
      sayError(error);
    }
  }

  /**
   * @param {File} file
   * @param {{title?: string, show?: boolean}} [options] show: put it on screen once ready
   */
  async function upload(file, options = {}) {
    if (file.size > MAX_BYTES) { say(t('The file is larger than 50 MB.')); return; }
    try {
      let deck;
      say(t('Uploading…'));
      if (file.size <= Number(root.dataset.singleUploadMax || 0)) {
        const form = new FormData();
        form.append('file', file);
        if (options.title) form.append('title', options.title);
        deck = await api(`${apiBase}/decks/upload`, { method: 'POST', form });
      } else {
        // Larger files travel in resumable pieces, like the library's (loaded only when needed).
        const { uploadFile, forgetUpload } = await import('../library/chunked_upload.js');
        const uploadId = await uploadFile(file, {
          api: root.dataset.uploadApi || '', csrf: csrfToken(), kind: file.type.startsWith('image/') ? 'image' : 'pdf',
          onProgress: (sent, total) => say(format(t('Uploading: %(percent)s%'), { percent: Math.floor((100 * sent) / total) })),
        });
        deck = await api(`${apiBase}/decks`, { method: 'POST', json: { upload_id: uploadId } });
        forgetUpload(file);
      }
      deck = await untilReady(deck);
      if (options.show) {
        focusWhenOpen = true;
        const ack = await send('slides.open', { deck_id: deck.id });
        part(root, 'choose').open = false;
        if (ack.seq === null) { focusWhenOpen = false; focusControls(); }
      }
    } catch (error) {
      progress.hidden = true;
      sayError(error);
    }
  }

  /** This person's own screen share, when there is one (js/media/room_media.js says). */
  /** @type {MediaStreamTrack|null} */
  let ownScreen = null;
  subscribe('media:screen', ({ track }) => { ownScreen = track; });

  /**
   * The shared screen as it is now, as an image: this person's own share first, else the
   * screen share on show in the room's video. Null when nobody shares a screen.
   * @returns {Promise<Blob|null>}
   */
  async function screenStill() {
    /** @type {HTMLVideoElement|null} */
    let video = null;
    let own = false;
    if (ownScreen && ownScreen.readyState === 'live') {
      own = true;
      video = document.createElement('video');
      video.muted = true;
      video.srcObject = new MediaStream([ownScreen]);
      const playing = video;
      await Promise.race([
        new Promise((resolve) => { playing.addEventListener('loadeddata', resolve, { once: true }); playing.play().catch(resolve); }),
        sleep(3000),
      ]);
    } else {
      const shown = /** @type {HTMLVideoElement[]} */ ([...document.querySelectorAll('.media-tile[data-source="screen"] video')]);
      video = shown.reverse().find((candidate) => candidate.videoWidth > 0) || null;
    }
    try {
      if (!video || !video.videoWidth) return null;
      const canvas = document.createElement('canvas');
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      const context = canvas.getContext('2d');
      if (!context) return null;
      context.drawImage(video, 0, 0);
      // WebP where the browser writes it (a screen of text and traces: about a tenth of PNG), else PNG.
      return await new Promise((resolve) => canvas.toBlob(resolve, 'image/webp', 0.9));
    } finally {
      if (own && video) { video.pause(); video.srcObject = null; }
    }
  }

  async function showScreenStill() {
    const still = await screenStill();
    if (!still) { say(t('Nobody is sharing a screen.')); return; }
    const time = new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    const title = format(t('The shared screen at %(time)s'), { time });
    const extension = still.type === 'image/webp' ? 'webp' : 'png';
    await upload(new File([still], `screen.${extension}`, { type: still.type }), { title, show: true });
  }

  // The lists are asked for when the presenter opens the chooser, not on every page load.
  part(root, 'choose').addEventListener('toggle', () => {
    if (part(root, 'choose').open && !choicesLoaded) { choicesLoaded = true; loadChoices(); }
  });
  prev.addEventListener('click', () => turnTo((wanted || model.page) - 1));
  next.addEventListener('click', () => turnTo((wanted || model.page) + 1));
  part(root, 'close').addEventListener('click', () => send('slides.close').catch(sayError));
  part(root, 'show').addEventListener('click', showChosen);
  part(root, 'still').addEventListener('click', () => { showScreenStill().catch(sayError); });
  const fileInput = /** @type {HTMLInputElement} */ (part(root, 'file'));
  fileInput.addEventListener('change', () => {
    if (fileInput.files && fileInput.files[0]) upload(fileInput.files[0]).finally(() => { fileInput.value = ''; });
  });
  let searchTimer = 0;
  const search = /** @type {HTMLInputElement} */ (part(root, 'search'));
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = window.setTimeout(() => loadMaterials(search.value).catch(sayError), SEARCH_DELAY_MS);
  });
  root.addEventListener('keydown', (event) => {
    const target = /** @type {HTMLElement} */ (event.target);
    if (!model.deck || !isPresenter() || target.closest('input, select, textarea, details')) return;
    /** @type {Record<string, number>} */
    const moves = { ArrowRight: 1, PageDown: 1, ArrowLeft: -1, PageUp: -1 };
    if (event.key in moves) turnTo((wanted || model.page) + moves[event.key]);
    else if (event.key === 'Home') turnTo(1);
    else if (event.key === 'End') turnTo(model.deck.pages);
    else return;
    event.preventDefault();
  });

  subscribe('room:snapshot', (snapshot) => {
    model.applySnapshot(snapshot.slides, snapshot.events);
    wanted = 0;
    render();
  });
  subscribe('room:event', (detail) => {
    if (model.applyEvent(detail)) {
      if (wanted === model.page || detail.type !== 'slides.page') wanted = 0;
      render();
    } else if (/^(participant\.role|floor\.)/.test(detail.type)) {
      render(); // someone may have become (or stopped being) a presenter
    }
  });
  return model;
}

const slidesRoot = /** @type {HTMLElement|null} */ (document.querySelector('[data-slides]'));
if (slidesRoot) attachSlides(slidesRoot);
