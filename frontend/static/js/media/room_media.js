'use strict';
/**
 * Attaches the media section ([data-media], templates/media/room_media.html) to the
 * room page's connection (js/room/room.js exposes `window.openRoundsRoom.connection` and
 * re-dispatches what arrives as window events `room:snapshot`, `room:event`,
 * `room:message`). Media messages are sent with the room's own RoomConnection, so they
 * share its socket, its ids and its reconnects.
 */

import { MediaSession } from './media.js';

/**
 * @param {any} connection a RoomConnection (js/room/protocol.js)
 * @param {HTMLElement} root
 * @returns {MediaSession}
 */
export function attachMedia(connection, root) {
  const transport = {
    /** @param {{type: string}} message */
    send(message) {
      const { type, id, ...fields } = message;
      connection.send(type, fields).catch(() => {});
      // RoomConnection numbers its messages itself; the worker's replies carry that id.
      return `${connection.idPrefix}-${connection.counter}`;
    },
  };
  const media = new MediaSession(root, transport);
  window.openroundsMedia = media;
  return media;
}

const root = /** @type {HTMLElement|null} */ (document.querySelector('[data-media]'));
if (root) {
  /** @type {MediaSession|null} */
  let media = null;
  /** @param {Event} event */
  const forward = (event) => {
    if (!media) {
      const room = window.openRoundsRoom;
      if (!room || !room.connection) return;
      media = attachMedia(room.connection, root);
    }
    media.receive(/** @type {CustomEvent} */ (event).detail);
  };
  window.addEventListener('room:snapshot', forward);
  window.addEventListener('room:event', forward);
  window.addEventListener('room:message', forward);
}
