// The wslane chat page: one WebSocket to /ws/chat. After a drop it reconnects with capped,
// jittered exponential backoff. Messages typed while offline are queued and sent once after the
// reconnect; a message handed to an open socket is never sent again (at most once, no resends).

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 10_000;
const OUTBOX_LIMIT = 50;
/** The server closed this socket because a newer one joined with the same name. */
const CLOSE_REPLACED = 4409;
/** Same rule as the server's: 1 to 32 printable characters. */
const NAME_PATTERN = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]{1,32}$/u;

const $ = (id) => document.getElementById(id);
const view = {
  status: $('status'),
  statusText: $('status-text'),
  reconnect: $('reconnect'),
  messages: $('messages'),
  outbox: $('outbox'),
  composer: $('composer'),
  text: $('text'),
  join: $('join'),
  name: $('name'),
  room: $('room'),
  roomName: $('room-name'),
  memberCount: $('member-count'),
  members: $('members'),
};

const query = new URLSearchParams(location.search);
const chat = {
  name: validName(query.get('name')) ?? `guest-${Math.random().toString(36).slice(2, 6)}`,
  room: validName(query.get('room')) ?? 'lobby',
  /** The current socket; events of older sockets are ignored. */
  socket: null,
  /** Failed attempts since the last successful join. */
  attempt: 0,
  retryTimer: 0,
  /** Texts typed while offline, sent once each after the reconnect. */
  outbox: [],
  members: null,
};

function validName(value) {
  const trimmed = (value ?? '').trim();
  return NAME_PATTERN.test(trimmed) ? trimmed : null;
}

function connect() {
  clearTimeout(chat.retryTimer);
  setStatus('connecting', 'connecting…');
  const url = new URL('/ws/chat', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('room', chat.room);
  url.searchParams.set('name', chat.name);
  const socket = new WebSocket(url);
  chat.socket = socket;
  chat.members = null;
  socket.addEventListener('open', () => {
    if (chat.socket !== socket) return;
    setStatus('online', `online as ${chat.name}`);
    flushOutbox();
  });
  socket.addEventListener('message', (event) => {
    if (chat.socket === socket) onServerMessage(JSON.parse(event.data));
  });
  socket.addEventListener('close', (event) => {
    if (chat.socket !== socket) return;
    chat.socket = null;
    if (event.code === CLOSE_REPLACED) {
      setStatus('replaced', `${chat.name} joined from another tab; this one stopped`);
      view.reconnect.hidden = false;
    } else {
      scheduleReconnect();
    }
  });
}

function scheduleReconnect() {
  // Equal jitter: half the ceiling for sure, the other half at random, so a crowd of pages that
  // lost the same server do not all come back in the same instant.
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** chat.attempt);
  const delay = ceiling / 2 + (Math.random() * ceiling) / 2;
  chat.attempt += 1;
  setStatus('offline', `offline, reconnecting in ${(delay / 1000).toFixed(1)} s`);
  chat.retryTimer = setTimeout(connect, delay);
}

function isOnline() {
  return chat.socket?.readyState === WebSocket.OPEN;
}

function send(message) {
  chat.socket.send(JSON.stringify(message));
}

function flushOutbox() {
  while (chat.outbox.length > 0 && isOnline()) send({ type: 'say', text: chat.outbox.shift() });
  renderOutbox();
}

function onServerMessage(message) {
  if (message.type === 'error') {
    addLine('error', `server: ${message.message}`);
    return;
  }
  if (message.room !== chat.room) return;
  if (message.type === 'said') {
    addSaid(message);
  } else if (message.type === 'presence') {
    // The server accepted us into the room: the connection is good, backoff starts over.
    chat.attempt = 0;
    showPresence(message.members);
  }
}

function setStatus(state, text) {
  view.status.dataset.state = state;
  view.statusText.textContent = text;
  if (state !== 'replaced') view.reconnect.hidden = true;
}

function addSaid({ from, text, at }) {
  const item = document.createElement('li');
  item.className = from === chat.name ? 'said own' : 'said';
  item.dataset.from = from;
  const time = document.createElement('time');
  time.dateTime = new Date(at).toISOString();
  time.textContent = new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const who = document.createElement('span');
  who.className = 'from';
  who.textContent = from;
  const body = document.createElement('span');
  body.className = 'text';
  body.textContent = text;
  item.append(time, who, body);
  append(item);
}

function addLine(kind, text) {
  const item = document.createElement('li');
  item.className = kind;
  item.textContent = text;
  append(item);
}

function append(item) {
  const atBottom =
    view.messages.scrollHeight - view.messages.scrollTop - view.messages.clientHeight < 40;
  view.messages.append(item);
  if (atBottom) view.messages.scrollTop = view.messages.scrollHeight;
}

function showPresence(members) {
  if (chat.members === null) {
    addLine('system', `you are in ${chat.room}`);
  } else {
    for (const name of members)
      if (!chat.members.includes(name)) addLine('system', `${name} joined`);
    for (const name of chat.members) if (!members.includes(name)) addLine('system', `${name} left`);
  }
  chat.members = members;
  view.roomName.textContent = chat.room;
  view.memberCount.textContent = String(members.length);
  view.members.replaceChildren(
    ...members.map((name) => {
      const item = document.createElement('li');
      item.textContent = name === chat.name ? `${name} (you)` : name;
      item.dataset.name = name;
      return item;
    }),
  );
}

function renderOutbox() {
  view.outbox.replaceChildren(
    ...chat.outbox.map((text) => {
      const item = document.createElement('li');
      item.textContent = `queued: ${text}`;
      return item;
    }),
  );
}

view.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = view.text.value;
  if (text.trim() === '') return;
  if (isOnline()) {
    send({ type: 'say', text });
  } else if (chat.outbox.length < OUTBOX_LIMIT) {
    chat.outbox.push(text);
    renderOutbox();
  } else {
    addLine('error', `offline and ${OUTBOX_LIMIT} messages already queued: not sent`);
    return;
  }
  view.text.value = '';
});

view.join.addEventListener('submit', (event) => {
  event.preventDefault();
  const name = validName(view.name.value);
  const room = validName(view.room.value);
  if (name === null || room === null) {
    addLine('error', 'names and rooms: 1 to 32 printable characters');
    return;
  }
  const url = new URL(location.href);
  url.searchParams.set('name', name);
  url.searchParams.set('room', room);
  history.replaceState(null, '', url);
  if (name !== chat.name || !isOnline()) {
    // A new name is a new session; offline, the next attempt simply uses the new room.
    chat.name = name;
    chat.room = room;
    const old = chat.socket;
    chat.socket = null;
    old?.close(1000, 'leaving');
    chat.attempt = 0;
    connect();
  } else if (room !== chat.room) {
    chat.room = room;
    chat.members = null;
    send({ type: 'join', room });
  }
});

view.reconnect.addEventListener('click', () => {
  chat.attempt = 0;
  connect();
});

// The browser knows the network is back before any backoff timer does.
window.addEventListener('online', () => {
  if (chat.socket === null && view.status.dataset.state === 'offline') connect();
});

view.name.value = chat.name;
view.room.value = chat.room;
view.roomName.textContent = chat.room;
connect();
