// The naivechain explorer: plain JS over the node's HTTP API, no build step.
'use strict';
(() => {
  const PAGE = 20, POLL_MS = 2000, WINDOW_MS = 300000;
  const $ = s => document.querySelector(s);
  const st = {
    engine: '', tip: null, // index of the best chain's tip, once known
    blocks: new Map(), // hash -> {b, gone, seen}: the live window
    times: new Map(), // hash -> {t, n}: blocks of the last minutes, for the charts
    top: null, // null: live view; else the highest index of the page shown
    sse: false, statusOK: false, status: null, node: null, peers: {}, lastHashes: null, rate: '',
    opened: Date.now(), view: 0, // bumped on every route change, so that late answers are dropped
  };

  // api fetches path and returns its JSON (either spacing parses) and text.
  async function api(path, opts) {
    const r = await fetch(path, opts);
    const text = await r.text();
    let body = null;
    try { body = JSON.parse(text); } catch (e) { /* not JSON: text says why */ }
    return { ok: r.ok, code: r.status, text, data: body && body.data, error: body && body.error };
  }

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    e.append(...kids);
    return e;
  }
  const short = h => (h || '').slice(0, 12) + '…';
  const decode = s => { try { return JSON.parse(s); } catch (e) { return undefined; } };
  const isPow = b => !!(b.difficulty || b.timestamp || b.nonce);
  const entriesOf = b => (isPow(b) && decode(b.data)) || [];
  const valueText = s => { const v = decode(s); return v === undefined ? s : typeof v === 'string' ? v : JSON.stringify(v); };
  // preview is the start of a block's data, short enough for one row.
  function preview(b) {
    if (!isPow(b)) return valueText(b.data.slice(0, 4096)).slice(0, 200);
    const es = entriesOf(b);
    return (es.length + (es.length === 1 ? ' entry: ' : ' entries: ') + es.slice(0, 20).map(valueText).join(', ')).slice(0, 200);
  }
  const clock = t => (t ? new Date(t).toLocaleTimeString([], { hour12: false }) : '');
  // rawNonce reads the nonce from the answer's text: it may exceed 2^53,
  // which JSON.parse would round. The data string escapes its quotes, so
  // only the block's own key matches.
  const rawNonce = text => { const m = [...text.matchAll(/"nonce":\s*(\d+)/g)].pop(); return m ? m[1] : '0'; };
  function link(a, href) {
    if (href) { a.href = href; a.removeAttribute('aria-disabled'); } else { a.removeAttribute('href'); a.setAttribute('aria-disabled', 'true'); }
  }

  // ---- the live chain ----
  // add keeps b in the live window; gone is what an event says of it, or
  // undefined for a block read from /blocks, which keeps what events said.
  function add(b, gone, seen) {
    const old = st.blocks.get(b.curr_hash);
    st.blocks.set(b.curr_hash, { b, gone: gone === undefined ? !!(old && old.gone) : gone, seen: seen || (old && old.seen) });
    if (!st.times.has(b.curr_hash) && (seen || b.timestamp)) st.times.set(b.curr_hash, { t: b.timestamp || seen, n: isPow(b) ? entriesOf(b).length : 1 });
    if (st.blocks.size > 4 * PAGE) {
      const keep = [...st.blocks.values()].sort((x, y) => y.b.index - x.b.index).slice(0, 2 * PAGE);
      st.blocks = new Map(keep.map(x => [x.b.curr_hash, x]));
    }
  }
  async function loadLive() {
    if (st.tip === null) return;
    const from = Math.max(0, st.tip - PAGE + 1);
    const r = await api(`/blocks?from=${from}&limit=${PAGE}`);
    if (r.ok) for (const b of r.data) add(b, undefined, 0);
    render();
  }
  function connect() {
    const es = new EventSource('/events');
    es.addEventListener('tip', ev => {
      st.sse = true;
      const b = JSON.parse(ev.data);
      st.tip = b.index;
      add(b, undefined, 0);
      loadLive();
      updateState();
    });
    es.addEventListener('connected', ev => {
      const b = JSON.parse(ev.data);
      st.tip = b.index;
      add(b, false, Date.now());
      render();
    });
    es.addEventListener('disconnected', ev => {
      const b = JSON.parse(ev.data);
      st.tip = b.index - 1; // disconnections come highest first
      add(b, true, 0);
      render();
    });
    // A stream that fell behind ends; the next one starts from a fresh tip.
    es.addEventListener('lagged', () => { es.close(); st.sse = false; setTimeout(connect, 500); });
    es.onerror = () => {
      st.sse = es.readyState === EventSource.OPEN;
      updateState();
      if (es.readyState === EventSource.CLOSED) setTimeout(connect, POLL_MS);
    };
  }

  function row(x) {
    const b = x.b, a = el('a', { href: '#/block/' + b.index }, String(b.index));
    const tr = el('tr', { 'data-hash': b.curr_hash, 'data-index': b.index },
      el('td', {}, a), el('td', { title: b.curr_hash }, short(b.curr_hash)),
      el('td', {}, (x.gone ? 'reorg: ' : '') + preview(b)), el('td', { class: 'c-t' }, clock(b.timestamp || x.seen)));
    if (x.gone) { tr.className = 'gone'; tr.title = 'disconnected by a reorg'; }
    if (x.seen && Date.now() - x.seen < 2000) tr.classList.add('new');
    return tr;
  }
  function fillChain(list) {
    $('#blocks tbody').replaceChildren(...list.map(row));
    const low = list.length ? Math.min(...list.map(x => x.b.index)) : 0;
    link($('#older'), low > 0 ? '#/page/' + (low - 1) : '');
    link($('#newer'), st.top === null ? '' : st.top + PAGE >= st.tip ? '#/' : '#/page/' + (st.top + PAGE));
  }
  function render() {
    const tipDd = $('#tip-dd');
    if (tipDd && st.tip !== null) tipDd.textContent = String(st.tip);
    if (!$('#block-view').hidden) return updateNext();
    if (st.top !== null || st.tip === null) return;
    const low = st.tip - PAGE;
    const list = [...st.blocks.values()].filter(x => x.b.index > low && x.b.index <= st.tip + (x.gone ? Infinity : 0));
    list.sort((x, y) => y.b.index - x.b.index || x.gone - y.gone);
    fillChain(list);
  }
  async function showPage(top, view) {
    const from = Math.max(0, top - PAGE + 1);
    const r = await api(`/blocks?from=${from}&limit=${top - from + 1}`);
    if (view !== st.view) return;
    if (!r.ok) { $('#search-out').textContent = r.error || r.text; return; }
    fillChain(r.data.reverse().map(b => ({ b, gone: false, seen: 0 })));
  }

  // ---- a block ----
  const enc = new TextEncoder();
  const hex = a => Array.from(a, x => x.toString(16).padStart(2, '0')).join('');
  const unhex = h => new Uint8Array(h.match(/../g).map(x => parseInt(x, 16)));
  const cat = (...parts) => { const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)); let i = 0; for (const p of parts) { out.set(p, i); i += p.length; } return out; };
  const sha = async bytes => new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  // tree is the RFC 6962 Merkle tree hash internal/block uses for entries.
  async function tree(l) {
    if (l.length === 1) return l[0];
    let k = 1;
    while (k * 2 < l.length) k *= 2;
    return sha(cat([1], await tree(l.slice(0, k)), await tree(l.slice(k))));
  }
  const entryID = async e => sha(cat([0], enc.encode(e)));
  function zeros(sum) { let n = 0; for (const x of sum) { if (x) return n + Math.clz32(x) - 24; n += 8; } return n; }
  // checkHash recomputes curr_hash from the block's fields by the rules of
  // internal/block: sha256(previous_hash + data) for a classic block, the
  // 89-byte header for a pow block, whose hash must also meet its difficulty.
  async function checkHash(b, nonce) {
    if (!isPow(b)) return hex(await sha(enc.encode(b.previous_hash + b.data))) === b.curr_hash;
    const leaves = await Promise.all(entriesOf(b).map(entryID));
    if (!leaves.length || !/^[0-9a-f]{64}$/.test(b.previous_hash)) return false;
    const h = new Uint8Array(89), dv = new DataView(h.buffer);
    dv.setBigUint64(0, BigInt(b.index));
    h.set(unhex(b.previous_hash), 8);
    h.set(await tree(leaves), 40);
    dv.setBigInt64(72, BigInt(b.timestamp));
    h[80] = b.difficulty;
    dv.setBigUint64(81, BigInt(nonce));
    const sum = await sha(h);
    return hex(sum) === b.curr_hash && zeros(sum) >= b.difficulty;
  }
  function pretty(s) {
    const v = decode(s);
    if (v === undefined) return el('pre', {}, s);
    return el('pre', { 'data-kind': typeof v === 'string' ? 'text' : 'json' }, typeof v === 'string' ? v : JSON.stringify(v, null, 2));
  }
  function updateNext() {
    const i = st.shown;
    link($('#next'), st.tip !== null && i < st.tip ? '#/block/' + (i + 1) : '');
  }
  async function showBlock(i, view) {
    st.shown = i;
    $('#block-h').textContent = 'Block ' + i;
    link($('#prev'), i > 0 ? '#/block/' + (i - 1) : '');
    updateNext();
    const v = $('#verify'), fields = $('#fields'), out = $('#data-out');
    v.dataset.ok = ''; v.textContent = 'checking hash…';
    fields.replaceChildren(); out.replaceChildren();
    if (st.tip !== null && i > st.tip) { v.textContent = `No block ${i} yet: the tip is ${st.tip}.`; return; }
    const r = await api('/blocks/' + i);
    if (view !== st.view) return;
    if (!r.ok) { v.textContent = r.error || r.text; return; }
    const b = r.data, nonce = rawNonce(r.text);
    const rows = [['index', b.index], ['curr_hash', b.curr_hash], ['previous_hash', b.previous_hash]];
    if (isPow(b)) rows.push(['timestamp', `${b.timestamp} (${new Date(b.timestamp).toISOString()})`], ['difficulty', b.difficulty], ['nonce', nonce]);
    rows.push(['data', `${enc.encode(b.data).length} bytes`]);
    fields.replaceChildren(...rows.flatMap(([k, x]) => [el('dt', {}, k), el('dd', {}, String(x))]));
    if (isPow(b)) {
      for (const e of entriesOf(b)) out.append(el('h4', { class: 'mono' }, 'entry ' + hex(await entryID(e))), pretty(e));
    } else out.append(pretty(b.data));
    if (!crypto.subtle) { v.textContent = 'Hash not checked: this browser offers Web Crypto only over https or on localhost.'; return; }
    const ok = await checkHash(b, nonce);
    if (view !== st.view) return;
    v.dataset.ok = String(ok);
    v.textContent = ok ? '✓ hash verified in this browser' : '✗ the hash does not match the block\'s fields';
  }

  // ---- search ----
  async function search(q) {
    const out = $('#search-out'), go = i => { location.hash = '#/block/' + i; };
    q = q.trim().toLowerCase();
    out.textContent = '';
    if (/^\d+$/.test(q)) return go(+q);
    if (!/^[0-9a-f]{64}$/.test(q)) { out.textContent = 'Search for a block index, or a block hash or entry id (64 hex digits).'; return; }
    for (const x of st.blocks.values()) if (x.b.curr_hash === q && !x.gone) return go(x.b.index);
    if (st.engine === 'pow') {
      const r = await api('/entries/' + q);
      if (r.ok && r.data.state === 'confirmed') { out.textContent = `Entry ${short(q)} is in block ${r.data.index}.`; return go(r.data.index); }
      if (r.ok) { out.textContent = `Entry ${short(q)} is ${r.data.state}.`; return; }
    }
    out.textContent = 'Searching the chain…';
    // No API finds a block by hash: read the chain from the tip down, in
    // pages, at most a million blocks.
    for (let top = st.tip, n = 0; top !== null && top >= 0 && n < 1000; n++) {
      const from = Math.max(0, top - 999);
      const r = await api(`/blocks?from=${from}&limit=${top - from + 1}`);
      if (!r.ok) break;
      const f = r.data.find(b => b.curr_hash === q);
      if (f) { out.textContent = ''; return go(f.index); }
      top = from - 1;
    }
    out.textContent = `No block or entry ${short(q)} on this node.`;
  }

  // ---- the network ----
  function reachable(m) {
    if (typeof m.reachable === 'boolean') return m.reachable;
    return !!st.node && (m.id === st.node.peer_id || m.id in st.peers);
  }
  function quorum(s) {
    const voters = (s.members || []).filter(m => m.voter);
    if (!s.leader) return false;
    return !voters.length || 2 * voters.filter(reachable).length > voters.length;
  }
  function updateState() {
    const s = st.status;
    let state = 'live', text = 'live';
    if (!st.sse || !st.statusOK) [state, text] = ['disconnected', 'disconnected from the node'];
    else if (s && s.engine !== 'pow') {
      if (['learner', 'joining', 'moving'].includes(s.role)) [state, text] = ['catchingup', 'catching up (' + s.role + ')'];
      else if (s.role === 'removed' || s.role === 'failed') [state, text] = ['disconnected', 'node ' + s.role];
      else if (!quorum(s)) [state, text] = ['noquorum', 'no quorum: writes wait'];
    }
    const e = $('#state');
    if (e.dataset.state !== state || e.textContent !== text) { e.dataset.state = state; e.textContent = text; }
  }
  function renderNet() {
    const s = st.status || {}, n = st.node || {}, p = s.pow;
    st.engine = s.engine || st.engine;
    const rows = [['node', n.peer_id], ['engine', s.engine], ['role', s.role]];
    if (p) rows.push(['height', p.height], ['work', p.work], ['difficulty', p.difficulty], ['mempool', p.mempool], ['hash rate', st.rate], ['mined', p.mined], ['reorgs', p.reorgs]);
    else rows.push(['term', s.term], ['leader', s.leader || 'none'], ['tip', st.tip]);
    $('#node-dl').replaceChildren(...rows.flatMap(([k, x]) => [el('dt', {}, k), el('dd', k === 'tip' ? { id: 'tip-dd' } : {}, x == null ? '' : String(x))]));
    const members = s.members && s.members.length ? s.members : Object.keys(st.peers).map(id => ({ id, ...st.peers[id] }));
    $('#members').replaceChildren(...members.map(m => {
      const ok = reachable(m), tags = [];
      if (m.id === n.peer_id) tags.push('this node');
      if (m.id === s.leader) tags.push('leader');
      if (s.engine !== 'pow') tags.push(m.voter ? 'voter' : 'learner');
      tags.push(ok ? 'reachable' : 'unreachable' + (m.since ? ' since ' + clock(typeof m.since === 'number' ? m.since : Date.parse(m.since)) : ''));
      return el('li', { 'data-id': m.id, 'data-reachable': String(ok) },
        el('span', { class: 'id', title: `${m.host || ''}:${m.port || ''}` }, m.id), el('small', {}, tags.join(' · ')));
    }));
  }
  function hashRate(p, now) {
    if (!p) return;
    if (st.lastHashes && now > st.lastHashes.t) {
      let r = (p.hashes - st.lastHashes.h) / ((now - st.lastHashes.t) / 1000), u = 0;
      while (r >= 1000 && u < 3) { r /= 1000; u++; }
      st.rate = r.toFixed(1) + ' ' + ['', 'k', 'M', 'G'][u] + 'H/s';
    }
    st.lastHashes = { h: p.hashes, t: now };
  }
  async function poll() {
    try {
      const [s, n, p] = await Promise.all([api('/status'), api('/node'), api('/peers')]);
      // The node is up when it answers at all; a /status it cannot give
      // now (503) keeps the last one shown.
      st.statusOK = s.ok || n.ok;
      if (s.ok) st.status = s.data;
      if (n.ok) st.node = n.data;
      if (p.ok) st.peers = p.data || {};
      hashRate(st.status && st.status.pow, Date.now());
      renderNet();
    } catch (e) {
      st.statusOK = false;
    }
    updateState();
    charts();
    setTimeout(poll, POLL_MS);
  }

  // ---- charts: plain SVG polylines ----
  // chart draws points as a line, or as dots when dots is set.
  function chart(svg, label, points, maxY, dots) {
    const max = Math.max(maxY, ...points.map(p => p[1]));
    const xy = points.map(([x, y]) => [(x * 300).toFixed(1), (58 - y / max * 54).toFixed(1)]);
    const shape = (name, attrs) => { const e = document.createElementNS(svg.namespaceURI, name); for (const k in attrs) e.setAttribute(k, attrs[k]); return e; };
    svg.replaceChildren(...(dots ? xy.map(([cx, cy]) => shape('circle', { cx, cy, r: 2 })) : [shape('polyline', { points: xy.join(' ') })]));
    $(label).textContent = '(max ' + (Math.round(max * 10) / 10) + ')';
  }
  // charts draws the last five minutes, or the time since the page opened
  // when that is shorter, in 30 buckets.
  function charts() {
    const now = Date.now();
    for (const [h, x] of st.times) if (x.t < now - WINDOW_MS) st.times.delete(h);
    const ts = [...st.times.values()].sort((a, b) => a.t - b.t);
    const span = Math.min(WINDOW_MS, Math.max(30000, now - Math.min(st.opened, ...ts.map(x => x.t)))), from = now - span, w = span / 30;
    const buckets = new Array(30).fill(0);
    for (const x of ts) if (x.t >= from) buckets[Math.min(29, Math.floor((x.t - from) / w))] += x.n / (w / 1000);
    chart($('#chart-writes'), '#cw-max', buckets.map((y, i) => [i / 29, y]), 1);
    $('#chart-span').textContent = span >= WINDOW_MS ? 'Last 5 minutes' : `Last ${Math.round(span / 1000)} seconds`;
    const iv = ts.slice(1).map((x, i) => [(x.t - from) / span, (x.t - ts[i].t) / 1000]).filter(p => p[0] >= 0);
    chart($('#chart-interval'), '#ci-max', iv, 1, true);
  }

  // ---- writing ----
  function said(text, bad) { const o = $('#write-out'); o.textContent = text; o.classList.toggle('err', !!bad); }
  async function track(id, deadline) {
    const r = await api('/entries/' + id);
    const d = r.data || {};
    if (d.state === 'confirmed') {
      said('');
      $('#write-out').append(`entry ${short(id)}: confirmed in `, el('a', { href: '#/block/' + d.index }, 'block ' + d.index), ` (${d.confirmations} confirmation${d.confirmations === 1 ? '' : 's'})`);
      return;
    }
    said(`entry ${short(id)}: ${d.state || r.error || r.code}`, !r.ok);
    if (Date.now() < deadline && (d.state === 'pending' || r.code >= 500)) setTimeout(() => track(id, deadline), 1000);
  }
  async function write(ev) {
    ev.preventDefault();
    const text = $('#data').value;
    let value = text;
    if ($('#as-json').checked) {
      try { value = JSON.parse(text); } catch (e) { return said('Not JSON: ' + e.message, true); }
    }
    const pow = st.engine === 'pow';
    said('sending…');
    try {
      const r = await api('/data' + (pow ? '?wait=false' : ''), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ data: value }) });
      if (!r.ok) return said(`refused (${r.code}): ${r.error || r.text}`, true);
      $('#data').value = '';
      if (pow) return track(r.data.ids[0], Date.now() + 600000);
      said('committed by a majority (answer: ' + JSON.stringify(r.data) + ')');
    } catch (e) {
      said('the node did not answer: ' + e.message, true);
    }
  }

  // ---- routes: #/ (live), #/page/{top}, #/block/{index} ----
  function route() {
    const view = ++st.view, h = location.hash;
    let m = /^#\/block\/(\d+)$/.exec(h);
    $('#block-view').hidden = !m;
    $('#chain-view').hidden = !!m;
    if (m) return showBlock(+m[1], view);
    m = /^#\/page\/(\d+)$/.exec(h);
    st.top = m ? +m[1] : null;
    $('#chain-mode').textContent = m ? 'blocks up to ' + st.top : 'live';
    if (m) return showPage(st.top, view);
    render();
  }

  $('#search').addEventListener('submit', ev => { ev.preventDefault(); search($('#q').value); });
  $('#write-form').addEventListener('submit', write);
  window.addEventListener('hashchange', route);
  route();
  connect();
  poll();
})();
