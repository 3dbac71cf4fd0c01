/** Message times in the Europe/Amsterdam zone, formatted for the interface language. */

import { locale } from './config.js';

const timeZone = 'Europe/Amsterdam';

const timeOnly = new Intl.DateTimeFormat(locale, { timeZone, hour: '2-digit', minute: '2-digit' });
const dayAndTime = new Intl.DateTimeFormat(locale, {
  timeZone,
  day: 'numeric',
  month: 'short',
  hour: '2-digit',
  minute: '2-digit',
});
const fullDate = new Intl.DateTimeFormat(locale, {
  timeZone,
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});
const longForm = new Intl.DateTimeFormat(locale, { timeZone, dateStyle: 'full', timeStyle: 'short' });
// en-CA formats a date as YYYY-MM-DD, which makes calendar days comparable as strings.
const dayKey = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });

/** Parse the server's ISO 8601 time; a time without an offset is UTC (the API's convention). */
export function parseTimestamp(iso) {
  const hasOffset = /(Z|[+-]\d\d:?\d\d)$/i.test(iso);
  return new Date(hasOffset ? iso : `${iso}Z`);
}

/** Short form: only the time today, day and time this year, the full date before that. */
export function formatMessageTime(date, now = new Date()) {
  if (dayKey.format(date) === dayKey.format(now)) return timeOnly.format(date);
  if (dayKey.format(date).slice(0, 4) === dayKey.format(now).slice(0, 4)) return dayAndTime.format(date);
  return fullDate.format(date);
}

export function formatLongTime(date) {
  return longForm.format(date);
}

/** A `<time datetime>` element with the short form as text and the long form as tooltip. */
export function timeElement(iso) {
  const date = parseTimestamp(iso);
  const element = document.createElement('time');
  element.dateTime = iso;
  if (Number.isNaN(date.getTime())) {
    element.textContent = iso;
    return element;
  }
  element.textContent = formatMessageTime(date);
  element.title = formatLongTime(date);
  return element;
}
