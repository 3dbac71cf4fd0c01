/** Joining and leaving networks, and the network list page (#network-list) that does it in place. */

import { api, describeError } from './api.js';
import { t, tn } from './i18n.js';

export function joinNetwork(networkId) {
  return api(`/api/networks/${networkId}/join`, { method: 'POST' });
}

export function leaveNetwork(networkId) {
  return api(`/api/networks/${networkId}/leave`, { method: 'POST' });
}

function renderItem(item, network) {
  item.dataset.member = network.is_member ? 'true' : 'false';
  const count = item.querySelector('[data-member-count]');
  if (count) count.textContent = tn('members', network.member_count);
  const label = item.querySelector('[data-membership-label]');
  if (label) label.hidden = !network.is_member;
  item.querySelector('[data-action="join"]').hidden = network.is_member;
  item.querySelector('[data-action="leave"]').hidden = !network.is_member;
}

function setupNetworkList(list) {
  const status = document.getElementById('network-list-status');
  const announce = (text) => {
    if (status) status.textContent = text;
  };

  list.addEventListener('click', async (event) => {
    const button = event.target.closest('button[data-action]');
    if (!button || button.getAttribute('aria-disabled') === 'true') return;
    const item = button.closest('[data-network-id]');
    const networkId = Number(item.dataset.networkId);
    const name = item.dataset.networkName ?? '';
    const joining = button.dataset.action === 'join';

    button.setAttribute('aria-disabled', 'true');
    try {
      const network = await (joining ? joinNetwork(networkId) : leaveNetwork(networkId));
      renderItem(item, network);
      announce(t(joining ? 'network_joined' : 'network_left', { name: network.name ?? name }));
      // The pressed button is hidden now: keep the focus on the one that took its place.
      item.querySelector(`[data-action="${joining ? 'leave' : 'join'}"]`).focus();
    } catch (error) {
      announce(describeError(error));
    } finally {
      button.removeAttribute('aria-disabled');
    }
  });
}

const list = document.getElementById('network-list');
if (list) setupNetworkList(list);
