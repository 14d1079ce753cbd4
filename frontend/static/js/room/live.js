'use strict';
/**
 * The room page's one connection and model, shared by import with every part of the
 * page (the panels of room.js, slides, media, shared notes, captions, consults). What
 * arrives is applied to the model first, then published on the bus (./bus.js):
 * `room:snapshot`, `room:event`, `room:message`. No DOM here beyond reading where to
 * connect; room.js shows the connection's state and calls connect().
 */
import {RoomConnection, socketUrl} from './protocol.js';
import {RoomModel} from './state.js';
import {publish} from './bus.js';

const root = /** @type {HTMLElement} */ (document.getElementById('room'));

export const model = new RoomModel();
export const connection = new RoomConnection(socketUrl(root.dataset.socketPath || ''), {version: Number(root.dataset.protocolVersion || 1)});

connection.onSnapshot = (snapshot) => {
  model.applySnapshot(snapshot);
  publish('room:snapshot', snapshot);
};
connection.onEvent = (event) => {
  model.applyEvent(event);
  publish('room:event', event);
};
connection.onEphemeral = (message) => {
  model.applyEphemeral(message);
  publish('room:message', message);
};

/**
 * Read-only handle for the browser tests and the devtools console (tests call
 * `window.openRoundsRoom.connection.send(...)`). No module reads it: they import
 * `connection` and `model` from this file.
 */
/** @type {any} */ (window).openRoundsRoom = Object.freeze({connection, model});
