'use strict';
/**
 * Attaches the media section ([data-media], templates/media/room_media.html) to the
 * room page's connection: it imports the room's RoomConnection (js/room/live.js) and
 * hands every `room:snapshot`, `room:event` and `room:message` of the room's bus
 * (js/room/bus.js) to the media connection. Media messages are sent with the room's own
 * RoomConnection, so they share its socket, its ids and its reconnects.
 *
 * ./connection.js is the media connection (no DOM), ./tiles.js shows it.
 */

import { MediaConnection } from './connection.js';
import { MediaTiles } from './tiles.js';
import { connection as room } from '../room/live.js';
import { publish, subscribe } from '../room/bus.js';

/**
 * @param {import('../room/protocol.js').RoomConnection} connection
 * @param {HTMLElement} root
 * @returns {MediaConnection}
 */
export function attachMedia(connection, root) {
  /** @type {import('./connection.js').Transport} */
  const transport = {
    send(message) {
      const { type, id, ...fields } = message;
      connection.send(type, fields).catch(() => {});
      // RoomConnection numbers its messages itself; the worker's replies carry that id.
      return `${connection.idPrefix}-${connection.counter}`;
    },
  };
  const media = new MediaConnection(transport, {
    participant: root.dataset.participant,
    lowBandwidth: root.dataset.dataSaver === '1',
    relayOnly: root.dataset.relayOnly === '1',
    iceUrl: root.dataset.iceUrl,
  });
  new MediaTiles(root, media);
  /**
   * Read-only handle for the browser tests and the devtools console
   * (`window.openroundsMedia.pc`, `.joined`, `.worker`, `.incoming`). No module reads it.
   */
  /** @type {any} */ (window).openroundsMedia = media;
  return media;
}

const root = /** @type {HTMLElement|null} */ (document.querySelector('[data-media]'));
if (root) {
  /** @type {MediaConnection|null} */
  let media = null;
  /** @param {any} message */
  const forward = (message) => {
    // Attached on the first message (the snapshot), as the room connection is then open.
    if (!media) {
      media = attachMedia(room, root);
      // The broadcast section (./broadcast_room.js) learns that the SFU took this person.
      media.on('joined', () => publish('media:joined', {}));
      // The slides part (js/slides/slides.js) takes a still of this person's own screen share.
      /** @type {MediaStreamTrack|null} */
      let screen = null;
      media.on('buttons', () => {
        if (media && media.screenTrack !== screen) publish('media:screen', { track: (screen = media.screenTrack) });
      });
    }
    media.receive(message);
  };
  subscribe('room:snapshot', forward);
  subscribe('room:event', forward);
  subscribe('room:message', forward);
  // A viewer the full SFU refused tries again when asked (./broadcast_room.js): the same
  // way they joined before, through the connection's own join().
  subscribe('media:retry', () => {
    if (!media || media.joined) return;
    media.join(media.sending).catch((error) => media && media.problem(error));
  });
}
