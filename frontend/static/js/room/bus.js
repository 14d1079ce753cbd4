'use strict';
/**
 * The room page's event bus: one EventTarget that the page's parts publish on and
 * subscribe to, imported by each of them (never a window global or window event).
 *
 * ES modules are loaded once per URL, so every part that imports this file (always by a
 * relative path, hence the same un-hashed URL under ManifestStaticFilesStorage) shares
 * the one bus. Entry modules (the ones a template loads with <script type=module>) are
 * never imported by another module: under the manifest storage the template loads them by
 * their hashed name, and an import by the plain name would run them a second time.
 *
 * Topics and what they carry:
 * - `room:snapshot`: the room's snapshot (js/room/live.js, after the model applied it);
 * - `room:event`: a stored room event (it has a `seq`), after the model applied it;
 * - `room:message`: an ephemeral room message (no `seq`; poll counts, caption partials…);
 * - `consult:consent`: the consult's consent ({consult, recording, teaching});
 * - `consult:mode`: the connection mode the media part fell back to ({mode});
 * - `media:retry`: ask the media part to join the SFU again (js/media/broadcast_room.js,
 *   for a viewer the full SFU refused: when the broadcast stops, and every 30 s);
 * - `media:joined`: the media part joined the SFU (js/media/room_media.js);
 * - `media:screen`: this person's own screen share started ({track}) or stopped ({track: null})
 *   (js/media/room_media.js; js/slides/slides.js takes a still of it to draw on).
 */

/**
 * @typedef {import('./protocol.js').RoomEvent} RoomEvent
 * @typedef {{
 *   'room:snapshot': any,
 *   'room:event': RoomEvent,
 *   'room:message': {type: string, data?: any, [key: string]: any},
 *   'consult:consent': {consult: boolean, recording: boolean, teaching: boolean},
 *   'consult:mode': {mode: string},
 *   'media:retry': {},
 *   'media:joined': {},
 *   'media:screen': {track: MediaStreamTrack|null},
 * }} Topics
 */

const target = new EventTarget();

/**
 * Tell every subscriber of `topic`, in the order they subscribed. A subscriber that
 * throws is reported in the console and does not stop the others.
 * @template {keyof Topics} K
 * @param {K} topic
 * @param {Topics[K]} detail
 */
export function publish(topic, detail) {
  target.dispatchEvent(new CustomEvent(topic, {detail}));
}

/**
 * @template {keyof Topics} K
 * @param {K} topic
 * @param {(detail: Topics[K]) => void} handler
 * @returns {() => void} unsubscribes
 */
export function subscribe(topic, handler) {
  /** @param {Event} event */
  const listener = (event) => handler(/** @type {CustomEvent} */ (event).detail);
  target.addEventListener(topic, listener);
  return () => target.removeEventListener(topic, listener);
}
