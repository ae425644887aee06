// The overview refreshes by itself: every 15 s, the live part of the page is fetched again and
// put in place. Without JavaScript the page still reads (and the browser's reload refreshes it).
(function () {
  "use strict";
  var region = document.querySelector("[data-live]");
  if (!region || !window.fetch) return;
  var url = region.getAttribute("data-live");
  var every = 15000;
  function refresh() {
    if (document.hidden) return; // no work for a tab nobody looks at
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        // Signed out meanwhile (a redirect to the sign-in page): the page reloads to say so.
        if (r.redirected || r.status === 401 || r.status === 403) { window.location.reload(); return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (html === null) return;
        // Keep the focus where it was when it is inside the region (a link of the figures).
        var focused = document.activeElement && region.contains(document.activeElement) ? document.activeElement.id : null;
        region.innerHTML = html;
        if (focused) { var again = document.getElementById(focused); if (again) again.focus(); }
      })
      .catch(function () { /* the next round tries again */ });
  }
  setInterval(refresh, every);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });
})();
