/** JSON calls to the HTTP API (docs/http-api.md), with its error shape turned into ApiError. */

import { hasString, t } from './i18n.js';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export function loginUrl() {
  const next = `${location.pathname}${location.search}`;
  return `/login?next=${encodeURIComponent(next)}`;
}

export function redirectToLogin() {
  location.assign(loginUrl());
}

/**
 * Call the API. `query` values that are null or undefined are left out; `body` is sent as JSON
 * (the JSON content type is also the API's CSRF defence).
 */
export async function api(path, { method = 'GET', query, body, signal, keepalive } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== null && value !== undefined) url.searchParams.set(name, String(value));
  }
  const options = {
    method,
    headers: { Accept: 'application/json' },
    credentials: 'same-origin',
    signal,
    keepalive,
  };
  if (body !== undefined) {
    options.headers['Content-Type'] = 'application/json';
    options.body = JSON.stringify(body);
  }

  let response;
  try {
    response = await fetch(url, options);
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, 'network_error', error.message);
  }
  if (response.status === 401) {
    redirectToLogin();
    throw new ApiError(401, 'not_authenticated', 'Not logged in');
  }
  const payload = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = payload?.error ?? {};
    throw new ApiError(response.status, detail.code ?? 'http_error', detail.message ?? response.statusText);
  }
  return payload;
}

/** A message for the user about a failed call or a WebSocket error code, in the interface language. */
export function describeError(errorOrCode) {
  const code = typeof errorOrCode === 'string' ? errorOrCode : errorOrCode?.code;
  if (code && hasString(`error_${code}`)) return t(`error_${code}`);
  return t('error_generic', { code: code ?? '?' });
}
