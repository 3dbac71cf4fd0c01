/** The header's connection indicator (#connection-status), driven by the socket's state. */

import { t } from './i18n.js';

export function setupConnectionStatus(socket) {
  const element = document.getElementById('connection-status');
  if (!element) return;
  const text = element.querySelector('.connection-status__text') ?? element;
  let beenOffline = false;

  const render = (state) => {
    if (state === 'offline') beenOffline = true;
    if (state === 'open') beenOffline = false;
    // Once offline, each retry would flip the text between "connecting" and "offline" and a
    // screen reader would read every flip: keep saying offline until a connection holds.
    const shown = state === 'connecting' && beenOffline ? 'offline' : state === 'idle' ? 'connecting' : state;
    if (element.dataset.state === shown) return;
    element.dataset.state = shown;
    text.textContent = t(`connection_${shown}`);
  };

  socket.addEventListener('state', (event) => render(event.detail.state));
  render(socket.state);
}
