'use strict';
/**
 * A stroke's points, simplified and packed: the browser's half of
 * sessions/annotation/codec.py (the server decodes, re-simplifies and re-encodes what it
 * gets; tests hold both to the same strings). Points are integers on a 0..GRID grid across
 * and down the page; each coordinate is written as its difference from the previous one,
 * zig-zag folded, 5 bits per character in a URL-safe base-64 alphabet.
 */

export const GRID = 10000;
/** Tolerance of the simplification in grid units (about one pixel of a large page image). */
export const EPSILON = 8;
/** Points the server accepts in one stroke: a longer stroke is sent in pieces. */
export const MAX_POINTS = 1500;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** @typedef {[number, number]} Point */

/** @param {Point[]} points @returns {string} */
export function encode(points) {
  let out = '';
  let lastX = 0;
  let lastY = 0;
  for (const [x, y] of points) {
    for (const delta of [x - lastX, y - lastY]) {
      let value = delta >= 0 ? delta * 2 : -delta * 2 - 1;
      while (value >= 0x20) {
        out += ALPHABET[0x20 | (value & 0x1f)];
        value = Math.floor(value / 32);
      }
      out += ALPHABET[value];
    }
    lastX = x;
    lastY = y;
  }
  return out;
}

/** @param {string} text @returns {Point[]} (empty when malformed) */
export function decode(text) {
  /** @type {number[]} */
  const numbers = [];
  let value = 0;
  let shift = 0;
  for (const char of text) {
    const bits = ALPHABET.indexOf(char);
    if (bits < 0) return [];
    value += (bits & 0x1f) * 2 ** shift;
    if (bits & 0x20) { shift += 5; continue; }
    numbers.push(value % 2 ? -(value + 1) / 2 : value / 2);
    value = 0;
    shift = 0;
  }
  /** @type {Point[]} */
  const points = [];
  let x = 0;
  let y = 0;
  for (let i = 0; i + 1 < numbers.length; i += 2) {
    x += numbers[i];
    y += numbers[i + 1];
    points.push([x, y]);
  }
  return points;
}

/** @param {Point} p @param {Point} a @param {Point} b */
export function distanceSq(p, a, b) {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const length = dx * dx + dy * dy;
  const t = length ? Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length)) : 0;
  const cx = a[0] + t * dx - p[0];
  const cy = a[1] + t * dy - p[1];
  return cx * cx + cy * cy;
}

/**
 * Ramer–Douglas–Peucker (iterative), after dropping repeated points; ends are kept.
 * @param {Point[]} points @param {number} [epsilon] @returns {Point[]}
 */
export function simplify(points, epsilon = EPSILON) {
  const unique = points.filter((p, i) => i === 0 || p[0] !== points[i - 1][0] || p[1] !== points[i - 1][1]);
  if (unique.length < 3) return unique;
  const keep = unique.map((_p, i) => i === 0 || i === unique.length - 1);
  const stack = [[0, unique.length - 1]];
  while (stack.length) {
    const [first, last] = /** @type {number[]} */ (stack.pop());
    let worst = -1;
    let at = -1;
    for (let i = first + 1; i < last; i += 1) {
      const d = distanceSq(unique[i], unique[first], unique[last]);
      if (d > worst) { worst = d; at = i; }
    }
    if (worst > epsilon * epsilon) {
      keep[at] = true;
      stack.push([first, at], [at, last]);
    }
  }
  return unique.filter((_p, i) => keep[i]);
}
