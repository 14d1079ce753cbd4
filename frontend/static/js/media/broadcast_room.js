'use strict';
/**
 * The room's broadcast section (templates/media/broadcast.html): the host's switch, and
 * "Watch the broadcast" / "Listen only" for everyone else. It follows the room's bus:
 * the snapshot's `broadcast` part, the room event `media.broadcast` ({active}), and a
 * `media.error` of the media part (`media_unavailable`: the media server is down, so the
 * broadcast is offered). Overflow: `media_full` means the SFU has no room for this viewer;
 * the page then plays the broadcast by itself (at once if it runs, else as soon as the
 * host starts it) and says why; the host sees how many are waiting (the private room event
 * `media.overflow`). A refused viewer asks the media part to join the SFU again (bus topic
 * `media:retry`) when the broadcast stops and every 30 s while nothing is broadcast, so
 * a seat freed by someone leaving is taken. A watcher given the floor (the host promotes
 * them to speak) stops watching: the broadcast runs seconds late, and they would hear
 * themselves. The player itself (./broadcast_player.js, and hls.js where the browser has
 * no native HLS) is imported only when someone watches.
 */

import { connection } from '../room/live.js';
import { publish, subscribe } from '../room/bus.js';

/** How often a refused viewer tries the SFU again while nothing is broadcast. */
const RETRY_MS = 30000;

const root = /** @type {HTMLElement|null} */ (document.querySelector('[data-broadcast]'));

if (root) {
  const part = (/** @type {string} */ name) => /** @type {HTMLElement} */ (root.querySelector(`[data-broadcast-${name}]`));
  const text = (/** @type {string} */ key) => root.dataset[`t${key[0].toUpperCase()}${key.slice(1)}`] || '';
  const status = part('status');
  const toggle = part('toggle');
  const watch = part('watch');
  const listen = part('listen');
  const close = part('close');
  const video = /** @type {HTMLVideoElement} */ (part('video'));
  const saver = root.dataset.dataSaver === '1';
  const base = `/rooms/${root.dataset.sessionId}/broadcast`;
  const state = { allowed: false, active: false, mayBroadcast: false, watching: false, overflowed: false, me: '' };
  /** People the SFU had no room for while nothing was broadcast (seen by hosts). */
  const waiting = new Set();
  /** @type {{stop: () => void}|null} */
  let player = null;
  /** @type {ReturnType<typeof setInterval>|0} */
  let retryTimer = 0;

  /** Ask the media part to join the SFU again (it answers media_full again if still full). */
  const retry = () => {
    if (state.overflowed && !state.active) publish('media:retry', {});
  };
  /** Try every RETRY_MS while refused and nothing is broadcast; stop once either changes. */
  const keepRetrying = () => {
    const wanted = state.overflowed && !state.active;
    if (wanted && !retryTimer) retryTimer = setInterval(retry, RETRY_MS);
    else if (!wanted && retryTimer) {
      clearInterval(retryTimer);
      retryTimer = 0;
    }
  };

  const render = () => {
    root.hidden = !state.allowed || (!state.active && !state.mayBroadcast && !state.overflowed);
    toggle.hidden = !state.mayBroadcast;
    toggle.textContent = state.active ? text('stop') : text('start');
    watch.hidden = listen.hidden = !state.active || state.watching;
    close.hidden = !state.watching;
    video.hidden = !state.watching;
    if (state.active && !state.watching) status.textContent = saver ? `${text('live')} ${text('liveSaver')}` : text('live');
    else if (!state.active && state.mayBroadcast && waiting.size) status.textContent = text('waiting').replace('{count}', String(waiting.size));
  };

  const stopWatching = () => {
    if (player) player.stop();
    player = null;
    state.watching = false;
    render();
  };

  /**
   * @param {'watch'|'listen'} mode
   * @param {string} [why] what the status line says while it plays (why the page switched)
   */
  const startWatching = async (mode, why = '') => {
    // Data savers start on the low rendition; "Listen only" fetches the audio rendition alone.
    const playlist = mode === 'listen' ? `${base}/audio.m3u8` : saver ? `${base}/360p.m3u8` : `${base}/master.m3u8`;
    state.watching = true;
    render();
    try {
      const { playBroadcast } = await import('./broadcast_player.js');
      player = await playBroadcast(video, playlist, root.dataset.hlsUrl || '');
      status.textContent = why;
    } catch (error) {
      state.watching = false;
      status.textContent = text('failed');
      render();
    }
  };

  /** @param {any} broadcast */
  const apply = (broadcast) => {
    if (!broadcast) return;
    state.allowed = !!broadcast.allowed;
    state.active = !!broadcast.active;
    state.mayBroadcast = !!broadcast.may_broadcast;
    for (const id of broadcast.waiting || []) waiting.add(id);
    render();
  };

  subscribe('room:snapshot', (snapshot) => {
    if (snapshot && snapshot.you) state.me = String(snapshot.you.user_id);
    apply(snapshot && snapshot.broadcast);
  });
  subscribe('room:event', (event) => {
    if (event.type === 'media.overflow') {
      if (state.mayBroadcast && event.data && !state.active) waiting.add(event.data.user_id);
      render();
      return;
    }
    if (event.type === 'floor.granted' && state.watching && String(event.data && event.data.user_id) === state.me) {
      stopWatching();
      status.textContent = text('floor');
      return;
    }
    if (event.type !== 'media.broadcast') return;
    state.active = !!(event.data && event.data.active);
    if (!state.active) {
      stopWatching();
      status.textContent = text('off');
    } else {
      waiting.clear();
    }
    render();
    if (state.active && state.overflowed && !state.watching) startWatching('watch', text('full'));
    keepRetrying();
    if (!state.active) retry(); // the broadcast stopped: a refused viewer tries the SFU again
  });
  subscribe('media:joined', () => {
    // The SFU took this person (a retry found a seat): no longer overflowed.
    state.overflowed = false;
    keepRetrying();
    render();
  });
  subscribe('room:message', (message) => {
    if (message.type !== 'media.error') return;
    if (message.code === 'media_full') {
      // No room on the SFU for this viewer: the broadcast instead, keeping chat, hands and polls.
      state.overflowed = true;
      state.active = state.active || !!message.broadcast;
      if (state.active && !state.watching) startWatching('watch', text('full'));
      else if (!state.active) status.textContent = text('fullWaiting');
      keepRetrying();
      render();
    } else if (message.code === 'media_unavailable' && state.active && !state.watching) {
      status.textContent = text('unavailable');
    }
  });
  toggle.addEventListener('click', () => {
    if (!state.active) status.textContent = text('starting');
    connection.send('media.broadcast', { action: state.active ? 'stop' : 'start' }).catch(() => {});
  });
  watch.addEventListener('click', () => startWatching('watch'));
  listen.addEventListener('click', () => startWatching('listen'));
  close.addEventListener('click', stopWatching);
}
