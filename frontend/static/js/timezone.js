'use strict';
// Tell the server the browser's time zone, so anonymous visitors see their own times.
// Signed-in people use the zone from their profile instead.
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
if (zone && !document.cookie.split('; ').some((c) => c === `tz=${zone}`)) {
  document.cookie = `tz=${encodeURIComponent(zone)}; path=/; max-age=31536000; samesite=lax`;
}
