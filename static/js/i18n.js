/** Interface strings for scripts: the server translates them into #bwt-strings, keyed by name. */

import { locale, readJson } from './config.js';

const strings = readJson('bwt-strings');
const pluralRules = new Intl.PluralRules(locale);
const listFormat = new Intl.ListFormat(locale, { style: 'long', type: 'conjunction' });

export function hasString(key) {
  return Object.prototype.hasOwnProperty.call(strings, key);
}

/** The translated string `key`, with `{name}` placeholders filled from `params`. */
export function t(key, params = {}) {
  const template = hasString(key) ? strings[key] : key;
  return template.replace(/\{(\w+)\}/g, (placeholder, name) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : placeholder,
  );
}

/** Plural choice between `key_one` and `key_other`; `{count}` is filled in. */
export function tn(key, count, params = {}) {
  const form = pluralRules.select(count) === 'one' ? 'one' : 'other';
  return t(`${key}_${form}`, { count, ...params });
}

/** "a, b and c" in the interface language. */
export function formatList(items) {
  return listFormat.format(items);
}
