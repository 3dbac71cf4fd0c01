/** Mention and reply notifications anywhere in the app: the unread badge, toasts, browser notifications. */

import { lang, user } from './config.js';
import { t } from './i18n.js';

const MAX_TOASTS = 4;
const EXCERPT_CHARS = 140;

let unread = Number(user?.unread_mentions) || 0;
const baseTitle = document.title;

export function unreadCount() {
  return unread;
}

/** Show `count` unread mentions in the header badge and the page title. */
export function setUnreadCount(count) {
  unread = Math.max(0, Number(count) || 0);
  const badge = document.getElementById('mention-badge');
  const wrapper = document.getElementById('mention-count');
  if (badge) {
    badge.textContent = String(unread);
    badge.dataset.count = String(unread);
  }
  if (wrapper) wrapper.dataset.count = String(unread);
  document.title = unread > 0 ? `(${unread}) ${baseTitle}` : baseTitle;
}

// Other tabs of this browser hear when mentions were marked read here, so every badge agrees.
const unreadChannel = 'BroadcastChannel' in window ? new BroadcastChannel('bwt-unread') : null;
unreadChannel?.addEventListener('message', (event) => setUnreadCount(event.data));

/** Set the unread count after this tab marked mentions read, and tell the other tabs. */
export function shareUnreadCount(count) {
  setUnreadCount(count);
  unreadChannel?.postMessage(unread);
}

/** Plain text for a preview: on one line, shortened. */
export function excerpt(text, limit = EXCERPT_CHARS) {
  const line = String(text ?? '').replace(/\s+/g, ' ').trim();
  return line.length > limit ? `${line.slice(0, limit - 1)}…` : line;
}

/** The text of a message: read from its sanitised HTML by an inert parser, so no markup shows. */
export function messageText(message) {
  if (message?.html) {
    const parsed = new DOMParser().parseFromString(message.html, 'text/html');
    return parsed.body.textContent ?? '';
  }
  return message?.body ?? '';
}

function mentionTitle(notification) {
  const key = notification.kind === 'reply' ? 'reply_toast_title' : 'mention_toast_title';
  return t(key, {
    author: notification.message?.author?.display_name ?? '?',
    network: notification.network?.name ?? '?',
  });
}

/** A dismissable toast in #toast-region; every text goes in as text, never as HTML. */
export function showToast({ title, text, href, linkText, key }) {
  const region = document.getElementById('toast-region');
  if (!region) return null;
  if (key && region.querySelector(`[data-toast-key="${CSS.escape(key)}"]`)) return null;

  const toast = document.createElement('div');
  toast.className = 'toast';
  toast.setAttribute('role', 'status');
  if (key) toast.dataset.toastKey = key;

  const heading = document.createElement('p');
  heading.className = 'toast__title';
  heading.textContent = title;
  toast.append(heading);

  const close = document.createElement('button');
  close.type = 'button';
  close.className = 'toast__close';
  close.setAttribute('aria-label', t('toast_close'));
  const cross = document.createElement('span');
  cross.setAttribute('aria-hidden', 'true');
  cross.textContent = '×';
  close.append(cross);
  close.addEventListener('click', () => dismissToast(toast));
  toast.append(close);

  if (text) {
    const body = document.createElement('p');
    body.className = 'toast__text';
    body.textContent = text;
    toast.append(body);
  }
  if (href) {
    const link = document.createElement('a');
    link.className = 'toast__link';
    link.href = href;
    link.textContent = linkText ?? t('toast_open');
    toast.append(link);
  }
  toast.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') dismissToast(toast);
  });

  region.append(toast);
  while (region.children.length > MAX_TOASTS) region.firstElementChild.remove();
  keepToastsClearOfThread();
  return toast;
}

function overlap(a, b) {
  return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
}

/**
 * Toasts never cover the reply box of an open thread. app.css places them clear of it; where
 * the screen is too small for all of them, the oldest go (they stay in the mentions inbox).
 */
export function keepToastsClearOfThread() {
  const region = document.getElementById('toast-region');
  const panel = document.getElementById('thread-panel');
  const form = document.getElementById('thread-form');
  if (!region || !panel || panel.hidden || !form || form.hidden) return;
  const replyBox = form.getBoundingClientRect();
  while (region.children.length > 1 && overlap(region.getBoundingClientRect(), replyBox)) {
    region.firstElementChild.remove();
  }
}

export function dismissToast(toast) {
  const hadFocus = toast.contains(document.activeElement);
  toast.remove();
  if (hadFocus) document.getElementById('main')?.focus();
}

/** True when the user is looking at the room the notification is about: no toast needed. */
function inViewingRoom(notification) {
  const room = document.getElementById('room');
  return (
    !document.hidden &&
    room !== null &&
    Number(room.dataset.networkId) === notification.network?.id &&
    document.getElementById(`m-${notification.message?.seq}`) !== null
  );
}

/** True when the message is in the thread the user has open: the panel shows it already. */
function inOpenThread(notification) {
  const panel = document.getElementById('thread-panel');
  const message = notification.message;
  if (document.hidden || !panel || panel.hidden || !message) return false;
  return panel.dataset.rootId === String(message.thread_root_id ?? message.id);
}

function showMentionToast(notification) {
  if (inViewingRoom(notification) || inOpenThread(notification)) return;
  showToast({
    key: `mention-${notification.id}`,
    title: mentionTitle(notification),
    text: excerpt(messageText(notification.message)),
    href: notification.message?.permalink,
    linkText: t('toast_open'),
  });
}

function showBrowserNotification(notification) {
  if (!('Notification' in window) || Notification.permission !== 'granted' || !document.hidden) return;
  try {
    const browserNotification = new Notification(mentionTitle(notification), {
      body: excerpt(messageText(notification.message)),
      tag: `bwt-mention-${notification.id}`,
      lang,
    });
    browserNotification.addEventListener('click', () => {
      window.focus();
      if (notification.message?.permalink) location.assign(notification.message.permalink);
      browserNotification.close();
    });
  } catch (error) {
    // Some browsers allow notifications only from a service worker.
    console.warn('Cannot show a browser notification', error);
  }
}

function setupPermissionButtons() {
  const buttons = document.querySelectorAll('#notification-permission-button, [data-notification-permission]');
  const supported = 'Notification' in window;
  const render = () => {
    for (const button of buttons) button.hidden = !supported || Notification.permission !== 'default';
  };
  render();
  if (!supported) return;
  for (const button of buttons) {
    // Asking is allowed only from a user gesture: this click handler.
    button.addEventListener('click', async () => {
      try {
        await Notification.requestPermission();
      } catch (error) {
        console.warn('Asking for notification permission failed', error);
      }
      render();
      if (Notification.permission === 'granted') showToast({ title: t('notifications_enabled') });
    });
  }
}

export function setupNotifications(socket) {
  setUnreadCount(unread);
  setupPermissionButtons();
  socket.addEventListener('notification', (event) => {
    const notification = event.detail;
    if (!notification) return;
    if (!notification.read) setUnreadCount(unread + 1);
    showMentionToast(notification);
    showBrowserNotification(notification);
  });
}
