/**
 * The console page's script (plain browser JavaScript, no build step, no external resources).
 * Message text is untrusted data: it only ever reaches the page through textContent and DOM
 * properties, never innerHTML. Links are shown only for http(s) URLs.
 */
export const PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var view = document.body.getAttribute('data-view');
  var onlyId = document.body.getAttribute('data-message-id') || '';
  var pollMs = Number(document.body.getAttribute('data-poll-ms')) || 5000;
  var KINDS = { alert: 'alert', suggestion: 'suggestion', approval: 'approval', decision: 'decision',
    digest: 'digest', notice: 'notice', reply: 'reply' };
  var DEFAULT_CHANNEL = 'console:main';
  var shown = new Map();
  var cursor = 0;
  var source = null;
  var pollTimer = null;
  var reconnectTimer = null;
  var signedOut = false;
  var uid = 0;
  var history = [];
  var historyAt = 0;

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function token(s) { return String(s || 'none').toLowerCase().replace(/[^a-z-]/g, ''); }
  function when(ms) {
    var d = new Date(ms);
    var t = el('time', null, d.toLocaleString());
    t.dateTime = d.toISOString();
    return t;
  }
  function safeUrl(u) {
    try {
      var x = new URL(u, location.href);
      return x.protocol === 'http:' || x.protocol === 'https:' ? x.href : null;
    } catch (e) { return null; }
  }

  function setConn(text, cls) {
    var c = $('conn');
    if (!c) return;
    c.textContent = text;
    c.className = 'conn ' + (cls || '');
  }

  function showSignedOut() {
    if (signedOut) return;
    signedOut = true;
    if (source) source.close();
    clearInterval(pollTimer);
    clearTimeout(reconnectTimer);
    setConn('signed out', 'down');
    var main = $('main');
    main.textContent = '';
    var box = el('section', 'notice');
    box.setAttribute('role', 'alert');
    box.appendChild(el('h1', null, 'Your console session has ended'));
    box.appendChild(el('p', null, 'Open the console URL that autonomy printed at start (it carries the token), ' +
      'or pass the token as Authorization: Bearer <token>. The token is in AUTONOMY_CONSOLE_TOKEN or in the ' +
      'console-token file in the data folder.'));
    main.appendChild(box);
  }

  function api(method, path, body) {
    var init = { method: method, credentials: 'same-origin', headers: {} };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (data) {
        if (res.status === 401) { showSignedOut(); throw new Error('signed out'); }
        if (!res.ok) throw new Error((data && data.error) || ('the bot answered HTTP ' + res.status));
        return data;
      });
    });
  }

  // Digest charts live in the data folder's digests/ and are served by /api/digests/NAME (same
  // sign-in as the rest of the console); any other image path is described, not fetched.
  function renderImage(image) {
    var match = /^digests\/([0-9]{4}-[0-9]{2}-[0-9]{2}\.png)$/.exec(String(image.path || ''));
    if (!match) return el('p', 'hint', 'Chart (not shown here): ' + (image.alt || 'no description'));
    var fig = el('figure', 'chart');
    var img = el('img');
    img.src = '/api/digests/' + encodeURIComponent(match[1]);
    img.alt = image.alt || 'Chart';
    img.width = 960;
    img.height = 600;
    img.loading = 'lazy';
    fig.appendChild(img);
    return fig;
  }

  function renderMessage(m, item) {
    var art = el('article', 'msg kind-' + token(m.kind) + ' sev-' + token(m.severity));
    var head = el('header', 'msg-head');
    head.appendChild(el('span', 'badge', KINDS[m.kind] || 'message'));
    if (m.severity) head.appendChild(el('span', 'sev', m.severity));
    var titleId = 'm-title-' + (++uid);
    var h = el('h3', 'msg-title', m.title);
    h.id = titleId;
    art.setAttribute('aria-labelledby', titleId);
    head.appendChild(h);
    if (item) {
      var meta = el('span', 'meta');
      meta.appendChild(document.createTextNode(item.channel + ' \u00b7 '));
      var link = el('a');
      link.href = '/messages/' + encodeURIComponent(item.id);
      link.appendChild(when(item.postedAt));
      meta.appendChild(link);
      if (item.updatedAt !== item.postedAt) {
        meta.appendChild(document.createTextNode(' \u00b7 updated '));
        meta.appendChild(when(item.updatedAt));
      }
      head.appendChild(meta);
    }
    art.appendChild(head);
    if (m.mentions && m.mentions.length) art.appendChild(el('p', 'mentions', 'For: ' + m.mentions.join(', ')));
    if (m.image) art.appendChild(renderImage(m.image));
    if (m.body) {
      var body = el('div', 'body', m.body);
      art.appendChild(body);
      // Long texts are folded in the feed (whole on their own page and after one click).
      if (item && view === 'feed' && m.body.length > 1500) {
        body.classList.add('folded');
        body.id = 'm-body-' + (++uid);
        var more = el('button', 'more', 'Show the whole message');
        more.type = 'button';
        more.setAttribute('aria-expanded', 'false');
        more.setAttribute('aria-controls', body.id);
        more.addEventListener('click', function () {
          var folded = body.classList.toggle('folded');
          more.setAttribute('aria-expanded', folded ? 'false' : 'true');
          more.textContent = folded ? 'Show the whole message' : 'Fold it again';
        });
        art.appendChild(more);
      }
    }
    if (m.fields && m.fields.length) {
      var dl = el('dl', 'fields');
      m.fields.forEach(function (f) {
        dl.appendChild(el('dt', null, f.label));
        dl.appendChild(el('dd', null, f.value));
      });
      art.appendChild(dl);
    }
    if (m.links && m.links.length) {
      var ul = el('ul', 'links');
      m.links.forEach(function (l) {
        var li = el('li');
        var href = safeUrl(l.url);
        if (href) {
          // The host is always shown: a label (from a model or a sender) never hides where it goes.
          var host = new URL(href).host;
          var suffix = ' (' + host + ')';
          var a = el('a', null, l.label.slice(-suffix.length) === suffix ? l.label : l.label + suffix);
          a.href = href;
          a.rel = 'noopener noreferrer';
          a.target = '_blank';
          li.appendChild(a);
        } else {
          li.textContent = l.label + ' (link not shown: only http and https links are)';
        }
        ul.appendChild(li);
      });
      art.appendChild(ul);
    }
    if (item && m.buttons && m.buttons.length) {
      var actions = el('div', 'actions');
      actions.setAttribute('role', 'group');
      actions.setAttribute('aria-label', 'Actions for ' + m.title);
      m.buttons.forEach(function (b) {
        var btn = el('button', b.style === 'primary' ? 'primary' : b.style === 'danger' ? 'danger' : '', b.label);
        btn.type = 'button';
        btn.addEventListener('click', function () { onButton(art, item, b, btn); });
        actions.appendChild(btn);
      });
      art.appendChild(actions);
    }
    if (item) {
      var status = el('p', 'status');
      status.setAttribute('aria-live', 'polite');
      art.appendChild(status);
    }
    return art;
  }

  function setBusy(art, busy) {
    art.querySelectorAll('.actions button').forEach(function (b) { b.disabled = busy; });
  }
  function setStatus(art, text, isError) {
    var s = art.querySelector('.status');
    if (!s) return;
    s.textContent = text;
    s.className = 'status' + (isError ? ' error' : '');
  }

  function sendClick(art, item, b, extra) {
    var body = { target: b.target, action: b.action, nonce: b.nonce, channel: item.channel };
    if (b.hours) body.hours = b.hours;
    if (extra && extra.reason) body.reason = extra.reason;
    setBusy(art, true);
    setStatus(art, 'Sending ' + b.label + '\u2026');
    api('POST', '/api/clicks', body).then(function (data) {
      var r = data.reply;
      var cur = currentArticle(item.id) || art;
      setStatus(cur, r.title + (r.body ? '\n' + r.body : ''));
      setBusy(cur, false);
    }, function (err) {
      var cur = currentArticle(item.id) || art;
      setStatus(cur, err.message, true);
      setBusy(cur, false);
    });
  }

  function onButton(art, item, b, btn) {
    if (b.action !== 'deny') { sendClick(art, item, b); return; }
    var open = art.querySelector('.reason-form');
    if (open) { open.querySelector('input').focus(); return; }
    var form = el('form', 'reason-form');
    var id = 'reason-' + (++uid);
    var label = el('label', null, 'Reason for denying (optional)');
    label.htmlFor = id;
    var input = el('input');
    input.type = 'text';
    input.id = id;
    input.maxLength = 500;
    var ok = el('button', 'danger', 'Deny');
    ok.type = 'submit';
    var cancel = el('button', null, 'Cancel');
    cancel.type = 'button';
    function close() { form.remove(); btn.focus(); }
    cancel.addEventListener('click', close);
    input.addEventListener('keydown', function (e) { if (e.key === 'Escape') close(); });
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var reason = input.value.trim();
      form.remove();
      sendClick(art, item, b, { reason: reason });
    });
    form.appendChild(label);
    form.appendChild(input);
    form.appendChild(ok);
    form.appendChild(cancel);
    art.querySelector('.actions').after(form);
    input.focus();
  }

  function currentArticle(id) {
    var s = shown.get(id);
    return s ? s.el.querySelector('article') : null;
  }

  function channelFilter() { var s = $('channel'); return s ? s.value : ''; }

  function noteChannel(ch) {
    var s = $('channel');
    if (!s) return;
    for (var i = 0; i < s.options.length; i++) if (s.options[i].value === ch) return;
    var o = el('option', null, ch);
    o.value = ch;
    s.appendChild(o);
  }

  function upsert(item) {
    if (item.seq > cursor) cursor = item.seq;
    if (onlyId && item.id !== onlyId) return;
    var old = shown.get(item.id);
    if (old && old.item.seq >= item.seq) return;
    var art = renderMessage(item.message, item);
    if (old) {
      var prev = old.el.querySelector('.status');
      if (prev && prev.textContent) setStatus(art, prev.textContent, prev.classList.contains('error'));
      art.classList.add('changed');
      // Replace only the message: an incident card keeps its thread folded under it.
      var was = old.el.querySelector(':scope > article');
      if (was) old.el.replaceChild(art, was); else old.el.insertBefore(art, old.el.firstChild);
      old.item = item;
      return;
    }
    var li = el('li');
    li.setAttribute('data-channel', item.channel);
    li.appendChild(art);
    var parent = item.thread ? shown.get(item.thread) : null;
    if (parent) {
      // A reply in an incident's thread: folded under its card, oldest first.
      var thread = threadOf(parent.el);
      thread.list.appendChild(li);
      var n = thread.list.children.length;
      thread.summary.textContent = n + (n === 1 ? ' reply' : ' replies') + ' in the thread';
      shown.set(item.id, { item: item, el: li, inThread: true });
      return;
    }
    var f = channelFilter();
    li.hidden = !!f && f !== item.channel;
    var list = $('feed');
    list.insertBefore(li, list.firstChild);
    shown.set(item.id, { item: item, el: li });
    noteChannel(item.channel);
    var empty = $('empty');
    if (empty) empty.hidden = true;
  }

  function threadOf(cardLi) {
    var box = cardLi.querySelector(':scope > details.thread');
    if (!box) {
      box = el('details', 'thread');
      box.appendChild(el('summary', null, ''));
      box.appendChild(el('ol', 'replies'));
      cardLi.appendChild(box);
    }
    return { summary: box.querySelector('summary'), list: box.querySelector('ol') };
  }

  function catchUp() {
    if (signedOut) return Promise.resolve();
    return api('GET', '/api/messages?after=' + cursor).then(function (data) {
      data.messages.forEach(upsert);
    }, function () {});
  }

  function startPolling() {
    if (pollTimer || signedOut) return;
    setConn('live updates interrupted: checking every ' + Math.round(pollMs / 1000) + ' s', 'polling');
    pollTimer = setInterval(catchUp, pollMs);
    catchUp();
  }
  function stopPolling() { clearInterval(pollTimer); pollTimer = null; }

  function connect() {
    if (signedOut || typeof EventSource === 'undefined') { startPolling(); return; }
    source = new EventSource('/api/stream');
    source.addEventListener('open', function () {
      stopPolling();
      setConn('live', 'live');
      catchUp();
    });
    source.addEventListener('message', function (e) {
      var ev;
      try { ev = JSON.parse(e.data); } catch (err) { return; }
      if (ev && ev.item) upsert(ev.item);
    });
    source.addEventListener('error', function () {
      startPolling();
      if (source.readyState === EventSource.CLOSED) {
        clearTimeout(reconnectTimer);
        reconnectTimer = setTimeout(connect, 15000);
      }
    });
  }

  function showReply(text, reply, isError) {
    var box = $('replies');
    var wrap = el('div', 'reply');
    wrap.appendChild(el('p', 'echo', '\u203a /autonomy ' + text));
    if (isError) wrap.appendChild(el('p', 'status error', reply));
    else {
      var art = renderMessage(reply, null);
      art.classList.add('bare');
      wrap.appendChild(art);
    }
    box.insertBefore(wrap, box.firstChild);
    while (box.children.length > 5) box.removeChild(box.lastChild);
  }

  function setupCommands() {
    var form = $('command-form');
    var input = $('command');
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var text = input.value.trim().replace(/^\/autonomy(\s+|$)/i, '');
      if (!text) { input.focus(); return; }
      history.push(text);
      historyAt = history.length;
      var button = form.querySelector('button');
      button.disabled = true;
      var f = channelFilter();
      api('POST', '/api/commands', { text: text, channel: f || DEFAULT_CHANNEL }).then(function (data) {
        showReply(text, data.reply, false);
        input.value = '';
      }, function (err) {
        showReply(text, err.message, true);
      }).then(function () { button.disabled = false; input.focus(); });
    });
    input.addEventListener('keydown', function (e) {
      if (e.key === 'ArrowUp' && historyAt > 0) { historyAt--; input.value = history[historyAt]; e.preventDefault(); }
      if (e.key === 'ArrowDown' && historyAt < history.length) {
        historyAt++;
        input.value = history[historyAt] || '';
        e.preventDefault();
      }
    });
    var sel = $('channel');
    sel.addEventListener('change', function () {
      var f = sel.value;
      shown.forEach(function (s) { if (!s.inThread) s.el.hidden = !!f && f !== s.item.channel; });
    });
  }

  if (view === 'feed') setupCommands();
  setConn('connecting\u2026', '');
  var first = onlyId
    ? api('GET', '/api/messages/' + encodeURIComponent(onlyId)).then(function (data) { upsert(data.message); })
    : api('GET', '/api/messages').then(function (data) { data.messages.forEach(upsert); });
  first.then(connect, function (err) {
    if (signedOut) return;
    var empty = $('empty');
    if (empty) { empty.hidden = false; empty.textContent = err.message; }
    connect();
  });
})();
`;
