/** Start-up shared by every page: the logged-in user's one socket, the header status, notifications. */

import { config, user } from './config.js';
import { setupConnectionStatus } from './connection-status.js';
import { setupNotifications } from './notifications.js';
import { ChatSocket, socketUrl } from './socket.js';

export const socket = user
  ? new ChatSocket({ url: socketUrl(config.ws_path ?? '/ws'), userSeq: user.user_seq ?? null })
  : null;

if (socket) {
  setupConnectionStatus(socket);
  setupNotifications(socket);
  socket.start();
}

/** The account menu (a <details>): Escape and a click elsewhere close it. */
function setupUserMenu(menu) {
  menu.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape' || !menu.open) return;
    menu.open = false;
    menu.querySelector('summary').focus();
  });
  document.addEventListener('click', (event) => {
    if (menu.open && !menu.contains(event.target)) menu.open = false;
  });
}

const userMenu = document.getElementById('user-menu');
if (userMenu) setupUserMenu(userMenu);

// A handle for the browser console and the browser tests.
window.bwt = { socket };
