// Timebox portal: live updates, countdowns and the request form's check.
// Everything works without it; it only saves reloads. Kept small on purpose
// (a budget checked by bench/portal.ts).
'use strict';
(function () {
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var status = document.getElementById('live-status');
  function say(text) {
    if (status) status.textContent = text;
  }
  function fragment(html) {
    var t = document.createElement('template');
    t.innerHTML = html.trim();
    return t.content.firstElementChild;
  }
  function left(ms) {
    var s = Math.floor(ms / 1000);
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    return (h ? h + 'h ' : '') + (h || m ? m + 'm ' : '') + (s % 60) + 's';
  }
  function tick() {
    document.querySelectorAll('[data-expires]').forEach(function (el) {
      var ms = Date.parse(el.getAttribute('data-expires')) - Date.now();
      el.textContent = ms > 0 ? 'ends in ' + left(ms) : 'ending…';
    });
  }
  tick();
  setInterval(tick, 1000);

  function apply(u) {
    var el = document.getElementById(u.id);
    if (!u.html) {
      if (el) el.remove();
      return;
    }
    if (el && u.inner) {
      el.innerHTML = u.html;
    } else if (el) {
      el.replaceWith(fragment(u.html));
    } else if (!u.replaceOnly && u.container) {
      var box = document.getElementById(u.container);
      if (!box) return;
      var body = box.tBodies ? box.tBodies[0] : box;
      body.prepend(fragment(u.html));
      var empty = document.getElementById('empty');
      if (empty) empty.remove();
    } else {
      return;
    }
    var phase = fragment(u.html);
    var badge = phase && phase.querySelector('[data-phase]');
    if (badge) say('Updated: now ' + badge.getAttribute('data-phase'));
    tick();
  }

  var live = document.body.getAttribute('data-live');
  if (live && window.EventSource) {
    var source = new EventSource('/events?view=' + encodeURIComponent(live));
    source.addEventListener('update', function (e) {
      apply(JSON.parse(e.data));
    });
    source.addEventListener('open', function () {
      document.body.setAttribute('data-live-connected', 'true');
    });
  }

  var form = document.getElementById('request-form');
  var check = document.getElementById('check');
  if (form && check && csrf && window.fetch) {
    var timer;
    var run = function () {
      var data = {};
      new FormData(form).forEach(function (v, k) {
        if (k !== '_csrf') data[k] = String(v);
      });
      fetch('/request/check', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf.content },
        body: JSON.stringify(data),
        credentials: 'same-origin',
      })
        .then(function (r) {
          return r.ok ? r.json() : null;
        })
        .then(function (res) {
          if (!res) return;
          check.className = res.ok ? 'ok' : 'error';
          check.textContent = '';
          if (res.ok) {
            check.textContent = res.message || 'The policy allows this request.';
            return;
          }
          var ul = document.createElement('ul');
          res.problems.forEach(function (p) {
            var li = document.createElement('li');
            li.textContent = p;
            ul.appendChild(li);
          });
          check.appendChild(ul);
        })
        .catch(function () {});
    };
    form.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(run, 300);
    });
  }
})();
