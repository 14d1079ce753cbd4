'use strict';
/**
 * Plays a broadcast's HLS playlist in a <video>: natively where the browser has HLS
 * (Safari, iOS, Android's Chrome), else with hls.js (pinned in package.json, served as a
 * static file, imported here only: nobody who does not watch downloads it). The playlist
 * comes from the room's server, which checked that this person may watch and signed the
 * segment addresses; the segments come straight from the file storage or its CDN.
 */

/**
 * Native first; hls.js if the browser says it may play HLS but cannot (Chromium 156's
 * native HLS refuses these playlists: MEDIA_ERR_SRC_NOT_SUPPORTED).
 * @param {HTMLVideoElement} video
 * @param {string} playlist  the room's playlist address (master or one rendition)
 * @param {string} hlsUrl    where hls.js is served
 * @returns {Promise<{stop: () => void}>}
 */
export async function playBroadcast(video, playlist, hlsUrl) {
  if (video.canPlayType('application/vnd.apple.mpegurl') && await playsNatively(video, playlist)) {
    await video.play().catch(() => {});
    return { stop: () => { video.pause(); video.removeAttribute('src'); video.load(); } };
  }
  video.removeAttribute('src');
  const module = /** @type {any} */ (await import(hlsUrl));
  const Hls = module.default;
  if (!Hls || !Hls.isSupported()) throw new Error('no HLS support');
  // Live edge two segments back (about 4 s behind), small buffers: a lecture, not a film.
  const hls = new Hls({ liveSyncDurationCount: 2, maxBufferLength: 10 });
  hls.loadSource(new URL(playlist, window.location.href).href);
  hls.attachMedia(video);
  await new Promise((resolve, reject) => {
    hls.on(Hls.Events.MANIFEST_PARSED, resolve);
    hls.on(Hls.Events.ERROR, (/** @type {any} */ _event, /** @type {any} */ data) => { if (data && data.fatal) reject(new Error(data.type)); });
  });
  video.muted = false;
  await video.play().catch(() => {});
  return { stop: () => { hls.destroy(); video.removeAttribute('src'); video.load(); } };
}

/**
 * Whether the browser's own HLS loads the playlist (its metadata within 10 s).
 * @param {HTMLVideoElement} video
 * @param {string} playlist
 * @returns {Promise<boolean>}
 */
function playsNatively(video, playlist) {
  return new Promise((resolve) => {
    const done = (/** @type {boolean} */ ok) => {
      video.removeEventListener('loadedmetadata', loaded);
      video.removeEventListener('error', failed);
      clearTimeout(timer);
      resolve(ok);
    };
    const loaded = () => done(true);
    const failed = () => done(false);
    const timer = setTimeout(() => done(false), 10000);
    video.addEventListener('loadedmetadata', loaded);
    video.addEventListener('error', failed);
    video.src = playlist;
  });
}
